// lightningDecode on the interpreter: T steps from a state give what the
// forward over those T tokens gives (o row by row, and the final state),
// after a prefill or from zeros; bad arguments are named.
#include "kernels/Lightning.h"
#include "kernels/LightningCheck.h"
#include "kernels/Reference.h"
#include "tests/unit/TestSupport.h"

#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <random>
#include <vector>

using namespace tessel;
using ::testing::HasSubstr;

namespace {

using test::errorText;
using test::freshSeed;
using test::relDiff;

/// f32 (B, H, N, ·) tensors and views of rows [first, first + rows).
struct Sequence {
  int64_t B = 2, H = 3, N = 100, D = 48, E = 80;
  std::vector<float> q, k, v, s0, slopes;

  explicit Sequence(uint64_t seed) {
    std::mt19937_64 rng(seed);
    q = test::normals(rng, B * H * N * D), k = test::normals(rng, B * H * N * D);
    v = test::normals(rng, B * H * N * E), s0 = test::normals(rng, B * H * D * E);
    slopes = alibiSlopes(H);
  }

  TensorRef rows(std::vector<float> &x, int64_t width, int64_t first,
                 int64_t count) {
    return test::f32Tensor(x.data() + first * width, {B, H, count, width},
                           {H * N * width, N * width, width, 1});
  }
  TensorRef state(std::vector<float> &x) {
    return test::f32Tensor(x.data(), {B, H, D, E});
  }
  TensorRef slopeRef() { return test::f32Tensor(slopes.data(), {H}); }
};

class LightningDecodeSteps : public ::testing::TestWithParam<int64_t> {};

TEST_P(LightningDecodeSteps, ContinueAPrefillAsTheForwardDoes) {
  const int64_t prefill = GetParam();
  uint64_t seed = freshSeed();
  SCOPED_TRACE(fmt::format("seed {} (replay with TESSEL_TEST_SEED)", seed));
  Sequence s(seed);
  const float scale = 0.75f;
  // With a prefill the sequence starts from a random S0; from zeros without.
  std::vector<float> zeros(s.s0.size(), 0.0f);
  std::vector<float> &start = prefill ? s.s0 : zeros;

  // The reference: one forward over all N tokens.
  std::vector<float> oFull(s.B * s.H * s.N * s.E), sFull(s.s0.size());
  LightningForwardArgs f;
  f.q = s.rows(s.q, s.D, 0, s.N), f.k = s.rows(s.k, s.D, 0, s.N);
  f.v = s.rows(s.v, s.E, 0, s.N), f.o = s.rows(oFull, s.E, 0, s.N);
  f.slopes = s.slopeRef();
  f.scale = scale;
  f.initialState = s.state(start);
  f.finalState = s.state(sFull);
  ASSERT_EQ(errorText(lightningForward(f)), "");

  // Prefill with the forward, then one decode step per remaining token,
  // the state carried in place.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> o(oFull.size(), nan), state = start;
  if (prefill) {
    LightningForwardArgs p = f;
    p.q = s.rows(s.q, s.D, 0, prefill), p.k = s.rows(s.k, s.D, 0, prefill);
    p.v = s.rows(s.v, s.E, 0, prefill), p.o = s.rows(o, s.E, 0, prefill);
    p.initialState = s.state(s.s0);
    p.finalState = s.state(state);
    ASSERT_EQ(errorText(lightningForward(p)), "");
  }
  for (int64_t t = prefill; t < s.N; ++t) {
    LightningDecodeArgs d;
    d.q = s.rows(s.q, s.D, t, 1), d.k = s.rows(s.k, s.D, t, 1);
    d.v = s.rows(s.v, s.E, t, 1), d.o = s.rows(o, s.E, t, 1);
    d.slopes = s.slopeRef();
    d.scale = scale;
    d.state = s.state(state);
    ASSERT_EQ(errorText(lightningDecode(d)), "") << "step " << t;
  }
  EXPECT_LE(relDiff(o, oFull), 1e-5);
  EXPECT_LE(relDiff(state, sFull), 1e-5);
  for (float x : o)
    ASSERT_FALSE(std::isnan(x)) << "an output row was not written";
}

INSTANTIATE_TEST_SUITE_P(Prefill, LightningDecodeSteps,
                         ::testing::Values(int64_t(0), int64_t(37)));

TEST(LightningDecode, BadArgumentsAreNamed) {
  Sequence s(1);
  std::vector<float> o(s.B * s.H * s.N * s.E), state(s.s0.size());
  auto args = [&] {
    LightningDecodeArgs d;
    d.q = s.rows(s.q, s.D, 0, 1), d.k = s.rows(s.k, s.D, 0, 1);
    d.v = s.rows(s.v, s.E, 0, 1), d.o = s.rows(o, s.E, 0, 1);
    d.slopes = s.slopeRef();
    d.state = s.state(state);
    return d;
  };
  EXPECT_EQ(errorText(lightningDecode(args())), "");

  LightningDecodeArgs d = args();
  d.q = s.rows(s.q, s.D, 0, 2), d.k = s.rows(s.k, s.D, 0, 2);
  d.v = s.rows(s.v, s.E, 0, 2), d.o = s.rows(o, s.E, 0, 2);
  EXPECT_THAT(errorText(lightningDecode(d)),
              HasSubstr("decode takes one token per (b, h): N must be 1, got 2"));

  d = args();
  d.state = TensorRef();
  EXPECT_THAT(errorText(lightningDecode(d)),
              HasSubstr("state: data pointer is null"));

  d = args();
  d.state.dtype = DType::bf16;
  EXPECT_THAT(errorText(lightningDecode(d)),
              HasSubstr("state: the state is fp32, got bf16"));

  d = args();
  d.state.shape = {s.B, s.H, s.E, s.D};
  EXPECT_THAT(errorText(lightningDecode(d)),
              HasSubstr("state: expected shape [2, 3, 48, 80] (B, H, D, E)"));

  // o written into the state it reads.
  d = args();
  d.o.data = state.data();
  EXPECT_THAT(errorText(lightningDecode(d)), HasSubstr("overlaps"));

  d = args();
  d.scale = std::numeric_limits<float>::infinity();
  EXPECT_THAT(errorText(lightningDecode(d)), HasSubstr("scale must be finite"));
}

} // namespace
