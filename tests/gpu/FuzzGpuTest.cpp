// The compiler fuzz on the device: random chunk-loop kernels (tests/support/
// RandomKernels.h) at random warp counts and row counts (tails, fewer blocks
// than pipeline stages), compiled on every core at once, then each run on
// the GPU and in the interpreter on the same inputs; the outputs must agree
// norm-wise up to the rounding of tf32 (f32 dots) or 16-bit operands. 64 kernels by
// default; TESSEL_GPU_FUZZ_KERNELS=<n> runs n (the device run's 1,000), from
// seeds derived from TESSEL_GPU_FUZZ_SEED (default 1) so a failure replays.
#include "runtime/CudaDriver.h"
#include "runtime/GpuLauncher.h"
#include "runtime/Interpreter.h"
#include "tests/support/RandomKernels.h"

#include "gtest/gtest.h"

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <thread>

using namespace tessel;

namespace {

struct Case {
  uint64_t seed;
  std::string what;
  test::Dims dims;
  std::optional<Kernel> kernel;
  unsigned warps = 4;
  int64_t n = 1;
  std::string compileError;
};

long envOr(const char *name, long fallback) {
  const char *v = std::getenv(name);
  return v && *v ? std::atol(v) : fallback;
}

TEST(FuzzGpu, RandomKernelsMatchTheInterpreter) {
  auto device = getCudaDevice();
  if (!device) {
    GTEST_SKIP() << llvm::toString(device.takeError());
  }
  long count = envOr("TESSEL_GPU_FUZZ_KERNELS", 64);
  uint64_t base = static_cast<uint64_t>(envOr("TESSEL_GPU_FUZZ_SEED", 1));
  std::vector<Case> cases(count);
  for (long i = 0; i < count; ++i) {
    Case &c = cases[i];
    c.seed = (base + i) * 0x9e3779b97f4a7c15ull;
    std::mt19937_64 rng(c.seed);
    auto k = test::randomKernel(rng, c.what, c.dims);
    ASSERT_TRUE(static_cast<bool>(k))
        << "seed " << c.seed << ": " << llvm::toString(k.takeError());
    c.kernel.emplace(std::move(*k));
    c.warps = 1u << (rng() % 4);
    c.n = 1 + rng() % (5 * c.dims.C);
  }

  // Compile everything first, a thread per core: the launches below then
  // find their kernels loaded. Host buffers are not 16-byte aligned for
  // certain, so no divisibility hints (as the launch will ask).
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next++) < cases.size();) {
      GpuLaunchOptions lo;
      lo.numWarps = cases[i].warps;
      auto gk = getGpuKernel(*cases[i].kernel, lo);
      if (!gk)
        cases[i].compileError = llvm::toString(gk.takeError());
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < std::max(1u, std::thread::hardware_concurrency()); ++t)
    pool.emplace_back(work);
  work();
  for (std::thread &t : pool)
    t.join();

  int mismatched = 0;
  double worst = 0;
  for (Case &c : cases) {
    std::string what = "seed " + std::to_string(c.seed) + " (" + c.what + ", " +
                       std::to_string(c.warps) + " warps, n = " +
                       std::to_string(c.n) + ")";
    ASSERT_EQ(c.compileError, "") << what;
    size_t outElems = test::outputElems(c.dims, c.n);
    std::vector<test::HostBuffer> outs;
    for (bool gpu : {false, true}) {
      std::mt19937_64 rng(c.seed + 1);
      test::HostBuffer q(c.dims.T, c.n * c.dims.D, rng),
          k(c.dims.T, c.n * c.dims.D, rng), v(c.dims.T, c.n * c.dims.E, rng),
          o(c.dims.T, outElems, rng);
      std::vector<LaunchArg> args{q.arg(), k.arg(), v.arg(), o.arg(),
                                  LaunchArg::i32(static_cast<int32_t>(c.n))};
      GpuLaunchOptions lo;
      lo.numWarps = c.warps;
      llvm::Error err = gpu ? launchOnGpu(*c.kernel, Grid{1, 1, 1}, args, lo)
                            : interpret(*c.kernel, Grid{1, 1, 1}, args);
      ASSERT_FALSE(err) << what << (gpu ? " on the GPU: " : " interpreted: ")
                        << llvm::toString(std::move(err));
      outs.push_back(std::move(o));
    }
    // Norm-wise, as the Lightning checks: f32 dots run on tf32 (10-bit
    // mantissas) where the interpreter is exact, and a chained dot or a
    // carried state cancels terms, so single elements may differ by more
    // than their own size (run 39: 1.5e-3 on a 0.036 element).
    double num = 0, den = 0;
    size_t worstAt = 0;
    double worstDiff = -1;
    for (size_t i = 0; i < outElems; ++i) {
      double want = outs[0].at(i), got = outs[1].at(i);
      double diff = std::isnan(got) != std::isnan(want) ? INFINITY : got - want;
      if (std::isnan(got) && std::isnan(want)) diff = 0;
      num += diff * diff, den += want * want;
      if (std::fabs(diff) > worstDiff) worstDiff = std::fabs(diff), worstAt = i;
    }
    double rel = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
    worst = std::max(worst, rel);
    double tol = c.dims.T == DType::f32 ? 3e-3 : 2e-2;
    if (!(rel <= tol)) {
      ADD_FAILURE() << what << ": relative error " << rel << " (tolerance "
                    << tol << "); element " << worstAt << " is "
                    << outs[1].at(worstAt) << " on the GPU, "
                    << outs[0].at(worstAt) << " interpreted";
      ++mismatched;
    }
  }
  EXPECT_EQ(mismatched, 0) << "of " << count << " kernels";
  std::printf("[ fuzz     ] %ld random kernels, %d mismatched, worst relative "
              "error %.2e\n", count, mismatched, worst);
}

} // namespace
