// The CUDA driver layer without a GPU: a missing or wrong libcuda is a clear
// error and never a crash, CUDA statuses are formatted with their call, and
// the device-memory, event and module wrappers refuse to work when empty.
#include "runtime/CudaDriver.h"
#include "runtime/CudaModule.h"

#include "gtest/gtest.h"

#include <dlfcn.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "tests/unit/ScopedEnv.h"

using namespace tessel;

namespace {

using tessel::test::ScopedEnv;

template <typename T> std::string errorOf(llvm::Expected<T> value) {
  if (value)
    return "";
  return llvm::toString(value.takeError());
}

std::string errorOf(llvm::Error err) { return llvm::toString(std::move(err)); }

TEST(CudaDriver, LibraryPathFollowsOverride) {
  {
    ScopedEnv env("TESSEL_LIBCUDA", nullptr);
    EXPECT_EQ(cudaLibraryPath(), "libcuda.so.1");
  }
  ScopedEnv env("TESSEL_LIBCUDA", "/opt/driver/libcuda.so.1");
  EXPECT_EQ(cudaLibraryPath(), "/opt/driver/libcuda.so.1");
}

TEST(CudaDriver, MissingLibraryIsAClearError) {
  ScopedEnv env("TESSEL_LIBCUDA", "/nonexistent/libcuda.so.1");
  std::string expected = "no CUDA driver (/nonexistent/libcuda.so.1 not "
                         "found): ";
  std::string deviceError = errorOf(getCudaDevice(0));
  EXPECT_EQ(deviceError.rfind(expected, 0), 0u) << deviceError;
  // dlerror()'s reason follows the prefix.
  EXPECT_NE(deviceError.find("No such file"), std::string::npos)
      << deviceError;
  // Asked again (the failure is cached), through every entry point.
  EXPECT_EQ(errorOf(getCudaDevice(1)), deviceError);
  EXPECT_EQ(errorOf(getCudaDriver()), deviceError);
  EXPECT_EQ(errorOf(cudaDeviceCount()), deviceError);
  EXPECT_FALSE(cudaAvailable());
}

TEST(CudaDriver, LibraryWithoutDriverEntryPointsIsRejected) {
  // A real shared library that is not the driver: every entry point missing.
  ScopedEnv env("TESSEL_LIBCUDA", "libm.so.6");
  std::string message = errorOf(getCudaDevice(0));
  EXPECT_EQ(message.rfind("no usable CUDA driver: libm.so.6 lacks the entry "
                          "points cuGetErrorName, ",
                          0),
            0u)
      << message;
  EXPECT_NE(message.find("cuMemAlloc_v2"), std::string::npos) << message;
  EXPECT_NE(message.find("cuEventElapsedTime"), std::string::npos) << message;
  // Optional entry points are not demanded.
  EXPECT_EQ(message.find("cuFuncGetParamInfo"), std::string::npos) << message;
  EXPECT_FALSE(cudaAvailable());
}

TEST(CudaDriver, DefaultLibraryAnswersEitherWay) {
  ScopedEnv env("TESSEL_LIBCUDA", nullptr);
  void *probe = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  auto device = getCudaDevice(0);
  if (!probe) {
    // This machine (and CI): no driver at all.
    ASSERT_FALSE(device);
    std::string message = llvm::toString(device.takeError());
    EXPECT_EQ(message.rfind("no CUDA driver (libcuda.so.1 not found): ", 0),
              0u)
        << message;
    EXPECT_FALSE(cudaAvailable());
    return;
  }
  dlclose(probe);
  // A driver is installed: either a device opens with sane properties, or
  // the error comes from the driver (e.g. cuInit: no device), not from
  // loading it.
  if (device) {
    EXPECT_FALSE(device->properties().name.empty());
    EXPECT_GT(device->properties().smCount, 0);
    EXPECT_TRUE(cudaAvailable());
  } else {
    std::string message = llvm::toString(device.takeError());
    EXPECT_EQ(message.find("not found"), std::string::npos) << message;
    EXPECT_NE(message.find("failed: CUDA_ERROR_"), std::string::npos)
        << message;
  }
}

TEST(CudaDriver, CheckCudaNamesTheCallAndStatus) {
  CudaDriverApi api; // No driver: statuses print as numbers.
  EXPECT_FALSE(llvm::errorToBool(checkCuda(api, CUDA_SUCCESS, "cuInit")));
  EXPECT_EQ(errorOf(checkCuda(api, CUDA_ERROR_INVALID_PTX,
                              "cuModuleLoadDataEx", "line 4: syntax error")),
            "cuModuleLoadDataEx failed: CUresult 218: line 4: syntax error");
  EXPECT_EQ(errorOf(checkCuda(api, CUDA_ERROR_OUT_OF_MEMORY, "cuMemAlloc_v2")),
            "cuMemAlloc_v2 failed: CUresult 2");
}

TEST(CudaDriver, ArchFromComputeCapability) {
  auto arch = [](int major, int minor) {
    CudaDeviceProperties p;
    p.computeMajor = major;
    p.computeMinor = minor;
    return p.arch();
  };
  EXPECT_EQ(arch(8, 0), "sm_80");
  EXPECT_EQ(arch(8, 6), "sm_86");
  EXPECT_EQ(arch(8, 9), "sm_89");
  EXPECT_EQ(arch(9, 0), "sm_90a");
  EXPECT_EQ(arch(10, 0), "sm_100");
}

TEST(CudaDriver, EmptyWrappersRefuseToWork) {
  DeviceBuffer buffer;
  EXPECT_FALSE(static_cast<bool>(buffer));
  char host[4] = {};
  EXPECT_NE(errorOf(buffer.copyFromHost(host, 4)).find("buffer is empty"),
            std::string::npos);
  EXPECT_NE(errorOf(buffer.copyToHost(host, 4)).find("buffer is empty"),
            std::string::npos);
  EXPECT_NE(errorOf(buffer.memset(0)).find("buffer is empty"),
            std::string::npos);
  EXPECT_FALSE(llvm::errorToBool(buffer.release()));
  // A buffer's launch argument is marked as device memory, so launchers pass
  // it through instead of staging it as host memory.
  LaunchArg arg = buffer.arg(DType::f32);
  EXPECT_EQ(arg.kind, KernelArg::Kind::Pointer);
  EXPECT_TRUE(arg.onDevice);
  EXPECT_EQ(arg.dtype, DType::f32);

  CudaEvent a, b;
  EXPECT_NE(errorOf(a.record()).find("event is empty"), std::string::npos);
  EXPECT_NE(errorOf(CudaEvent::elapsedMs(a, b)).find("got an empty one"),
            std::string::npos);

  CudaModule module;
  EXPECT_NE(errorOf(module.function("noop")).find("module is empty"),
            std::string::npos);
  CudaFunction function;
  EXPECT_NE(errorOf(function.launch(Grid{}, 32, 0, {})).find("empty"),
            std::string::npos);
}

} // namespace
