// The CUDA runtime layer on a real device: properties, device memory, events,
// PTX through the driver JIT and cubins from ptxas, argument packing, and a
// launch above 48 KiB of dynamic shared memory. Skips without a device.
#include "runtime/CudaDriver.h"
#include "runtime/CudaModule.h"
#include "runtime/Ptxas.h"

#include "gtest/gtest.h"

#include <cstdint>
#include <cstring>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

using namespace tessel;

namespace {

#define ASSERT_OK(expr)                                                        \
  do {                                                                         \
    llvm::Error err_ = (expr);                                                 \
    ASSERT_FALSE(err_) << llvm::toString(std::move(err_));                     \
  } while (0)

/// Unwraps an Expected into `var`, failing the test with its error.
#define ASSERT_EXPECTED(var, expr)                                             \
  auto var##OrErr = (expr);                                                    \
  ASSERT_TRUE(static_cast<bool>(var##OrErr))                                   \
      << llvm::toString(var##OrErr.takeError());                               \
  auto &var = *var##OrErr

template <typename T> std::string errorOf(llvm::Expected<T> value) {
  if (value)
    return "";
  return llvm::toString(value.takeError());
}
std::string errorOf(llvm::Error err) { return llvm::toString(std::move(err)); }

// Test fixtures (not kernel bodies). `.target sm_80` PTX is JIT-compiled for
// any newer device.
const char *kNoop = ".version 8.0\n"
                    ".target sm_80\n"
                    ".address_size 64\n"
                    ".visible .entry noop() { ret; }\n";

/// Writes its scalar parameters to out[0..24): a (i32) at 0, b (i64) at 8,
/// c (f32) at 16, so the host can check each was packed as its C type.
const char *kStoreArgs = R"(.version 8.0
.target sm_80
.address_size 64
.visible .entry store_args(.param .u64 out, .param .u32 a, .param .u64 b,
                           .param .f32 c)
{
  .reg .b32 %r<2>;
  .reg .b64 %rd<4>;
  .reg .f32 %f<2>;
  ld.param.u64 %rd1, [out];
  cvta.to.global.u64 %rd2, %rd1;
  ld.param.u32 %r1, [a];
  ld.param.u64 %rd3, [b];
  ld.param.f32 %f1, [c];
  st.global.u32 [%rd2], %r1;
  st.global.u64 [%rd2+8], %rd3;
  st.global.f32 [%rd2+16], %f1;
  ret;
}
)";

/// Thread t writes t+1 into the word `bytes - 4 - 4t` of dynamic shared
/// memory; after a barrier thread t reads the word of thread ntid-1-t and
/// stores it to out[t]. Thread 0's word is the last of the allocation.
const char *kDynamicShared = R"(.version 8.0
.target sm_80
.address_size 64
.extern .shared .align 16 .b8 smem[];
.visible .entry smem_touch(.param .u64 out, .param .u32 bytes)
{
  .reg .b32 %r<12>;
  .reg .b64 %rd<5>;
  mov.u32 %r1, %tid.x;
  mov.u32 %r2, %ntid.x;
  ld.param.u32 %r3, [bytes];
  mov.u32 %r4, smem;
  add.u32 %r5, %r4, %r3;
  sub.u32 %r5, %r5, 4;
  shl.b32 %r6, %r1, 2;
  sub.u32 %r7, %r5, %r6;
  add.u32 %r8, %r1, 1;
  st.shared.u32 [%r7], %r8;
  bar.sync 0;
  sub.u32 %r9, %r2, 1;
  sub.u32 %r9, %r9, %r1;
  shl.b32 %r10, %r9, 2;
  sub.u32 %r10, %r5, %r10;
  ld.shared.u32 %r11, [%r10];
  ld.param.u64 %rd1, [out];
  cvta.to.global.u64 %rd2, %rd1;
  mul.wide.u32 %rd3, %r1, 4;
  add.s64 %rd4, %rd2, %rd3;
  st.global.u32 [%rd4], %r11;
  ret;
}
)";

class CudaRuntime : public testing::Test {
protected:
  void SetUp() override {
    auto d = getCudaDevice(0);
    if (!d)
      GTEST_SKIP() << llvm::toString(d.takeError());
    device = &*d;
  }
  CudaDevice *device = nullptr;

  /// Launches store_args from `module` and checks what the kernel wrote.
  void checkStoreArgs(const CudaModule &module) {
    ASSERT_EXPECTED(fn, module.function("store_args"));
    ASSERT_EXPECTED(out, DeviceBuffer::allocate(*device, 24));
    ASSERT_OK(out.memset(0));
    int64_t big = 0x123456789abcdef0LL;
    ASSERT_OK(fn.launch(Grid{}, 1, 0,
                        {out.arg(DType::i32), LaunchArg::i32(-123456),
                         LaunchArg::i64(big), LaunchArg::f32(3.5f)}));
    ASSERT_OK(device->synchronize());
    unsigned char host[24];
    ASSERT_OK(out.copyToHost(host, sizeof(host)));
    int32_t a;
    int64_t b;
    float c;
    std::memcpy(&a, host, 4);
    std::memcpy(&b, host + 8, 8);
    std::memcpy(&c, host + 16, 4);
    EXPECT_EQ(a, -123456);
    EXPECT_EQ(b, big);
    EXPECT_EQ(c, 3.5f);
  }
};

TEST_F(CudaRuntime, DevicePropertiesAreSane) {
  const CudaDeviceProperties &p = device->properties();
  EXPECT_EQ(p.ordinal, 0);
  EXPECT_FALSE(p.name.empty());
  EXPECT_GT(p.smCount, 0);
  EXPECT_GE(p.computeMajor, 7);
  EXPECT_GE(p.computeMinor, 0);
  EXPECT_GE(p.maxSharedPerBlockOptin, 48 * 1024);
  EXPECT_GE(p.driverVersion, 12000);
  EXPECT_EQ(p.arch().rfind("sm_" + std::to_string(p.computeMajor), 0), 0u);
  // One object per ordinal.
  ASSERT_EXPECTED(again, getCudaDevice(0));
  EXPECT_EQ(&again, device);
  ASSERT_EXPECTED(count, cudaDeviceCount());
  EXPECT_GE(count, 1);
  EXPECT_NE(errorOf(getCudaDevice(count)).find("out of range"),
            std::string::npos);
  EXPECT_TRUE(cudaAvailable());
  std::printf("device 0: %s, %d SMs, %s, %d bytes smem opt-in, driver %d\n",
              p.name.c_str(), p.smCount, p.arch().c_str(),
              p.maxSharedPerBlockOptin, p.driverVersion);
}

TEST_F(CudaRuntime, MemoryRoundTrip) {
  constexpr size_t n = 1 << 20;
  std::vector<uint32_t> in(n), out(n, 0);
  std::iota(in.begin(), in.end(), 7u);
  ASSERT_EXPECTED(buffer, DeviceBuffer::allocate(*device, n * 4));
  EXPECT_EQ(buffer.size(), n * 4);
  EXPECT_NE(buffer.address(), 0u);
  ASSERT_OK(buffer.copyFromHost(in.data(), n * 4));
  ASSERT_OK(buffer.copyToHost(out.data(), n * 4));
  EXPECT_EQ(in, out);
  // At an offset.
  uint32_t word = 0;
  ASSERT_OK(buffer.copyToHost(&word, 4, 4 * 1000));
  EXPECT_EQ(word, 1007u);
  EXPECT_NE(errorOf(buffer.copyToHost(&word, 8, n * 4 - 4)).find("expected "
                                                                  "within"),
            std::string::npos);
  EXPECT_NE(errorOf(DeviceBuffer::allocate(*device, 0)).find("got 0"),
            std::string::npos);
  // Moves transfer ownership; release frees now.
  DeviceBuffer moved = std::move(buffer);
  EXPECT_FALSE(static_cast<bool>(buffer));
  ASSERT_OK(moved.release());
  EXPECT_FALSE(static_cast<bool>(moved));
}

TEST_F(CudaRuntime, DeviceBuffersCountTheirBytesAndTheHighWaterMark) {
  size_t before = DeviceBuffer::liveBytes();
  DeviceBuffer::resetPeakBytes();
  EXPECT_EQ(DeviceBuffer::peakBytes(), before);
  {
    ASSERT_EXPECTED(a, DeviceBuffer::allocate(*device, 1 << 20));
    EXPECT_EQ(DeviceBuffer::liveBytes(), before + (1 << 20));
    {
      ASSERT_EXPECTED(b, DeviceBuffer::allocate(*device, 3 << 20));
      DeviceBuffer moved = std::move(b); // a move neither adds nor frees
      EXPECT_EQ(DeviceBuffer::liveBytes(), before + (4 << 20));
    }
    EXPECT_EQ(DeviceBuffer::liveBytes(), before + (1 << 20));
    EXPECT_EQ(errorOf(a.release()), "");
  }
  EXPECT_EQ(DeviceBuffer::liveBytes(), before);
  EXPECT_EQ(DeviceBuffer::peakBytes(), before + (4 << 20));
}

TEST_F(CudaRuntime, Memset) {
  ASSERT_EXPECTED(buffer, DeviceBuffer::allocate(*device, 4096));
  ASSERT_OK(buffer.memset(0x00));
  ASSERT_OK(buffer.memset(0xab, 100, 50));
  std::vector<unsigned char> host(4096, 0x11);
  ASSERT_OK(buffer.copyToHost(host.data(), host.size()));
  for (size_t i = 0; i < host.size(); ++i)
    ASSERT_EQ(host[i], (i >= 50 && i < 150) ? 0xab : 0x00) << i;
}

TEST_F(CudaRuntime, WorksFromAnotherThread) {
  // The current context is per thread; the wrappers must bind it themselves.
  std::string failure;
  std::thread worker([&] {
    auto buffer = DeviceBuffer::allocate(*device, 64);
    if (!buffer) {
      failure = llvm::toString(buffer.takeError());
      return;
    }
    uint64_t v = 42, back = 0;
    if (llvm::Error err = buffer->copyFromHost(&v, 8))
      failure = llvm::toString(std::move(err));
    else if (llvm::Error err = buffer->copyToHost(&back, 8))
      failure = llvm::toString(std::move(err));
    else if (back != 42)
      failure = "read back " + std::to_string(back);
  });
  worker.join();
  EXPECT_EQ(failure, "");
}

TEST_F(CudaRuntime, EventTiming) {
  ASSERT_EXPECTED(start, CudaEvent::create(*device));
  ASSERT_EXPECTED(stop, CudaEvent::create(*device));
  ASSERT_EXPECTED(buffer, DeviceBuffer::allocate(*device, 64 << 20));
  ASSERT_OK(start.record());
  for (int i = 0; i < 4; ++i)
    ASSERT_OK(buffer.memset(uint8_t(i)));
  ASSERT_OK(stop.record());
  ASSERT_EXPECTED(ms, CudaEvent::elapsedMs(start, stop));
  EXPECT_GE(ms, 0.0f);
  EXPECT_LT(ms, 10000.0f);
}

TEST_F(CudaRuntime, JitNoopAndLaunch) {
  ASSERT_EXPECTED(module, CudaModule::loadPtx(*device, kNoop));
  ASSERT_EXPECTED(fn, module.function("noop"));
  EXPECT_EQ(fn.name(), "noop");
  EXPECT_GE(fn.registers(), 0);
  EXPECT_GE(fn.maxThreadsPerBlock(), 128);
  ASSERT_OK(fn.launch(Grid{4, 2, 1}, 128, 0, {}));
  ASSERT_OK(device->synchronize());

  std::string missing = errorOf(module.function("nope"));
  EXPECT_NE(missing.find("cuModuleGetFunction failed: CUDA_ERROR_NOT_FOUND"),
            std::string::npos)
      << missing;
  EXPECT_NE(errorOf(fn.launch(Grid{1, 70000, 1}, 32, 0, {})).find("grid"),
            std::string::npos);
  EXPECT_NE(errorOf(fn.launch(Grid{}, 2048, 0, {})).find("threads per block"),
            std::string::npos);
}

TEST_F(CudaRuntime, JitErrorCarriesTheLog) {
  std::string message =
      errorOf(CudaModule::loadPtx(*device, ".version 8.0\n.target sm_80\n"
                                           ".address_size 64\n"
                                           ".visible .entry bad() { foo.bar; "
                                           "}\n"));
  EXPECT_NE(message.find("cuModuleLoadDataEx failed: CUDA_ERROR_INVALID_PTX"),
            std::string::npos)
      << message;
  // The JIT's own diagnostic follows the status.
  EXPECT_NE(message.find("foo"), std::string::npos) << message;
}

TEST_F(CudaRuntime, ScalarArgumentsArePackedAsTheirCTypes) {
  ASSERT_EXPECTED(module, CudaModule::loadPtx(*device, kStoreArgs));
  checkStoreArgs(module);
  {
    // A host pointer would fault on the device; it is refused up front.
    ASSERT_EXPECTED(fn, module.function("store_args"));
    unsigned char host[24];
    std::string message =
        errorOf(fn.launch(Grid{}, 1, 0,
                          {LaunchArg::buffer(host, 24, DType::i32),
                           LaunchArg::i32(1), LaunchArg::i64(2),
                           LaunchArg::f32(3)}));
    EXPECT_NE(message.find("argument 0: expected a device buffer"),
              std::string::npos)
        << message;
  }
  if (!device->api().cuFuncGetParamInfo)
    GTEST_SKIP() << "driver lacks cuFuncGetParamInfo: launches unchecked";
  ASSERT_EXPECTED(fn, module.function("store_args"));
  ASSERT_EXPECTED(out, DeviceBuffer::allocate(*device, 24));
  std::string wrongSize =
      errorOf(fn.launch(Grid{}, 1, 0,
                        {out.arg(DType::i32), LaunchArg::i64(1),
                         LaunchArg::i64(2), LaunchArg::f32(3)}));
  EXPECT_NE(wrongSize.find("argument 1: parameter takes 4 bytes, got a i64 of "
                           "8 bytes"),
            std::string::npos)
      << wrongSize;
  std::string wrongCount = errorOf(
      fn.launch(Grid{}, 1, 0, {out.arg(DType::i32), LaunchArg::i32(1)}));
  EXPECT_NE(wrongCount.find("takes 4 parameters, got 2 arguments"),
            std::string::npos)
      << wrongCount;
  // Told the signature's count, the lookup asks for no index past it (so
  // compute-sanitizer sees no API error) and refuses a kernel with fewer.
  ASSERT_EXPECTED(counted, module.function("store_args", 4));
  std::string counted4 =
      errorOf(counted.launch(Grid{}, 1, 0,
                             {out.arg(DType::i32), LaunchArg::i32(1),
                              LaunchArg::i64(2), LaunchArg::f32(3)}));
  EXPECT_EQ(counted4, "") << counted4;
  std::string tooMany = errorOf(module.function("store_args", 5));
  EXPECT_NE(tooMany.find("kernel 'store_args' has 4 parameters, its signature 5"),
            std::string::npos)
      << tooMany;
}

TEST_F(CudaRuntime, CubinFromPtxas) {
  auto ptxas = findPtxas();
  if (!ptxas)
    GTEST_SKIP() << llvm::toString(ptxas.takeError());
  ASSERT_EXPECTED(assembled, assemblePtx(kStoreArgs, device->properties().arch()));
  ASSERT_EXPECTED(module,
                  CudaModule::load(*device, KernelBinary::cubin(assembled.cubin)));
  EXPECT_EQ(module.jitInfoLog(), "");
  checkStoreArgs(module);
}

TEST_F(CudaRuntime, DynamicSharedMemoryAbove48KiB) {
  const int optin = device->properties().maxSharedPerBlockOptin;
  if (optin <= 48 * 1024)
    GTEST_SKIP() << "device allows only " << optin << " bytes of shared memory";
  ASSERT_EXPECTED(module, CudaModule::loadPtx(*device, kDynamicShared));
  ASSERT_EXPECTED(fn, module.function("smem_touch"));
  ASSERT_EQ(fn.staticSharedBytes(), 0);

  // All of it: thread 0's word is the very last one.
  const int threads = 256;
  const size_t bytes = static_cast<size_t>(optin);
  ASSERT_EXPECTED(out, DeviceBuffer::allocate(*device, threads * 4));
  ASSERT_OK(out.memset(0));
  ASSERT_OK(fn.launch(Grid{}, threads, bytes,
                      {out.arg(DType::i32),
                       LaunchArg::i32(static_cast<int32_t>(bytes))}));
  ASSERT_OK(device->synchronize());
  std::vector<uint32_t> host(threads);
  ASSERT_OK(out.copyToHost(host.data(), threads * 4));
  for (int t = 0; t < threads; ++t)
    ASSERT_EQ(host[t], uint32_t(threads - t)) << "thread " << t;

  std::string tooMuch = errorOf(
      fn.launch(Grid{}, threads, bytes + 16,
                {out.arg(DType::i32), LaunchArg::i32(int32_t(bytes))}));
  EXPECT_NE(tooMuch.find("bytes of dynamic shared memory requested, expected "
                         "at most " +
                         std::to_string(optin)),
            std::string::npos)
      << tooMuch;
}

} // namespace
