// TunedKernel tunes a user's DSL kernel end to end on the interpreter
// stand-in: the sweep compiles every candidate for the stand-in's arch,
// validates each through the user's check, times them and caches the
// winner; a second callable over the same cache finds it without a sweep,
// and calls run the winner.
#include "autotune/TunedKernel.h"
#include "dsl/KernelBuilder.h"

#include "TempDir.h"

#include "gtest/gtest.h"
#include "gmock/gmock.h"

#include <cmath>

using namespace tessel;
using namespace tessel::autotune;
using namespace tessel::dsl;
using tessel::test::TempDir;

namespace {

/// out = 2·x + 1 over n elements, BLOCK elements per program.
KernelSpec scaleSpec(int64_t n) {
  KernelSpec spec;
  spec.name = "test_scale";
  spec.space = ConfigSpace("test_scale", 1);
  spec.space.param("BLOCK", {32, 64, 128}, "elements per program")
      .param("warps", {1, 2}, "warps per program");
  spec.space.defaults(Config{{{"BLOCK", 64}, {"warps", 1}}});
  spec.problem = "f32 n" + std::to_string(n);
  spec.build = [](const Config &c) -> llvm::Expected<Kernel> {
    KernelBuilder kb("test_scale_B" + std::to_string(c.get("BLOCK")));
    Tile x = kb.ptrArg("x", DType::f32), out = kb.ptrArg("out", DType::f32);
    Tile n = kb.scalarArg("n", DType::i32);
    Tile i = programId(0) * c.get("BLOCK") + arange(0, c.get("BLOCK"));
    store(out + i, load(x + i, i < n) * 2.0 + 1.0, i < n);
    return kb.finish();
  };
  spec.grid = [n](const Config &c) {
    return Grid{(n + c.get("BLOCK") - 1) / c.get("BLOCK")};
  };
  spec.buffers = {{n, DType::f32}, {n, DType::f32}};
  spec.scalars = {LaunchArg::i32(static_cast<int32_t>(n))};
  spec.validate = [n](const Config &, const KernelSpec::Launcher &run)
      -> llvm::Expected<Validation> {
    std::vector<float> x(n), out(n, NAN);
    for (int64_t i = 0; i < n; ++i)
      x[i] = 0.25f * static_cast<float>(i % 13) - 1.0f;
    if (auto err = run({LaunchArg::buffer(x.data(), x.size() * 4, DType::f32),
                        LaunchArg::buffer(out.data(), out.size() * 4, DType::f32),
                        LaunchArg::i32(static_cast<int32_t>(n))}))
      return std::move(err);
    double worst = 0;
    for (int64_t i = 0; i < n; ++i)
      worst = std::max(worst, std::isnan(out[i]) ? INFINITY
                                                 : std::fabs(out[i] - (2.0 * x[i] + 1)));
    return Validation{worst < 1e-6, "max abs err " + std::to_string(worst)};
  };
  return spec;
}

TunedKernelOptions interpreterOptions(TuneCache &cache) {
  TunedKernelOptions o;
  o.backend = Backend::Interpreter;
  o.cache = &cache;
  o.tune.warmup = 0;
  o.tune.reps = 1;
  return o;
}

TEST(TunedKernel, TunesOnceCachesAndRunsTheWinner) {
  TempDir dir;
  TuneCache cache(dir.path);
  const int64_t n = 200;
  TunedKernel tuned(scaleSpec(n), interpreterOptions(cache));
  ConfigSource source;
  auto winner = tuned.choose(&source);
  ASSERT_TRUE(static_cast<bool>(winner)) << llvm::toString(winner.takeError());
  EXPECT_EQ(source, ConfigSource::Tuned);
  llvm::Error inSpace = scaleSpec(n).space.contains(*winner);
  EXPECT_FALSE(static_cast<bool>(inSpace))
      << (inSpace ? llvm::toString(std::move(inSpace)) : "");
  std::vector<TuneRecord> records = cache.list();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].table.size(), 6u) << "every candidate swept";
  ASSERT_TRUE(static_cast<bool>(tuned.choose(&source)));
  EXPECT_EQ(source, ConfigSource::Memory);

  // A call runs the winner on the caller's buffers, tail included.
  std::vector<float> x(n), out(n, NAN);
  for (int64_t i = 0; i < n; ++i)
    x[i] = static_cast<float>(i) / 7;
  ASSERT_FALSE(static_cast<bool>(
      tuned({LaunchArg::buffer(x.data(), x.size() * 4, DType::f32),
             LaunchArg::buffer(out.data(), out.size() * 4, DType::f32),
             LaunchArg::i32(static_cast<int32_t>(n))})));
  for (int64_t i = 0; i < n; ++i)
    EXPECT_FLOAT_EQ(out[i], 2 * x[i] + 1) << i;

  // Another callable over the same cache: a hit, no second sweep.
  TunedKernel again(scaleSpec(n), interpreterOptions(cache));
  auto cached = again.choose(&source);
  ASSERT_TRUE(static_cast<bool>(cached)) << llvm::toString(cached.takeError());
  EXPECT_EQ(source, ConfigSource::Cache);
  EXPECT_EQ(cached->str(), winner->str());
  EXPECT_EQ(cache.list().size(), 1u);
}

TEST(TunedKernel, AWrongCandidateIsRejectedAndAMissWithoutTuningRunsTheDefault) {
  TempDir dir;
  TuneCache cache(dir.path);
  KernelSpec spec = scaleSpec(100);
  // BLOCK 128 computes the wrong thing: the sweep must not pick it.
  auto build = spec.build;
  spec.build = [build](const Config &c) -> llvm::Expected<Kernel> {
    if (c.get("BLOCK") != 128)
      return build(c);
    KernelBuilder kb("test_scale_wrong");
    Tile x = kb.ptrArg("x", DType::f32), out = kb.ptrArg("out", DType::f32);
    Tile n = kb.scalarArg("n", DType::i32);
    Tile i = programId(0) * 128 + arange(0, 128);
    store(out + i, load(x + i, i < n) * 3.0, i < n);
    return kb.finish();
  };
  TunedKernel tuned(spec, interpreterOptions(cache));
  auto winner = tuned.choose();
  ASSERT_TRUE(static_cast<bool>(winner)) << llvm::toString(winner.takeError());
  EXPECT_NE(winner->get("BLOCK"), 128);
  int rejected = 0;
  std::vector<TuneRecord> records = cache.list();
  ASSERT_EQ(records.size(), 1u);
  for (const CandidateResult &c : records[0].table)
    if (c.config.get("BLOCK") == 128) {
      EXPECT_NE(c.status, Status::Ok);
      EXPECT_THAT(c.reason, ::testing::HasSubstr("max abs err"));
      ++rejected;
    }
  EXPECT_EQ(rejected, 2);

  TempDir empty;
  TuneCache none(empty.path);
  TunedKernelOptions o = interpreterOptions(none);
  o.tuneOnMiss = false;
  TunedKernel untuned(scaleSpec(100), o);
  ConfigSource source;
  auto config = untuned.choose(&source);
  ASSERT_TRUE(static_cast<bool>(config));
  EXPECT_EQ(source, ConfigSource::Default);
  EXPECT_EQ(config->str(), scaleSpec(100).space.defaultConfig().str());
  EXPECT_TRUE(none.list().empty());
}

} // namespace
