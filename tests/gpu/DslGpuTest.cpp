// The GPU back end and the interpreter agree on small DSL kernels that cover
// every lowering family: masked loads and stores with tails, elementwise math,
// broadcasts, reductions over each axis, transposes, layout conversions and
// dot on tensor cores.
#include "dsl/KernelBuilder.h"
#include "runtime/CudaDriver.h"
#include "runtime/Half.h"
#include "runtime/Launch.h"

#include "gtest/gtest.h"

#include <cmath>
#include <random>

using namespace tessel;
using namespace tessel::dsl;

namespace {

/// Runs `kernel` on both backends over copies of the same f32 buffers and
/// compares every buffer afterwards.
void expectSameOnBothBackends(const Kernel &kernel, Grid grid,
                              std::vector<std::vector<float>> buffers,
                              std::vector<LaunchArg> scalars, double tol) {
  std::vector<std::vector<float>> gpu = buffers, cpu = buffers;
  auto argsFor = [&](std::vector<std::vector<float>> &bufs) {
    std::vector<LaunchArg> args;
    for (auto &b : bufs)
      args.push_back(LaunchArg::buffer(b.data(), b.size() * 4, DType::f32));
    args.insert(args.end(), scalars.begin(), scalars.end());
    return args;
  };
  llvm::Error e1 = launch(kernel, grid, argsFor(gpu), Backend::Gpu);
  ASSERT_FALSE(e1) << llvm::toString(std::move(e1));
  llvm::Error e2 = launch(kernel, grid, argsFor(cpu), Backend::Interpreter);
  ASSERT_FALSE(e2) << llvm::toString(std::move(e2));
  for (size_t b = 0; b < buffers.size(); ++b)
    for (size_t i = 0; i < buffers[b].size(); ++i) {
      float x = gpu[b][i], y = cpu[b][i];
      ASSERT_TRUE((std::isnan(x) && std::isnan(y)) ||
                  std::fabs(x - y) <= tol * (1 + std::fabs(y)))
          << kernel.name() << " buffer " << b << " element " << i << ": GPU "
          << x << " vs interpreter " << y;
    }
}

std::vector<float> random(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist;
  std::vector<float> v(n);
  for (float &x : v)
    x = dist(rng);
  return v;
}

class DslGpu : public ::testing::Test {
protected:
  void SetUp() override {
    if (!cudaAvailable())
      GTEST_SKIP() << "no usable CUDA device";
  }
};

TEST_F(DslGpu, MaskedElementwiseWithTail) {
  KernelBuilder kb("masked_elementwise");
  Tile x = kb.ptrArg("x", DType::f32), y = kb.ptrArg("y", DType::f32);
  Tile n = kb.scalarArg("n", DType::i32);
  Tile offs = programId(0) * 128 + arange(0, 128);
  Tile mask = offs < n;
  Tile v = load(x + offs, mask, -1.0);
  store(y + offs, exp(v * 0.5) + maximum(v, 0.0) - log(abs(v) + 1.0), mask);
  auto k = kb.finish();
  ASSERT_TRUE(static_cast<bool>(k)) << llvm::toString(k.takeError());
  std::vector<float> out(1000, 7.0f);
  expectSameOnBothBackends(*k, {8, 1, 1}, {random(1000, 1), out},
                           {LaunchArg::i32(1000)}, 1e-5);
}

TEST_F(DslGpu, ReduceBothAxesAndBroadcast) {
  KernelBuilder kb("reduce_axes");
  Tile x = kb.ptrArg("x", DType::f32), r0 = kb.ptrArg("r0", DType::f32),
       r1 = kb.ptrArg("r1", DType::f32), z = kb.ptrArg("z", DType::f32);
  Tile rows = arange(0, 64), cols = arange(0, 32);
  Tile idx = column(rows) * 32 + row(cols);
  Tile v = load(x + idx);
  store(r0 + cols, sum(v, 0));
  store(r1 + rows, max(v, 1));
  // Softmax-like: subtract the row max (broadcast back) and normalize.
  Tile e = exp(v - column(max(v, 1)));
  store(z + idx, e / column(sum(e, 1)));
  auto k = kb.finish();
  ASSERT_TRUE(static_cast<bool>(k)) << llvm::toString(k.takeError());
  expectSameOnBothBackends(*k, {1, 1, 1},
                           {random(64 * 32, 2), std::vector<float>(32),
                            std::vector<float>(64), std::vector<float>(64 * 32)},
                           {}, 1e-4);
}

TEST_F(DslGpu, DotWithTransposeAndAccumulator) {
  for (DType t : {DType::bf16, DType::f16}) {
    KernelBuilder kb(std::string("dot_") + dtypeName(t));
    Tile a = kb.ptrArg("a", DType::f32), b = kb.ptrArg("b", DType::f32),
         c = kb.ptrArg("c", DType::f32);
    Tile m = arange(0, 64), n = arange(0, 32), kk = arange(0, 64);
    Tile av = load(a + column(m) * 64 + row(kk)).to(t);  // 64x64
    Tile bv = load(b + column(n) * 64 + row(kk)).to(t);  // 32x64 (n, k)
    Tile acc = load(c + column(m) * 32 + row(n));       // 64x32
    store(c + column(m) * 32 + row(n), dot(av, trans(bv), acc) * 2.0);
    auto k = kb.finish();
    ASSERT_TRUE(static_cast<bool>(k)) << llvm::toString(k.takeError());
    // Inputs are rounded to 16 bits identically on both sides; only the fp32
    // accumulation order differs.
    expectSameOnBothBackends(*k, {1, 1, 1},
                             {random(64 * 64, 3), random(32 * 64, 4),
                              random(64 * 32, 5)},
                             {}, 1e-4);
  }
}

TEST_F(DslGpu, LoopCarriedDotAcrossPrograms) {
  KernelBuilder kb("loop_dot");
  Tile a = kb.ptrArg("a", DType::f32), out = kb.ptrArg("out", DType::f32);
  Tile steps = kb.scalarArg("steps", DType::i32);
  Tile r = arange(0, 16), c = arange(0, 16);
  Tile base = a + programId(0) * 256;
  Tile tileIdx = column(r) * 16 + row(c);
  auto res = kb.forRange(0, steps, {zeros({16, 16}, DType::f32)},
                         [&](Tile i, std::vector<Tile> carried) {
                           Tile x = load(base + tileIdx).to(DType::bf16);
                           Tile w = (x.to(DType::f32) * (i + 1).to(DType::f32))
                                        .to(DType::bf16);
                           return std::vector<Tile>{
                               dot(x, trans(w), carried[0]) * 0.5};
                         });
  store(out + programId(0) * 256 + tileIdx, res[0]);
  auto k = kb.finish();
  ASSERT_TRUE(static_cast<bool>(k)) << llvm::toString(k.takeError());
  expectSameOnBothBackends(*k, {3, 1, 1},
                           {random(3 * 256, 6), std::vector<float>(3 * 256)},
                           {LaunchArg::i32(5)}, 1e-4);
}

// A chunk loop whose loads feed a dot, software-pipelined over 2, 3 and 4
// stages (tile-pipeline-loads: cp.async rings, loads past the end masked
// off): tails inside the last chunk, fewer chunks than stages, and every
// program its own rows, against the interpreter's plain loads.
TEST_F(DslGpu, PipelinedLoadsMatchTheInterpreter) {
  for (int stages : {2, 3, 4}) {
    KernelBuilder kb("pipelined_" + std::to_string(stages));
    kb.setNumStages(stages);
    Tile a = kb.ptrArg("a", DType::f32), out = kb.ptrArg("out", DType::f32);
    Tile n = kb.scalarArg("n", DType::i32);
    Tile r = arange(0, 16), c = arange(0, 32);
    Tile base = a + programId(0) * (n * 32);
    auto res = kb.forRange(
        0, cdiv(n, 16), {zeros({32, 32}, DType::f32)},
        [&](Tile i, std::vector<Tile> carried) {
          Tile rows = i * 16 + r;
          Tile x = load(base + column(rows * 32) + row(c),
                        column(rows < n) & row(c < 32));
          return std::vector<Tile>{dot(trans(x), x, carried[0])};
        });
    store(out + programId(0) * 1024 + column(c * 32) + row(c), res[0]);
    auto k = kb.finish();
    ASSERT_TRUE(static_cast<bool>(k)) << llvm::toString(k.takeError());
    for (int rows : {5, 16, 40, 77})
      expectSameOnBothBackends(*k, {2, 1, 1},
                               {random(2 * rows * 32, 7 + rows),
                                std::vector<float>(2 * 1024)},
                               {LaunchArg::i32(rows)}, 2e-2);
  }
}

// Dots under the tensor cores' minimum (tile-lower-small-dots: fp32
// multiplies and sums) give the interpreter's values on the GPU: a [64, 64]
// by [64, 1] cumsum-style dot, a 4-row one and one with K = 8 (bf16).
TEST_F(DslGpu, SmallDotsMatchTheInterpreter) {
  struct Shape { int64_t m, k, n; };
  for (Shape s : {Shape{64, 64, 1}, Shape{4, 32, 32}, Shape{16, 8, 16}}) {
    KernelBuilder kb("small_dot_" + std::to_string(s.m) + "x" +
                     std::to_string(s.k) + "x" + std::to_string(s.n));
    Tile a = kb.ptrArg("a", DType::f32), b = kb.ptrArg("b", DType::f32),
         out = kb.ptrArg("out", DType::f32);
    Tile rm = arange(0, s.m), rk = arange(0, s.k), rn = arange(0, s.n);
    Tile at = load(a + column(rm * s.k) + row(rk)).to(DType::bf16);
    Tile bt = load(b + column(rk * s.n) + row(rn)).to(DType::bf16);
    store(out + column(rm * s.n) + row(rn), dot(at, bt) + 0.5);
    auto k = kb.finish();
    ASSERT_TRUE(static_cast<bool>(k)) << llvm::toString(k.takeError());
    expectSameOnBothBackends(*k, {1, 1, 1},
                             {random(s.m * s.k, 11 + s.m),
                              random(s.k * s.n, 12 + s.n),
                              std::vector<float>(s.m * s.n, NAN)},
                             {}, 1e-4);
  }
}

// cumsum on the GPU (through shared memory, whatever the layout) against
// the interpreter: a gate vector along a chunk, both axes of a C × C tile
// inclusive/exclusive and reverse, and a bf16 tile, in 4 warps.
TEST_F(DslGpu, CumsumMatchesTheInterpreter) {
  KernelBuilder kb("running_sums");
  Tile g = kb.ptrArg("g", DType::f32), x = kb.ptrArg("x", DType::f32),
       out = kb.ptrArg("out", DType::f32);
  Tile r = arange(0, 64), c = arange(0, 64);
  Tile at = column(r) * 64 + row(c);
  Tile gates = load(g + r);
  store(out + r, cumsum(gates, 0));
  store(out + 64 + r, cumsum(gates, 0, /*exclusive=*/true, /*reverse=*/true));
  Tile t = load(x + at);
  store(out + 128 + at, cumsum(t, 0));
  store(out + 128 + 4096 + at, cumsum(t, 1, /*exclusive=*/true));
  store(out + 128 + 8192 + at,
        cumsum(t.to(DType::bf16), 1, false, /*reverse=*/true).to(DType::f32));
  auto k = kb.finish();
  ASSERT_TRUE(static_cast<bool>(k)) << llvm::toString(k.takeError());
  expectSameOnBothBackends(*k, {1, 1, 1},
                           {random(64, 21), random(4096, 22),
                            std::vector<float>(128 + 3 * 4096, NAN)},
                           {}, 1e-4);
}

TEST_F(DslGpu, FlagsHandATileDownAChainOfPrograms) {
  // 4096 programs, several per SM, each waiting for the one before: program
  // p reads the 64×64 running total from slot p mod 2 (zeros for p = 0),
  // writes it to out[p], adds x[p] and hands the sum on in slot (p + 1)
  // mod 2 with flag = base + p + 1. Whole numbers, so the sums are exact:
  // any stale or torn read of a slot shows. Twice, the second call counting
  // from a higher base over the flag the first left.
  constexpr int64_t kPrograms = 4096, kTile = 64 * 64;
  KernelBuilder kb("chained_tiles");
  Tile x = kb.ptrArg("x", DType::f32), ring = kb.ptrArg("ring", DType::f32),
       out = kb.ptrArg("out", DType::f32), flag = kb.ptrArg("flag", DType::i64);
  Tile base = kb.scalarArg("base", DType::i64);
  Tile p = programId(0);
  Tile at = column(arange(0, 64)) * 64 + row(arange(0, 64));
  Tile slotIn = ring + (p % 2).to(DType::i64) * kTile + at;
  Tile slotOut = ring + ((p + 1) % 2).to(DType::i64) * kTile + at;
  waitFlag(flag, where(p > 0, base + p.to(DType::i64), scalar(0, DType::i64)));
  Tile running = load(slotIn, at >= 0 & (p > 0), 0.0);
  store(out + p.to(DType::i64) * kTile + at, running);
  store(slotOut, running + load(x + p.to(DType::i64) * kTile + at));
  signalFlag(flag, base + (p + 1).to(DType::i64));
  auto k = kb.finish();
  ASSERT_TRUE(static_cast<bool>(k)) << llvm::toString(k.takeError());

  std::mt19937_64 rng(7);
  std::vector<float> xs(kPrograms * kTile);
  for (float &v : xs)
    v = float(rng() % 5);
  std::vector<float> ringBuf(2 * kTile, NAN);
  std::vector<int64_t> flagBuf{0};
  for (int64_t callBase : {int64_t(1), kPrograms + 10}) {
    std::vector<float> outBuf(kPrograms * kTile, NAN);
    std::vector<LaunchArg> args{
        LaunchArg::buffer(xs.data(), xs.size() * 4, DType::f32),
        LaunchArg::buffer(ringBuf.data(), ringBuf.size() * 4, DType::f32),
        LaunchArg::buffer(outBuf.data(), outBuf.size() * 4, DType::f32),
        LaunchArg::buffer(flagBuf.data(), 8, DType::i64),
        LaunchArg::i64(callBase)};
    llvm::Error e = launch(*k, {kPrograms, 1, 1}, args, Backend::Gpu);
    ASSERT_FALSE(e) << llvm::toString(std::move(e));
    std::vector<float> sum(kTile, 0.0f);
    for (int64_t q = 0; q < kPrograms; ++q) {
      for (int64_t i = 0; i < kTile; ++i)
        ASSERT_EQ(outBuf[q * kTile + i], sum[i])
            << "program " << q << " element " << i << ", base " << callBase;
      for (int64_t i = 0; i < kTile; ++i)
        sum[i] += xs[q * kTile + i];
    }
    EXPECT_EQ(flagBuf[0], callBase + kPrograms);
  }
}

} // namespace
