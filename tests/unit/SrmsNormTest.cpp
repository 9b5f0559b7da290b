// SRMSNorm (kernels/SrmsNorm.h) on the interpreter: forward against y = x /
// sqrt(mean(x²) + eps) in double, backward against central differences of
// that function (not the closed form the kernel uses), on row counts that
// do not fill the last program, d that is not a power of two, strided rows
// and every dtype; the argument errors.
#include "kernels/SrmsNorm.h"
#include "runtime/Half.h"
#include "tests/unit/TestSupport.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include <cmath>
#include <cstring>
#include <random>

using namespace tessel;
using ::testing::HasSubstr;
using test::errorText;

namespace {

/// Row i of `x` (d of them), normalized in double.
std::vector<double> normalized(const std::vector<double> &x, int64_t d,
                               double eps) {
  std::vector<double> y(x.size());
  for (size_t r = 0; r < x.size() / d; ++r) {
    double ms = 0;
    for (int64_t j = 0; j < d; ++j) ms += x[r * d + j] * x[r * d + j];
    double inv = 1.0 / std::sqrt(ms / d + eps);
    for (int64_t j = 0; j < d; ++j) y[r * d + j] = x[r * d + j] * inv;
  }
  return y;
}

/// Elements of `dtype` in a buffer of rows `stride` apart.
struct Strided {
  DType dtype;
  int64_t rows, d, stride;
  std::vector<uint8_t> bytes;
  Strided(DType t, int64_t rows, int64_t d, int64_t stride)
      : dtype(t), rows(rows), d(d), stride(stride),
        bytes(rows * stride * dtypeSize(t), 0xff) {}
  void set(int64_t r, int64_t j, double v) {
    uint8_t *p = &bytes[(r * stride + j) * dtypeSize(dtype)];
    if (dtype == DType::f32) { float f = float(v); std::memcpy(p, &f, 4); return; }
    uint16_t h = dtype == DType::bf16 ? floatToBF16Bits(float(v)) : floatToF16Bits(float(v));
    std::memcpy(p, &h, 2);
  }
  double get(int64_t r, int64_t j) const {
    const uint8_t *p = &bytes[(r * stride + j) * dtypeSize(dtype)];
    if (dtype == DType::f32) { float f; std::memcpy(&f, p, 4); return f; }
    uint16_t h;
    std::memcpy(&h, p, 2);
    return dtype == DType::bf16 ? bf16BitsToFloat(h) : f16BitsToFloat(h);
  }
  /// A (2, rows/2, d) view (rows even) or (rows, d).
  TensorRef ref(bool threeD) {
    TensorRef t;
    t.data = bytes.data();
    t.dtype = dtype;
    if (threeD) {
      t.shape = {2, rows / 2, d};
      t.strides = {rows / 2 * stride, stride, 1};
    } else {
      t.shape = {rows, d};
      t.strides = {stride, 1};
    }
    return t;
  }
  std::vector<double> dense() const {
    std::vector<double> out(rows * d);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < d; ++j) out[r * d + j] = get(r, j);
    return out;
  }
};

struct Case {
  int64_t rows, d, stride;
  DType dtype;
  bool threeD;
};

class SrmsNormNumerics : public ::testing::TestWithParam<Case> {};

TEST_P(SrmsNormNumerics, ForwardAndBackwardMatchDouble) {
  const Case c = GetParam();
  const double eps = 1e-5;
  std::mt19937_64 rng(test::freshSeed());
  std::normal_distribution<double> dist(0.0, 2.0);
  Strided x(c.dtype, c.rows, c.d, c.stride), y(c.dtype, c.rows, c.d, c.stride),
      dy(c.dtype, c.rows, c.d, c.stride), dx(c.dtype, c.rows, c.d, c.stride);
  for (int64_t r = 0; r < c.rows; ++r)
    for (int64_t j = 0; j < c.d; ++j) x.set(r, j, dist(rng)), dy.set(r, j, dist(rng));
  ASSERT_EQ(errorText(srmsNormForward({x.ref(c.threeD), y.ref(c.threeD), float(eps)})), "");
  std::vector<double> xs = x.dense(), want = normalized(xs, c.d, eps);
  double tol = c.dtype == DType::f32 ? 1e-5 : 1e-2;
  EXPECT_LT(reference::relativeError(y.dense(), want), tol);
  // The padding between rows is never written.
  if (c.stride > c.d)
    EXPECT_EQ(y.bytes[c.d * dtypeSize(c.dtype)], 0xff);

  ASSERT_EQ(errorText(srmsNormBackward(
                {x.ref(c.threeD), dy.ref(c.threeD), dx.ref(c.threeD), float(eps)})),
            "");
  // dx_j = Σ_k dy_k ∂y_k/∂x_j by central differences of the double function.
  std::vector<double> gys = dy.dense(), fd(xs.size());
  for (int64_t r = 0; r < c.rows; ++r)
    for (int64_t j = 0; j < c.d; ++j) {
      const double h = 1e-6 * std::max(1.0, std::abs(xs[r * c.d + j]));
      std::vector<double> row(xs.begin() + r * c.d, xs.begin() + (r + 1) * c.d);
      row[j] += h;
      auto up = normalized(row, c.d, eps);
      row[j] -= 2 * h;
      auto down = normalized(row, c.d, eps);
      double acc = 0;
      for (int64_t k = 0; k < c.d; ++k)
        acc += gys[r * c.d + k] * (up[k] - down[k]) / (2 * h);
      fd[r * c.d + j] = acc;
    }
  EXPECT_LT(reference::relativeError(dx.dense(), fd), c.dtype == DType::f32 ? 1e-4 : 2e-2);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, SrmsNormNumerics,
    ::testing::Values(Case{1, 16, 16, DType::f32, false},
                      Case{37, 80, 96, DType::f32, false},
                      Case{64, 256, 256, DType::bf16, true},
                      Case{10, 1000, 1000, DType::f16, true},
                      Case{3, 4096, 4100, DType::f32, false}),
    [](const auto &info) {
      const Case &c = info.param;
      return "rows" + std::to_string(c.rows) + "_d" + std::to_string(c.d) + "_" +
             dtypeName(c.dtype);
    });

TEST(SrmsNorm, BadArgumentsAreRefusedWithTheReason) {
  std::vector<float> a(4 * 32, 1.0f), b(a);
  auto ref = [](std::vector<float> &v, std::vector<int64_t> shape,
                std::vector<int64_t> strides = {}) {
    TensorRef t;
    t.data = v.data();
    t.dtype = DType::f32;
    t.shape = std::move(shape);
    t.strides = std::move(strides);
    return t;
  };
  EXPECT_EQ(errorText(srmsNormForward({ref(a, {4, 32}), ref(b, {4, 32})})), "");
  EXPECT_THAT(errorText(srmsNormForward({ref(a, {4, 32}), ref(b, {2, 64})})),
              HasSubstr("y: shape [2, 64] must equal x's [4, 32]"));
  EXPECT_THAT(errorText(srmsNormForward({ref(a, {4, 32}, {1, 4}), ref(b, {4, 32})})),
              HasSubstr("x: the last dimension must be contiguous"));
  EXPECT_THAT(errorText(srmsNormForward({ref(a, {2, 2, 16}, {64, 16, 1}), ref(b, {2, 2, 16})})),
              HasSubstr("x: strides [64, 16, 1] do not make rows of one stride"));
  EXPECT_THAT(errorText(srmsNormForward({ref(a, {4, 32}), ref(b, {4, 32}), 0.0f})),
              HasSubstr("eps must be a finite number > 0, got 0"));
  TensorRef half = ref(b, {4, 32});
  half.dtype = DType::bf16;
  EXPECT_THAT(errorText(srmsNormForward({ref(a, {4, 32}), half})),
              HasSubstr("y: dtype bf16 must equal x's f32"));
  TensorRef none;
  none.shape = {4, 32};
  EXPECT_THAT(errorText(srmsNormForward({ref(a, {4, 32}), none})),
              HasSubstr("y: data pointer is null"));
  EXPECT_THAT(errorText(srmsNormBackward({ref(a, {4, 32}), ref(b, {4, 32}), ref(b, {4, 16})})),
              HasSubstr("dx: shape [4, 16] must equal x's [4, 32]"));
}

} // namespace
