// Non-causal (bidirectional) linear attention, causal = false: every token
// attends to the whole sequence, o_i = scale Σ_j λ^|i−j| (q_i·k_j) v_j (with
// gates e^(−|b_i − b_j|)), run as the causal sweep plus an anti-causal one
// that adds to it; forward and backward on the interpreter against the
// float64 reference, which sums every pair. Tails, odd D and E, both
// layouts, every dtype, no / ALiBi / strong decay, varlen batches, simple
// GLA with its gate gradient; the argument errors.
#include "kernels/Lightning.h"
#include "kernels/LightningCheck.h"
#include "kernels/Reference.h"
#include "tests/unit/TestSupport.h"

#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include <cmath>
#include <numeric>
#include <random>
#include <vector>

using namespace tessel;
using ::testing::HasSubstr;

namespace {

using test::errorText;
using test::freshSeed;

struct NonCausalCase {
  int64_t n, d, e, b, h;
  Layout layout;
  DType dtype;
  const char *decay; // "zero", "alibi", "fast" or "gates"
  bool backward;
  int blockC; // 0: the heuristic's (64)
  std::vector<int64_t> seqLens = {};
};

const std::vector<NonCausalCase> kNonCausalCases = {
    {1, 16, 16, 2, 2, Layout::BHND, DType::f32, "alibi", false, 0},
    {63, 64, 96, 1, 3, Layout::BNHD, DType::bf16, "zero", false, 0},
    {65, 48, 80, 2, 2, Layout::BHND, DType::f16, "fast", false, 0},
    {130, 128, 32, 1, 2, Layout::BNHD, DType::f32, "alibi", false, 16},
    {200, 32, 48, 1, 2, Layout::BHND, DType::bf16, "gates", false, 0},
    {65, 16, 16, 1, 2, Layout::BNHD, DType::f32, "gates", false, 16},
    {1, 16, 16, 2, 2, Layout::BNHD, DType::f32, "alibi", true, 0},
    {63, 64, 96, 1, 3, Layout::BHND, DType::bf16, "alibi", true, 0},
    {65, 48, 80, 2, 2, Layout::BNHD, DType::f16, "zero", true, 0},
    {150, 32, 32, 1, 2, Layout::BHND, DType::f32, "fast", true, 16},
    {193, 32, 48, 1, 2, Layout::BNHD, DType::f32, "alibi", true, 0, {1, 63, 64, 65}},
    {110, 16, 32, 1, 2, Layout::BHND, DType::bf16, "gates", false, 16, {33, 0, 77}},
    // Simple GLA's gradient, gates included: the causal half's per-row
    // terms, the anti-causal sweeps, then the sum.
    {70, 32, 48, 1, 2, Layout::BNHD, DType::f32, "gates", true, 0},
    {130, 16, 16, 2, 2, Layout::BHND, DType::f32, "gates", true, 16},
    {100, 64, 32, 1, 2, Layout::BHND, DType::bf16, "gates", true, 0},
    {111, 16, 32, 1, 2, Layout::BNHD, DType::f32, "gates", true, 16, {1, 63, 0, 47}},
};

std::string caseName(const ::testing::TestParamInfo<NonCausalCase> &info) {
  const NonCausalCase &c = info.param;
  return fmt::format("{:02}_{}_{}_{}_{}{}", info.index, c.decay,
                     c.backward ? "bwd" : "fwd", layoutName(c.layout),
                     dtypeName(c.dtype), c.seqLens.empty() ? "" : "_varlen");
}

class NonCausalNumerics : public ::testing::TestWithParam<NonCausalCase> {};

TEST_P(NonCausalNumerics, MatchesThePairwiseSum) {
  const NonCausalCase &c = GetParam();
  LightningProblem p;
  p.batch = c.b, p.heads = c.h, p.seq = c.n, p.d = c.d, p.e = c.e;
  p.layout = c.layout;
  p.dtype = c.dtype;
  std::string decay = c.decay;
  if (decay == "gates")
    p.gateRange = std::pair{-0.5f, 0.0f};
  else if (decay == "zero")
    p.slopes.assign(c.h, 0.0f);
  else if (decay == "fast")
    p.slopes.assign(c.h, 8.0f);
  else
    p.slopes = alibiSlopes(c.h);
  p.backward = c.backward;
  p.causal = false;
  p.seqLens = c.seqLens;
  p.seed = freshSeed();
  SCOPED_TRACE(p.str());
  LightningOptions options;
  if (c.blockC) {
    // And dk, dv as two launches: each gets its anti-causal twin too.
    options.config = kernels::LightningConfig::uniform(c.blockC, 16, 4);
    options.fuseDkDv = false;
  }
  auto result = checkLightning(p, options);
  ASSERT_TRUE(static_cast<bool>(result)) << llvm::toString(result.takeError());
  bool gated = std::string(c.decay) == "gates";
  ASSERT_EQ(result->errors.size(), c.backward ? (gated ? 4u : 3u) : 1u);
  for (auto &[name, err] : result->errors) {
    EXPECT_FALSE(std::isnan(err)) << name;
    EXPECT_LE(err, result->toleranceOf(name)) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, NonCausalNumerics,
                         ::testing::ValuesIn(kNonCausalCases), caseName);

/// A small f32 bhnd problem for the error cases.
struct Small {
  int64_t H = 2, N = 40, D = 16, E = 16;
  std::vector<float> q, o, slopes, state, gates;
  LightningForwardArgs f;
  Small()
      : q(H * N * D, 0.5f), o(q), slopes(H, 0.1f), state(H * D * E, 0.0f),
        gates(H * N, -0.1f) {
    f.q = f.k = f.v = test::f32Tensor(q.data(), {1, H, N, D});
    f.o = test::f32Tensor(o.data(), {1, H, N, E});
    f.slopes = test::f32Tensor(slopes.data(), {H});
    f.causal = false;
  }
  TensorRef stateRef() { return test::f32Tensor(state.data(), {1, H, D, E}); }
};

TEST(NonCausal, TheAntiCausalSweepIsWhatMakesItBidirectional) {
  // One set of inputs, both settings, against the pairwise sum: the
  // non-causal call matches it, the causal one (the first sweep alone) is
  // far from it — so the check above could not pass without the second.
  Small a;
  std::mt19937_64 rng(freshSeed());
  a.q = test::normals(rng, a.q.size());
  std::vector<float> k = test::normals(rng, a.q.size()),
                     v = test::normals(rng, a.o.size());
  a.f.q.data = a.q.data(), a.f.k.data = k.data(), a.f.v.data = v.data();
  reference::Problem p;
  p.heads = a.H, p.seq = a.N, p.d = a.D, p.e = a.E;
  p.q.assign(a.q.begin(), a.q.end());
  p.k.assign(k.begin(), k.end());
  p.v.assign(v.begin(), v.end());
  p.slopes.assign(a.slopes.begin(), a.slopes.end());
  p.causal = false;
  std::vector<double> want = reference::forward(p).o;
  auto error = [&] {
    return reference::relativeError(std::vector<double>(a.o.begin(), a.o.end()),
                                    want);
  };
  ASSERT_EQ(errorText(lightningForward(a.f)), "");
  EXPECT_LT(error(), 1e-5);
  a.f.causal = true;
  ASSERT_EQ(errorText(lightningForward(a.f)), "");
  EXPECT_GT(error(), 0.1);
}

TEST(NonCausal, StatesAndSplitsAreRefused) {
  {
    Small a;
    EXPECT_EQ(errorText(lightningForward(a.f)), "");
  }
  {
    Small a;
    a.f.initialState = a.stateRef();
    EXPECT_THAT(errorText(lightningForward(a.f)),
                HasSubstr("initial_state: non-causal attention (causal = "
                          "false) has no state to start from or hand on"));
  }
  {
    Small a;
    a.f.finalState = a.stateRef();
    EXPECT_THAT(errorText(lightningForward(a.f)),
                HasSubstr("final_state: non-causal attention"));
  }
  {
    Small a;
    LightningOptions options;
    options.config = kernels::LightningConfig{};
    options.config->fwd.splits = 2;
    EXPECT_THAT(errorText(lightningForward(a.f, options)),
                HasSubstr("LightningConfig.fwd.splits = 2: a non-causal call "
                          "(causal = false) does not split the sequence yet"));
  }
  {
    // The backward: no dS_N; with slopes and with gates it runs.
    Small a;
    std::vector<float> dq(a.q.size()), dk(a.q.size()), dv(a.o.size()),
        dg(a.gates.size());
    LightningBackwardArgs b;
    b.q = b.k = b.v = a.f.q;
    b.dO = a.f.o;
    b.dq = a.f.q, b.dq.data = dq.data();
    b.dk = a.f.q, b.dk.data = dk.data();
    b.dv = a.f.o, b.dv.data = dv.data();
    b.slopes = a.f.slopes;
    b.causal = false;
    EXPECT_EQ(errorText(lightningBackward(b)), "");
    b.dFinalState = a.stateRef();
    EXPECT_THAT(errorText(lightningBackward(b)),
                HasSubstr("d_final_state: non-causal attention"));
    b.dFinalState = TensorRef{};
    b.slopes = TensorRef{};
    b.gates.data = a.gates.data();
    b.gates.dtype = DType::f32;
    b.gates.shape = {1, a.H, a.N};
    b.dGates = b.gates;
    b.dGates.data = dg.data();
    EXPECT_EQ(errorText(lightningBackward(b)), "") << "gated, non-causal";
  }
  {
    LightningProblem p;
    p.slopes = alibiSlopes(p.heads);
    p.causal = false;
    p.decodeSteps = 3;
    EXPECT_THAT(errorText(checkLightning(p).takeError()),
                HasSubstr("decode steps are causal"));
  }
}

} // namespace
