// The tuner on a real GPU: a sweep where every candidate compiles, fits,
// validates and is timed with events; the tuned callable then matches the
// float64 reference; the start-up call loads the chosen kernels.
#include "kernels/LightningTuned.h"

#include "kernels/LightningCheck.h"
#include "runtime/CudaDriver.h"

#include "../unit/TempDir.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include <filesystem>

namespace tessel {
namespace {

using kernels::LightningPass;

using test::TempDir;

autotune::TuneOptions opts(int warmup, int reps) {
  autotune::TuneOptions o;
  o.warmup = warmup, o.reps = reps;
  return o;
}

LightningShape shape() {
  LightningShape s;
  s.batch = 2, s.heads = 4, s.seq = 1000, s.d = 64, s.e = 64;
  return s;
}

TEST(TuneGpu, SweepTimesEveryCandidateOnTheDevice) {
  if (!cudaAvailable())
    GTEST_SKIP() << "no usable CUDA device";
  auto devices = autotune::gpuDevices("0");
  ASSERT_TRUE(static_cast<bool>(devices)) << llvm::toString(devices.takeError());
  autotune::TuneDevice *ptrs[] = {devices->front().get()};
  EXPECT_GT(ptrs[0]->info().l2Bytes, 0);
  for (LightningPass pass : kernels::kLightningPasses) {
    LightningTunable tunable(pass, shape());
    auto results = autotune::sweep(tunable, ptrs, opts(1, 3));
    ASSERT_TRUE(static_cast<bool>(results)) << llvm::toString(results.takeError());
    const autotune::KindResult &kr = results->front();
    ASSERT_TRUE(kr.found()) << tunable.name();
    for (const autotune::CandidateResult &r : kr.record.table) {
      EXPECT_EQ(r.status, autotune::Status::Ok)
          << tunable.name() << " " << r.config.str() << ": " << r.reason;
      EXPECT_GT(r.resources.registers, 0);
      EXPECT_GT(r.ms, 0);
    }
  }
}

// The multi-GPU sweep's machinery (a thread and a bound context per device,
// per-device modules, events, scratch and loaded kernels) exercised on the
// one GPU there is: two device objects for GPU 0 shard one space between
// two threads. Timings overlap, so only the outcomes are checked.
TEST(TuneGpu, ShardedSweepOverTwoThreadsOnOneGpu) {
  if (!cudaAvailable())
    GTEST_SKIP() << "no usable CUDA device";
  auto a = autotune::gpuDevices("0"), b = autotune::gpuDevices("0");
  ASSERT_TRUE(static_cast<bool>(a) && static_cast<bool>(b));
  autotune::TuneDevice *ptrs[] = {a->front().get(), b->front().get()};
  for (LightningPass pass : {LightningPass::Forward, LightningPass::BackwardDk}) {
    LightningTunable tunable(pass, shape());
    auto results = autotune::sweep(tunable, ptrs, opts(1, 2));
    ASSERT_TRUE(static_cast<bool>(results)) << llvm::toString(results.takeError());
    ASSERT_EQ(results->size(), 1u);
    const autotune::KindResult &kr = results->front();
    ASSERT_EQ(kr.shares.size(), 2u);
    EXPECT_EQ(kr.shares[0].second + kr.shares[1].second,
              tunable.space().enumerate().size());
    for (const autotune::CandidateResult &r : kr.record.table)
      EXPECT_EQ(r.status, autotune::Status::Ok)
          << tunable.name() << " " << r.config.str() << ": " << r.reason;
    EXPECT_TRUE(kr.found());
  }
}

TEST(TuneGpu, TunedCallsMatchTheReference) {
  if (!cudaAvailable())
    GTEST_SKIP() << "no usable CUDA device";
  TempDir dir;
  autotune::TuneCache cache(dir.path);
  TunedLightningOptions options;
  options.backend = Backend::Gpu;
  options.cache = &cache;
  options.tune = opts(1, 3);
  TunedLightning tuned(options);
  auto report = startLightning(tuned, {shape()});
  ASSERT_TRUE(static_cast<bool>(report)) << llvm::toString(report.takeError());
  ASSERT_EQ(report->items.size(), 4u);
  auto fwd = tuned.configFor(shape(), false);
  auto bwd = tuned.configFor(shape(), true);
  ASSERT_TRUE(static_cast<bool>(fwd) && static_cast<bool>(bwd));
  LightningProblem p;
  p.batch = shape().batch, p.heads = shape().heads, p.seq = shape().seq;
  p.d = shape().d, p.e = shape().e;
  p.layout = shape().layout;
  p.slopes = alibiSlopes(p.heads);
  LightningOptions lo;
  lo.backend = Backend::Gpu;
  lo.config = *bwd;
  lo.config->fwd = fwd->fwd;
  for (bool backward : {false, true}) {
    p.backward = backward;
    p.seed = 100 + backward;
    auto result = checkLightning(p, lo);
    ASSERT_TRUE(static_cast<bool>(result)) << llvm::toString(result.takeError());
    EXPECT_TRUE(result->ok()) << "worst " << result->worst();
  }
}

} // namespace
} // namespace tessel
