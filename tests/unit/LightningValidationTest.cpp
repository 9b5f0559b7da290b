// Argument validation of lightningForward / lightningBackward: every mistake
// a caller can make with shapes, ranks, dtypes, strides, aliasing, slopes,
// states, head dimensions, N and the scale is reported by name, with the
// expected and the actual, before any kernel touches memory.
#include "kernels/Lightning.h"
#include "runtime/Half.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

using namespace tessel;
using ::testing::HasSubstr;

namespace {

constexpr int64_t B = 1, H = 2, N = 8, D = 16, E = 32;
/// Room for any shape the tests try, so a bad shape is never also a
/// too-small buffer.
constexpr size_t kRoom = 4 * 4096;

std::vector<uint16_t> bf16Data(uint32_t salt) {
  std::vector<uint16_t> v(kRoom);
  for (size_t i = 0; i < v.size(); ++i)
    v[i] = floatToBF16Bits(static_cast<float>((i * 37 + salt) % 17) / 8.0f - 1.0f);
  return v;
}

std::vector<uint16_t> poisonedBF16() {
  return std::vector<uint16_t>(kRoom, floatToBF16Bits(NAN));
}

TensorRef ref(void *data, DType dtype, std::vector<int64_t> shape,
              std::vector<int64_t> strides = {}) {
  TensorRef r;
  r.data = data;
  r.dtype = dtype;
  r.shape = std::move(shape);
  r.strides = std::move(strides);
  return r;
}

std::vector<int64_t> act(int64_t last) { return {B, H, N, last}; }
std::vector<int64_t> stateShape() { return {B, H, D, E}; }

bool anyNaNBF16(const std::vector<uint16_t> &v, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (std::isnan(bf16BitsToFloat(v[i])))
      return true;
  return false;
}

/// Owns every buffer both passes can take; `call()` runs the pass and checks
/// that a rejected call changed no buffer.
class Validation : public ::testing::Test {
protected:
  std::vector<uint16_t> q = bf16Data(1), k = bf16Data(2), v = bf16Data(3),
                        dO = bf16Data(4);
  std::vector<uint16_t> o = poisonedBF16(), dq = poisonedBF16(),
                        dk = poisonedBF16(), dv = poisonedBF16();
  std::vector<float> slopes{0.25f, 1.0f, 0.5f};
  std::vector<float> s0 = std::vector<float>(kRoom, 0.5f);
  std::vector<float> sN = std::vector<float>(kRoom, NAN);
  std::vector<float> dS0 = std::vector<float>(kRoom, NAN);
  std::vector<float> dSN = std::vector<float>(kRoom, -0.25f);

  LightningForwardArgs fwd;
  LightningBackwardArgs bwd;

  void SetUp() override {
    fwd.q = ref(q.data(), DType::bf16, act(D));
    fwd.k = ref(k.data(), DType::bf16, act(D));
    fwd.v = ref(v.data(), DType::bf16, act(E));
    fwd.o = ref(o.data(), DType::bf16, act(E));
    fwd.slopes = ref(slopes.data(), DType::f32, {H});
    bwd.q = fwd.q, bwd.k = fwd.k, bwd.v = fwd.v;
    bwd.dO = ref(dO.data(), DType::bf16, act(E));
    bwd.dq = ref(dq.data(), DType::bf16, act(D));
    bwd.dk = ref(dk.data(), DType::bf16, act(D));
    bwd.dv = ref(dv.data(), DType::bf16, act(E));
    bwd.slopes = fwd.slopes;
  }

  TensorRef state(std::vector<float> &x) {
    return ref(x.data(), DType::f32, stateShape());
  }

  /// Every buffer's bytes (bitwise, so NaN poison compares equal).
  std::vector<std::vector<uint8_t>> snapshot() const {
    std::vector<std::vector<uint8_t>> all;
    auto add = [&](const auto &x) {
      auto *p = reinterpret_cast<const uint8_t *>(x.data());
      all.emplace_back(p, p + x.size() * sizeof(x[0]));
    };
    for (const auto *x : {&q, &k, &v, &dO, &o, &dq, &dk, &dv})
      add(*x);
    for (const auto *x : {&slopes, &s0, &sN, &dS0, &dSN})
      add(*x);
    return all;
  }

  template <typename F> std::string call(F &&run) {
    auto before = snapshot();
    llvm::Error err = run();
    if (!err)
      return "";
    EXPECT_TRUE(before == snapshot()) << "a rejected call wrote memory";
    return llvm::toString(std::move(err));
  }
  std::string forward() { return call([&] { return lightningForward(fwd); }); }
  std::string backward() { return call([&] { return lightningBackward(bwd); }); }
};

//===----------------------------------------------------------------------===//
// Valid calls (so every rejection below is the argument's doing)
//===----------------------------------------------------------------------===//

TEST_F(Validation, ValidForwardRuns) {
  EXPECT_EQ(forward(), "");
  EXPECT_FALSE(anyNaNBF16(o, B * H * N * E));
  fwd.initialState = state(s0);
  fwd.finalState = state(sN);
  EXPECT_EQ(forward(), "");
  for (int i = 0; i < B * H * D * E; ++i)
    ASSERT_FALSE(std::isnan(sN[i])) << i;
}

TEST_F(Validation, ValidBackwardRuns) {
  bwd.initialState = state(s0);
  bwd.dInitialState = state(dS0);
  bwd.dFinalState = state(dSN);
  EXPECT_EQ(backward(), "");
  EXPECT_FALSE(anyNaNBF16(dq, B * H * N * D));
  EXPECT_FALSE(anyNaNBF16(dk, B * H * N * D));
  EXPECT_FALSE(anyNaNBF16(dv, B * H * N * E));
  for (int i = 0; i < B * H * D * E; ++i)
    ASSERT_FALSE(std::isnan(dS0[i])) << i;
}

TEST_F(Validation, PaddedRowsAndBnhdAreAccepted) {
  // Rows 64 elements apart (a padded, non-overlapping output) and (b, n, h, d).
  fwd.o = ref(o.data(), DType::bf16, act(E), {H * N * 64, N * 64, 64, 1});
  EXPECT_EQ(forward(), "");
  fwd.layout = Layout::BNHD;
  fwd.q.shape = fwd.k.shape = {B, N, H, D};
  fwd.v.shape = {B, N, H, E};
  fwd.o = ref(o.data(), DType::bf16, {B, N, H, E});
  EXPECT_EQ(forward(), "");
}

TEST_F(Validation, InputsMayAliasEachOther) {
  // Only outputs must be disjoint: q = k (one buffer read twice) is fine.
  fwd.k.data = q.data();
  EXPECT_EQ(forward(), "");
  bwd.k.data = q.data();
  EXPECT_EQ(backward(), "");
}

//===----------------------------------------------------------------------===//
// Shapes and ranks
//===----------------------------------------------------------------------===//

TEST_F(Validation, KShapeMustEqualQShape) {
  fwd.k.shape = {B, H, N, 32};
  EXPECT_THAT(forward(),
              HasSubstr("k: shape [1, 2, 8, 32] differs from q's [1, 2, 8, 16]"));
  fwd.k.shape = {B, H, N + 1, D};
  EXPECT_THAT(forward(),
              HasSubstr("k: shape [1, 2, 9, 16] differs from q's [1, 2, 8, 16]"));
}

TEST_F(Validation, VBatchHeadsAndSequenceMustMatchQ) {
  const std::string prefix = "v: batch, heads and sequence length ";
  fwd.v.shape = {2, H, N, E};
  EXPECT_THAT(forward(), HasSubstr(prefix + "(2, 2, 8) differ from q's (1, 2, 8)"));
  fwd.v.shape = {B, 3, N, E};
  EXPECT_THAT(forward(), HasSubstr(prefix + "(1, 3, 8) differ from q's (1, 2, 8)"));
  fwd.v.shape = {B, H, 7, E};
  EXPECT_THAT(forward(), HasSubstr(prefix + "(1, 2, 7) differ from q's (1, 2, 8)"));
  bwd.v.shape = {B, H, 7, E};
  EXPECT_THAT(backward(), HasSubstr(prefix + "(1, 2, 7) differ from q's (1, 2, 8)"));
}

TEST_F(Validation, VLayoutIsReadPerLayout) {
  // In (b, n, h, e) a (b, h, n, e)-shaped v has heads and N swapped.
  fwd.layout = Layout::BNHD;
  fwd.q.shape = fwd.k.shape = {B, N, H, D};
  fwd.o.shape = {B, N, H, E};
  EXPECT_THAT(forward(),
              HasSubstr("v: batch, heads and sequence length (1, 8, 2) differ "
                        "from q's (1, 2, 8)"));
}

TEST_F(Validation, OutputShapeMustEqualItsInput) {
  fwd.o.shape = {B, H, N, D};
  EXPECT_THAT(forward(),
              HasSubstr("o: shape [1, 2, 8, 16] must equal v's [1, 2, 8, 32]"));
  bwd.dq.shape = {B, H, N, E};
  EXPECT_THAT(backward(),
              HasSubstr("dq: shape [1, 2, 8, 32] must equal q's [1, 2, 8, 16]"));
  bwd.dq.shape = act(D);
  bwd.dk.shape = {B, H, 4, D};
  EXPECT_THAT(backward(),
              HasSubstr("dk: shape [1, 2, 4, 16] must equal k's [1, 2, 8, 16]"));
  bwd.dk.shape = act(D);
  bwd.dv.shape = {B, 1, N, E};
  EXPECT_THAT(backward(),
              HasSubstr("dv: shape [1, 1, 8, 32] must equal v's [1, 2, 8, 32]"));
  bwd.dv.shape = act(E);
  bwd.dO.shape = act(D);
  EXPECT_THAT(backward(),
              HasSubstr("do: shape [1, 2, 8, 16] must equal v's [1, 2, 8, 32]"));
}

TEST_F(Validation, TensorsMustBe4D) {
  fwd.q.shape = {H, N, D};
  EXPECT_THAT(forward(), HasSubstr("q: expected a 4-D tensor (B, H, N, D) for "
                                   "layout bhnd, got shape [2, 8, 16]"));
  fwd.q.shape = act(D);
  fwd.layout = Layout::BNHD;
  fwd.q.shape = fwd.k.shape = {B, N, H, D};
  fwd.v.shape = {B, N, H, E, 1};
  EXPECT_THAT(forward(), HasSubstr("v: expected a 4-D tensor (B, N, H, E) for "
                                   "layout bnhd, got shape [1, 8, 2, 32, 1]"));
  bwd.dO.shape = {B * H * N * E};
  EXPECT_THAT(backward(), HasSubstr("do: expected a 4-D tensor (B, H, N, E) for "
                                    "layout bhnd, got shape [512]"));
}

TEST_F(Validation, StrideCountMustMatchRank) {
  fwd.q.strides = {N * D, D, 1};
  EXPECT_THAT(forward(), HasSubstr("q: expected 4 strides, got 3"));
}

TEST_F(Validation, EmptySequenceIsRejected) {
  const std::string want = "every dimension must be ≥ 1, got shape [1, 2, 0, 16] "
                           "(an empty sequence, N = 0, has nothing to attend to)";
  for (TensorRef *t : {&fwd.q, &fwd.k})
    t->shape = {B, H, 0, D};
  fwd.v.shape = fwd.o.shape = {B, H, 0, E};
  EXPECT_THAT(forward(), HasSubstr("q: " + want));
  // An empty tensor may come without data: N = 0 is still the error named.
  fwd.q.data = fwd.k.data = fwd.v.data = fwd.o.data = nullptr;
  EXPECT_THAT(forward(), HasSubstr("q: " + want));
  bwd.q.shape = bwd.k.shape = bwd.dq.shape = bwd.dk.shape = {B, H, 0, D};
  bwd.v.shape = bwd.dO.shape = bwd.dv.shape = {B, H, 0, E};
  EXPECT_THAT(backward(), HasSubstr("q: " + want));
}

TEST_F(Validation, IndexingLimitsAreNamed) {
  // The programs of a launch are numbered (b, h, column block) in 32 bits,
  // with up to 16 column blocks per head; rows in 32 bits as well. Checked
  // on the shapes alone, before any memory is touched.
  for (TensorRef *t : {&fwd.q, &fwd.k})
    t->shape = {int64_t(1) << 20, 128, N, D};
  fwd.v.shape = fwd.o.shape = {int64_t(1) << 20, 128, N, E};
  EXPECT_THAT(forward(), HasSubstr("B·H = 134217728 exceeds the kernels' "
                                   "32-bit indexing (N ≤ 2^30, B·H ≤ "
                                   "134217727)"));
  for (TensorRef *t : {&fwd.q, &fwd.k})
    t->shape = {B, H, (int64_t(1) << 30) + 1, D};
  fwd.v.shape = fwd.o.shape = {B, H, (int64_t(1) << 30) + 1, E};
  EXPECT_THAT(forward(), HasSubstr("sequence length 1073741825 or B·H = 2 "
                                   "exceeds the kernels' 32-bit indexing"));
}

TEST_F(Validation, HeadDimensionsMustBeMultiplesOf16UpTo256) {
  for (int64_t d : {72, 8, 272, 512}) {
    fwd.q.shape = fwd.k.shape = act(d);
    EXPECT_THAT(forward(),
                HasSubstr("head dimension D = " + std::to_string(d) +
                          " must be a multiple of 16 in [16, 256]"));
  }
  fwd.q.shape = fwd.k.shape = act(D);
  fwd.v.shape = fwd.o.shape = act(40);
  EXPECT_THAT(forward(), HasSubstr("head dimension E = 40 must be a multiple "
                                   "of 16 in [16, 256]"));
  bwd.q.shape = bwd.k.shape = bwd.dq.shape = bwd.dk.shape = act(72);
  EXPECT_THAT(backward(), HasSubstr("head dimension D = 72 must be a multiple "
                                    "of 16 in [16, 256]"));
}

//===----------------------------------------------------------------------===//
// Dtypes
//===----------------------------------------------------------------------===//

TEST_F(Validation, IntegerInputsAreRejected) {
  for (TensorRef *t : {&fwd.q, &fwd.k, &fwd.v, &fwd.o})
    t->dtype = DType::i32;
  EXPECT_THAT(forward(), HasSubstr("q: dtype must be bf16, f16 or f32, got i32"));
  bwd.q.dtype = DType::i64;
  EXPECT_THAT(backward(), HasSubstr("q: dtype must be bf16, f16 or f32, got i64"));
}

TEST_F(Validation, DtypesMustAgree) {
  fwd.k.dtype = DType::f16;
  EXPECT_THAT(forward(), HasSubstr("k: dtype f16 differs from q's bf16"));
  fwd.k.dtype = DType::bf16;
  fwd.v.dtype = DType::f32;
  EXPECT_THAT(forward(), HasSubstr("v: dtype f32 differs from q's bf16"));
  fwd.v.dtype = DType::bf16;
  fwd.o.dtype = DType::f16;
  EXPECT_THAT(forward(), HasSubstr("o: dtype f16 differs from v's bf16"));

  bwd.dO.dtype = DType::f16;
  EXPECT_THAT(backward(), HasSubstr("do: dtype f16 differs from q's bf16"));
  bwd.dO.dtype = DType::bf16;
  bwd.dk.dtype = DType::f32;
  EXPECT_THAT(backward(), HasSubstr("dk: dtype f32 differs from k's bf16"));
}

//===----------------------------------------------------------------------===//
// Strides, overlap and aliasing
//===----------------------------------------------------------------------===//

TEST_F(Validation, LastDimensionMustBeContiguous) {
  fwd.q.strides = {H * N * D * 2, N * D * 2, 1, 2};
  EXPECT_THAT(forward(), HasSubstr("q: the last dimension must be contiguous "
                                   "(stride 1), got strides [512, 256, 1, 2]"));
  bwd.dv.strides = {H * N * E * 2, N * E * 2, E * 2, 2};
  EXPECT_THAT(backward(), HasSubstr("dv: the last dimension must be contiguous "
                                    "(stride 1), got strides [1024, 512, 64, 2]"));
}

TEST_F(Validation, StridesMustBePositive) {
  fwd.k.strides = {0, N * D, D, 1};
  EXPECT_THAT(forward(), HasSubstr("k: strides must be positive, got [0, 128, 16, 1]"));
  fwd.k.strides = {};
  fwd.v.strides = {H * N * E, N * E, -E, 1};
  EXPECT_THAT(forward(),
              HasSubstr("v: strides must be positive, got [512, 256, -32, 1]"));
}

TEST_F(Validation, OutputStridesMustNotOverlap) {
  // Every head on top of each other.
  fwd.o.strides = {N * E, E, E, 1};
  EXPECT_THAT(forward(), HasSubstr("o: strides [256, 32, 32, 1] make elements of "
                                   "shape [1, 2, 8, 32] overlap; an output needs "
                                   "a non-overlapping layout"));
  // Rows 16 apart but 32 wide.
  bwd.dv.strides = {H * N * 16, N * 16, 16, 1};
  EXPECT_THAT(backward(), HasSubstr("dv: strides [256, 128, 16, 1] make elements "
                                    "of shape [1, 2, 8, 32] overlap"));
}

TEST_F(Validation, OutputsMustNotAliasInputs) {
  fwd.o.data = v.data();
  EXPECT_THAT(forward(), HasSubstr("o overlaps v in memory; outputs must not "
                                   "alias other arguments"));
  fwd.o.data = q.data() + 8; // a partial overlap
  EXPECT_THAT(forward(), HasSubstr("o overlaps q in memory"));
  fwd.o.data = o.data();
  fwd.initialState = state(s0);
  fwd.finalState = state(s0);
  EXPECT_THAT(forward(), HasSubstr("final_state overlaps initial_state in memory"));

  bwd.dq.data = q.data();
  EXPECT_THAT(backward(), HasSubstr("dq overlaps q in memory"));
  bwd.dq.data = dk.data();
  EXPECT_THAT(backward(), HasSubstr("dq overlaps dk in memory"));
  bwd.dq.data = dq.data();
  bwd.dv.data = dO.data();
  EXPECT_THAT(backward(), HasSubstr("dv overlaps do in memory"));
  bwd.dv.data = dv.data();
  bwd.initialState = state(s0);
  bwd.dInitialState = state(s0);
  EXPECT_THAT(backward(),
              HasSubstr("d_initial_state overlaps initial_state in memory"));
}

//===----------------------------------------------------------------------===//
// Slopes and scale
//===----------------------------------------------------------------------===//

TEST_F(Validation, SlopesNeedOneValuePerHead) {
  fwd.slopes.shape = {3};
  EXPECT_THAT(forward(), HasSubstr("slopes: expected one value per head, shape "
                                   "[2], got [3]"));
  fwd.slopes.shape = {1, 2};
  EXPECT_THAT(forward(), HasSubstr("slopes: expected one value per head, shape "
                                   "[2], got [1, 2]"));
  bwd.slopes.shape = {1};
  EXPECT_THAT(backward(), HasSubstr("slopes: expected one value per head, shape "
                                    "[2], got [1]"));
}

TEST_F(Validation, SlopesMustBeContiguousF32) {
  fwd.slopes.dtype = DType::bf16;
  EXPECT_THAT(forward(), HasSubstr("slopes: dtype must be f32, got bf16"));
  fwd.slopes.dtype = DType::f32;
  fwd.slopes.strides = {2};
  EXPECT_THAT(forward(), HasSubstr("slopes: must be contiguous, got stride 2"));
  fwd.slopes.strides = {1, 1};
  EXPECT_THAT(forward(), HasSubstr("slopes: expected 1 stride, got 2"));
}

TEST_F(Validation, MisalignedPointersAreRejected) {
  // On the GPU a misaligned access is a sticky error that ends the context:
  // every pointer must be aligned to its elements.
  auto offset = [](void *p, int bytes) {
    return static_cast<void *>(static_cast<char *>(p) + bytes);
  };
  fwd.k.data = offset(k.data(), 1);
  EXPECT_THAT(forward(), HasSubstr("is not aligned to its 2-byte bf16 elements"));
  EXPECT_THAT(forward(), HasSubstr("k: data pointer 0x"));
  fwd.k.data = k.data();
  fwd.slopes.data = offset(slopes.data(), 2);
  EXPECT_THAT(forward(), HasSubstr("slopes: data pointer 0x"));
  EXPECT_THAT(forward(), HasSubstr("is not aligned to its 4-byte f32 elements"));
  fwd.slopes.data = slopes.data();
  fwd.initialState = state(s0);
  fwd.initialState.data = offset(s0.data(), 2);
  EXPECT_THAT(forward(), HasSubstr("initial_state: data pointer 0x"));
  bwd.dv.data = offset(dv.data(), 1);
  EXPECT_THAT(backward(), HasSubstr("dv: data pointer 0x"));
}

TEST_F(Validation, SlopesMustBeFiniteAndNonNegative) {
  slopes[1] = -0.5f;
  EXPECT_THAT(forward(), HasSubstr("slopes[1] = -0.5: a decay rate must be a "
                                   "finite number ≥ 0"));
  slopes[1] = 1.0f;
  slopes[0] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THAT(forward(), HasSubstr("slopes[0] = nan: a decay rate must be a "
                                   "finite number ≥ 0"));
  slopes[0] = INFINITY;
  EXPECT_THAT(backward(), HasSubstr("slopes[0] = inf: a decay rate must be a "
                                    "finite number ≥ 0"));
  // Only the first H values are slopes: the third element is not read.
  slopes[0] = 0.0f;
  slopes[2] = -1.0f;
  EXPECT_EQ(forward(), "");
}

TEST_F(Validation, ScaleMustBeFinite) {
  fwd.scale = INFINITY;
  EXPECT_THAT(forward(), HasSubstr("scale must be finite, got inf"));
  bwd.scale = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THAT(backward(), HasSubstr("scale must be finite, got nan"));
}

//===----------------------------------------------------------------------===//
// Null pointers
//===----------------------------------------------------------------------===//

TEST_F(Validation, NullPointersAreNamed) {
  for (auto [t, name] : {std::pair{&fwd.q, "q"}, std::pair{&fwd.k, "k"},
                         std::pair{&fwd.v, "v"}, std::pair{&fwd.o, "o"}}) {
    void *saved = t->data;
    t->data = nullptr;
    EXPECT_THAT(forward(), HasSubstr(std::string(name) + ": data pointer is null"));
    t->data = saved;
  }
  fwd.slopes.data = nullptr;
  EXPECT_THAT(forward(), HasSubstr("slopes: data pointer is null (pass H zeros "
                                   "for no decay)"));
  for (auto [t, name] : {std::pair{&bwd.dO, "do"}, std::pair{&bwd.dq, "dq"},
                         std::pair{&bwd.dk, "dk"}, std::pair{&bwd.dv, "dv"}}) {
    void *saved = t->data;
    t->data = nullptr;
    EXPECT_THAT(backward(), HasSubstr(std::string(name) + ": data pointer is null"));
    t->data = saved;
  }
}

//===----------------------------------------------------------------------===//
// States
//===----------------------------------------------------------------------===//

TEST_F(Validation, StateShapeMustBeBHDE) {
  fwd.initialState = ref(s0.data(), DType::f32, {B, H, D, D});
  EXPECT_THAT(forward(), HasSubstr("initial_state: expected shape [1, 2, 16, 32] "
                                   "(B, H, D, E), got [1, 2, 16, 16]"));
  fwd.initialState = {};
  fwd.finalState = ref(sN.data(), DType::f32, {H, B, D, E});
  EXPECT_THAT(forward(), HasSubstr("final_state: expected shape [1, 2, 16, 32] "
                                   "(B, H, D, E), got [2, 1, 16, 32]"));
  bwd.dFinalState = ref(dSN.data(), DType::f32, {B, H, E, D});
  EXPECT_THAT(backward(), HasSubstr("d_final_state: expected shape [1, 2, 16, 32] "
                                    "(B, H, D, E), got [1, 2, 32, 16]"));
}

TEST_F(Validation, StateMustBeF32) {
  fwd.initialState = state(s0);
  fwd.initialState.dtype = DType::bf16;
  EXPECT_THAT(forward(), HasSubstr("initial_state: the state is fp32, got bf16"));
  bwd.initialState = state(s0);
  bwd.dInitialState = state(dS0);
  bwd.dInitialState.dtype = DType::f16;
  EXPECT_THAT(backward(), HasSubstr("d_initial_state: the state is fp32, got f16"));
}

TEST_F(Validation, StateMustBeContiguous) {
  fwd.finalState = state(sN);
  fwd.finalState.strides = {H * D * E * 2, D * E * 2, E * 2, 1};
  EXPECT_THAT(forward(), HasSubstr("final_state: must be contiguous, got strides "
                                   "[2048, 1024, 64, 1]"));
  fwd.finalState.strides = {E, 1};
  EXPECT_THAT(forward(), HasSubstr("final_state: expected 4 strides, got 2"));
  bwd.dFinalState = state(dSN);
  bwd.dFinalState.strides = {D * E, D * E, E, 1};
  EXPECT_THAT(backward(), HasSubstr("d_final_state: must be contiguous"));
}

TEST_F(Validation, StateWithShapeButNoDataIsRejected) {
  fwd.initialState = ref(nullptr, DType::f32, stateShape());
  EXPECT_THAT(forward(), HasSubstr("initial_state: data pointer is null but shape "
                                   "[1, 2, 16, 32] was given"));
  bwd.dFinalState = ref(nullptr, DType::f32, stateShape());
  EXPECT_THAT(backward(), HasSubstr("d_final_state: data pointer is null but "
                                    "shape [1, 2, 16, 32] was given"));
}

TEST_F(Validation, InitialStateAndItsGradientComeTogether) {
  bwd.dInitialState = state(dS0);
  EXPECT_THAT(backward(),
              HasSubstr("d_initial_state: given without an initial_state"));
  bwd.dInitialState = {};
  bwd.initialState = state(s0);
  EXPECT_THAT(backward(),
              HasSubstr("d_initial_state: required when initial_state is given"));
}

} // namespace
