// Numerics of the Lightning Attention-2 kernels through the interpreter
// against the float64 recurrence (docs/design.md §1): a covering list of
// problems over sequence lengths with tails, head dimensions, layouts, decays,
// states, dtypes, scales, forward and backward, each on fresh random inputs;
// then non-default block configurations and their validation.
#include "kernels/LightningCheck.h"
#include "kernels/Reference.h"
#include "runtime/Half.h"
#include "tests/unit/ScopedEnv.h"
#include "tests/unit/TestSupport.h"

#include "fmt/format.h"
#include "fmt/ranges.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include <array>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

using namespace tessel;
using ::testing::HasSubstr;

namespace {

using test::errorText;
using test::freshSeed;
using test::relDiff;

/// Fast: λ^C underflows to 0 (s = 8); Steep: even λ^2 is under 1e-34
/// (s = 40); Tiny: no visible decay (s = 1e-8).
enum class Decay { Zero, Alibi, Fast, Steep, Tiny };

const char *decayName(Decay d) {
  switch (d) {
  case Decay::Zero: return "zero";
  case Decay::Alibi: return "alibi";
  case Decay::Fast: return "fast";
  case Decay::Steep: return "steep";
  case Decay::Tiny: return "tiny";
  }
  return "?";
}

std::vector<float> slopesFor(Decay d, int64_t heads) {
  switch (d) {
  case Decay::Zero: return std::vector<float>(heads, 0.0f);
  case Decay::Alibi: return alibiSlopes(heads);
  case Decay::Fast: return std::vector<float>(heads, 8.0f);
  case Decay::Steep: return std::vector<float>(heads, 40.0f);
  case Decay::Tiny: return std::vector<float>(heads, 1e-8f);
  }
  return {};
}

struct Case {
  int64_t n, d, e, b, h;
  Layout layout;
  DType dtype;
  Decay decay;
  bool s0, sN, backward;
  float scale;
};

constexpr Layout BHND = Layout::BHND, BNHD = Layout::BNHD;
constexpr DType BF16 = DType::bf16, F16 = DType::f16, F32 = DType::f32;
constexpr Decay ZERO = Decay::Zero, ALIBI = Decay::Alibi, FAST = Decay::Fast,
                STEEP = Decay::Steep, TINY = Decay::Tiny;
constexpr bool FWD = false, BWD = true;

// Every value of every axis appears, forward and backward, most of them with
// states; N = 4096 only with B = H = 1. Columns:
//   N     D    E    B  H  layout dtype decay  S0     SN     pass scale
const std::vector<Case> kCases = {
    {1,    16,  16,  2, 2, BHND, BF16, ALIBI, false, false, FWD, 1.0f},
    {1,    16,  16,  2, 2, BNHD, F32,  ZERO,  true,  true,  BWD, 0.5f},
    {1,    64,  96,  1, 3, BHND, F16,  FAST,  true,  false, FWD, 1.0f},
    {1,    64,  96,  1, 3, BNHD, BF16, ALIBI, false, true,  BWD, 1.0f},
    {1,    80,  256, 1, 2, BHND, F32,  FAST,  false, false, BWD, 1.0f},
    {1,    128, 128, 1, 1, BNHD, BF16, ZERO,  true,  false, FWD, 1.0f},
    {63,   16,  16,  2, 3, BHND, F32,  ALIBI, false, false, FWD, 1.0f},
    {63,   16,  16,  2, 3, BNHD, F16,  ZERO,  true,  true,  BWD, 1.0f},
    {63,   64,  96,  1, 2, BHND, BF16, FAST,  true,  true,  FWD, 0.25f},
    {63,   64,  96,  1, 2, BNHD, F32,  ZERO,  true,  false, BWD, 1.0f},
    {63,   128, 128, 1, 2, BNHD, BF16, ALIBI, false, false, BWD, 1.0f},
    {63,   128, 128, 1, 1, BHND, F16,  FAST,  true,  true,  BWD, 1.0f},
    {63,   80,  256, 1, 1, BHND, F16,  ALIBI, true,  true,  FWD, 1.0f},
    {64,   16,  16,  2, 2, BNHD, BF16, ZERO,  false, false, FWD, 1.0f},
    {64,   16,  16,  1, 1, BHND, F16,  FAST,  true,  true,  BWD, 0.75f},
    {64,   64,  96,  2, 2, BHND, F32,  ALIBI, true,  false, BWD, 2.0f},
    {64,   128, 128, 1, 2, BHND, F16,  FAST,  false, true,  FWD, 1.0f},
    {64,   80,  256, 1, 2, BNHD, BF16, ALIBI, true,  true,  BWD, 1.0f},
    {64,   80,  256, 1, 1, BHND, F16,  ZERO,  false, false, FWD, 2.0f},
    {65,   16,  16,  3, 2, BHND, BF16, ALIBI, true,  true,  FWD, 1.0f},
    {65,   16,  16,  1, 4, BNHD, BF16, FAST,  false, true,  BWD, 1.0f},
    {65,   64,  96,  1, 4, BNHD, F16,  ZERO,  false, false, BWD, 1.0f},
    {65,   64,  96,  2, 2, BNHD, BF16, ALIBI, true,  true,  FWD, 1.0f},
    {65,   128, 128, 1, 2, BHND, F32,  FAST,  true,  false, BWD, 0.125f},
    {65,   128, 128, 1, 1, BNHD, BF16, ZERO,  true,  true,  FWD, 1.0f},
    {65,   80,  256, 1, 2, BNHD, F32,  ALIBI, false, true,  FWD, 1.0f},
    {1000, 16,  16,  2, 2, BNHD, F16,  ALIBI, true,  true,  FWD, 1.0f},
    {1000, 16,  16,  2, 2, BHND, F32,  FAST,  true,  true,  BWD, 1.0f},
    {1000, 64,  96,  1, 2, BHND, BF16, FAST,  false, false, BWD, 1.0f},
    {1000, 64,  96,  1, 2, BNHD, F32,  ALIBI, false, true,  FWD, 1.0f},
    {1000, 80,  256, 1, 1, BHND, BF16, ZERO,  true,  false, FWD, 0.5f},
    {1000, 80,  256, 1, 2, BNHD, BF16, ALIBI, true,  true,  BWD, 1.0f},
    {1000, 128, 128, 1, 2, BNHD, F32,  ZERO,  false, true,  BWD, 1.0f},
    {1000, 128, 128, 1, 1, BHND, F16,  ALIBI, true,  true,  BWD, 0.5f},
    {4096, 128, 128, 1, 1, BHND, BF16, ALIBI, false, false, FWD, 1.0f},
    {4096, 128, 128, 1, 1, BNHD, BF16, ALIBI, true,  true,  BWD, 1.0f},
    {4096, 16,  16,  1, 1, BNHD, F16,  ZERO,  true,  true,  FWD, 1.0f},
    {4096, 16,  16,  1, 1, BHND, F32,  FAST,  true,  false, BWD, 1.5f},
    {4096, 64,  96,  1, 1, BNHD, BF16, FAST,  true,  true,  FWD, 1.0f},
    {4096, 64,  96,  1, 1, BHND, F16,  ALIBI, false, false, BWD, 1.0f},
    // Extreme decays and scales: λ^C and most of the mask underflow (s = 40),
    // or no decay shows (s = 1e-8); outputs 1e4 times larger.
    {65,   64,  96,  1, 2, BHND, F32,  STEEP, true,  true,  BWD, 1e4f},
    {63,   128, 128, 1, 1, BHND, F16,  STEEP, false, true,  FWD, 1.0f},
    {1000, 16,  16,  2, 2, BNHD, BF16, TINY,  true,  true,  BWD, 1.0f},
    {64,   64,  96,  1, 2, BNHD, BF16, TINY,  false, false, FWD, 1e4f},
};

LightningProblem toProblem(const Case &c) {
  LightningProblem p;
  p.batch = c.b, p.heads = c.h, p.seq = c.n, p.d = c.d, p.e = c.e;
  p.layout = c.layout;
  p.dtype = c.dtype;
  p.slopes = slopesFor(c.decay, c.h);
  p.scale = c.scale;
  p.initialState = c.s0;
  p.finalState = c.sN;
  p.backward = c.backward;
  return p;
}

/// Everything needed to replay a failure: the problem (with its seed), the
/// decay and the scale, which LightningProblem::str() does not show.
std::string describe(const LightningProblem &p, Decay decay) {
  return fmt::format("{} decay={} slopes=[{}] scale={} (replay with "
                     "TESSEL_TEST_SEED={})",
                     p.str(), decayName(decay), fmt::join(p.slopes, ", "),
                     p.scale, p.seed);
}

/// The outputs checkLightning must have compared for `p`.
std::vector<std::string> expectedOutputs(const LightningProblem &p) {
  std::vector<std::string> names;
  if (!p.backward) {
    names = {"o"};
    if (p.finalState)
      names.push_back("final_state");
  } else {
    names = {"dq", "dk", "dv"};
    if (p.initialState)
      names.push_back("d_initial_state");
  }
  return names;
}

/// Runs one checked call and asserts it: every output compared, none NaN,
/// all within the tolerance the result carries.
void expectMatchesReference(const LightningProblem &p, Decay decay,
                            const LightningOptions &options = {}) {
  SCOPED_TRACE(describe(p, decay));
  auto result = checkLightning(p, options);
  ASSERT_TRUE(static_cast<bool>(result)) << llvm::toString(result.takeError());
  std::vector<std::string> names;
  for (auto &[name, err] : result->errors) {
    names.push_back(name);
    EXPECT_FALSE(std::isnan(err)) << name << " is NaN";
    EXPECT_LE(err, result->tolerance) << name;
  }
  EXPECT_EQ(names, expectedOutputs(p));
  EXPECT_GT(result->tolerance, 0.0);
  EXPECT_TRUE(result->ok()) << "worst relative error " << result->worst()
                            << ", tolerance " << result->tolerance;
}

class LightningNumerics : public ::testing::TestWithParam<Case> {};

TEST_P(LightningNumerics, MatchesFloat64Reference) {
  const Case &c = GetParam();
  LightningProblem p = toProblem(c);
  p.seed = freshSeed();
  expectMatchesReference(p, c.decay);
}

std::string caseName(const ::testing::TestParamInfo<Case> &info) {
  const Case &c = info.param;
  std::string scale = fmt::format("{}", c.scale);
  for (char &ch : scale)
    if (ch == '.')
      ch = 'p';
  return fmt::format("{:02}_{}_N{}_D{}_E{}_B{}H{}_{}_{}_{}{}{}_s{}", info.index,
                     c.backward ? "bwd" : "fwd", c.n, c.d, c.e, c.b, c.h,
                     layoutName(c.layout), dtypeName(c.dtype),
                     decayName(c.decay), c.s0 ? "_S0" : "", c.sN ? "_SN" : "",
                     scale);
}

INSTANTIATE_TEST_SUITE_P(Cases, LightningNumerics, ::testing::ValuesIn(kCases),
                         caseName);

/// The case list keeps covering what the issue asks for when someone edits
/// it: every value of every axis, each pass with and without states.
TEST(LightningNumericsCoverage, EveryAxisValueAppears) {
  std::set<int64_t> ns;
  std::set<std::pair<int64_t, int64_t>> des;
  std::set<Layout> layouts;
  std::set<DType> dtypes;
  std::set<Decay> decays;
  std::set<std::tuple<bool, bool, bool>> states; // (backward, S0, SN)
  std::set<std::pair<bool, DType>> passDtypes;
  bool nonUnitScaleFwd = false, nonUnitScaleBwd = false;
  for (const Case &c : kCases) {
    ns.insert(c.n);
    des.insert({c.d, c.e});
    layouts.insert(c.layout);
    dtypes.insert(c.dtype);
    decays.insert(c.decay);
    states.insert({c.backward, c.s0, c.sN});
    passDtypes.insert({c.backward, c.dtype});
    (c.backward ? nonUnitScaleBwd : nonUnitScaleFwd) |= c.scale != 1.0f;
    if (c.n == 4096 && c.d * c.e >= 128 * 128)
      EXPECT_EQ(c.b * c.h, 1) << "N = 4096 with D = E = 128 must use B = H = 1";
  }
  EXPECT_EQ(ns, (std::set<int64_t>{1, 63, 64, 65, 1000, 4096}));
  EXPECT_EQ(des, (std::set<std::pair<int64_t, int64_t>>{
                     {16, 16}, {64, 96}, {128, 128}, {80, 256}}));
  EXPECT_EQ(layouts.size(), 2u);
  EXPECT_EQ(dtypes.size(), 3u);
  EXPECT_EQ(decays.size(), 5u);
  EXPECT_EQ(passDtypes.size(), 6u) << "each dtype forward and backward";
  for (bool backward : {false, true})
    for (bool s0 : {false, true})
      for (bool sN : {false, true})
        EXPECT_TRUE(states.count({backward, s0, sN}))
            << (backward ? "backward" : "forward") << " S0=" << s0
            << " SN=" << sN;
  EXPECT_TRUE(nonUnitScaleFwd);
  EXPECT_TRUE(nonUnitScaleBwd);
  EXPECT_GE(kCases.size(), 36u);
}

//===----------------------------------------------------------------------===//
// Block configurations
//===----------------------------------------------------------------------===//

/// C rows everywhere; blocks over E (fwd), D (dq, dk) and E (dv).
kernels::LightningConfig config(int c, int e, int d, int eb) {
  kernels::LightningConfig cfg;
  cfg.fwd = {c, e}, cfg.dq = {c, d}, cfg.dk = {c, d}, cfg.dv = {c, eb};
  return cfg;
}

/// Each kernel with its own C, widths and warps, as the tuner picks them.
kernels::LightningConfig mixed() {
  kernels::LightningConfig cfg;
  cfg.fwd = {32, 16, 4}, cfg.dq = {128, 32, 8}, cfg.dk = {16, 64, 2},
  cfg.dv = {64, 32, 1};
  return cfg;
}

/// `base` with every pass's sequence split into `splits` segments.
kernels::LightningConfig split(kernels::LightningConfig base, int splits) {
  base.fwd.splits = base.dq.splits = base.dk.splits = base.dv.splits = splits;
  return base;
}

/// Each pass split differently (or not at all), C differing per pass.
kernels::LightningConfig mixedSplits() {
  kernels::LightningConfig cfg = mixed();
  cfg.fwd.splits = 5, cfg.dq.splits = 1, cfg.dk.splits = 2, cfg.dv.splits = 9;
  return cfg;
}

const std::vector<kernels::LightningConfig> kConfigs = {
    config(16, 16, 16, 16),  config(32, 32, 32, 32),  config(128, 16, 32, 16),
    config(16, 32, 16, 32),  config(128, 32, 16, 32), config(32, 16, 32, 16),
    config(64, 128, 128, 128), // wider than D and E: clamped
    mixed(),
    // Sequence splits: N = 150 in 2, 3 (C = 32: 64-row segments, the last
    // one 22 rows), 10 (more than blocks: one block per segment), and a
    // different split per pass.
    split(config(64, 32, 32, 32), 2), split(mixed(), 3),
    split(config(16, 16, 16, 16), 10), mixedSplits(),
};

/// Dense f32 host tensors for a direct call, so outputs of two configurations
/// can be compared element by element.
struct DirectRun {
  int64_t B = 1, H = 2, N = 150, D = 48, E = 80;
  float scale = 0.75f;
  /// Pass S0, ask for the final state and give dS_N (else none of them:
  /// final_state and d_initial_state come back as NaN).
  bool states = true;
  std::vector<float> q, k, v, dO, slopes, s0, dSN;

  explicit DirectRun(uint64_t seed) {
    std::mt19937_64 rng(seed);
    q = test::normals(rng, B * H * N * D), k = test::normals(rng, B * H * N * D);
    v = test::normals(rng, B * H * N * E), dO = test::normals(rng, B * H * N * E);
    s0 = test::normals(rng, B * H * D * E), dSN = test::normals(rng, B * H * D * E);
    slopes = alibiSlopes(H);
  }

  TensorRef ref(std::vector<float> &x, std::vector<int64_t> shape) {
    return test::f32Tensor(x.data(), std::move(shape));
  }
  std::vector<int64_t> act(int64_t last) { return {B, H, N, last}; }
  std::vector<int64_t> state() { return {B, H, D, E}; }

  /// Backward arguments over this problem (with S0 and dS0, no dS_N),
  /// writing into `out` = {dq, dk, dv, dS0}, sized here.
  LightningBackwardArgs backwardArgs(std::vector<std::vector<float>> &out) {
    out = {std::vector<float>(q.size()), std::vector<float>(k.size()),
           std::vector<float>(v.size()), std::vector<float>(s0.size())};
    LightningBackwardArgs b;
    b.q = ref(q, act(D)), b.k = ref(k, act(D)), b.v = ref(v, act(E));
    b.dO = ref(dO, act(E));
    b.dq = ref(out[0], act(D)), b.dk = ref(out[1], act(D));
    b.dv = ref(out[2], act(E));
    b.slopes = ref(slopes, {H});
    b.initialState = ref(s0, state());
    b.dInitialState = ref(out[3], state());
    return b;
  }

  /// Forward arguments over this problem (no states, scale 1) writing `o`.
  LightningForwardArgs forwardArgs(std::vector<float> &o) {
    LightningForwardArgs f;
    f.q = ref(q, act(D)), f.k = ref(k, act(D)), f.v = ref(v, act(E));
    f.o = ref(o, act(E));
    f.slopes = ref(slopes, {H});
    return f;
  }

  /// {o, final_state, dq, dk, dv, d_initial_state} under `cfg`.
  llvm::Expected<std::vector<std::vector<float>>>
  run(const kernels::LightningConfig &cfg, LightningOptions options = {}) {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    std::vector<float> o(B * H * N * E, nan), sN(B * H * D * E, nan);
    std::vector<float> dq(q.size(), nan), dk(k.size(), nan), dv(v.size(), nan);
    std::vector<float> dS0(s0.size(), nan);
    options.config = cfg;
    LightningForwardArgs f = forwardArgs(o);
    f.scale = scale;
    if (states) {
      f.initialState = ref(s0, state());
      f.finalState = ref(sN, state());
    }
    if (auto err = lightningForward(f, options))
      return std::move(err);
    LightningBackwardArgs b;
    b.q = f.q, b.k = f.k, b.v = f.v, b.dO = ref(dO, act(E));
    b.dq = ref(dq, act(D)), b.dk = ref(dk, act(D)), b.dv = ref(dv, act(E));
    b.slopes = f.slopes;
    b.scale = f.scale;
    if (states) {
      b.initialState = f.initialState;
      b.dInitialState = ref(dS0, state());
      b.dFinalState = ref(dSN, state());
    }
    if (auto err = lightningBackward(b, options))
      return std::move(err);
    return std::vector<std::vector<float>>{o, sN, dq, dk, dv, dS0};
  }
};


TEST(LightningConfigs, NonDefaultBlocksGiveTheSameAnswers) {
  // f32, so two block decompositions agree to rounding (≈1e-7); N = 150 and
  // D = 48, E = 80 leave partial blocks for every block size tried.
  uint64_t seed = freshSeed();
  SCOPED_TRACE(fmt::format("seed {} (replay with TESSEL_TEST_SEED)", seed));
  DirectRun problem(seed);
  auto base = problem.run({});
  ASSERT_TRUE(static_cast<bool>(base)) << llvm::toString(base.takeError());
  const char *names[] = {"o", "final_state", "dq", "dk", "dv",
                         "d_initial_state"};
  for (size_t i = 0; i < base->size(); ++i)
    for (float x : (*base)[i])
      ASSERT_FALSE(std::isnan(x)) << names[i] << " has unwritten elements";
  for (const auto &cfg : kConfigs) {
    auto got = problem.run(cfg);
    ASSERT_TRUE(static_cast<bool>(got)) << cfg.str() << ": "
                                        << llvm::toString(got.takeError());
    for (size_t i = 0; i < base->size(); ++i) {
      double diff = relDiff((*got)[i], (*base)[i]);
      EXPECT_LE(diff, 1e-5) << cfg.str() << " " << names[i];
      EXPECT_FALSE(std::isnan(diff)) << cfg.str() << " " << names[i];
    }
  }
}

TEST(LightningConfigs, NonFiniteInputsStayInTheirHead) {
  // A NaN in head 0's q and an Inf in its v poison head 0 only: every output
  // of head 1 (o, final state, dq, dk, dv, dS0) is bit for bit the clean
  // run's, whole-sequence and split.
  uint64_t seed = freshSeed();
  SCOPED_TRACE(fmt::format("seed {} (replay with TESSEL_TEST_SEED)", seed));
  for (const auto &cfg : {kernels::LightningConfig{},
                          split(config(32, 32, 32, 32), 3)}) {
    DirectRun problem(seed);
    auto clean = problem.run(cfg);
    ASSERT_TRUE(static_cast<bool>(clean)) << llvm::toString(clean.takeError());
    problem.q[17 * problem.D + 5] = std::numeric_limits<float>::quiet_NaN();
    problem.v[90 * problem.E + 3] = std::numeric_limits<float>::infinity();
    auto poisoned = problem.run(cfg);
    ASSERT_TRUE(static_cast<bool>(poisoned))
        << llvm::toString(poisoned.takeError());
    const char *names[] = {"o", "final_state", "dq", "dk", "dv",
                           "d_initial_state"};
    for (size_t i = 0; i < clean->size(); ++i) {
      const auto &a = (*clean)[i], &b = (*poisoned)[i];
      size_t perHead = a.size() / problem.H; // B = 1, heads outermost
      bool head0Hit = false;
      for (size_t j = 0; j < perHead; ++j)
        head0Hit |= !std::isfinite(b[j]);
      EXPECT_TRUE(head0Hit) << cfg.str() << " " << names[i]
                            << ": head 0 shows no trace of its NaN";
      for (size_t j = perHead; j < a.size(); ++j)
        ASSERT_EQ(std::memcmp(&a[j], &b[j], sizeof(float)), 0)
            << cfg.str() << " " << names[i] << "[" << j << "] of head 1: "
            << a[j] << " became " << b[j];
    }
  }
}

TEST(LightningConfigs, ZeroScaleZeroesTheOutputsButNotTheState) {
  // o and dq carry the scale and come out exactly 0; the state (and so the
  // final state) does not depend on it.
  uint64_t seed = freshSeed();
  SCOPED_TRACE(fmt::format("seed {} (replay with TESSEL_TEST_SEED)", seed));
  for (const auto &cfg : {kernels::LightningConfig{},
                          split(config(32, 32, 32, 32), 3)}) {
    DirectRun scaled(seed), zero(seed);
    zero.scale = 0.0f;
    auto a = scaled.run(cfg), b = zero.run(cfg);
    ASSERT_TRUE(static_cast<bool>(a)) << llvm::toString(a.takeError());
    ASSERT_TRUE(static_cast<bool>(b)) << llvm::toString(b.takeError());
    for (size_t out : {0u, 2u}) // o, dq
      for (float x : (*b)[out])
        ASSERT_EQ(x, 0.0f) << cfg.str() << (out ? " dq" : " o");
    EXPECT_EQ((*a)[1], (*b)[1]) << cfg.str() << ": the final state changed";
  }
}

TEST(LightningConfigs, NonDefaultBlocksMatchTheReference) {
  for (const auto &cfg : kConfigs)
    for (bool backward : {false, true}) {
      LightningProblem p;
      p.batch = 1, p.heads = 2, p.seq = 150, p.d = 48, p.e = 80;
      p.layout = backward ? Layout::BNHD : Layout::BHND;
      p.dtype = DType::bf16;
      p.slopes = alibiSlopes(p.heads);
      p.scale = 0.5f;
      p.initialState = p.finalState = true;
      p.backward = backward;
      p.seed = freshSeed();
      LightningOptions options;
      options.config = cfg;
      SCOPED_TRACE(cfg.str());
      expectMatchesReference(p, Decay::Alibi, options);
    }
}

TEST(LightningConfigs, SplitForwardPlansThreeLaunches) {
  DirectRun problem(3);
  std::vector<float> o(problem.B * problem.H * problem.N * problem.E);
  LightningForwardArgs f = problem.forwardArgs(o);
  struct Case {
    int blockC, splits;
    int64_t launches, segments;
  };
  // N = 150: segment length = ceil(ceil(150 / S) / C) · C.
  for (Case c : {Case{64, 1, 1, 1}, Case{64, 2, 3, 2}, Case{32, 3, 3, 3},
                 Case{64, 3, 3, 3}, Case{16, 100, 3, 10}, Case{256, 4, 1, 1}}) {
    LightningOptions options;
    options.config.emplace();
    options.config->fwd.blockC = c.blockC;
    options.config->fwd.splits = c.splits;
    auto plan = planLightningForward(f, options);
    ASSERT_TRUE(static_cast<bool>(plan)) << llvm::toString(plan.takeError());
    ASSERT_EQ(int64_t(plan->size()), c.launches) << c.blockC << " " << c.splits;
    if (c.launches == 3) {
      EXPECT_EQ((*plan)[0].kernel->name().rfind("lightning_fwd_segment_states", 0), 0u);
      EXPECT_EQ((*plan)[1].kernel->name().rfind("lightning_state_scan", 0), 0u);
      EXPECT_EQ((*plan)[2].kernel->name().rfind("lightning_fwd_segment_outputs", 0), 0u);
      // The state launch at the refinement the output launch reads by
      // (state_slot_stride): k fine segments per segment.
      int64_t k = (*plan)[2].args[10].intValue;
      EXPECT_GE(k, 1);
      EXPECT_EQ((*plan)[0].grid.z, c.segments * k);
      EXPECT_EQ((*plan)[2].grid.z, c.segments);
      EXPECT_EQ((*plan)[1].grid.z, 1);
    }
  }
  kernels::LightningConfig bad;
  bad.dk.splits = 0;
  EXPECT_THAT(errorText(kernels::validateConfig(bad)),
              HasSubstr("LightningConfig.dk.splits must be in [1, 4096], got 0"));
  bad.dk.splits = 1;
  bad.fwd.splits = 5000;
  EXPECT_THAT(errorText(kernels::validateConfig(bad)),
              HasSubstr("LightningConfig.fwd.splits must be in [1, 4096], got 5000"));
  // Unset: the heuristic for the shape. B·H = 2 programs, but 150 rows
  // are under 4 blocks of 64: one sweep.
  auto plan = planLightningForward(f, LightningOptions{});
  ASSERT_TRUE(static_cast<bool>(plan)) << llvm::toString(plan.takeError());
  EXPECT_EQ(plan->size(), 1u) << "150 rows are too few to split";
}

TEST(LightningConfigs, SplitBackwardPlansPerPass) {
  DirectRun problem(4);
  std::vector<std::vector<float>> grads;
  LightningBackwardArgs b = problem.backwardArgs(grads);
  LightningOptions options;
  options.config = mixedSplits(); // dq whole, dk and dv split
  auto plan = planLightningBackward(b, options);
  ASSERT_TRUE(static_cast<bool>(plan)) << llvm::toString(plan.takeError());
  std::vector<std::string> names;
  for (const LightningLaunch &l : *plan)
    names.push_back(l.kernel->name());
  ASSERT_EQ(plan->size(), 7u);
  EXPECT_EQ(names[0].rfind("lightning_bwd_dq_", 0), 0u) << names[0];
  EXPECT_EQ(names[1].rfind("lightning_bwd_segment_grad_states", 0), 0u) << names[1];
  // dk's reverse scan writes dS0 (the kernel takes d_initial_state); dv's
  // does not.
  EXPECT_EQ(names[2].rfind("lightning_state_scan_reverse_", 0), 0u) << names[2];
  EXPECT_NE(names[2].find("_s0"), std::string::npos) << names[2];
  EXPECT_EQ(names[3].rfind("lightning_bwd_dk_segment_outputs", 0), 0u) << names[3];
  EXPECT_EQ(names[5].rfind("lightning_state_scan_reverse_", 0), 0u) << names[5];
  EXPECT_EQ(names[5].find("_s0"), std::string::npos) << names[5];
  EXPECT_EQ(names[6].rfind("lightning_bwd_dv_segment_outputs", 0), 0u) << names[6];
  EXPECT_EQ((*plan)[1].pass, kernels::LightningPass::BackwardDk);
  EXPECT_EQ((*plan)[4].pass, kernels::LightningPass::BackwardDv);
  // dk: C = 16, 150 rows in 2 → 80-row segments → 2. dv: C = 64, 9 asked
  // for, but segments hold whole blocks → 64-row segments → 3.
  EXPECT_EQ((*plan)[3].grid.z, 2);
  EXPECT_EQ((*plan)[6].grid.z, 3);
}

TEST(LightningConfigs, BackwardFusesDkAndDvWhenTheirConfigsAgree) {
  DirectRun problem(5);
  std::vector<std::vector<float>> grads;
  LightningBackwardArgs b = problem.backwardArgs(grads);
  // Kernel names up to their spec ("_d48_e80_f32...").
  auto names = [](const std::vector<LightningLaunch> &plan) {
    std::vector<std::string> out;
    for (const LightningLaunch &l : plan)
      out.push_back(l.kernel->name().substr(0, l.kernel->name().find("_d48_")));
    return out;
  };
  using V = std::vector<std::string>;
  const int64_t bh = int64_t(problem.B) * problem.H;

  // Whole sequence, dk and dv at one config (D = 48, E = 80 in blocks of
  // 32: 2 dk programs and 3 dv programs per head, in one grid).
  LightningOptions options;
  options.config = config(64, 32, 32, 32);
  auto plan = planLightningBackward(b, options);
  ASSERT_TRUE(static_cast<bool>(plan)) << llvm::toString(plan.takeError());
  EXPECT_EQ(names(*plan), (V{"lightning_bwd_dq", "lightning_bwd_dkdv"}));
  EXPECT_EQ((*plan)[1].grid.x, bh * (2 + 3));
  EXPECT_EQ((*plan)[1].pass, kernels::LightningPass::BackwardDk);

  // Split: one pass of state gradients and one reverse scan serve both.
  options.config = split(config(64, 32, 32, 32), 2);
  plan = planLightningBackward(b, options);
  ASSERT_TRUE(static_cast<bool>(plan)) << llvm::toString(plan.takeError());
  EXPECT_EQ(names(*plan),
            (V{"lightning_fwd_segment_states", "lightning_state_scan",
               "lightning_bwd_dq_segment_outputs",
               "lightning_bwd_segment_grad_states",
               "lightning_state_scan_reverse",
               "lightning_bwd_dkdv_segment_outputs"}));
  EXPECT_EQ((*plan)[5].grid.x, bh * (2 + 3));
  EXPECT_EQ((*plan)[5].grid.z, 2);

  // Off (as the tuner times them), or configs that differ: two launches.
  options.fuseDkDv = false;
  plan = planLightningBackward(b, options);
  ASSERT_TRUE(static_cast<bool>(plan)) << llvm::toString(plan.takeError());
  EXPECT_EQ(plan->size(), 9u);
  options.fuseDkDv = true;
  options.config = config(64, 32, 32, 16);
  plan = planLightningBackward(b, options);
  ASSERT_TRUE(static_cast<bool>(plan)) << llvm::toString(plan.takeError());
  EXPECT_EQ(names(*plan),
            (V{"lightning_bwd_dq", "lightning_bwd_dk", "lightning_bwd_dv"}));

  // The fused launch computes what the two launches do, bit for bit.
  auto fused = problem.run(config(64, 32, 32, 32));
  ASSERT_TRUE(static_cast<bool>(fused)) << llvm::toString(fused.takeError());
  LightningOptions apart;
  apart.fuseDkDv = false;
  auto separate = problem.run(config(64, 32, 32, 32), apart);
  ASSERT_TRUE(static_cast<bool>(separate))
      << llvm::toString(separate.takeError());
  EXPECT_EQ(*fused, *separate);
}

/// The whole-sequence runs at C = W = 32, with states and without: what
/// the split runs must reproduce.
void wholeRuns(DirectRun &problem,
               std::vector<std::vector<std::vector<float>>> &whole) {
  for (bool states : {true, false}) {
    problem.states = states;
    auto run = problem.run(config(32, 32, 32, 32));
    ASSERT_TRUE(static_cast<bool>(run)) << llvm::toString(run.takeError());
    whole.push_back(std::move(*run));
  }
}

/// Every output of a DirectRun within 1e-5 of the reference's; without
/// states the final state and dS0 were not asked for (NaN) and are skipped.
void expectSameOutputs(const std::vector<std::vector<float>> &got,
                       const std::vector<std::vector<float>> &ref, bool states,
                       const std::string &what) {
  for (size_t i = 0; i < got.size(); ++i) {
    if (!states && (i == 1 || i == 5))
      continue;
    EXPECT_LE(relDiff(got[i], ref[i]), 1e-5) << what << ", output " << i;
  }
}

TEST(LightningConfigs, SplitWithoutStatesSkipsTheLastSegmentsContribution) {
  // Without a final state, the forward's (and dq's) segment-state launch
  // sweeps all rows but the last segment's: the answers must not change.
  DirectRun problem(freshSeed());
  problem.states = false;
  auto whole = problem.run(config(32, 32, 32, 32));
  ASSERT_TRUE(static_cast<bool>(whole)) << llvm::toString(whole.takeError());
  for (int splits : {2, 3, 5}) {
    auto got = problem.run(split(config(32, 32, 32, 32), splits));
    ASSERT_TRUE(static_cast<bool>(got)) << llvm::toString(got.takeError());
    for (size_t i : {0, 2, 3, 4}) { // o, dq, dk, dv
      double diff = relDiff((*got)[i], (*whole)[i]);
      EXPECT_LE(diff, 1e-5) << splits << " segments, output " << i;
    }
  }
  // The launch: n = (S - 1) · segment_len = 2 · 64 of 150 rows (C = 32).
  std::vector<float> o(problem.v.size());
  LightningForwardArgs f = problem.forwardArgs(o);
  LightningOptions options;
  options.config = split(config(32, 32, 32, 32), 3);
  auto plan = planLightningForward(f, options);
  ASSERT_TRUE(static_cast<bool>(plan)) << llvm::toString(plan.takeError());
  ASSERT_EQ(plan->size(), 3u);
  EXPECT_EQ((*plan)[0].args[4].intValue, 128);
  EXPECT_EQ((*plan)[2].args[6].intValue, 150) << "the outputs sweep every row";
}

TEST(LightningConfigs, ChainedSplitGivesTheSameAnswers) {
  // TESSEL_SPLIT=chained: the forward's split in one launch, each segment
  // handing its state to the next through a flag. o and the final state
  // match the whole-sequence run, with and without states, for 2 and 3
  // segments (the last one partial: N = 150, 64-row segments at C = 32),
  // 5 (one block each) and 16 columns per program (5 chains per head, each
  // its own flag); twice in a row, the flags counting on from where the
  // call before left them.
  uint64_t seed = freshSeed();
  SCOPED_TRACE(fmt::format("seed {} (replay with TESSEL_TEST_SEED)", seed));
  DirectRun problem(seed);
  std::vector<std::vector<std::vector<float>>> whole; // with, without states
  ASSERT_NO_FATAL_FAILURE(wholeRuns(problem, whole));
  test::ScopedEnv chained("TESSEL_SPLIT", "chained");
  for (auto [base, splits] : std::vector<std::pair<kernels::LightningConfig, int>>{
           {config(32, 32, 32, 32), 2}, {config(32, 32, 32, 32), 3},
           {config(32, 32, 32, 32), 5}, {config(32, 16, 32, 32), 3}}) {
    for (bool states : {true, false}) {
      problem.states = states;
      const auto &ref = whole[states ? 0 : 1];
      for (int call = 0; call < 2; ++call) {
        auto got = problem.run(split(base, splits));
        ASSERT_TRUE(static_cast<bool>(got)) << llvm::toString(got.takeError());
        expectSameOutputs(*got, ref, states,
                          fmt::format("{} segments, W {}, states {}, call {}",
                                      splits, base.fwd.blockW, states, call));
      }
    }
  }

  // The plan: one launch over (B·H·E/W, 1, S), flag_base past every value
  // the call before could have left (S + 1 further on).
  problem.states = true;
  std::vector<float> o(problem.v.size());
  LightningForwardArgs f = problem.forwardArgs(o);
  LightningOptions options;
  options.config = split(config(32, 32, 32, 32), 3);
  auto first = planLightningForward(f, options);
  ASSERT_TRUE(static_cast<bool>(first)) << llvm::toString(first.takeError());
  ASSERT_EQ(first->size(), 1u);
  const LightningLaunch &launch = first->front();
  EXPECT_EQ(launch.kernel->name().rfind("lightning_fwd_segment_chained", 0), 0u)
      << launch.kernel->name();
  EXPECT_EQ(launch.grid.x, 2 * 3); // B·H = 2, E = 80 in 3 blocks of 32
  EXPECT_EQ(launch.grid.z, 3);
  // q k v o slopes segment_states segment_flags n heads scale segment_len
  // flag_base, then strides.
  ASSERT_GT(launch.args.size(), 11u);
  EXPECT_EQ(launch.args[10].intValue, 64) << "segment_len";
  auto second = planLightningForward(f, options);
  ASSERT_TRUE(static_cast<bool>(second)) << llvm::toString(second.takeError());
  EXPECT_EQ(second->front().args[11].intValue - launch.args[11].intValue, 4)
      << "flag_base moves S + 1 per call";
}

TEST(LightningConfigs, ChainedSplitKeepsThreeLaunchesForWideHeads) {
  // At D or E above 128 the chained kernel spills, so TESSEL_SPLIT=chained
  // leaves those calls to the three launches.
  test::ScopedEnv chained("TESSEL_SPLIT", "chained");
  for (auto [d, e, launches] : std::vector<std::array<int64_t, 3>>{
           {256, 64, 3}, {64, 256, 3}, {128, 128, 1}}) {
    const int64_t N = 256;
    std::vector<float> q(N * d), k(N * d), v(N * e), o(N * e), slopes{0.5f};
    LightningForwardArgs f;
    f.q = test::f32Tensor(q.data(), {1, 1, N, d});
    f.k = test::f32Tensor(k.data(), {1, 1, N, d});
    f.v = test::f32Tensor(v.data(), {1, 1, N, e});
    f.o = test::f32Tensor(o.data(), {1, 1, N, e});
    f.slopes = test::f32Tensor(slopes.data(), {1});
    LightningOptions options;
    options.config = split(config(64, 64, 64, 64), 2);
    auto plan = planLightningForward(f, options);
    ASSERT_TRUE(static_cast<bool>(plan)) << llvm::toString(plan.takeError());
    EXPECT_EQ(int64_t(plan->size()), launches) << "D " << d << ", E " << e;
  }
}

TEST(LightningConfigs, RefinedStatePassesGiveTheSameAnswers) {
  // The state launches run at k fine segments per segment (none by default,
  // TESSEL_STATE_REFINE's k, or stateRefinement's on the interpreter's 132
  // SMs under "auto"): outputs,
  // final state and dS0 match the whole-sequence run for each k, the last
  // segment a partial one (N = 150, 64-row segments at C = 32, S = 3) so
  // that fine segments past the end must neither decay nor contribute.
  uint64_t seed = freshSeed();
  SCOPED_TRACE(fmt::format("seed {} (replay with TESSEL_TEST_SEED)", seed));
  DirectRun problem(seed);
  std::vector<std::vector<std::vector<float>>> whole; // with, without states
  ASSERT_NO_FATAL_FAILURE(wholeRuns(problem, whole));
  for (const char *k : std::vector<const char *>{nullptr, "2", "auto"}) {
    test::ScopedEnv refine("TESSEL_STATE_REFINE", k);
    for (bool states : {true, false}) {
      problem.states = states;
      const auto &ref = whole[states ? 0 : 1];
      auto got = problem.run(split(config(32, 32, 32, 32), 3));
      ASSERT_TRUE(static_cast<bool>(got)) << llvm::toString(got.takeError());
      expectSameOutputs(*got, ref, states,
                        fmt::format("k {}, states {}", k ? k : "unset", states));
    }
  }
  problem.states = true;

  // The plan under "auto": stateRefinement cuts each 2-block segment in 2
  // (B·H = 2 leaves the SMs idle): 6 fine state programs per column block,
  // a scan over 6, outputs over 3 reading fine slot 2·s.
  std::vector<float> o(problem.v.size());
  LightningForwardArgs f = problem.forwardArgs(o);
  LightningOptions options;
  options.config = split(config(32, 32, 32, 32), 3);
  test::ScopedEnv heuristic("TESSEL_STATE_REFINE", "auto");
  auto plan = planLightningForward(f, options);
  ASSERT_TRUE(static_cast<bool>(plan)) << llvm::toString(plan.takeError());
  ASSERT_EQ(plan->size(), 3u);
  EXPECT_EQ((*plan)[0].grid.z, 6);
  EXPECT_EQ((*plan)[0].args[7].intValue, 32) << "fine segment_len";
  EXPECT_EQ((*plan)[1].args.back().intValue, 6) << "the scan's segments";
  EXPECT_EQ((*plan)[2].grid.z, 3);
  EXPECT_EQ((*plan)[2].args[9].intValue, 64) << "segment_len";
  EXPECT_EQ((*plan)[2].args[10].intValue, 2) << "state_slot_stride";
  EXPECT_EQ((*plan)[2].args[11].intValue, 0) << "state_slot_offset";
  {
    test::ScopedEnv off("TESSEL_STATE_REFINE", nullptr); // the default
    auto unrefined = planLightningForward(f, options);
    ASSERT_TRUE(static_cast<bool>(unrefined))
        << llvm::toString(unrefined.takeError());
    EXPECT_EQ((*unrefined)[0].grid.z, 3);
    EXPECT_EQ((*unrefined)[2].args[10].intValue, 1);
  }
  // The backward's reverse passes read the fine slot ending their segment.
  std::vector<std::vector<float>> out;
  LightningBackwardArgs b = problem.backwardArgs(out);
  auto bplan = planLightningBackward(b, options);
  ASSERT_TRUE(static_cast<bool>(bplan)) << llvm::toString(bplan.takeError());
  const LightningLaunch &last = bplan->back();
  EXPECT_EQ(last.grid.z, 3);
  // bwd_dkdv_segment_outputs: q k v do dk dv slopes segment_states n heads
  // scale segment_len state_slot_stride state_slot_offset, then strides.
  ASSERT_EQ(last.kernel->name().rfind("lightning_bwd_dkdv_segment_outputs", 0), 0u)
      << last.kernel->name();
  ASSERT_GT(last.args.size(), 13u);
  EXPECT_EQ(last.args[11].intValue, 64) << "segment_len";
  EXPECT_EQ(last.args[12].intValue, 2) << "state_slot_stride";
  EXPECT_EQ(last.args[13].intValue, 1) << "state_slot_offset = k - 1";
}

TEST(LightningConfigs, ValidateConfigRejectsBadBlockSizes) {
  EXPECT_EQ(errorText(kernels::validateConfig({})), "");
  for (int good : {16, 32, 64, 128, 256})
    EXPECT_EQ(errorText(kernels::validateConfig(config(good, good, good, good))),
              "")
        << good;
  struct Field {
    std::string name;
    kernels::PassConfig kernels::LightningConfig::*pass;
    int kernels::PassConfig::*member;
  };
  std::vector<Field> fields;
  for (auto [pass, passName] :
       {std::pair{&kernels::LightningConfig::fwd, "fwd"},
        {&kernels::LightningConfig::dq, "dq"},
        {&kernels::LightningConfig::dk, "dk"},
        {&kernels::LightningConfig::dv, "dv"}})
    for (auto [member, name] : {std::pair{&kernels::PassConfig::blockC, "blockC"},
                                {&kernels::PassConfig::blockW, "blockW"}})
      fields.push_back({std::string(passName) + "." + name, pass, member});
  for (const Field &f : fields)
    for (int bad : {24, 0, 512, -16, 8, 48, 272}) {
      kernels::LightningConfig cfg;
      (cfg.*f.pass).*f.member = bad;
      std::string want = fmt::format(
          "LightningConfig.{} must be a power of two in [16, 256], got {}",
          f.name, bad);
      EXPECT_THAT(errorText(kernels::validateConfig(cfg)), HasSubstr(want));

      // The entry points refuse it before touching anything.
      LightningOptions options;
      options.config = cfg;
      EXPECT_THAT(errorText(lightningForward({}, options)), HasSubstr(want));
      EXPECT_THAT(errorText(lightningBackward({}, options)), HasSubstr(want));
    }
}

TEST(LightningConfigs, ValidateConfigRejectsBadWarpCounts) {
  for (int good : {1, 2, 4, 8, 16}) {
    auto cfg = kernels::LightningConfig::uniform(64, 64, good);
    EXPECT_EQ(errorText(kernels::validateConfig(cfg)), "") << good;
  }
  for (int bad : {0, 3, 6, 32, -4}) {
    kernels::LightningConfig cfg;
    cfg.dv.numWarps = bad;
    EXPECT_THAT(errorText(kernels::validateConfig(cfg)),
                HasSubstr(fmt::format("LightningConfig.dv.numWarps must be 1, "
                                      "2, 4, 8 or 16, got {}", bad)));
  }
}

} // namespace
