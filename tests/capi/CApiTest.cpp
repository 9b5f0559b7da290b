// The C API as a binding sees it: only libtessel.so and capi/tessel.h.
// Forward, backward and decode on the interpreter against a naive double
// recurrence written here; every error comes back as a message naming the
// problem, never an abort; the message clears after a success.
#include "capi/tessel.h"

#include "gtest/gtest.h"

#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace {

constexpr int64_t H = 2, N = 37, D = 16, E = 16;

tessel_tensor f32(std::vector<float> &x, std::vector<int64_t> shape) {
  tessel_tensor t{};
  t.data = x.data();
  t.dtype = TESSEL_F32;
  t.ndim = static_cast<int32_t>(shape.size());
  for (size_t i = 0; i < shape.size(); ++i)
    t.shape[i] = shape[i];
  return t;
}

struct Problem {
  std::vector<float> q, k, v, o, slopes{0.1f, 0.5f};
  Problem() {
    std::mt19937 rng(7);
    std::normal_distribution<float> dist;
    for (auto *x : {&q, &k, &v}) {
      x->resize(H * N * D);
      for (float &e : *x) e = dist(rng);
    }
    o.assign(H * N * E, NAN);
  }
  /// o_t = scale · q_t S_t, S_t = λ S_{t−1} + k_tᵀ v_t, bhnd, in double.
  std::vector<double> reference(float scale) const {
    std::vector<double> out(H * N * E, 0.0);
    for (int64_t h = 0; h < H; ++h) {
      std::vector<double> S(D * E, 0.0);
      double lambda = std::exp(-slopes[h]);
      for (int64_t t = 0; t < N; ++t) {
        const float *qt = &q[(h * N + t) * D], *kt = &k[(h * N + t) * D],
                    *vt = &v[(h * N + t) * E];
        for (int64_t i = 0; i < D; ++i)
          for (int64_t j = 0; j < E; ++j)
            S[i * E + j] = lambda * S[i * E + j] + double(kt[i]) * vt[j];
        for (int64_t j = 0; j < E; ++j)
          for (int64_t i = 0; i < D; ++i)
            out[(h * N + t) * E + j] += scale * qt[i] * S[i * E + j];
      }
    }
    return out;
  }
  tessel_forward_args args() {
    tessel_forward_args a;
    tessel_forward_args_init(&a);
    a.q = f32(q, {1, H, N, D}), a.k = f32(k, {1, H, N, D});
    a.v = f32(v, {1, H, N, E}), a.o = f32(o, {1, H, N, E});
    a.slopes = f32(slopes, {H});
    a.layout = TESSEL_BHND;
    a.scale = 0.5f;
    return a;
  }
};

double maxRelError(const std::vector<float> &got, const std::vector<double> &want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    num += (got[i] - want[i]) * (got[i] - want[i]);
    den += want[i] * want[i];
  }
  return std::sqrt(num / den);
}

class CApi : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_EQ(tessel_api_version(), TESSEL_API_VERSION);
    ctx = tessel_context_create(TESSEL_INTERPRETER, 0, 0);
    ASSERT_NE(ctx, nullptr) << tessel_last_error();
  }
  void TearDown() override { tessel_context_destroy(ctx); }
  tessel_context *ctx = nullptr;
};

TEST_F(CApi, ForwardMatchesTheRecurrence) {
  Problem p;
  tessel_forward_args a = p.args();
  ASSERT_EQ(tessel_lightning_forward(ctx, &a), 0) << tessel_last_error();
  EXPECT_STREQ(tessel_last_error(), "");
  EXPECT_LT(maxRelError(p.o, p.reference(0.5f)), 1e-5);
}

TEST_F(CApi, BackwardGivesTheGradientOfTheForward) {
  // ⟨dO, o⟩ is linear in v, so its gradient dv satisfies ⟨dv, v⟩ = ⟨dO, o⟩.
  Problem p;
  tessel_forward_args f = p.args();
  ASSERT_EQ(tessel_lightning_forward(ctx, &f), 0) << tessel_last_error();
  std::vector<float> dO(p.o.size()), dq(p.q.size()), dk(p.k.size()),
      dv(p.v.size(), NAN);
  std::mt19937 rng(3);
  std::normal_distribution<float> dist;
  for (float &x : dO) x = dist(rng);
  tessel_backward_args b;
  tessel_backward_args_init(&b);
  b.q = f.q, b.k = f.k, b.v = f.v;
  b.d_o = f32(dO, {1, H, N, E});
  b.dq = f32(dq, {1, H, N, D}), b.dk = f32(dk, {1, H, N, D});
  b.dv = f32(dv, {1, H, N, E});
  b.slopes = f.slopes;
  b.layout = TESSEL_BHND;
  b.scale = 0.5f;
  ASSERT_EQ(tessel_lightning_backward(ctx, &b), 0) << tessel_last_error();
  double lhs = 0, rhs = 0;
  for (size_t i = 0; i < dv.size(); ++i) lhs += double(dv[i]) * p.v[i];
  for (size_t i = 0; i < dO.size(); ++i) rhs += double(dO[i]) * p.o[i];
  EXPECT_NEAR(lhs, rhs, 1e-4 * std::abs(rhs));
  // Likewise for q.
  double lq = 0;
  for (size_t i = 0; i < dq.size(); ++i) lq += double(dq[i]) * p.q[i];
  EXPECT_NEAR(lq, rhs, 1e-4 * std::abs(rhs));
}

TEST_F(CApi, DecodeStepsContinueTheForward) {
  // 36 tokens of forward with the final state, then the 37th as a decode
  // step: its o is the forward's last row.
  Problem p;
  std::vector<float> state(H * D * E, 0.0f), full(p.o.size());
  tessel_forward_args f = p.args();
  f.o = f32(full, {1, H, N, E});
  ASSERT_EQ(tessel_lightning_forward(ctx, &f), 0) << tessel_last_error();
  tessel_forward_args pre = p.args();
  for (tessel_tensor *t : {&pre.q, &pre.k, &pre.v, &pre.o}) {
    t->shape[2] = N - 1;
    t->strides[0] = H * N * D, t->strides[1] = N * D, t->strides[2] = D;
    t->strides[3] = 1;
  }
  pre.final_state = f32(state, {1, H, D, E});
  ASSERT_EQ(tessel_lightning_forward(ctx, &pre), 0) << tessel_last_error();
  std::vector<float> o1(H * E);
  tessel_decode_args d;
  tessel_decode_args_init(&d);
  auto last = [&](std::vector<float> &x) {
    tessel_tensor t = f32(x, {1, H, 1, D});
    t.data = x.data() + (N - 1) * D;
    t.strides[0] = H * N * D, t.strides[1] = N * D, t.strides[2] = D;
    t.strides[3] = 1;
    return t;
  };
  d.q = last(p.q), d.k = last(p.k), d.v = last(p.v);
  d.o = f32(o1, {1, H, 1, E});
  d.slopes = f.slopes;
  d.state = f32(state, {1, H, D, E});
  d.layout = TESSEL_BHND;
  d.scale = 0.5f;
  ASSERT_EQ(tessel_lightning_decode(ctx, &d), 0) << tessel_last_error();
  for (int64_t h = 0; h < H; ++h)
    for (int64_t j = 0; j < E; ++j)
      EXPECT_NEAR(o1[h * E + j], full[(h * N + N - 1) * E + j], 1e-4);
}

TEST_F(CApi, ErrorsAreMessagesThatNameTheProblem) {
  Problem p;
  auto expectError = [&](tessel_forward_args a, const std::string &want) {
    EXPECT_NE(tessel_lightning_forward(ctx, &a), 0);
    EXPECT_NE(std::string(tessel_last_error()).find(want), std::string::npos)
        << tessel_last_error();
  };
  tessel_forward_args a = p.args();
  a.slopes.data = nullptr;
  expectError(a, "slopes: data pointer is null");
  a = p.args();
  a.q.dtype = 9;
  expectError(a, "q: unknown dtype code 9");
  a = p.args();
  a.k.ndim = 5;
  expectError(a, "k: ndim must be in [0, 4], got 5");
  a = p.args();
  a.layout = 4;
  expectError(a, "layout: unknown code 4");
  a = p.args();
  a.v.shape[3] = 24;
  expectError(a, "head dimension E = 24 must be a multiple of 16");
  a = p.args();
  a.q.strides[0] = H * N * D, a.q.strides[1] = N * D, a.q.strides[2] = 1;
  a.q.strides[3] = N;
  expectError(a, "q: the last dimension must be contiguous (stride 1)");
  // A success clears the message.
  a = p.args();
  EXPECT_EQ(tessel_lightning_forward(ctx, &a), 0);
  EXPECT_STREQ(tessel_last_error(), "");
  EXPECT_NE(tessel_lightning_forward(nullptr, &a), 0);
  EXPECT_NE(std::string(tessel_last_error()).find("context is null"),
            std::string::npos);
  EXPECT_NE(tessel_lightning_forward(ctx, nullptr), 0);
  EXPECT_STREQ(tessel_last_error(), "args is null (or a tensor argument is)");
  EXPECT_EQ(tessel_context_create(7, 0, 0), nullptr);
  EXPECT_NE(std::string(tessel_last_error()).find("backend: unknown code 7"),
            std::string::npos);
}

} // namespace

namespace {

TEST(CApiSrmsNorm, NormalizesRowsAndRefusesBadShapes) {
  tessel_context *ctx = tessel_context_create(TESSEL_INTERPRETER, 0, 0);
  ASSERT_NE(ctx, nullptr);
  std::vector<float> x(3 * 40), y(x.size()), dy(x.size(), 1.0f), dx(x.size());
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(i % 7) - 3.0f;
  tessel_tensor tx = f32(x, {3, 40}), ty = f32(y, {3, 40}), tdy = f32(dy, {3, 40}),
                tdx = f32(dx, {3, 40});
  ASSERT_EQ(tessel_srms_norm_forward(ctx, &tx, &ty, 1e-6f, nullptr), 0) << tessel_last_error();
  for (int r = 0; r < 3; ++r) {
    double ms = 0;
    for (int j = 0; j < 40; ++j) ms += double(y[r * 40 + j]) * y[r * 40 + j];
    EXPECT_NEAR(ms / 40, 1.0, 1e-4) << "row " << r << " has unit RMS";
  }
  ASSERT_EQ(tessel_srms_norm_backward(ctx, &tx, &tdy, &tdx, 1e-6f, nullptr), 0)
      << tessel_last_error();
  // y is scale-invariant in x: ⟨dx, x⟩ = 0 for any dy.
  for (int r = 0; r < 3; ++r) {
    double dot = 0;
    for (int j = 0; j < 40; ++j) dot += double(dx[r * 40 + j]) * x[r * 40 + j];
    EXPECT_NEAR(dot, 0.0, 1e-4);
  }
  ty.shape[1] = 20;
  EXPECT_NE(tessel_srms_norm_forward(ctx, &tx, &ty, 1e-6f, nullptr), 0);
  EXPECT_NE(std::string(tessel_last_error()).find("y: shape [3, 20] must equal x's"),
            std::string::npos)
      << tessel_last_error();
  EXPECT_NE(tessel_srms_norm_forward(ctx, &tx, nullptr, 1e-6f, nullptr), 0);
  tessel_context_destroy(ctx);
}

} // namespace
