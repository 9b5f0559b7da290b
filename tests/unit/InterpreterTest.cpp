// The tile-IR interpreter on small DSL kernels: masked loads and stores,
// 16-bit rounding on store, fp32 dot accumulation, reductions, the launch
// grid, loops with carried values, and the errors it reports (out-of-bounds
// access at the author's line, division by zero, launch-argument mismatches).
#include "dsl/KernelBuilder.h"
#include "kernels/Reference.h"
#include "runtime/Half.h"
#include "runtime/Interpreter.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

using namespace tessel;
using namespace tessel::dsl;
using ::testing::HasSubstr;

namespace {

/// Builds the kernel; a DSL error fails the test (GoogleTest reports the
/// exception with the errors' text).
Kernel finishOrDie(KernelBuilder &kb) {
  auto kernel = kb.finish();
  if (!kernel)
    throw std::runtime_error(llvm::toString(kernel.takeError()));
  return std::move(*kernel);
}

template <typename T>
LaunchArg buf(std::vector<T> &v, DType dtype) {
  return LaunchArg::buffer(v.data(), v.size() * sizeof(T), dtype);
}

/// Runs the kernel; returns "" on success or the error text.
std::string run(const Kernel &kernel, const Grid &grid,
                std::vector<LaunchArg> args, unsigned threads = 0) {
  InterpretOptions options;
  options.threads = threads;
  if (llvm::Error err = interpret(kernel, grid, args, options))
    return llvm::toString(std::move(err));
  return "";
}

std::string fileLine(int line) {
  return "InterpreterTest.cpp:" + std::to_string(line) + ":";
}

std::mt19937_64 &rng() {
  static std::mt19937_64 engine(std::random_device{}());
  return engine;
}

std::vector<float> randomFloats(size_t n, DType roundTo = DType::f32) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float &x : v) {
    x = dist(rng());
    if (roundTo == DType::bf16)
      x = bf16BitsToFloat(floatToBF16Bits(x));
    else if (roundTo == DType::f16)
      x = f16BitsToFloat(floatToF16Bits(x));
  }
  return v;
}

std::vector<uint16_t> toBits(const std::vector<float> &v, DType t) {
  std::vector<uint16_t> out(v.size());
  for (size_t i = 0; i < v.size(); ++i)
    out[i] = t == DType::bf16 ? floatToBF16Bits(v[i]) : floatToF16Bits(v[i]);
  return out;
}

uint32_t bitsOf(float x) {
  uint32_t b;
  std::memcpy(&b, &x, 4);
  return b;
}

//===----------------------------------------------------------------------===//
// Masked loads and stores
//===----------------------------------------------------------------------===//

/// out[i] = in[i] for i < n, else `other` (or 0): 16 lanes over a buffer of n.
Kernel maskedCopy(DType elem, std::optional<double> other) {
  KernelBuilder kb(other ? "masked_load_other" : "masked_load_zero");
  Tile in = kb.ptrArg("in", elem), out = kb.ptrArg("out", elem);
  Tile n = kb.scalarArg("n", DType::i32);
  Tile idx = arange(0, 16);
  Tile mask = idx < n;
  Tile x = other ? load(in + idx, mask, *other) : load(in + idx, mask);
  store(out + idx, x);
  return finishOrDie(kb);
}

TEST(Interpreter, MaskedLoadReturnsOtherForMaskedLanes) {
  Kernel kernel = maskedCopy(DType::f32, -7.5);
  // The input holds exactly 10 elements: lanes 10..15 point past its end, so
  // touching them would be an out-of-bounds error.
  std::vector<float> in = randomFloats(10);
  std::vector<float> out(16, std::numeric_limits<float>::quiet_NaN());
  ASSERT_EQ(run(kernel, {}, {buf(in, DType::f32), buf(out, DType::f32),
                             LaunchArg::i32(10)}),
            "");
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(out[i], in[i]) << i;
  for (int i = 10; i < 16; ++i)
    EXPECT_EQ(out[i], -7.5f) << i;
}

TEST(Interpreter, MaskedLoadWithoutOtherReturnsZero) {
  Kernel kernel = maskedCopy(DType::f32, std::nullopt);
  std::vector<float> in = randomFloats(5);
  std::vector<float> out(16, std::numeric_limits<float>::quiet_NaN());
  ASSERT_EQ(run(kernel, {}, {buf(in, DType::f32), buf(out, DType::f32),
                             LaunchArg::i32(5)}),
            "");
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(out[i], in[i]) << i;
  for (int i = 5; i < 16; ++i) {
    EXPECT_EQ(out[i], 0.0f) << i;
    EXPECT_FALSE(std::signbit(out[i])) << i;
  }
}

TEST(Interpreter, MaskedIntegerLoadReturnsOther) {
  Kernel kernel = maskedCopy(DType::i32, -3);
  std::vector<int32_t> in{11, -22, 33, 44, -55, 66, 77};
  std::vector<int32_t> out(16, 999);
  ASSERT_EQ(run(kernel, {}, {buf(in, DType::i32), buf(out, DType::i32),
                             LaunchArg::i32(7)}),
            "");
  for (int i = 0; i < 16; ++i)
    EXPECT_EQ(out[i], i < 7 ? in[i] : -3) << i;
}

TEST(Interpreter, MaskedLoadNeverTouchesFarAwayAddresses) {
  // Masked-off lanes point ~1 GiB past the buffer.
  Kernel kernel = [&] {
    KernelBuilder kb("masked_far");
    Tile in = kb.ptrArg("in", DType::bf16), out = kb.ptrArg("out", DType::bf16);
    Tile idx = arange(0, 32);
    Tile mask = (idx % 3) < 1;
    Tile offsets = where(mask, idx, idx + (1 << 29));
    store(out + idx, load(in + offsets, mask, 2.0));
    return finishOrDie(kb);
  }();
  std::vector<uint16_t> in = toBits(randomFloats(32, DType::bf16), DType::bf16);
  std::vector<uint16_t> out(32, 0xffff);
  ASSERT_EQ(run(kernel, {}, {buf(in, DType::bf16), buf(out, DType::bf16)}), "");
  for (int i = 0; i < 32; ++i)
    EXPECT_EQ(out[i], i % 3 == 0 ? in[i] : floatToBF16Bits(2.0f)) << i;
}

TEST(Interpreter, Masked2DLoadUsesBroadcastMasks) {
  // A 5×7 matrix read through an 8×8 tile: row and column masks broadcast.
  Kernel kernel = [&] {
    KernelBuilder kb("masked_2d");
    Tile in = kb.ptrArg("in", DType::f32), out = kb.ptrArg("out", DType::f32);
    Tile r = arange(0, 8), c = arange(0, 8);
    Tile mask = column(r < 5) & row(c < 7);
    Tile x = load(in + column(r) * 7 + row(c), mask, 0.5);
    store(out + column(r) * 8 + row(c), x);
    return finishOrDie(kb);
  }();
  std::vector<float> in = randomFloats(35);
  std::vector<float> out(64, std::numeric_limits<float>::quiet_NaN());
  ASSERT_EQ(run(kernel, {}, {buf(in, DType::f32), buf(out, DType::f32)}), "");
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 8; ++j)
      EXPECT_EQ(out[i * 8 + j], i < 5 && j < 7 ? in[i * 7 + j] : 0.5f)
          << i << "," << j;
}

TEST(Interpreter, MaskedStoreLeavesMaskedElementsUntouched) {
  Kernel kernel = [&] {
    KernelBuilder kb("masked_store");
    Tile in = kb.ptrArg("in", DType::f32), out = kb.ptrArg("out", DType::f32);
    Tile n = kb.scalarArg("n", DType::i32);
    Tile idx = arange(0, 16);
    // Every third lane, and only below n: lanes ≥ n point past `out`'s end.
    Tile mask = eq(idx % 3, 0) & (idx < n);
    store(out + idx, load(in + idx) * 2.0, mask);
    return finishOrDie(kb);
  }();
  std::vector<float> in = randomFloats(16);
  const float sentinel = -12345.25f;
  std::vector<float> out(11, sentinel);
  ASSERT_EQ(run(kernel, {}, {buf(in, DType::f32), buf(out, DType::f32),
                             LaunchArg::i32(11)}),
            "");
  for (int i = 0; i < 11; ++i) {
    if (i % 3 == 0)
      EXPECT_EQ(out[i], in[i] * 2.0f) << i;
    else
      EXPECT_EQ(bitsOf(out[i]), bitsOf(sentinel)) << i;
  }
}

TEST(Interpreter, MaskedBF16StoreKeepsNeighbouringHalfWords) {
  // 16-bit stores must write 2 bytes, not a wider word over the neighbours.
  Kernel kernel = [&] {
    KernelBuilder kb("masked_store_bf16");
    Tile in = kb.ptrArg("in", DType::f32), out = kb.ptrArg("out", DType::bf16);
    Tile idx = arange(0, 16);
    store(out + idx, load(in + idx).to(DType::bf16), eq(idx % 2, 1));
    return finishOrDie(kb);
  }();
  std::vector<float> in = randomFloats(16);
  std::vector<uint16_t> out(16, 0x7fc1);
  ASSERT_EQ(run(kernel, {}, {buf(in, DType::f32), buf(out, DType::bf16)}), "");
  for (int i = 0; i < 16; ++i)
    EXPECT_EQ(out[i], i % 2 ? floatToBF16Bits(in[i]) : uint16_t(0x7fc1)) << i;
}

//===----------------------------------------------------------------------===//
// 16-bit rounding
//===----------------------------------------------------------------------===//

/// Values that exercise round-to-nearest-even: exact ties in both directions,
/// just above and below ties, signs, overflow, subnormals, plus random ones.
std::vector<float> roundingInputs() {
  std::vector<float> v{
      1.0f + 0x1p-8f,         // bf16 tie between 0x3f80 (even) and 0x3f81
      1.0f + 3 * 0x1p-8f,     // bf16 tie between 0x3f81 and 0x3f82 (even)
      1.0f + 0x1p-8f + 0x1p-20f, // just above a bf16 tie: rounds up
      1.0f + 0x1p-8f - 0x1p-20f, // just below: rounds down
      -(1.0f + 3 * 0x1p-8f),
      1.0f + 0x1p-11f,        // f16 tie: 0x3c00 (even)
      1.0f + 3 * 0x1p-11f,    // f16 tie: 0x3c02 (even)
      65504.0f,               // f16 max
      65520.0f,               // f16: rounds to infinity
      3 * 0x1p-25f,           // f16 subnormal tie: 0x0002 (even)
      0x1p-25f,               // f16 subnormal tie with zero: 0x0000
      0.0f, -0.0f, 3.0e38f, 1.0e-40f,
  };
  std::vector<float> random = randomFloats(49);
  for (float &x : random)
    x *= 1000.0f;
  v.insert(v.end(), random.begin(), random.end());
  return v;
}

TEST(Interpreter, BF16AndF16StoresRoundToNearestEven) {
  std::vector<float> in = roundingInputs();
  const int n = static_cast<int>(in.size());
  ASSERT_EQ(n, 64);
  Kernel kernel = [&] {
    KernelBuilder kb("round_16");
    Tile src = kb.ptrArg("in", DType::f32);
    Tile bf = kb.ptrArg("bf16_out", DType::bf16), hf = kb.ptrArg("f16_out", DType::f16);
    Tile idx = arange(0, 64);
    Tile x = load(src + idx);
    store(bf + idx, x.to(DType::bf16));
    store(hf + idx, x.to(DType::f16));
    return finishOrDie(kb);
  }();
  std::vector<uint16_t> bfOut(n, 0xdead), hfOut(n, 0xdead);
  ASSERT_EQ(run(kernel, {}, {buf(in, DType::f32), buf(bfOut, DType::bf16),
                             buf(hfOut, DType::f16)}),
            "");
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(bfOut[i], floatToBF16Bits(in[i])) << "bf16 of " << in[i];
    EXPECT_EQ(hfOut[i], floatToF16Bits(in[i])) << "f16 of " << in[i];
  }
  // The encodings themselves, worked out by hand from IEEE 754.
  EXPECT_EQ(bfOut[0], 0x3f80);
  EXPECT_EQ(bfOut[1], 0x3f82);
  EXPECT_EQ(bfOut[2], 0x3f81);
  EXPECT_EQ(bfOut[3], 0x3f80);
  EXPECT_EQ(bfOut[4], 0xbf82);
  EXPECT_EQ(hfOut[5], 0x3c00);
  EXPECT_EQ(hfOut[6], 0x3c02);
  EXPECT_EQ(hfOut[7], 0x7bff);
  EXPECT_EQ(hfOut[8], 0x7c00);
  EXPECT_EQ(hfOut[9], 0x0002);
  EXPECT_EQ(hfOut[10], 0x0000);
  EXPECT_EQ(bfOut[12], 0x8000);
  EXPECT_EQ(hfOut[12], 0x8000);
}

TEST(Interpreter, BF16ArithmeticIsRoundedBeforeTheStore) {
  // bf16 + bf16 stays bf16: the sum is rounded to bf16, not truncated.
  Kernel kernel = [&] {
    KernelBuilder kb("bf16_add");
    Tile a = kb.ptrArg("a", DType::bf16), b = kb.ptrArg("b", DType::bf16);
    Tile out = kb.ptrArg("out", DType::bf16);
    Tile idx = arange(0, 16);
    Tile total = load(a + idx) + load(b + idx);
    EXPECT_EQ(total.dtype(), DType::bf16);
    store(out + idx, total);
    return finishOrDie(kb);
  }();
  std::vector<float> av = randomFloats(16, DType::bf16), bv = randomFloats(16, DType::bf16);
  av[0] = 1.0f, bv[0] = 0x1p-8f;             // exact tie: stays 1.0
  av[1] = 1.0f + 0x1p-7f, bv[1] = 0x1p-8f;   // tie: rounds up to even 1 + 2^-6
  std::vector<uint16_t> ab = toBits(av, DType::bf16), bb = toBits(bv, DType::bf16);
  std::vector<uint16_t> out(16, 0);
  ASSERT_EQ(run(kernel, {}, {buf(ab, DType::bf16), buf(bb, DType::bf16),
                             buf(out, DType::bf16)}),
            "");
  for (int i = 0; i < 16; ++i)
    EXPECT_EQ(out[i], floatToBF16Bits(av[i] + bv[i])) << i;
  EXPECT_EQ(out[0], 0x3f80);
  EXPECT_EQ(out[1], 0x3f82);
}

//===----------------------------------------------------------------------===//
// dot
//===----------------------------------------------------------------------===//

/// out (M×N f32) = a (M×K) · b (K×N) + acc, all row-major.
Kernel dotKernel(DType t, int M, int K, int N, bool transposeB) {
  KernelBuilder kb("dot");
  Tile a = kb.ptrArg("a", t), b = kb.ptrArg("b", t);
  Tile acc = kb.ptrArg("acc", DType::f32), out = kb.ptrArg("out", DType::f32);
  Tile m = arange(0, M), k = arange(0, K), n = arange(0, N);
  Tile at = load(a + column(m) * K + row(k));
  // With transposeB, b is stored N×K and transposed in the kernel.
  Tile bt = transposeB ? trans(load(b + column(n) * K + row(k)))
                       : load(b + column(k) * N + row(n));
  Tile c = load(acc + column(m) * N + row(n));
  store(out + column(m) * N + row(n), dot(at, bt, c));
  return finishOrDie(kb);
}

std::vector<uint8_t> encode(const std::vector<float> &v, DType t) {
  std::vector<uint8_t> bytes(v.size() * dtypeSize(t));
  if (t == DType::f32) {
    std::memcpy(bytes.data(), v.data(), bytes.size());
  } else {
    std::vector<uint16_t> bits = toBits(v, t);
    std::memcpy(bytes.data(), bits.data(), bytes.size());
  }
  return bytes;
}

class InterpreterDot : public ::testing::TestWithParam<DType> {};

TEST_P(InterpreterDot, MatchesDoubleComputation) {
  DType t = GetParam();
  for (bool transposeB : {false, true}) {
    const int M = 16, K = 48, N = 32;
    Kernel kernel = dotKernel(t, M, K, N, transposeB);
    std::vector<float> a = randomFloats(M * K, t), b = randomFloats(K * N, t);
    std::vector<float> acc = randomFloats(M * N);
    std::vector<uint8_t> ab = encode(a, t), bb = encode(b, t);
    std::vector<float> out(M * N, std::numeric_limits<float>::quiet_NaN());
    ASSERT_EQ(run(kernel, {}, {buf(ab, t), buf(bb, t), buf(acc, DType::f32),
                               buf(out, DType::f32)}),
              "");
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < N; ++j) {
        double want = acc[i * N + j], mag = std::fabs(want);
        for (int k = 0; k < K; ++k) {
          double bkj = transposeB ? b[j * K + k] : b[k * N + j];
          want += double(a[i * K + k]) * bkj;
          mag += std::fabs(double(a[i * K + k]) * bkj);
        }
        // fp32 accumulation of K terms: a few fp32 ulps of the magnitude.
        EXPECT_NEAR(out[i * N + j], want, 4 * K * 0x1p-24 * mag)
            << dtypeName(t) << " (" << i << ", " << j << ")"
            << (transposeB ? " with trans(b)" : "");
      }
  }
}

INSTANTIATE_TEST_SUITE_P(AllFloatTypes, InterpreterDot,
                         ::testing::Values(DType::bf16, DType::f16, DType::f32),
                         [](const auto &info) { return dtypeName(info.param); });

TEST(Interpreter, DotOfBF16AccumulatesInFP32) {
  // Σ_k 1 · (1 + 2^-7) over K = 256 is 258 exactly in fp32; a bf16
  // accumulator (8 significant bits) cannot hold the partial sums, and a
  // bf16-rounded result of 5 terms (5.0390625) does not exist either.
  for (int K : {5, 256}) {
    const int M = 16, N = 16;
    Kernel kernel = dotKernel(DType::bf16, M, K, N, false);
    std::vector<float> a(M * K, 1.0f), b(K * N, 1.0f + 0x1p-7f), acc(M * N, 0.0f);
    std::vector<uint8_t> ab = encode(a, DType::bf16), bb = encode(b, DType::bf16);
    std::vector<float> out(M * N, std::numeric_limits<float>::quiet_NaN());
    ASSERT_EQ(run(kernel, {}, {buf(ab, DType::bf16), buf(bb, DType::bf16),
                               buf(acc, DType::f32), buf(out, DType::f32)}),
              "");
    float want = static_cast<float>(K * (1.0 + 0x1p-7));
    for (int i = 0; i < M * N; ++i)
      ASSERT_EQ(out[i], want) << "K=" << K << " element " << i;
    if (K == 5)
      EXPECT_NE(bf16BitsToFloat(floatToBF16Bits(want)), want);
  }
}

//===----------------------------------------------------------------------===//
// reduce
//===----------------------------------------------------------------------===//

TEST(Interpreter, ReduceSumAndMaxAlongEachAxisOf2D) {
  const int R = 8, C = 16;
  Kernel kernel = [&] {
    KernelBuilder kb("reduce_2d");
    Tile in = kb.ptrArg("in", DType::f32);
    Tile sum0 = kb.ptrArg("sum0", DType::f32), sum1 = kb.ptrArg("sum1", DType::f32);
    Tile max0 = kb.ptrArg("max0", DType::f32), max1 = kb.ptrArg("max1", DType::f32);
    Tile all = kb.ptrArg("all", DType::f32);
    Tile r = arange(0, R), c = arange(0, C);
    Tile x = load(in + column(r) * C + row(c));
    store(sum0 + c, sum(x, 0));
    store(sum1 + r, sum(x, 1));
    store(max0 + c, max(x, 0));
    store(max1 + r, max(x, 1));
    Tile total = sum(sum(x, 1), 0);
    EXPECT_TRUE(total.isScalar());
    store(all, total);
    return finishOrDie(kb);
  }();

  std::vector<float> in = randomFloats(R * C);
  for (float &v : in)
    v -= 10.0f; // all negative: a max that starts at 0 would show
  std::vector<float> s0(C), s1(R), m0(C), m1(R), tot(1);
  ASSERT_EQ(run(kernel, {}, {buf(in, DType::f32), buf(s0, DType::f32),
                             buf(s1, DType::f32), buf(m0, DType::f32),
                             buf(m1, DType::f32), buf(tot, DType::f32)}),
            "");
  double grand = 0, grandMag = 0;
  for (int j = 0; j < C; ++j) {
    double s = 0, mag = 0;
    float m = -INFINITY;
    for (int i = 0; i < R; ++i) {
      s += in[i * C + j], mag += std::fabs(in[i * C + j]);
      m = std::max(m, in[i * C + j]);
    }
    EXPECT_NEAR(s0[j], s, 1e-6 * mag) << j;
    EXPECT_EQ(m0[j], m) << j;
  }
  for (int i = 0; i < R; ++i) {
    double s = 0, mag = 0;
    float m = -INFINITY;
    for (int j = 0; j < C; ++j) {
      s += in[i * C + j], mag += std::fabs(in[i * C + j]);
      m = std::max(m, in[i * C + j]);
    }
    EXPECT_NEAR(s1[i], s, 1e-6 * mag) << i;
    EXPECT_EQ(m1[i], m) << i;
    grand += s, grandMag += mag;
  }
  EXPECT_NEAR(tot[0], grand, 1e-6 * grandMag);
}

TEST(Interpreter, ReduceAlongEachAxisOf3D) {
  // [2, 4, 8] built by reshape; each axis reduced and flattened for the store.
  const int A = 2, B = 4, C = 8;
  Kernel kernel = [&] {
    KernelBuilder kb("reduce_3d");
    Tile in = kb.ptrArg("in", DType::i32);
    Tile o0 = kb.ptrArg("sum0", DType::i32), o1 = kb.ptrArg("max1", DType::i32),
         o2 = kb.ptrArg("sum2", DType::i32);
    Tile x = reshape(load(in + arange(0, A * B * C)), {A, B, C});
    store(o0 + arange(0, B * C), reshape(sum(x, 0), {B * C}));
    store(o1 + arange(0, A * C), reshape(max(x, 1), {A * C}));
    store(o2 + arange(0, A * B), reshape(sum(x, 2), {A * B}));
    return finishOrDie(kb);
  }();

  std::uniform_int_distribution<int32_t> dist(-1000, 1000);
  std::vector<int32_t> in(A * B * C);
  for (int32_t &v : in)
    v = dist(rng());
  std::vector<int32_t> s0(B * C), m1(A * C), s2(A * B);
  ASSERT_EQ(run(kernel, {}, {buf(in, DType::i32), buf(s0, DType::i32),
                             buf(m1, DType::i32), buf(s2, DType::i32)}),
            "");
  auto at = [&](int a, int b, int c) { return in[(a * B + b) * C + c]; };
  for (int b = 0; b < B; ++b)
    for (int c = 0; c < C; ++c)
      EXPECT_EQ(s0[b * C + c], at(0, b, c) + at(1, b, c));
  for (int a = 0; a < A; ++a)
    for (int c = 0; c < C; ++c) {
      int32_t m = std::numeric_limits<int32_t>::min();
      for (int b = 0; b < B; ++b)
        m = std::max(m, at(a, b, c));
      EXPECT_EQ(m1[a * C + c], m);
    }
  for (int a = 0; a < A; ++a)
    for (int b = 0; b < B; ++b) {
      int32_t s = 0;
      for (int c = 0; c < C; ++c)
        s += at(a, b, c);
      EXPECT_EQ(s2[a * B + b], s);
    }
}

//===----------------------------------------------------------------------===//
// Grid
//===----------------------------------------------------------------------===//

/// Each program writes (pid 0..2, num_programs 0..2) at its linear index.
Kernel gridKernel() {
  KernelBuilder kb("grid");
  Tile out = kb.ptrArg("out", DType::i32);
  Tile linear = (programId(2) * numPrograms(1) + programId(1)) * numPrograms(0) +
                programId(0);
  Tile base = out + linear * 6;
  store(base, programId(0));
  store(base + 1, programId(1));
  store(base + 2, programId(2));
  store(base + 3, numPrograms(0));
  store(base + 4, numPrograms(1));
  store(base + 5, numPrograms(2));
  return finishOrDie(kb);
}

TEST(Interpreter, ProgramIdAndNumProgramsCoverTheGrid) {
  Kernel kernel = gridKernel();
  for (Grid grid : {Grid{7, 3, 1}, Grid{3, 4, 5}, Grid{1, 1, 6}})
    for (unsigned threads : {1u, 0u}) {
      std::vector<int32_t> out(grid.size() * 6, -1);
      ASSERT_EQ(run(kernel, grid, {buf(out, DType::i32)}, threads), "");
      for (int64_t z = 0; z < grid.z; ++z)
        for (int64_t y = 0; y < grid.y; ++y)
          for (int64_t x = 0; x < grid.x; ++x) {
            const int32_t *e = &out[((z * grid.y + y) * grid.x + x) * 6];
            std::vector<int32_t> got(e, e + 6);
            std::vector<int32_t> want{int32_t(x), int32_t(y), int32_t(z),
                                      int32_t(grid.x), int32_t(grid.y),
                                      int32_t(grid.z)};
            EXPECT_EQ(got, want) << "program (" << x << ", " << y << ", " << z
                                 << ") of grid (" << grid.x << ", " << grid.y
                                 << ", " << grid.z << "), threads " << threads;
          }
    }
}

//===----------------------------------------------------------------------===//
// Control flow
//===----------------------------------------------------------------------===//

TEST(Interpreter, ForLoopCarriesTilesAndScalars) {
  // for i in [lo, hi) step 3: acc = acc * 0.5 + in[i, :]; count += i.
  Kernel kernel = [&] {
    KernelBuilder kb("loop");
    Tile in = kb.ptrArg("in", DType::f32), out = kb.ptrArg("out", DType::f32);
    Tile cnt = kb.ptrArg("count", DType::i32);
    Tile lo = kb.scalarArg("lo", DType::i32), hi = kb.scalarArg("hi", DType::i32);
    Tile cols = arange(0, 16);
    Tile init = load(out + cols);
    auto res = kb.forRange(lo, hi, 3, {init, scalar(100, DType::i32)},
                           [&](Tile i, std::vector<Tile> c) {
                             Tile x = load(in + i * 16 + cols);
                             return std::vector<Tile>{c[0] * 0.5 + x, c[1] + i};
                           });
    store(out + cols, res[0]);
    store(cnt, res[1]);
    return finishOrDie(kb);
  }();

  for (auto [lo, hi] : {std::pair{2, 17}, std::pair{0, 1}, std::pair{5, 5},
                        std::pair{9, 3}}) {
    std::vector<float> in = randomFloats(17 * 16);
    std::vector<float> out = randomFloats(16);
    std::vector<int32_t> count{-1};
    std::vector<float> want = out;
    int32_t wantCount = 100;
    for (int i = lo; i < hi; i += 3) {
      for (int j = 0; j < 16; ++j)
        want[j] = want[j] * 0.5f + in[i * 16 + j];
      wantCount += i;
    }
    ASSERT_EQ(run(kernel, {}, {buf(in, DType::f32), buf(out, DType::f32),
                               buf(count, DType::i32), LaunchArg::i32(lo),
                               LaunchArg::i32(hi)}),
              "");
    for (int j = 0; j < 16; ++j)
      EXPECT_FLOAT_EQ(out[j], want[j]) << "[" << lo << ", " << hi << ") " << j;
    EXPECT_EQ(count[0], wantCount) << "[" << lo << ", " << hi << ")";
  }
}

TEST(Interpreter, NestedLoopsAndIfThen) {
  // out[j] = Σ_{i<j} (i + 1) for j < 8, computed by nested loops; program 1
  // also writes a marker under scf.if.
  Kernel kernel = [&] {
    KernelBuilder kb("nested");
    Tile out = kb.ptrArg("out", DType::i32);
    auto outer = kb.forRange(0, 8, {scalar(0, DType::i32)},
                             [&](Tile j, std::vector<Tile> c) {
      auto inner = kb.forRange(0, j, {scalar(0, DType::i32)},
                               [&](Tile i, std::vector<Tile> s) {
                                 return std::vector<Tile>{s[0] + i + 1};
                               });
      store(out + j, inner[0]);
      return std::vector<Tile>{c[0] + inner[0]};
    });
    store(out + 8, outer[0]);
    kb.ifThen(eq(programId(0), 1), [&] { store(out + 9, programId(0) + 41); });
    return finishOrDie(kb);
  }();

  for (int64_t programs : {1, 2}) {
    std::vector<int32_t> out(10, -1);
    ASSERT_EQ(run(kernel, {programs, 1, 1}, {buf(out, DType::i32)}, 1), "");
    int32_t total = 0;
    for (int j = 0; j < 8; ++j) {
      int32_t s = j * (j + 1) / 2;
      EXPECT_EQ(out[j], s) << j;
      total += s;
    }
    EXPECT_EQ(out[8], total);
    EXPECT_EQ(out[9], programs == 2 ? 42 : -1);
  }
}

/// A chained scan between programs: program p waits until flag = p, adds
/// x[p] to the running total that program p − 1 left in total[0], writes
/// the prefix to out[p] and hands on with flag = p + 1.
Kernel chainedPrefixKernel() {
  KernelBuilder kb("chained_prefix");
  Tile x = kb.ptrArg("x", DType::i64);
  Tile total = kb.ptrArg("total", DType::i64);
  Tile out = kb.ptrArg("out", DType::i64);
  Tile flag = kb.ptrArg("flag", DType::i64);
  Tile p = programId(0);
  waitFlag(flag, p);
  Tile prefix = where(p > 0, load(total), scalar(0, DType::i64)) + load(x + p);
  store(total, prefix);
  store(out + p, prefix);
  signalFlag(flag, p + 1);
  return finishOrDie(kb);
}

TEST(Interpreter, FlagsChainProgramsInLaunchOrder) {
  // On one thread and on several (each program then waits for the one
  // before on another thread), the chain gives the prefix sums.
  Kernel kernel = chainedPrefixKernel();
  const int64_t programs = 64;
  for (unsigned threads : {1u, 4u}) {
    std::vector<int64_t> x(programs), total{-1}, out(programs, -1), flag{0};
    for (int64_t i = 0; i < programs; ++i)
      x[i] = int64_t(rng()() % 1000) - 500;
    ASSERT_EQ(run(kernel, {programs, 1, 1},
                  {buf(x, DType::i64), buf(total, DType::i64),
                   buf(out, DType::i64), buf(flag, DType::i64)},
                  threads),
              "");
    int64_t sum = 0;
    for (int64_t i = 0; i < programs; ++i) {
      sum += x[i];
      EXPECT_EQ(out[i], sum) << "program " << i << ", " << threads << " threads";
    }
    EXPECT_EQ(flag[0], programs);
  }
}

TEST(Interpreter, WaitingOnAFlagNoEarlierProgramSetsIsADeadlock) {
  // With the flag at −1, program 0 waits for 0, which no program before it
  // can set: the launch fails once the timeout passes, naming the wait.
  Kernel kernel = chainedPrefixKernel();
  std::vector<int64_t> x(1, 1), total{0}, out(1, 0), flag{-1};
  InterpretOptions options;
  options.flagTimeout = std::chrono::milliseconds(200);
  std::vector<LaunchArg> args{buf(x, DType::i64), buf(total, DType::i64),
                              buf(out, DType::i64), buf(flag, DType::i64)};
  llvm::Error err = interpret(kernel, {1, 1, 1}, args, options);
  ASSERT_TRUE(static_cast<bool>(err));
  std::string text = llvm::toString(std::move(err));
  EXPECT_THAT(text, HasSubstr("tile.wait_flag: the flag stayed at -1, below its "
                              "target 0, for 200 ms: no earlier program of the "
                              "launch sets it"));
  EXPECT_THAT(text, HasSubstr("(program 0, 0, 0 of kernel 'chained_prefix')"));
}

TEST(Interpreter, FlagOperandsAreChecked) {
  KernelBuilder kb("bad_flags");
  Tile f32 = kb.ptrArg("f", DType::f32);
  Tile flag = kb.ptrArg("flag", DType::i64);
  waitFlag(f32, scalar(0, DType::i64));
  signalFlag(flag, scalar(1.0, DType::f32));
  auto kernel = kb.finish();
  ASSERT_FALSE(static_cast<bool>(kernel));
  std::string text = llvm::toString(kernel.takeError());
  EXPECT_THAT(text, HasSubstr("waitFlag: the flag must be one pointer to an i64"));
  EXPECT_THAT(text, HasSubstr("signalFlag: the value must be an i32 or i64 scalar"));
}

//===----------------------------------------------------------------------===//
// Errors
//===----------------------------------------------------------------------===//

TEST(Interpreter, OutOfBoundsLoadNamesTheLoadsLine) {
  int line = 0;
  Kernel kernel = [&] {
    KernelBuilder kb("oob_load");
    Tile in = kb.ptrArg("in", DType::f32), out = kb.ptrArg("out", DType::f32);
    Tile idx = arange(0, 16);
    line = __LINE__ + 1;
    Tile x = load(in + idx);
    store(out + idx, x);
    return finishOrDie(kb);
  }();
  std::vector<float> in = randomFloats(10), out(16, 0.0f);
  std::string err = run(kernel, {}, {buf(in, DType::f32), buf(out, DType::f32)});
  EXPECT_THAT(err, HasSubstr(fileLine(line)));
  EXPECT_THAT(err, HasSubstr("tile.load"));
  EXPECT_THAT(err, HasSubstr("outside every argument buffer"));
  EXPECT_THAT(err, HasSubstr("'in' spans 40 bytes"));
  EXPECT_THAT(err, HasSubstr("kernel 'oob_load'"));
  // With 16 elements the same kernel is fine.
  std::vector<float> in16 = randomFloats(16);
  EXPECT_EQ(run(kernel, {}, {buf(in16, DType::f32), buf(out, DType::f32)}), "");
  EXPECT_EQ(out, in16);
}

TEST(Interpreter, OutOfBoundsStoreNamesTheStoresLine) {
  int line = 0;
  Kernel kernel = [&] {
    KernelBuilder kb("oob_store");
    Tile out = kb.ptrArg("out", DType::bf16);
    Tile idx = arange(0, 16);
    line = __LINE__ + 1;
    store(out + idx - 1, zeros({16}, DType::bf16));
    return finishOrDie(kb);
  }();
  std::vector<uint16_t> out(16, 0x1234);
  std::string err = run(kernel, {}, {buf(out, DType::bf16)});
  EXPECT_THAT(err, HasSubstr(fileLine(line)));
  EXPECT_THAT(err, HasSubstr("tile.store"));
  EXPECT_THAT(err, HasSubstr("outside every argument buffer"));
}

TEST(Interpreter, IntegerDivisionByZeroIsAnError) {
  int divLine = 0;
  Kernel kernel = [&] {
    KernelBuilder kb("divide");
    Tile in = kb.ptrArg("in", DType::i32), out = kb.ptrArg("out", DType::i32);
    Tile d = kb.scalarArg("d", DType::i32);
    Tile idx = arange(0, 8);
    Tile x = load(in + idx);
    divLine = __LINE__ + 1;
    Tile q = x / d;
    Tile r = x % d;
    store(out + idx, q * 1000 + r);
    return finishOrDie(kb);
  }();
  std::vector<int32_t> in{-9, -7, -1, 0, 1, 7, 9, 2000};
  std::vector<int32_t> out(8, 0);
  ASSERT_EQ(run(kernel, {}, {buf(in, DType::i32), buf(out, DType::i32),
                             LaunchArg::i32(4)}),
            "");
  for (int i = 0; i < 8; ++i)
    EXPECT_EQ(out[i], (in[i] / 4) * 1000 + in[i] % 4) << in[i];

  std::string err = run(kernel, {}, {buf(in, DType::i32), buf(out, DType::i32),
                                     LaunchArg::i32(0)});
  EXPECT_THAT(err, HasSubstr("integer division by zero"));
  EXPECT_THAT(err, HasSubstr(fileLine(divLine)));

  // The remainder alone divides by zero too.
  KernelBuilder kb2("remainder");
  Tile in2 = kb2.ptrArg("in", DType::i32), out2 = kb2.ptrArg("out", DType::i32);
  Tile d2 = kb2.scalarArg("d", DType::i32);
  Tile idx2 = arange(0, 8);
  Tile x2 = load(in2 + idx2);
  int remLine = __LINE__ + 1;
  Tile r2 = x2 % d2;
  store(out2 + idx2, r2);
  Kernel kernel2 = finishOrDie(kb2);
  err = run(kernel2, {}, {buf(in, DType::i32), buf(out, DType::i32),
                          LaunchArg::i32(0)});
  EXPECT_THAT(err, HasSubstr("integer division by zero"));
  EXPECT_THAT(err, HasSubstr(fileLine(remLine)));
}

Kernel twoArgKernel() {
  KernelBuilder kb("sig");
  Tile p = kb.ptrArg("p", DType::bf16);
  Tile n = kb.scalarArg("n", DType::i32);
  store(p + arange(0, 16), zeros({16}, DType::bf16), arange(0, 16) < n);
  return finishOrDie(kb);
}

TEST(Interpreter, LaunchArgumentCountMismatch) {
  Kernel kernel = twoArgKernel();
  std::vector<uint16_t> p(16, 1);
  EXPECT_THAT(run(kernel, {}, {buf(p, DType::bf16)}),
              HasSubstr("kernel 'sig' takes 2 arguments, got 1"));
  EXPECT_THAT(run(kernel, {}, {buf(p, DType::bf16), LaunchArg::i32(16),
                               LaunchArg::i32(1)}),
              HasSubstr("kernel 'sig' takes 2 arguments, got 3"));
  EXPECT_EQ(p, std::vector<uint16_t>(16, 1)) << "nothing ran";
  EXPECT_EQ(run(kernel, {}, {buf(p, DType::bf16), LaunchArg::i32(16)}), "");
  EXPECT_EQ(p, std::vector<uint16_t>(16, 0));
}

TEST(Interpreter, LaunchArgumentKindMismatch) {
  Kernel kernel = twoArgKernel();
  std::vector<uint16_t> p(16, 1);
  EXPECT_THAT(run(kernel, {}, {LaunchArg::i32(3), LaunchArg::i32(16)}),
              HasSubstr("argument 0 ('p'): expected a pointer, got a scalar"));
  EXPECT_THAT(run(kernel, {}, {buf(p, DType::bf16), buf(p, DType::i32)}),
              HasSubstr("argument 1 ('n'): expected a scalar, got a pointer"));
}

TEST(Interpreter, LaunchArgumentDtypeMismatch) {
  Kernel kernel = twoArgKernel();
  std::vector<uint16_t> p(16, 1);
  EXPECT_THAT(run(kernel, {}, {buf(p, DType::f16), LaunchArg::i32(16)}),
              HasSubstr("argument 0 ('p'): expected dtype bf16, got f16"));
  EXPECT_THAT(run(kernel, {}, {buf(p, DType::bf16), LaunchArg::i64(16)}),
              HasSubstr("argument 1 ('n'): expected dtype i32, got i64"));
  EXPECT_THAT(run(kernel, {}, {buf(p, DType::bf16), LaunchArg::f32(16)}),
              HasSubstr("argument 1 ('n'): expected dtype i32, got f32"));
}

TEST(Interpreter, LaunchRejectsNullPointerAndEmptyGrid) {
  Kernel kernel = twoArgKernel();
  std::vector<uint16_t> p(16, 1);
  EXPECT_THAT(run(kernel, {}, {LaunchArg::buffer(nullptr, 32, DType::bf16),
                               LaunchArg::i32(16)}),
              HasSubstr("argument 0 ('p'): null pointer"));
  EXPECT_THAT(run(kernel, {2, 0, 1}, {buf(p, DType::bf16), LaunchArg::i32(16)}),
              HasSubstr("grid (2, 0, 1) has an empty dimension"));
}

//===----------------------------------------------------------------------===//
// The README's DSL example
//===----------------------------------------------------------------------===//

// README.md shows this kernel; keep the two in step. Causal linear attention
// without decay, o_t = q_t Σ_{j≤t} k_jᵀ v_j, one (batch, head) per program in
// blocks of C rows: masked attention inside the block plus the running state.
llvm::Expected<Kernel> linearAttention(int C, int D, int E) {
  KernelBuilder kb("linear_attention");
  Tile q = kb.ptrArg("q", DType::bf16), k = kb.ptrArg("k", DType::bf16),
       v = kb.ptrArg("v", DType::bf16), o = kb.ptrArg("o", DType::bf16);
  Tile n = kb.scalarArg("n", DType::i32);
  Tile bh = programId(0).to(DType::i64);
  Tile rows = arange(0, C), dcols = arange(0, D), ecols = arange(0, E);
  Tile causal = column(rows) >= row(rows);

  kb.forRange(0, cdiv(n, C), {zeros({D, E}, DType::f32)},
              [&](Tile blk, std::vector<Tile> carried) {
    Tile kv = carried[0];                    // state of the blocks before, fp32
    Tile r = blk * C + rows;                 // this block's rows
    Tile mask = column(r < n);               // the last block may be short
    Tile qb = load(q + bh * n * D + column(r) * D + row(dcols), mask);
    Tile kb_ = load(k + bh * n * D + column(r) * D + row(dcols), mask);
    Tile vb = load(v + bh * n * E + column(r) * E + row(ecols), mask);

    Tile scores = where(causal, dot(qb, trans(kb_)), 0.0);
    Tile out = dot(scores.to(DType::bf16), vb) + dot(qb, kv.to(DType::bf16));
    store(o + bh * n * E + column(r) * E + row(ecols), out.to(DType::bf16), mask);
    return std::vector<Tile>{kv + dot(trans(kb_), vb)};
  });
  return kb.finish();
}

TEST(Interpreter, ReadmeExampleComputesCausalLinearAttention) {
  const int64_t BH = 3, N = 100, D = 32, E = 16;
  auto kernel = linearAttention(32, D, E);
  ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());
  std::vector<float> q = randomFloats(BH * N * D, DType::bf16),
                     k = randomFloats(BH * N * D, DType::bf16),
                     v = randomFloats(BH * N * E, DType::bf16);
  std::vector<uint16_t> qb = toBits(q, DType::bf16), kb = toBits(k, DType::bf16),
                        vb = toBits(v, DType::bf16);
  std::vector<uint16_t> o(BH * N * E, floatToBF16Bits(NAN));
  ASSERT_EQ(run(*kernel, {BH, 1, 1},
                {buf(qb, DType::bf16), buf(kb, DType::bf16), buf(vb, DType::bf16),
                 buf(o, DType::bf16), LaunchArg::i32(N)}),
            "");
  reference::Problem p;
  p.batch = 1, p.heads = BH, p.seq = N, p.d = D, p.e = E;
  p.q.assign(q.begin(), q.end());
  p.k.assign(k.begin(), k.end());
  p.v.assign(v.begin(), v.end());
  p.slopes.assign(BH, 0.0);
  std::vector<double> got(o.size());
  for (size_t i = 0; i < o.size(); ++i)
    got[i] = bf16BitsToFloat(o[i]);
  double err = reference::relativeError(got, reference::forward(p).o);
  EXPECT_LE(err, 1e-2);
  EXPECT_FALSE(std::isnan(err));
}

} // namespace

namespace {

// A loop with no carried values writes each block as it goes (it used to
// fail with a misplaced scf.yield).
TEST(Interpreter, LoopWithoutCarriedValues) {
  KernelBuilder kb("blocks");
  Tile out = kb.ptrArg("out", DType::f32);
  Tile n = kb.scalarArg("n", DType::i32);
  Tile lanes = arange(0, 16);
  auto results = kb.forRange(0, cdiv(n, 16), {}, [&](Tile blk, std::vector<Tile>) {
    Tile idx = blk * 16 + lanes;
    store(out + idx, (idx * 2).to(DType::f32), idx < n);
    return std::vector<Tile>{};
  });
  EXPECT_TRUE(results.empty());
  Kernel kernel = finishOrDie(kb);
  std::vector<float> o(40, -1.0f);
  ASSERT_EQ(run(kernel, {}, {buf(o, DType::f32), LaunchArg::i32(37)}), "");
  for (int i = 0; i < 40; ++i)
    EXPECT_EQ(o[i], i < 37 ? 2.0f * i : -1.0f) << i;
}

// where() with a number on both sides takes the condition's shape; the
// gates sigmoid, softplus and logsigmoid stay finite and exact to f32
// rounding at |x| = 100, where the textbook forms overflow.
TEST(Interpreter, WhereOfTwoNumbersAndGates) {
  KernelBuilder kb("gates");
  Tile x = kb.ptrArg("x", DType::f32), out = kb.ptrArg("out", DType::f32);
  Tile i = arange(0, 8);
  Tile v = load(x + i);
  store(out + i, where(v > 0.0, 1.0, 0.0));
  store(out + 8 + i, sigmoid(v));
  store(out + 16 + i, softplus(v));
  store(out + 24 + i, logsigmoid(v));
  store(out + 32 + i, where(v > 0.0, 3, -3).to(DType::f32));
  Kernel kernel = finishOrDie(kb);
  std::vector<float> in{-100.0f, -5.0f, -0.5f, 0.0f, 0.25f, 3.0f, 30.0f, 100.0f};
  std::vector<float> o(40);
  ASSERT_EQ(run(kernel, {}, {buf(in, DType::f32), buf(o, DType::f32)}), "");
  for (int k = 0; k < 8; ++k) {
    double t = in[k];
    double sp = std::max(t, 0.0) + std::log1p(std::exp(-std::fabs(t)));
    EXPECT_EQ(o[k], t > 0 ? 1.0f : 0.0f) << k;
    EXPECT_NEAR(o[8 + k], 1.0 / (1.0 + std::exp(-t)), 1e-6) << k;
    EXPECT_NEAR(o[16 + k], sp, 1e-5 * (1 + sp)) << k;
    EXPECT_NEAR(o[24 + k], -(std::max(-t, 0.0) + std::log1p(std::exp(-std::fabs(t)))),
                1e-5 * (1 + std::fabs(t))) << k;
    EXPECT_EQ(o[32 + k], t > 0 ? 3.0f : -3.0f) << k;
    EXPECT_TRUE(std::isfinite(o[8 + k]) && std::isfinite(o[16 + k]) &&
                std::isfinite(o[24 + k])) << k;
  }
}

} // namespace

namespace {

// min along each axis, and keepdims: the reduced axis stays with size 1 and
// broadcasts back (x − max(x, 1, keepdims) ≤ 0, as a softmax-style shift).
TEST(Interpreter, MinReductionAndKeepdims) {
  KernelBuilder kb("reductions");
  Tile x = kb.ptrArg("x", DType::f32), out = kb.ptrArg("out", DType::f32);
  Tile r = arange(0, 4), c = arange(0, 8);
  Tile t = load(x + column(r) * 8 + row(c)); // 4 × 8
  store(out + r, min(t, 1));
  store(out + 4 + c, min(t, 0));
  Tile shifted = t - max(t, 1, true);            // [4, 8] - [4, 1]
  store(out + 12 + column(r) * 8 + row(c), shifted);
  Tile colSums = sum(t, 0, true);                // [1, 8]
  store(out + 44 + c, reshape(colSums, {8}));
  store(out + 52, min(min(t, 1), 0));
  Kernel kernel = finishOrDie(kb);
  std::vector<float> in = randomFloats(32);
  std::vector<float> o(53);
  ASSERT_EQ(run(kernel, {}, {buf(in, DType::f32), buf(o, DType::f32)}), "");
  float all = in[0];
  for (int i = 0; i < 4; ++i) {
    float rowMin = in[i * 8], rowMax = in[i * 8];
    for (int j = 0; j < 8; ++j) {
      rowMin = std::min(rowMin, in[i * 8 + j]);
      rowMax = std::max(rowMax, in[i * 8 + j]);
      all = std::min(all, in[i * 8 + j]);
    }
    EXPECT_EQ(o[i], rowMin) << i;
    for (int j = 0; j < 8; ++j)
      EXPECT_EQ(o[12 + i * 8 + j], in[i * 8 + j] - rowMax) << i << "," << j;
  }
  for (int j = 0; j < 8; ++j) {
    float colMin = in[j], colSum = 0;
    for (int i = 0; i < 4; ++i) {
      colMin = std::min(colMin, in[i * 8 + j]);
      colSum += in[i * 8 + j];
    }
    EXPECT_EQ(o[4 + j], colMin) << j;
    EXPECT_NEAR(o[44 + j], colSum, 1e-5) << j;
  }
  EXPECT_EQ(o[52], all);
}

// cumsum along each axis of a 2-D tile, inclusive and exclusive, forward
// and reverse, against sums in f32 steps; and on i32, wrapping.
TEST(Interpreter, CumsumAlongEachAxisBothWays) {
  KernelBuilder kb("running_sums");
  Tile x = kb.ptrArg("x", DType::f32), out = kb.ptrArg("out", DType::f32);
  Tile xi = kb.ptrArg("xi", DType::i32), outi = kb.ptrArg("outi", DType::i32);
  Tile r = arange(0, 4), c = arange(0, 8);
  Tile at = column(r) * 8 + row(c);
  Tile t = load(x + at); // 4 × 8
  store(out + at, cumsum(t, 0));
  store(out + 32 + at, cumsum(t, 1, /*exclusive=*/true));
  store(out + 64 + at, cumsum(t, 1, /*exclusive=*/false, /*reverse=*/true));
  store(out + 96 + at, cumsum(t, 0, /*exclusive=*/true, /*reverse=*/true));
  store(outi + c, cumsum(load(xi + c), 0));
  Kernel kernel = finishOrDie(kb);
  std::vector<float> in = randomFloats(32);
  std::vector<float> o(128, -1.0f);
  std::vector<int32_t> ints{2147483647, 1, 5, -7, 0, 3, -2147483647 - 1, 9};
  std::vector<int32_t> oi(8, 0);
  ASSERT_EQ(run(kernel, {}, {buf(in, DType::f32), buf(o, DType::f32),
                             buf(ints, DType::i32), buf(oi, DType::i32)}),
            "");
  auto v = [&](int i, int j) { return in[i * 8 + j]; };
  for (int j = 0; j < 8; ++j) {
    float down = 0, up = 0;
    for (int i = 0; i < 4; ++i) {
      down += v(i, j);
      EXPECT_EQ(o[i * 8 + j], down) << i << "," << j;
    }
    for (int i = 3; i >= 0; --i) {
      EXPECT_EQ(o[96 + i * 8 + j], up) << "exclusive reverse " << i << "," << j;
      up += v(i, j);
    }
  }
  for (int i = 0; i < 4; ++i) {
    float right = 0, left = 0;
    for (int j = 0; j < 8; ++j) {
      EXPECT_EQ(o[32 + i * 8 + j], right) << "exclusive " << i << "," << j;
      right += v(i, j);
    }
    for (int j = 7; j >= 0; --j) {
      left += v(i, j);
      EXPECT_EQ(o[64 + i * 8 + j], left) << "reverse " << i << "," << j;
    }
  }
  uint32_t acc = 0;
  for (int j = 0; j < 8; ++j) {
    acc += static_cast<uint32_t>(ints[j]);
    EXPECT_EQ(oi[j], static_cast<int32_t>(acc)) << j;
  }
}

} // namespace
