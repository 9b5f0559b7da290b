// Structured fuzzing of the lowering: random valid tile kernels in the shape
// of linear-attention chunk loops (dots chained through P = QKᵀ ⊙ mask,
// transposed operands, a state carried across iterations and updated by a
// dot, decays, masks, reductions, tails), lowered to PTX at random warp
// counts and pipeline depths for sm_80 and sm_90a and, where ptxas is
// present, assembled. Every kernel must compile: the layout, pipelining,
// staging, allocation and barrier passes may meet any of these combinations
// in a user's kernel. The IR the layout stage leaves (async copies, waits,
// layout conversions) is interpreted on the host and must compute what the
// DSL's IR computes. A fixed seed list runs in CI; TESSEL_FUZZ_KERNELS=<n>
// runs n more from fresh seeds. The generator is tests/support/RandomKernels;
// tests/gpu/FuzzGpuTest.cpp runs its kernels on the device.
#include "dsl/KernelBuilder.h"
#include "tests/support/RandomKernels.h"
#include "lowering/Pipeline.h"
#include "runtime/Half.h"
#include "runtime/Interpreter.h"
#include "runtime/Ptxas.h"

#include "mlir/Parser/Parser.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstdlib>
#include <random>

using namespace tessel;
using namespace tessel::dsl;
using tessel::test::Dims;
using tessel::test::HostBuffer;
using tessel::test::randomKernel;

namespace {

std::vector<uint64_t> seeds() {
  std::vector<uint64_t> s;
  for (uint64_t i = 1; i <= 12; ++i)
    s.push_back(i * 0x9e3779b97f4a7c15ull);
  if (const char *extra = std::getenv("TESSEL_FUZZ_KERNELS")) {
    std::random_device rd;
    for (long i = 0, e = std::atol(extra); i < e; ++i)
      s.push_back((uint64_t(rd()) << 32) | rd());
  }
  return s;
}

/// Interprets `kernel` and the same kernel as the layout stage left it
/// (`layoutIR`) on the same random inputs of `n` rows; the outputs agree up
/// to the rounding that folding dot + add into the accumulator changes.
void expectLayoutIRComputesTheSame(const Kernel &kernel,
                                   const std::string &layoutIR, Dims dims,
                                   int64_t n, uint64_t seed,
                                   const std::string &what) {
  auto parsed =
      mlir::parseSourceString<mlir::ModuleOp>(layoutIR, kernel.module().getContext());
  ASSERT_TRUE(parsed) << what << ": the layout IR does not parse back";
  Kernel lowered(kernel.name(), kernel.args(), std::move(parsed));
  size_t outElems = test::outputElems(dims, n);
  std::vector<HostBuffer> results;
  for (const Kernel *k : {&kernel, static_cast<const Kernel *>(&lowered)}) {
    std::mt19937_64 rng(seed);
    HostBuffer q(dims.T, n * dims.D, rng), kk(dims.T, n * dims.D, rng),
        v(dims.T, n * dims.E, rng), o(dims.T, outElems, rng);
    llvm::Error err = interpret(*k, Grid{1, 1, 1},
                                {q.arg(), kk.arg(), v.arg(), o.arg(),
                                 LaunchArg::i32(static_cast<int32_t>(n))});
    ASSERT_FALSE(err) << what << ": " << llvm::toString(std::move(err));
    results.push_back(std::move(o));
  }
  double tol = dims.T == DType::f32 ? 1e-4 : 2e-2;
  for (size_t i = 0; i < outElems; ++i) {
    float want = results[0].at(i), got = results[1].at(i);
    ASSERT_LE(std::fabs(got - want), tol * (1 + std::fabs(want)))
        << what << ", n = " << n << ": element " << i << " is " << got
        << " after the layout stage, " << want << " before";
  }
}

class CompilerFuzz : public ::testing::TestWithParam<uint64_t> {};

TEST_P(CompilerFuzz, RandomChunkKernelLowersAndAssembles) {
  uint64_t seed = GetParam();
  std::mt19937_64 rng(seed);
  std::string what;
  Dims dims;
  auto kernel = randomKernel(rng, what, dims);
  ASSERT_TRUE(static_cast<bool>(kernel))
      << "seed " << seed << " (" << what << "): " << llvm::toString(kernel.takeError());
  auto ptxas = findPtxas();
  bool haveptxas = static_cast<bool>(ptxas);
  if (!ptxas)
    llvm::consumeError(ptxas.takeError());
  for (const char *arch : {"sm_80", "sm_90a"}) {
    lowering::TargetOptions target;
    target.arch = arch;
    target.numWarps = 1u << (rng() % 4);
    bool aligned = rng() % 2;
    auto module = lowering::specializeDivisibility(
        kernel->module(), llvm::SmallVector<bool>(aligned ? kernel->args().size() : 0, true));
    auto compiled = lowering::compileToPTX(*module, target);
    ASSERT_TRUE(static_cast<bool>(compiled))
        << "seed " << seed << " (" << what << ", " << arch << ", "
        << target.numWarps << " warps): " << llvm::toString(compiled.takeError());
    // Rows: a tail in the last block, sometimes fewer blocks than stages.
    int64_t n = 1 + rng() % (5 * dims.C);
    expectLayoutIRComputesTheSame(*kernel, compiled->layoutIR, dims, n, seed,
                                  "seed " + std::to_string(seed) + " (" +
                                      what + ", " + arch + ")");
    if (!haveptxas)
      continue;
    auto assembled = assemblePtx(compiled->ptx, arch);
    ASSERT_TRUE(static_cast<bool>(assembled))
        << "seed " << seed << " (" << what << ", " << arch << ", "
        << target.numWarps << " warps): " << llvm::toString(assembled.takeError());
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, CompilerFuzz, ::testing::ValuesIn(seeds()));

} // namespace
