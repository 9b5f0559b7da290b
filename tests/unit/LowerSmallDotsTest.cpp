// tile-lower-small-dots keeps a dot's value: the interpreter runs a kernel
// before and after the pass on the same inputs (the lowered IR is tile IR
// too), for a small N, M and K; and those kernels now lower to PTX.
#include "dsl/KernelBuilder.h"
#include "lowering/Passes.h"
#include "lowering/Pipeline.h"
#include "runtime/Half.h"
#include "runtime/Interpreter.h"
#include "tests/unit/TestSupport.h"

#include "mlir/Pass/PassManager.h"
#include "gtest/gtest.h"

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

using namespace tessel;
using namespace tessel::dsl;

namespace {

struct Shape {
  int64_t m, k, n;
  DType dtype;
};

/// out = a · b + 0.5 for a [M, K] and b [K, N] read row-major.
Kernel smallDot(const Shape &s) {
  KernelBuilder kb("small_dot");
  Tile a = kb.ptrArg("a", s.dtype), b = kb.ptrArg("b", s.dtype),
       out = kb.ptrArg("out", DType::f32);
  Tile rm = arange(0, s.m), rk = arange(0, s.k), rn = arange(0, s.n);
  Tile at = load(a + column(rm * s.k) + row(rk));
  Tile bt = load(b + column(rk * s.n) + row(rn));
  store(out + column(rm * s.n) + row(rn), dot(at, bt) + 0.5);
  auto kernel = kb.finish();
  EXPECT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());
  return std::move(*kernel);
}

class LowerSmallDots : public ::testing::TestWithParam<Shape> {};

TEST_P(LowerSmallDots, KeepsTheDotsValueAndLowers) {
  const Shape s = GetParam();
  Kernel kernel = smallDot(s);
  mlir::OwningOpRef<mlir::ModuleOp> lowered(
      llvm::cast<mlir::ModuleOp>(kernel.module()->clone()));
  mlir::PassManager pm(lowered->getContext());
  pm.addPass(lowering::createTileLowerSmallDots());
  ASSERT_TRUE(mlir::succeeded(pm.run(*lowered)));
  int dots = 0;
  lowered->walk([&](tile::DotOp) { ++dots; });
  EXPECT_EQ(dots, 0) << "every dot of this kernel is small";
  Kernel after(kernel.name(), kernel.args(), std::move(lowered));

  std::mt19937_64 rng(test::freshSeed());
  std::normal_distribution<float> dist(0.0f, 1.0f);
  size_t esize = dtypeSize(s.dtype);
  auto input = [&](int64_t n) {
    std::vector<uint8_t> bytes(n * esize);
    for (int64_t i = 0; i < n; ++i) {
      float v = dist(rng);
      if (s.dtype == DType::f32) {
        std::memcpy(&bytes[i * 4], &v, 4);
      } else {
        uint16_t h = floatToBF16Bits(v);
        std::memcpy(&bytes[i * 2], &h, 2);
      }
    }
    return bytes;
  };
  std::vector<uint8_t> a = input(s.m * s.k), b = input(s.k * s.n);
  auto runOn = [&](const Kernel &k) {
    std::vector<float> out(s.m * s.n, NAN);
    std::vector<LaunchArg> args{
        LaunchArg::buffer(a.data(), a.size(), s.dtype),
        LaunchArg::buffer(b.data(), b.size(), s.dtype),
        LaunchArg::buffer(out.data(), out.size() * 4, DType::f32)};
    EXPECT_EQ(test::errorText(interpret(k, Grid{1}, args)), "");
    return out;
  };
  std::vector<float> want = runOn(kernel), got = runOn(after);
  // Both accumulate the same fp32 products, in another order.
  EXPECT_LE(test::relDiff(got, want), 1e-6);
  for (float x : got)
    ASSERT_FALSE(std::isnan(x));

  for (const char *arch : {"sm_80", "sm_90a"}) {
    lowering::TargetOptions target;
    target.arch = arch;
    auto ptx = lowering::compileToPTX(kernel.module(), target);
    EXPECT_TRUE(static_cast<bool>(ptx))
        << arch << ": " << llvm::toString(ptx.takeError());
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, LowerSmallDots,
    ::testing::Values(Shape{64, 64, 1, DType::bf16},  // N: a matmul cumsum
                      Shape{16, 32, 4, DType::bf16},  // N
                      Shape{4, 32, 32, DType::bf16},  // M
                      Shape{32, 4, 16, DType::f32},   // K (f32: k 8)
                      Shape{16, 8, 16, DType::bf16}), // K (16-bit: k 16)
    [](const auto &info) {
      const Shape &s = info.param;
      return "M" + std::to_string(s.m) + "_K" + std::to_string(s.k) + "_N" +
             std::to_string(s.n) + "_" + dtypeName(s.dtype);
    });

} // namespace
