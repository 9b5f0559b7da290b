// Simple GLA (per-token log-decays g ≤ 0 in place of the per-head slopes)
// through lightningForward and lightningBackward on the interpreter: the
// float64 recurrence S_t = exp(g_t) S_{t−1} + k_tᵀ v_t and its gradients
// (dg included) on shapes with tails, odd D and E, both layouts, every
// dtype, states, strong and weak gates; the argument errors.
#include "kernels/Lightning.h"
#include "kernels/LightningCheck.h"
#include "tests/unit/TestSupport.h"

#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include <cmath>
#include <random>
#include <vector>

using namespace tessel;
using ::testing::HasSubstr;

namespace {

using test::errorText;
using test::freshSeed;

struct GlaCase {
  int64_t n, d, e, b, h;
  Layout layout;
  DType dtype;
  float lo, hi;
  bool s0, sN, backward;
};

// N: 1, C−1, C, C+1 and longer (C = 64 by the heuristic); gates from weak
// (exp(g) ≈ 1) to strong (exp(−8): λ^C underflows) and a constant
// (g = −0.1 everywhere, Lightning's slope in disguise).
// Forward and backward (the backward with S0 and dS0, dS_N, both).
const std::vector<GlaCase> kGlaCases = {
    {1,    16,  16,  2, 2, Layout::BHND, DType::f32,  -1.0f,  0.0f,   false, true,  false},
    {63,   64,  96,  1, 3, Layout::BNHD, DType::bf16, -0.5f,  -0.01f, true,  true,  false},
    {64,   48,  80,  2, 2, Layout::BHND, DType::f16,  -0.2f,  0.0f,   false, false, false},
    {65,   128, 128, 1, 2, Layout::BNHD, DType::f32,  -8.0f,  -2.0f,  true,  false, false},
    {300,  80,  256, 1, 1, Layout::BHND, DType::bf16, -1e-4f, 0.0f,   true,  true,  false},
    {1000, 32,  32,  2, 2, Layout::BNHD, DType::f32,  -0.1f,  -0.1f,  false, true,  false},
    {1,    16,  16,  2, 2, Layout::BNHD, DType::f32,  -1.0f,  0.0f,   true,  false, true},
    {63,   64,  96,  1, 3, Layout::BHND, DType::bf16, -0.5f,  -0.01f, true,  true,  true},
    {65,   48,  80,  2, 2, Layout::BNHD, DType::f16,  -3.0f,  0.0f,   false, true,  true},
    {150,  128, 128, 1, 2, Layout::BHND, DType::f32,  -0.3f,  0.0f,   true,  true,  true},
    {130,  32,  48,  2, 2, Layout::BNHD, DType::f32,  -1e-3f, 0.0f,   false, true,  true},
    {300,  80,  256, 1, 1, Layout::BNHD, DType::bf16, -1e-4f, 0.0f,   false, false, true},
};

class SimpleGlaNumerics : public ::testing::TestWithParam<GlaCase> {};

TEST_P(SimpleGlaNumerics, MatchesFloat64Reference) {
  const GlaCase &c = GetParam();
  LightningProblem p;
  p.batch = c.b, p.heads = c.h, p.seq = c.n, p.d = c.d, p.e = c.e;
  p.layout = c.layout;
  p.dtype = c.dtype;
  p.gateRange = std::pair{c.lo, c.hi};
  p.initialState = c.s0;
  p.finalState = c.sN;
  p.backward = c.backward;
  p.seed = freshSeed();
  SCOPED_TRACE(p.str());
  auto result = checkLightning(p);
  ASSERT_TRUE(static_cast<bool>(result)) << llvm::toString(result.takeError());
  // Forward: o (+ final_state); backward: dq dk dv (+ d_initial_state) d_gates.
  size_t outputs = c.backward ? 4u + (c.s0 ? 1u : 0u) : (c.sN ? 2u : 1u);
  ASSERT_EQ(result->errors.size(), outputs);
  for (auto &[name, err] : result->errors) {
    EXPECT_FALSE(std::isnan(err)) << name;
    EXPECT_LE(err, result->toleranceOf(name)) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, SimpleGlaNumerics, ::testing::ValuesIn(kGlaCases));

/// Dense f32 (B, H, N, ·) tensors of a small problem, for the error cases.
struct Args {
  int64_t B = 1, H = 2, N = 70, D = 16, E = 16;
  std::vector<float> q, k, v, o, gates, slopes;
  LightningForwardArgs f;
  explicit Args(int64_t n = 70, int64_t d = 16)
      : N(n), D(d), E(d), q(B * H * N * D, 0.5f), k(q), v(B * H * N * E, 0.25f), o(v),
        gates(B * H * N, -0.1f), slopes(H, 0.1f) {
    auto ref = [](std::vector<float> &x, std::vector<int64_t> shape) {
      return test::f32Tensor(x.data(), std::move(shape));
    };
    f.q = ref(q, {B, H, N, D}), f.k = ref(k, {B, H, N, D});
    f.v = ref(v, {B, H, N, E}), f.o = ref(o, {B, H, N, E});
    f.gates = ref(gates, {B, H, N});
  }
  /// Gradients of these arguments: dO = o, outputs written to dq, dk, dv
  /// and dg (dg left absent when empty).
  LightningBackwardArgs backward(std::vector<float> &dq, std::vector<float> &dk,
                                 std::vector<float> &dv,
                                 std::vector<float> &dg) const {
    dq.resize(q.size()), dk.resize(k.size()), dv.resize(v.size());
    LightningBackwardArgs b;
    b.q = f.q, b.k = f.k, b.v = f.v, b.dO = f.o;
    b.dq = f.q, b.dq.data = dq.data();
    b.dk = f.k, b.dk.data = dk.data();
    b.dv = f.v, b.dv.data = dv.data();
    b.gates = f.gates;
    if (!dg.empty())
      b.dGates = f.gates, b.dGates.data = dg.data();
    return b;
  }
};

TEST(SimpleGla, BadGatesAreRefusedWithTheReason) {
  {
    Args a;
    EXPECT_EQ(errorText(lightningForward(a.f)), "");
  }
  {
    Args a;
    a.f.slopes.data = a.slopes.data();
    a.f.slopes.dtype = DType::f32;
    a.f.slopes.shape = {a.H};
    EXPECT_THAT(errorText(lightningForward(a.f)),
                HasSubstr("slopes and gates: a simple GLA's gates replace the "
                          "slopes; pass one of them"));
  }
  {
    Args a;
    a.gates[17] = 0.5f;
    EXPECT_THAT(errorText(lightningForward(a.f)),
                HasSubstr("gates[0, 0, 17] = 0.5: a log-decay must be a finite "
                          "number ≤ 0"));
  }
  {
    Args a;
    a.gates[a.N + 3] = NAN;
    EXPECT_THAT(errorText(lightningForward(a.f)),
                HasSubstr("gates[0, 1, 3] = nan"));
  }
  {
    Args a;
    a.f.gates.shape = {a.B, a.N, a.H}; // bnhd order under a bhnd call
    EXPECT_THAT(errorText(lightningForward(a.f)),
                HasSubstr("gates: expected shape [1, 2, 70] (B, H, N), got "
                          "[1, 70, 2]"));
  }
  {
    Args a;
    a.f.gates.dtype = DType::bf16;
    EXPECT_THAT(errorText(lightningForward(a.f)),
                HasSubstr("gates: dtype must be f32, got bf16"));
  }
  {
    Args a;
    LightningOptions options;
    options.config = kernels::LightningConfig{};
    options.config->fwd.splits = 2;
    EXPECT_THAT(errorText(lightningForward(a.f, options)),
                HasSubstr("LightningConfig.fwd.splits = 2: a simple GLA "
                          "(gates) does not split the sequence yet"));
  }
  {
    // The gradient of the gates: required, shaped like them, never
    // overlapping itself.
    Args a;
    std::vector<float> dq, dk, dv, none, dg(a.gates.size());
    LightningBackwardArgs b = a.backward(dq, dk, dv, none);
    EXPECT_THAT(errorText(lightningBackward(b)),
                HasSubstr("d_gates: required when gates are given"));
    b.dGates = a.f.gates;
    b.dGates.data = dg.data();
    EXPECT_EQ(errorText(lightningBackward(b)), "");
    b.dGates.strides = {a.N, 1, 1};
    EXPECT_THAT(errorText(lightningBackward(b)),
                HasSubstr("d_gates: strides [70, 1, 1] make elements of shape "
                          "[1, 2, 70] overlap"));
    b.dGates.strides = {};
    b.dGates.shape = {a.B, a.N, a.H};
    EXPECT_THAT(errorText(lightningBackward(b)),
                HasSubstr("d_gates: expected shape [1, 2, 70] (B, H, N)"));
  }
  {
    // The heuristic's split (B·H = 2 on 132 SMs asks for one) is dropped.
    Args a(4096);
    EXPECT_EQ(errorText(lightningForward(a.f)), "");
  }
}

// A gated backward without wgmma (the host here) at D = E = 128 plans the
// configurations that spill nothing with the gate rows' extra tiles
// (applyWholeSequenceLimits, PtxAssembleDsl.SimpleGlaBackward): dq at 32
// columns, dk and dv in one launch at 64, or 32 with dS_N.
TEST(SimpleGla, BackwardPlansTheSpillFreeConfigurations) {
  for (bool dsN : {false, true}) {
    Args a(256, 128);
    std::vector<float> dq, dk, dv, dg(a.gates.size()),
        dS(a.B * a.H * a.D * a.E, 0.0f);
    LightningBackwardArgs b = a.backward(dq, dk, dv, dg);
    if (dsN)
      b.dFinalState = test::f32Tensor(dS.data(), {a.B, a.H, a.D, a.E});
    auto plan = planLightningBackward(b);
    ASSERT_TRUE(static_cast<bool>(plan)) << llvm::toString(plan.takeError());
    std::vector<std::string> names;
    for (const LightningLaunch &l : *plan)
      names.push_back(l.kernel->name());
    ASSERT_EQ(names.size(), 3u);
    EXPECT_THAT(names[0], HasSubstr("lightning_bwd_dq_"));
    EXPECT_THAT(names[0], HasSubstr("_W32_"));
    EXPECT_THAT(names[1], HasSubstr("lightning_bwd_dkdv_"));
    EXPECT_THAT(names[1], HasSubstr(dsN ? "_W32_" : "_W64_"));
    EXPECT_THAT(names[2], HasSubstr("simple_gla_dgates"));
  }
}

TEST(SimpleGla, DecodeStepsContinueAPrefill) {
  // 100 decode steps (lightningDecode with each token's gates) after a
  // 30-token forward prefill, checked with the final state against the
  // recurrence over all 130 tokens; both layouts, f32 and bf16.
  for (Layout layout : {Layout::BHND, Layout::BNHD})
    for (DType dtype : {DType::f32, DType::bf16}) {
      LightningProblem p;
      p.batch = 2, p.heads = 2, p.seq = 130, p.d = 32, p.e = 48;
      p.layout = layout;
      p.dtype = dtype;
      p.gateRange = std::pair{-0.7f, 0.0f};
      p.initialState = true;
      p.finalState = true;
      p.decodeSteps = 100;
      p.seed = freshSeed();
      SCOPED_TRACE(p.str());
      auto result = checkLightning(p);
      ASSERT_TRUE(static_cast<bool>(result)) << llvm::toString(result.takeError());
      ASSERT_EQ(result->errors.size(), 2u);
      EXPECT_TRUE(result->ok()) << "worst " << result->worst();
    }
}

TEST(SimpleGla, StridedGatesInEitherLayoutAreRead) {
  // The gates as a view with a gap between heads (row stride 2, an unused
  // element after each) give what the same values packed give, bhnd and
  // bnhd; dL/dg likewise through a strided output.
  for (Layout layout : {Layout::BHND, Layout::BNHD}) {
    SCOPED_TRACE(layoutName(layout));
    const int64_t B = 1, H = 2, N = 70, D = 16, E = 16;
    bool bhnd = layout == Layout::BHND;
    std::vector<int64_t> act = bhnd ? std::vector<int64_t>{B, H, N, D}
                                    : std::vector<int64_t>{B, N, H, D};
    std::vector<float> q(B * H * N * D), k(q.size()), v(q.size()), dO(q.size());
    std::mt19937_64 rng(11);
    std::normal_distribution<float> nd(0, 1);
    for (auto *x : {&q, &k, &v, &dO})
      for (float &f : *x) f = nd(rng);
    std::vector<float> packed(B * H * N), wide(2 * B * H * N, 99.0f);
    std::uniform_real_distribution<float> ud(-1, 0);
    for (size_t i = 0; i < packed.size(); ++i) {
      packed[i] = ud(rng);
      wide[2 * i] = packed[i];
    }
    auto ref = [](std::vector<float> &x, std::vector<int64_t> shape,
                  std::vector<int64_t> strides = {}) {
      return test::f32Tensor(x.data(), std::move(shape), std::move(strides));
    };
    std::vector<int64_t> gshape = bhnd ? std::vector<int64_t>{B, H, N}
                                       : std::vector<int64_t>{B, N, H};
    std::vector<int64_t> wideStrides{2 * H * N, bhnd ? 2 * N : 2 * H, 2};
    std::vector<std::vector<float>> outs;
    for (bool strided : {false, true}) {
      std::vector<float> o(q.size()), dq(q.size()), dk(q.size()), dv(q.size());
      std::vector<float> dg(strided ? wide.size() : packed.size(), 7.0f);
      LightningForwardArgs f;
      f.q = ref(q, act), f.k = ref(k, act), f.v = ref(v, act), f.o = ref(o, act);
      f.layout = layout;
      f.gates = strided ? ref(wide, gshape, wideStrides) : ref(packed, gshape);
      ASSERT_EQ(errorText(lightningForward(f)), "");
      LightningBackwardArgs b;
      b.q = f.q, b.k = f.k, b.v = f.v, b.dO = ref(dO, act);
      b.dq = ref(dq, act), b.dk = ref(dk, act), b.dv = ref(dv, act);
      b.layout = layout;
      b.gates = f.gates;
      b.dGates = strided ? ref(dg, gshape, wideStrides) : ref(dg, gshape);
      ASSERT_EQ(errorText(lightningBackward(b)), "");
      std::vector<float> dgPacked(packed.size());
      for (size_t i = 0; i < packed.size(); ++i)
        dgPacked[i] = strided ? dg[2 * i] : dg[i];
      if (strided)
        for (size_t i = 0; i < packed.size(); ++i)
          EXPECT_EQ(dg[2 * i + 1], 7.0f) << "the gap after element " << i;
      outs.push_back(o), outs.push_back(dq), outs.push_back(dgPacked);
    }
    for (size_t i = 0; i < 3; ++i)
      EXPECT_EQ(outs[i], outs[3 + i]) << "output " << i;
  }
}

TEST(SimpleGla, ConstantGatesEqualTheSlopesDecay) {
  // g = −s everywhere is Lightning with slope s: the same outputs.
  Args a;
  std::vector<float> gated(a.o.size()), plain(a.o.size());
  a.f.o.data = gated.data();
  ASSERT_EQ(errorText(lightningForward(a.f)), "");
  LightningForwardArgs f = a.f;
  f.gates = TensorRef{};
  f.o.data = plain.data();
  f.slopes.data = a.slopes.data();
  f.slopes.dtype = DType::f32;
  f.slopes.shape = {a.H};
  ASSERT_EQ(errorText(lightningForward(f)), "");
  for (size_t i = 0; i < gated.size(); ++i)
    ASSERT_NEAR(gated[i], plain[i], 1e-5 * (1 + std::fabs(plain[i]))) << i;
}

} // namespace
