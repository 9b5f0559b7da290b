// lightningDecode on the GPU: a prefill by the forward, then one decode step
// per token, gives the forward's outputs and final state over the whole
// sequence (f32). Skipped where no GPU is usable.
#include "kernels/Lightning.h"
#include "kernels/LightningCheck.h"
#include "kernels/Reference.h"
#include "runtime/CudaDriver.h"

#include "gtest/gtest.h"

#include <optional>
#include <random>

using namespace tessel;

namespace {

TEST(LightningDecodeGpu, StepsContinueAPrefillAsTheForwardDoes) {
  if (!cudaAvailable())
    GTEST_SKIP() << "no usable CUDA device";
  auto device = getCudaDevice(0);
  ASSERT_TRUE(static_cast<bool>(device)) << llvm::toString(device.takeError());
  // E = 80 leaves a partial block of columns; N - prefill = 63 steps.
  const int64_t B = 2, H = 3, N = 100, D = 48, E = 80, prefill = 37;
  std::mt19937_64 rng(std::random_device{}());
  std::normal_distribution<float> dist(0.0f, 1.0f);
  auto random = [&](int64_t n) {
    std::vector<float> x(n);
    for (float &e : x)
      e = dist(rng);
    return x;
  };
  std::vector<float> q = random(B * H * N * D), k = random(B * H * N * D),
                     v = random(B * H * N * E), s0 = random(B * H * D * E),
                     slopes = alibiSlopes(H);
  auto upload = [&](const std::vector<float> &x) {
    auto buf = DeviceBuffer::allocate(*device, x.size() * 4);
    EXPECT_TRUE(static_cast<bool>(buf));
    EXPECT_FALSE(static_cast<bool>(buf->copyFromHost(x.data(), x.size() * 4)));
    return std::move(*buf);
  };
  DeviceBuffer dq = upload(q), dk = upload(k), dv = upload(v),
               dSlopes = upload(slopes), dS0 = upload(s0),
               dFull = upload(std::vector<float>(B * H * N * E)),
               dSFull = upload(std::vector<float>(s0.size())),
               dO = upload(std::vector<float>(B * H * N * E, NAN)),
               dState = upload(std::vector<float>(s0.size()));
  auto rows = [&](const DeviceBuffer &buf, int64_t width, int64_t first,
                  int64_t count) {
    TensorRef r;
    r.data = reinterpret_cast<void *>(buf.address() + first * width * 4);
    r.dtype = DType::f32;
    r.shape = {B, H, count, width};
    r.strides = {H * N * width, N * width, width, 1};
    r.onDevice = true;
    return r;
  };
  auto whole = [&](const DeviceBuffer &buf, std::vector<int64_t> shape) {
    TensorRef r;
    r.data = reinterpret_cast<void *>(buf.address());
    r.dtype = DType::f32;
    r.shape = std::move(shape);
    r.onDevice = true;
    return r;
  };
  LightningOptions gpu;
  gpu.backend = Backend::Gpu;

  LightningForwardArgs f;
  f.q = rows(dq, D, 0, N), f.k = rows(dk, D, 0, N), f.v = rows(dv, E, 0, N);
  f.o = rows(dFull, E, 0, N);
  f.slopes = whole(dSlopes, {H});
  f.scale = 0.75f;
  f.initialState = whole(dS0, {B, H, D, E});
  f.finalState = whole(dSFull, {B, H, D, E});
  ASSERT_FALSE(static_cast<bool>(lightningForward(f, gpu)));

  LightningForwardArgs p = f;
  p.q = rows(dq, D, 0, prefill), p.k = rows(dk, D, 0, prefill);
  p.v = rows(dv, E, 0, prefill), p.o = rows(dO, E, 0, prefill);
  p.finalState = whole(dState, {B, H, D, E});
  // The default program shape, and the others the bench times.
  const std::optional<kernels::PassConfig> configs[] = {
      std::nullopt, kernels::PassConfig{64, 64, 4},
      kernels::PassConfig{64, 128, 8}};
  for (const auto &config : configs) {
    SCOPED_TRACE(config ? config->str() : "default");
    ASSERT_FALSE(static_cast<bool>(dState.memset(0)));
    ASSERT_FALSE(static_cast<bool>(dO.memset(0xff))); // NaN
    ASSERT_FALSE(static_cast<bool>(lightningForward(p, gpu)));
    gpu.decodeConfig = config;
    for (int64_t t = prefill; t < N; ++t) {
      LightningDecodeArgs d;
      d.q = rows(dq, D, t, 1), d.k = rows(dk, D, t, 1), d.v = rows(dv, E, t, 1);
      d.o = rows(dO, E, t, 1);
      d.slopes = f.slopes;
      d.scale = f.scale;
      d.state = whole(dState, {B, H, D, E});
      auto err = lightningDecode(d, gpu);
      ASSERT_FALSE(static_cast<bool>(err)) << llvm::toString(std::move(err));
    }
    auto download = [&](const DeviceBuffer &buf, size_t n) {
      std::vector<double> x(n);
      std::vector<float> f32(n);
      EXPECT_FALSE(static_cast<bool>(buf.copyToHost(f32.data(), n * 4)));
      for (size_t i = 0; i < n; ++i)
        x[i] = f32[i];
      return x;
    };
    auto o = download(dO, B * H * N * E),
         oFull = download(dFull, B * H * N * E);
    for (double x : o)
      ASSERT_FALSE(std::isnan(x)) << "an output row was not written";
    // The forward's f32 dots run in TF32 (1e-3 of float64, as checkLightning
    // holds it); the decode step is plain f32: within twice that.
    EXPECT_LE(reference::relativeError(o, oFull), 2e-3);
    EXPECT_LE(reference::relativeError(download(dState, s0.size()),
                                       download(dSFull, s0.size())),
              2e-3);
  }
}

TEST(LightningDecodeGpu, Bf16DecodeAfterAPrefillMatchesTheReference) {
  if (!cudaAvailable())
    GTEST_SKIP() << "no usable CUDA device";
  // (b, n, h, d) bf16, E = 80 and D = 48: 40 forward tokens, then 60 steps.
  LightningProblem p;
  p.batch = 2, p.heads = 4, p.seq = 100, p.d = 48, p.e = 80;
  p.layout = Layout::BNHD;
  p.slopes = alibiSlopes(p.heads);
  p.initialState = p.finalState = true;
  p.decodeSteps = 60;
  p.seed = std::random_device{}();
  LightningOptions gpu;
  gpu.backend = Backend::Gpu;
  auto result = checkLightning(p, gpu);
  ASSERT_TRUE(static_cast<bool>(result)) << llvm::toString(result.takeError());
  ASSERT_EQ(result->errors.size(), 2u);
  for (auto &[name, err] : result->errors)
    EXPECT_LE(err, result->tolerance) << name << " on " << p.str();
}

} // namespace
