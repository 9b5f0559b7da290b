// The Lightning tunables on interpreter stand-ins (real DSL kernels, real
// lowering and ptxas for the stand-in's arch): spaces, shape buckets, a
// sharded sweep, the tuned callable (tune on first use, then memory, then
// the disk cache in a fresh instance) checked against the float64
// reference, and the start-up call.
#include "kernels/LightningTuned.h"

#include "kernels/LightningCheck.h"
#include "kernels/Reference.h"
#include "runtime/Ptxas.h"
#include "ScopedEnv.h"

#include "TempDir.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include <filesystem>
#include <set>
#include <random>

namespace tessel {
namespace {

using ::testing::HasSubstr;
using kernels::LightningPass;

using test::TempDir;

/// Interpreter calls reading and writing `cache`, sweeping quickly.
TunedLightningOptions interpreterOptions(autotune::TuneCache &cache,
                                         bool tuneOnMiss = true) {
  TunedLightningOptions o;
  o.backend = Backend::Interpreter;
  o.cache = &cache;
  o.tune.warmup = 0, o.tune.reps = 1;
  o.tuneOnMiss = tuneOnMiss;
  return o;
}

autotune::TuneOptions opts(int warmup, int reps) {
  autotune::TuneOptions o;
  o.warmup = warmup, o.reps = reps;
  return o;
}

bool havePtxas() {
  auto path = findPtxas();
  if (path)
    return true;
  llvm::consumeError(path.takeError());
  return false;
}

LightningShape smallShape() {
  LightningShape s;
  s.batch = 1, s.heads = 2, s.seq = 40, s.d = 16, s.e = 32;
  s.dtype = DType::bf16;
  s.layout = Layout::BHND;
  return s;
}

TEST(LightningTuning, SpacesFollowTheHeadDimensions) {
  auto fwd = lightningSpace(LightningPass::Forward, 128, 128);
  EXPECT_EQ(fwd.name(), "lightning_fwd");
  EXPECT_EQ(fwd.enumerate().size(), 3u * 3u * 2u * 3u * 3u);
  EXPECT_EQ(fwd.defaultConfig().str(), "C=64 W=64 warps=8 stages=1 split=1");
  EXPECT_EQ(fwd.version(), 3);
  auto dk = lightningSpace(LightningPass::BackwardDk, 128, 128);
  EXPECT_EQ(dk.enumerate().size(), 3u * 3u * 2u * 3u * 3u);
  EXPECT_EQ(dk.defaultConfig().str(), "C=64 W=64 warps=8 stages=1 split=1");
  kernels::PassConfig split;
  split.splits = 4;
  EXPECT_EQ(toPassConfig(toConfig(split)), split);
  // W splits E for fwd/dv and D for dq/dk; never wider than the padded dim.
  auto dq = lightningSpace(LightningPass::BackwardDq, 16, 128);
  for (const auto &c : dq.enumerate())
    EXPECT_EQ(c.get("W"), 16) << c.str();
  EXPECT_EQ(dq.defaultConfig().get("W"), 16);
  EXPECT_FALSE(static_cast<bool>(dq.contains(dq.defaultConfig())));
  auto dv = lightningSpace(LightningPass::BackwardDv, 16, 48);
  std::set<int> widths;
  for (const auto &c : dv.enumerate())
    widths.insert(c.get("W"));
  EXPECT_EQ(widths, (std::set<int>{32, 64}));
  // The untuned configuration is the space's default.
  EXPECT_EQ(toConfig(kernels::PassConfig{}), fwd.defaultConfig());
  EXPECT_EQ(toPassConfig(fwd.defaultConfig()), kernels::PassConfig{});
}

TEST(LightningTuning, HeuristicPicksTheMeasuredWinners) {
  // H200 (132 SMs), D = E = 128 (bench/RESULTS.md, 2026-12-02). Without
  // wgmma (sm_80, or TESSEL_WGMMA=0) the forward covers E in one program of
  // 8 warps; with it, 64 columns in one warpgroup (4 warps). Both load 3
  // stages ahead (the wgmma one 2 over more than a wave of programs); the backward takes 64 columns per program, 3 stages, in
  // one warpgroup; segments until three quarters of the SMs have a program.
  LightningShape standard = *LightningShape::parse("8,16384,16,128");
  LightningShape longSeq = *LightningShape::parse("1,131072,16,128");
  for (bool wgmma : {false, true})
    for (LightningPass pass : kernels::kLightningPasses) {
      bool wide = pass == LightningPass::Forward && !wgmma;
      int warps = wide ? 8 : 4, w = wide ? 128 : 64;
      // B8 H16 in two programs of 64 columns: 256 programs, more than a
      // wave, so the wgmma forward loads 2 stages ahead.
      int stages = wgmma && pass == LightningPass::Forward ? 2 : 3;
      kernels::PassConfig a = heuristicConfig(pass, standard, 132, wgmma);
      EXPECT_EQ(a, (kernels::PassConfig{64, w, warps, 1, stages}))
          << kernels::passName(pass) << " wgmma " << wgmma;
      // B1 H16: 16 programs of 128 columns need 8 segments, 32 of 64 need 4.
      kernels::PassConfig b = heuristicConfig(pass, longSeq, 132, wgmma);
      EXPECT_EQ(b, (kernels::PassConfig{64, w, warps, wide ? 8 : 4, 3}))
          << kernels::passName(pass) << " wgmma " << wgmma;
    }
  // D = E = 256: the forward in blocks of 32 rows and 128 columns, the
  // backward C 64, W 64, 8 warps, 2 stages, on either path.
  LightningShape wide = *LightningShape::parse("8,2048,32,256");
  for (bool wgmma : {false, true})
    for (LightningPass pass : kernels::kLightningPasses) {
      bool fwd = pass == LightningPass::Forward;
      EXPECT_EQ(heuristicConfig(pass, wide, 132, wgmma),
                (kernels::PassConfig{fwd ? 32 : 64, fwd ? 128 : 64, 8, 1,
                                     fwd ? 3 : 2}))
          << kernels::passName(pass);
    }
  // 64 heads on 132 SMs without wgmma: the forward in two programs of 64
  // columns and 4 warps per head, no segments.
  LightningShape mid = *LightningShape::parse("4,32768,16,128");
  EXPECT_EQ(heuristicConfig(LightningPass::Forward, mid, 132, false),
            (kernels::PassConfig{64, 64, 4, 1, 3}));
  // With wgmma: 128 programs, one wave, 3 stages.
  EXPECT_EQ(heuristicConfig(LightningPass::Forward, mid, 132, true),
            (kernels::PassConfig{64, 64, 4, 1, 3}));
  // Narrow heads: W is the padded head dimension.
  LightningShape narrow = *LightningShape::parse("8,4096,16,64,32");
  EXPECT_EQ(heuristicConfig(LightningPass::BackwardDq, narrow, 132, true).blockW,
            64);
  EXPECT_EQ(heuristicConfig(LightningPass::BackwardDv, narrow, 132, true).blockW,
            32);
  {
    tessel::test::ScopedEnv on("TESSEL_WGMMA", nullptr);
    EXPECT_TRUE(wgmmaTarget("sm_90a")) << "wgmma is the sm_90a default";
    EXPECT_FALSE(wgmmaTarget("sm_80"));
  }
  {
    tessel::test::ScopedEnv off("TESSEL_WGMMA", "0");
    EXPECT_FALSE(wgmmaTarget("sm_90a")) << "TESSEL_WGMMA=0 turns it off";
  }
}

TEST(LightningTuning, StateRefinementFillsTheSmsWithDivisorsOfTheSegment) {
  // B1 H16 N131072, W = 64: 32 programs per segment, 3 of 4 swept, 512
  // blocks each: 3·132 / 96 → 5, and 4 is the largest divisor of 512 below.
  EXPECT_EQ(stateRefinement(32, 3, 512, 132), 4);
  // Enough programs already: none.
  EXPECT_EQ(stateRefinement(512, 3, 512, 132), 1);
  // Never more fine segments than blocks, and only divisors of them.
  EXPECT_EQ(stateRefinement(2, 1, 2, 132), 2);
  EXPECT_EQ(stateRefinement(2, 1, 7, 132), 7);
  EXPECT_EQ(stateRefinement(2, 1, 11 * 13, 132), 13);
  // At most 16.
  EXPECT_EQ(stateRefinement(1, 1, 1024, 132), 16);
  // A segment of one block cannot be cut; no programs is treated as one.
  EXPECT_EQ(stateRefinement(4, 3, 1, 132), 1);
  EXPECT_EQ(stateRefinement(0, 0, 8, 132), 8);
}

TEST(LightningTuning, ShapesParseAndBucket) {
  auto s = LightningShape::parse("4,8192,16,128");
  ASSERT_TRUE(static_cast<bool>(s));
  EXPECT_EQ(s->str(), "B4 N8192 H16 D128 E128 bf16 bnhd");
  EXPECT_EQ(s->bucket(), "bf16 d128 e128 bnhd bh<=64 n<=8192");
  auto t = LightningShape::parse("3,5000,16,128");
  ASSERT_TRUE(static_cast<bool>(t));
  EXPECT_EQ(t->bucket(), s->bucket()) << "same powers of two";
  auto e = LightningShape::parse("1,10,2,64,32");
  ASSERT_TRUE(static_cast<bool>(e));
  EXPECT_EQ(e->e, 32);
  for (auto [text, want] :
       {std::pair{"4,8192,16", "expected B,N,H,D or B,N,H,D,E"},
        {"4,x,16,128", "N = 'x' is not a positive integer"},
        {"4,0,16,128", "N = '0' is not a positive integer"},
        {"1,10,2,40", "head dimension D = 40 must be a multiple of 16"}}) {
    auto bad = LightningShape::parse(text);
    ASSERT_FALSE(static_cast<bool>(bad)) << text;
    EXPECT_THAT(llvm::toString(bad.takeError()), HasSubstr(want)) << text;
  }
}

TEST(LightningTuning, ShardedSweepOfEveryPassOnStandIns) {
  auto devices = autotune::interpreterDevices(2);
  std::vector<autotune::TuneDevice *> ptrs{devices[0].get(), devices[1].get()};
  for (LightningPass pass : kernels::kLightningPasses) {
    LightningShape shape = smallShape();
    shape.initialState = shape.finalState = pass != LightningPass::BackwardDq;
    LightningTunable tunable(pass, shape);
    auto results = autotune::sweep(tunable, ptrs, opts(0, 1));
    ASSERT_TRUE(static_cast<bool>(results)) << llvm::toString(results.takeError());
    const autotune::KindResult &kr = results->front();
    ASSERT_TRUE(kr.found()) << tunable.name();
    EXPECT_EQ(kr.shares.size(), 2u);
    size_t expected = tunable.space().enumerate().size();
    ASSERT_EQ(kr.record.table.size(), expected);
    for (const autotune::CandidateResult &r : kr.record.table) {
      // Every candidate of the real kernels is correct and fits an H100.
      EXPECT_EQ(r.status, autotune::Status::Ok)
          << tunable.name() << " " << r.config.str() << ": " << r.reason;
      EXPECT_THAT(r.reason, HasSubstr("max rel err"));
      EXPECT_GT(r.resources.sharedBytes, 0);
      if (havePtxas()) {
        EXPECT_GT(r.resources.registers, 0);
        EXPECT_LE(r.resources.registers, 255);
      } else {
        EXPECT_EQ(r.resources.registers, -1);
      }
    }
    EXPECT_TRUE(kr.record.defaultMs.has_value());
  }
}

TEST(LightningTuning, CandidatesThatDoNotFitArePrunedWithTheReason) {
  autotune::DeviceInfo tiny;
  tiny.name = "tiny";
  tiny.maxSharedPerBlock = 12 * 1024;
  auto devices = autotune::interpreterDevices(1, tiny);
  autotune::TuneDevice *ptrs[] = {devices[0].get()};
  LightningTunable tunable(LightningPass::Forward, smallShape());
  auto results = autotune::sweep(tunable, ptrs, opts(0, 1));
  ASSERT_TRUE(static_cast<bool>(results)) << llvm::toString(results.takeError());
  int pruned = 0;
  for (const autotune::CandidateResult &r : results->front().record.table) {
    if (r.resources.sharedBytes > 12 * 1024) {
      EXPECT_EQ(r.status, autotune::Status::Pruned) << r.config.str();
      EXPECT_THAT(r.reason, HasSubstr("B of shared memory, tiny has 12288 B"));
      ++pruned;
    } else {
      EXPECT_EQ(r.status, autotune::Status::Ok) << r.config.str() << r.reason;
    }
  }
  EXPECT_GT(pruned, 0);
  EXPECT_TRUE(results->front().found());
}

/// Random dense f32 (B, H, N, ·) inputs and the float64 reference output.
struct Inputs {
  LightningShape s = smallShape();
  std::vector<float> q, k, v, o, slopes;
  explicit Inputs(uint64_t seed) {
    s.dtype = DType::f32;
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> dist(0, 1);
    auto fill = [&](std::vector<float> &x, int64_t n) {
      x.resize(n);
      for (float &e : x) e = dist(rng);
    };
    int64_t rows = s.batch * s.heads * s.seq;
    fill(q, rows * s.d), fill(k, rows * s.d), fill(v, rows * s.e);
    o.assign(rows * s.e, std::nanf(""));
    slopes = alibiSlopes(s.heads);
  }
  TensorRef ref(std::vector<float> &x, int64_t last) {
    TensorRef t;
    t.data = x.data();
    t.dtype = DType::f32;
    t.shape = {s.batch, s.heads, s.seq, last};
    return t;
  }
  LightningForwardArgs args() {
    LightningForwardArgs a;
    a.q = ref(q, s.d), a.k = ref(k, s.d), a.v = ref(v, s.e), a.o = ref(o, s.e);
    a.slopes.data = slopes.data();
    a.slopes.dtype = DType::f32;
    a.slopes.shape = {s.heads};
    return a;
  }
  double error() const {
    reference::Problem p;
    p.batch = s.batch, p.heads = s.heads, p.seq = s.seq, p.d = s.d, p.e = s.e;
    p.q.assign(q.begin(), q.end());
    p.k.assign(k.begin(), k.end());
    p.v.assign(v.begin(), v.end());
    p.slopes.assign(slopes.begin(), slopes.end());
    auto ref = reference::forward(p);
    return reference::relativeError(std::vector<double>(o.begin(), o.end()), ref.o);
  }
};

TEST(LightningTuning, TunedCallableTunesOnceThenUsesTheCache) {
  TempDir dir;
  autotune::TuneCache cache(dir.path);
  TunedLightningOptions options = interpreterOptions(cache);
  Inputs in(7);
  {
    TunedLightning tuned(options);
    ASSERT_FALSE(static_cast<bool>(tuned.forward(in.args())));
    EXPECT_LT(in.error(), toleranceFor(DType::f32));
    std::vector<PassChoice> choices;
    auto config = tuned.configFor(in.s, false, &choices);
    ASSERT_TRUE(static_cast<bool>(config));
    ASSERT_EQ(choices.size(), 1u);
    EXPECT_EQ(choices[0].source, ConfigSource::Memory);
  }
  ASSERT_EQ(cache.list().size(), 1u) << "the sweep's winner was stored";
  const autotune::TuneRecord stored = cache.list().front();
  EXPECT_EQ(stored.key.kernel, "lightning_fwd");
  EXPECT_EQ(stored.key.problem, in.s.bucket());

  // A fresh instance (a new process, as far as it knows) reads the cache.
  TunedLightning again(options);
  std::vector<PassChoice> choices;
  auto config = again.configFor(in.s, false, &choices);
  ASSERT_TRUE(static_cast<bool>(config)) << llvm::toString(config.takeError());
  EXPECT_EQ(choices[0].source, ConfigSource::Cache);
  EXPECT_EQ(toConfig(config->fwd), stored.best);
  Inputs in2(8);
  ASSERT_FALSE(static_cast<bool>(again.forward(in2.args())));
  EXPECT_LT(in2.error(), toleranceFor(DType::f32));
  EXPECT_EQ(cache.list().size(), 1u) << "no second sweep";
}

TEST(LightningTuning, VarlenCallsRunTheHeuristicWithoutSweeping) {
  // Lightning's tuning space is fixed-length: a packed batch runs the
  // heuristic blocks, correctly, and leaves the cache alone.
  TempDir dir;
  autotune::TuneCache cache(dir.path);
  TunedLightning tuned(interpreterOptions(cache));
  Inputs in(9);
  std::vector<int32_t> cu{0, 13, 13, 40};
  LightningForwardArgs a = in.args();
  a.cuSeqlens.data = cu.data();
  a.cuSeqlens.dtype = DType::i32;
  a.cuSeqlens.shape = {4};
  ASSERT_FALSE(static_cast<bool>(tuned.forward(a)));
  EXPECT_TRUE(cache.list().empty()) << "no sweep for a varlen call";
  std::vector<float> packed = in.o;
  std::fill(in.o.begin(), in.o.end(), std::nanf(""));
  LightningOptions heuristic;
  heuristic.backend = Backend::Interpreter;
  ASSERT_FALSE(static_cast<bool>(lightningForward(a, heuristic)));
  EXPECT_EQ(packed, in.o) << "the same heuristic call";
}

TEST(LightningTuning, WithoutTuningAMissRunsTheDefault) {
  TempDir dir;
  autotune::TuneCache cache(dir.path);
  TunedLightningOptions options = interpreterOptions(cache, false);
  TunedLightning tuned(options);
  auto choice = tuned.choose(LightningPass::Forward, smallShape());
  ASSERT_TRUE(static_cast<bool>(choice));
  EXPECT_EQ(choice->source, ConfigSource::Default);
  EXPECT_EQ(choice->config.blockW, 32) << "W capped at the padded E = 32";
  EXPECT_EQ(choice->config.splits, 1) << "40 rows: too short to split";
  LightningShape longer = smallShape();
  longer.seq = 65536;
  EXPECT_EQ(heuristicConfig(LightningPass::Forward, longer, 132, true).splits,
            64)
      << "B·H = 2 programs: as many segments as the cap allows";
  EXPECT_TRUE(cache.list().empty());
}

TEST(LightningTuning, BadCallsStillGetTheEntryPointsErrors) {
  TunedLightningOptions options;
  options.backend = Backend::Interpreter;
  options.cache = nullptr;
  options.tuneOnMiss = false;
  TunedLightning tuned(options);
  LightningForwardArgs a; // nothing set
  llvm::Error err = tuned.forward(a);
  ASSERT_TRUE(static_cast<bool>(err));
  EXPECT_THAT(llvm::toString(std::move(err)), HasSubstr("q: expected a 4-D tensor"));
}

TEST(LightningTuning, StartupReadiesEveryShapeAndReportsTheTime) {
  TempDir dir;
  autotune::TuneCache cache(dir.path);
  TunedLightningOptions options = interpreterOptions(cache);
  TunedLightning tuned(options);
  LightningShape a = smallShape(), b = smallShape();
  b.seq = 300; // another bucket
  auto report = startLightning(tuned, {a, b});
  ASSERT_TRUE(static_cast<bool>(report)) << llvm::toString(report.takeError());
  ASSERT_EQ(report->items.size(), 8u) << "2 shapes × (fwd + dq, dk, dv)";
  for (const StartupItem &item : report->items)
    EXPECT_EQ(item.choice.source, ConfigSource::Tuned)
        << kernels::passName(item.choice.pass);
  EXPECT_GT(report->seconds, 0);
  EXPECT_EQ(cache.list().size(), 8u);
  // Again: everything from this instance's memory, no sweep.
  auto warm = startLightning(tuned, {a, b});
  ASSERT_TRUE(static_cast<bool>(warm));
  for (const StartupItem &item : warm->items)
    EXPECT_EQ(item.choice.source, ConfigSource::Memory);
  EXPECT_LT(warm->seconds, report->seconds);
}

TEST(LightningTuning, CachedSplitWinnerIsUsedAndReadiedAtStartup) {
  TempDir dir;
  autotune::TuneCache cache(dir.path);
  TunedLightningOptions options = interpreterOptions(cache, false);
  TunedLightning tuned(options);
  LightningShape shape = smallShape();
  shape.seq = 300;
  // A record as a sweep on this stand-in would have stored it.
  LightningTunable tunable(LightningPass::Forward, shape);
  auto dev = tuned.device();
  ASSERT_TRUE(static_cast<bool>(dev));
  auto key = autotune::TuneKey::make(tunable, dev->info());
  ASSERT_TRUE(static_cast<bool>(key));
  autotune::TuneRecord record;
  record.key = *key;
  record.best = autotune::Config{
      {{"C", 32}, {"W", 32}, {"warps", 4}, {"stages", 1}, {"split", 4}}};
  record.bestMs = 1;
  record.defaultConfig = tunable.space().defaultConfig();
  record.date = "2026-11-24";
  ASSERT_FALSE(static_cast<bool>(cache.store(record)));

  auto report = startLightning(tuned, {shape}, /*backward=*/false);
  ASSERT_TRUE(static_cast<bool>(report)) << llvm::toString(report.takeError());
  ASSERT_EQ(report->items.size(), 1u) << "one item per kernel pass";
  EXPECT_EQ(report->items[0].choice.source, ConfigSource::Cache);
  EXPECT_EQ(report->items[0].choice.config.splits, 4);

  // Later calls at this shape use it.
  std::vector<PassChoice> choices;
  auto config = tuned.configFor(shape, false, &choices);
  ASSERT_TRUE(static_cast<bool>(config));
  EXPECT_EQ(config->fwd.splits, 4);
}

} // namespace
} // namespace tessel
