// Variable-length batches (fla's cu_seqlens): sequences packed into one
// batch, each attending only to itself with its own initial and final state,
// through lightningForward and lightningBackward on the interpreter, for
// Lightning (per-head slopes) and simple GLA (per-token gates), against the
// float64 recurrence run on each sequence alone. Lengths 0, 1, C − 1, C,
// C + 1 and longer; both layouts, every dtype, states; the argument errors.
#include "kernels/Lightning.h"
#include "kernels/LightningCheck.h"
#include "tests/unit/TestSupport.h"

#include "fmt/format.h"
#include "fmt/ranges.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include <cmath>
#include <numeric>
#include <vector>

using namespace tessel;
using ::testing::HasSubstr;

namespace {

using test::errorText;
using test::freshSeed;

struct VarlenCase {
  std::vector<int64_t> lens;
  int64_t d, e, h;
  Layout layout;
  DType dtype;
  bool gated, s0, sN, backward;
  int blockC; // 0: the heuristic's (64)
};

// C = 64 by the heuristic, 16 where blockC says so: every sequence boundary
// falls inside a block somewhere, and the sequences of length 0 and 1 hand
// their initial state straight on.
const std::vector<VarlenCase> kVarlenCases = {
    {{1, 63, 64, 65}, 32, 48, 2, Layout::BHND, DType::f32, false, true, true, false, 0},
    {{65, 1, 0, 130}, 64, 96, 2, Layout::BNHD, DType::bf16, false, false, true, false, 0},
    {{17, 15, 16, 33}, 16, 16, 3, Layout::BNHD, DType::f16, false, true, false, false, 16},
    {{1, 63, 64, 65}, 32, 48, 2, Layout::BNHD, DType::f32, false, true, true, true, 0},
    {{200, 7}, 48, 32, 1, Layout::BHND, DType::bf16, false, false, false, true, 0},
    {{17, 0, 15, 16}, 16, 32, 2, Layout::BHND, DType::f32, false, true, true, true, 16},
    {{1, 63, 64, 65}, 32, 48, 2, Layout::BNHD, DType::f32, true, true, true, false, 0},
    {{100, 1, 29}, 64, 64, 2, Layout::BHND, DType::bf16, true, false, true, false, 0},
    {{1, 63, 64, 65}, 32, 48, 2, Layout::BHND, DType::f32, true, true, true, true, 0},
    {{33, 0, 17}, 16, 16, 2, Layout::BNHD, DType::bf16, true, false, false, true, 16},
};

std::string caseName(const ::testing::TestParamInfo<VarlenCase> &info) {
  const VarlenCase &c = info.param;
  return fmt::format("{:02}_{}_{}_{}_{}", info.index,
                     c.gated ? "gla" : "lightning", c.backward ? "bwd" : "fwd",
                     layoutName(c.layout), dtypeName(c.dtype));
}

class VarlenNumerics : public ::testing::TestWithParam<VarlenCase> {};

TEST_P(VarlenNumerics, MatchesEachSequenceAlone) {
  const VarlenCase &c = GetParam();
  LightningProblem p;
  p.batch = 1, p.heads = c.h, p.d = c.d, p.e = c.e;
  p.seq = std::accumulate(c.lens.begin(), c.lens.end(), int64_t(0));
  p.seqLens = c.lens;
  p.layout = c.layout;
  p.dtype = c.dtype;
  if (c.gated)
    p.gateRange = std::pair{-0.5f, 0.0f};
  else
    p.slopes = alibiSlopes(c.h);
  p.initialState = c.s0;
  p.finalState = c.sN;
  p.backward = c.backward;
  p.seed = freshSeed();
  SCOPED_TRACE(p.str());
  LightningOptions options;
  if (c.blockC)
    options.config = kernels::LightningConfig::uniform(c.blockC, 16, 4);
  auto result = checkLightning(p, options);
  ASSERT_TRUE(static_cast<bool>(result)) << llvm::toString(result.takeError());
  size_t outputs = c.backward ? 3u + (c.s0 ? 1u : 0u) + (c.gated ? 1u : 0u)
                              : (c.sN ? 2u : 1u);
  ASSERT_EQ(result->errors.size(), outputs);
  for (auto &[name, err] : result->errors) {
    EXPECT_FALSE(std::isnan(err)) << name;
    EXPECT_LE(err, result->toleranceOf(name)) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, VarlenNumerics, ::testing::ValuesIn(kVarlenCases),
                         caseName);

/// A packed f32 bhnd batch of three sequences (5, 70, 1) and its offsets.
struct Packed {
  int64_t H = 2, N = 76, D = 16, E = 16;
  std::vector<float> q, k, v, o, slopes, s0, sN;
  std::vector<int32_t> cu{0, 5, 75, 76};
  LightningForwardArgs f;
  Packed()
      : q(H * N * D, 0.5f), k(q), v(H * N * E, 0.25f), o(v), slopes(H, 0.1f),
        s0(3 * H * D * E, 0.0f), sN(s0) {
    auto ref = [](void *data, DType dtype, std::vector<int64_t> shape) {
      TensorRef r;
      r.data = data;
      r.dtype = dtype;
      r.shape = std::move(shape);
      return r;
    };
    f.q = ref(q.data(), DType::f32, {1, H, N, D});
    f.k = ref(k.data(), DType::f32, {1, H, N, D});
    f.v = ref(v.data(), DType::f32, {1, H, N, E});
    f.o = ref(o.data(), DType::f32, {1, H, N, E});
    f.slopes = ref(slopes.data(), DType::f32, {H});
    f.cuSeqlens = ref(cu.data(), DType::i32, {4});
    f.initialState = ref(s0.data(), DType::f32, {3, H, D, E});
    f.finalState = ref(sN.data(), DType::f32, {3, H, D, E});
  }
};

TEST(Varlen, BadOffsetsAreRefusedWithTheReason) {
  {
    Packed a;
    EXPECT_EQ(errorText(lightningForward(a.f)), "");
  }
  {
    Packed a;
    a.cu[2] = 4;
    EXPECT_THAT(errorText(lightningForward(a.f)),
                HasSubstr("cu_seqlens[2] = 4 < cu_seqlens[1] = 5: the offsets "
                          "must not decrease"));
  }
  {
    Packed a;
    a.cu[3] = 75;
    EXPECT_THAT(errorText(lightningForward(a.f)),
                HasSubstr("cu_seqlens[3] = 75: the last offset must be the "
                          "packed length N = 76"));
  }
  {
    Packed a;
    a.cu[0] = 1;
    EXPECT_THAT(errorText(lightningForward(a.f)),
                HasSubstr("cu_seqlens[0] = 1: the first sequence starts at "
                          "row 0"));
  }
  {
    Packed a;
    a.f.cuSeqlens.dtype = DType::i64;
    EXPECT_THAT(errorText(lightningForward(a.f)),
                HasSubstr("cu_seqlens: dtype must be i32, got i64"));
  }
  {
    Packed a;
    a.f.cuSeqlens.shape = {1};
    EXPECT_THAT(errorText(lightningForward(a.f)),
                HasSubstr("cu_seqlens: expected shape [S + 1] with S ≥ 1 "
                          "sequences, got [1]"));
  }
  {
    // States are per sequence, not per batch.
    Packed a;
    a.f.finalState.shape = {1, a.H, a.D, a.E};
    EXPECT_THAT(errorText(lightningForward(a.f)),
                HasSubstr("final_state: expected shape [3, 2, 16, 16] (B, H, "
                          "D, E), got [1, 2, 16, 16]"));
  }
  {
    // Packed sequences live in one batch.
    Packed a;
    a.f.q.shape = a.f.k.shape = {2, a.H, a.N / 2, a.D};
    a.f.v.shape = a.f.o.shape = {2, a.H, a.N / 2, a.E};
    EXPECT_THAT(errorText(lightningForward(a.f)),
                HasSubstr("cu_seqlens: a variable-length batch packs its "
                          "sequences into one batch, so B must be 1, got 2"));
  }
  {
    Packed a;
    LightningOptions options;
    options.config = kernels::LightningConfig{};
    options.config->fwd.splits = 2;
    EXPECT_THAT(errorText(lightningForward(a.f, options)),
                HasSubstr("LightningConfig.fwd.splits = 2: a variable-length "
                          "batch (cu_seqlens) does not split the sequence "
                          "yet"));
  }
  {
    // The backward checks the same offsets and per-sequence state shapes.
    Packed a;
    std::vector<float> dq(a.q.size()), dk(a.k.size()), dv(a.v.size()),
        dS0(a.s0.size());
    LightningBackwardArgs b;
    b.q = a.f.q, b.k = a.f.k, b.v = a.f.v, b.dO = a.f.o;
    b.dq = a.f.q, b.dq.data = dq.data();
    b.dk = a.f.k, b.dk.data = dk.data();
    b.dv = a.f.v, b.dv.data = dv.data();
    b.slopes = a.f.slopes;
    b.cuSeqlens = a.f.cuSeqlens;
    b.initialState = a.f.initialState;
    b.dInitialState = a.f.initialState;
    b.dInitialState.data = dS0.data();
    EXPECT_EQ(errorText(lightningBackward(b)), "");
    a.cu[1] = 80;
    EXPECT_THAT(errorText(lightningBackward(b)),
                HasSubstr("cu_seqlens[2] = 75 < cu_seqlens[1] = 80"));
    a.cu[1] = 5;
    b.dInitialState.shape = {1, a.H, a.D, a.E};
    EXPECT_THAT(errorText(lightningBackward(b)),
                HasSubstr("d_initial_state: expected shape [3, 2, 16, 16]"));
  }
}

TEST(Varlen, OnePackedCallEqualsOneCallPerSequence) {
  // The packed forward's o and final states, bit for bit, against forward
  // calls on each sequence's rows alone (the interpreter is deterministic
  // and each program sees the same rows either way, at one configuration).
  Packed a;
  LightningOptions options;
  options.config = kernels::LightningConfig::uniform(16, 16, 4);
  std::mt19937_64 rng(freshSeed());
  a.q = test::normals(rng, a.q.size());
  a.k = test::normals(rng, a.k.size());
  a.v = test::normals(rng, a.v.size());
  a.s0 = test::normals(rng, a.s0.size());
  a.f.q.data = a.q.data(), a.f.k.data = a.k.data(), a.f.v.data = a.v.data();
  a.f.initialState.data = a.s0.data();
  ASSERT_EQ(errorText(lightningForward(a.f, options)), "");
  const int64_t state = a.H * a.D * a.E;
  for (int i = 0; i < 3; ++i) {
    const int64_t first = a.cu[i], len = a.cu[i + 1] - first;
    std::vector<float> o(a.H * len * a.E), sN(state);
    LightningForwardArgs one = a.f;
    one.cuSeqlens = TensorRef{};
    auto rows = [&](TensorRef t, std::vector<float> &x, int64_t width) {
      t.data = x.data() + first * width;
      t.strides = {a.H * a.N * width, a.N * width, width, 1};
      t.shape[2] = len;
      return t;
    };
    one.q = rows(a.f.q, a.q, a.D), one.k = rows(a.f.k, a.k, a.D);
    one.v = rows(a.f.v, a.v, a.E);
    one.o = a.f.o;
    one.o.data = o.data();
    one.o.shape[2] = len;
    one.initialState.data = a.s0.data() + i * state;
    one.initialState.shape[0] = 1;
    one.finalState.data = sN.data();
    one.finalState.shape[0] = 1;
    ASSERT_EQ(errorText(lightningForward(one, options)), "") << "sequence " << i;
    for (int64_t h = 0; h < a.H; ++h)
      for (int64_t t = 0; t < len * a.E; ++t)
        ASSERT_EQ(o[h * len * a.E + t], a.o[(h * a.N + first) * a.E + t])
            << "sequence " << i << " head " << h << " element " << t;
    for (int64_t x = 0; x < state; ++x)
      ASSERT_EQ(sN[x], a.sN[i * state + x]) << "sequence " << i;
  }
}

} // namespace
