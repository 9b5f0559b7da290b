// The CUDA driver API reached through dlopen("libcuda.so.1") (docs/design.md §2.5),
// so tessel builds and runs without a GPU and lights up where one is present;
// plus the device, device-memory and event wrappers the launcher and tuner use.
#ifndef TESSEL_RUNTIME_CUDADRIVER_H
#define TESSEL_RUNTIME_CUDADRIVER_H

#include "runtime/LaunchArgs.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

// Types and enums only: the driver is never linked, every entry point comes
// from the table below.
#include <cuda.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace tessel {

/// The driver entry points tessel calls, resolved once with dlsym. Members are
/// named after the exact exported symbols: cuda.h maps e.g. `cuMemAlloc` to
/// `cuMemAlloc_v2` with a macro, and dlsym("cuMemAlloc") would return the
/// legacy 32-bit-size ABI, so the versioned names are spelled out.
struct CudaDriverApi {
  decltype(&::cuGetErrorName) cuGetErrorName = nullptr;
  decltype(&::cuGetErrorString) cuGetErrorString = nullptr;
  decltype(&::cuInit) cuInit = nullptr;
  decltype(&::cuDriverGetVersion) cuDriverGetVersion = nullptr;
  decltype(&::cuDeviceGetCount) cuDeviceGetCount = nullptr;
  decltype(&::cuDeviceGet) cuDeviceGet = nullptr;
  decltype(&::cuDeviceGetName) cuDeviceGetName = nullptr;
  decltype(&::cuDeviceGetAttribute) cuDeviceGetAttribute = nullptr;
  decltype(&::cuDevicePrimaryCtxRetain) cuDevicePrimaryCtxRetain = nullptr;
  decltype(&::cuDevicePrimaryCtxRelease_v2) cuDevicePrimaryCtxRelease_v2 =
      nullptr;
  decltype(&::cuCtxSetCurrent) cuCtxSetCurrent = nullptr;
  decltype(&::cuCtxSynchronize) cuCtxSynchronize = nullptr;
  decltype(&::cuStreamSynchronize) cuStreamSynchronize = nullptr;
  decltype(&::cuModuleLoadDataEx) cuModuleLoadDataEx = nullptr;
  decltype(&::cuModuleGetFunction) cuModuleGetFunction = nullptr;
  decltype(&::cuModuleUnload) cuModuleUnload = nullptr;
  decltype(&::cuFuncSetAttribute) cuFuncSetAttribute = nullptr;
  decltype(&::cuFuncGetAttribute) cuFuncGetAttribute = nullptr;
  decltype(&::cuLaunchKernel) cuLaunchKernel = nullptr;
  decltype(&::cuMemAlloc_v2) cuMemAlloc_v2 = nullptr;
  decltype(&::cuMemFree_v2) cuMemFree_v2 = nullptr;
  decltype(&::cuMemcpyHtoD_v2) cuMemcpyHtoD_v2 = nullptr;
  decltype(&::cuMemcpyDtoH_v2) cuMemcpyDtoH_v2 = nullptr;
  decltype(&::cuMemsetD8_v2) cuMemsetD8_v2 = nullptr;
  decltype(&::cuEventCreate) cuEventCreate = nullptr;
  decltype(&::cuEventRecord) cuEventRecord = nullptr;
  decltype(&::cuEventSynchronize) cuEventSynchronize = nullptr;
  /// cuEventElapsedTime_v2 where the driver has it (12.8+), else the original
  /// cuEventElapsedTime; both take the same arguments.
  decltype(&::cuEventElapsedTime_v2) cuEventElapsedTime = nullptr;
  decltype(&::cuEventDestroy_v2) cuEventDestroy_v2 = nullptr;
  /// Optional (driver 12.4+, else null): lets a launch check its packed
  /// arguments against the kernel's parameter sizes.
  decltype(&::cuFuncGetParamInfo) cuFuncGetParamInfo = nullptr;

  /// The library these came from, as passed to dlopen.
  std::string libraryPath;
  /// cuDriverGetVersion: 13000 for CUDA 13.0.
  int driverVersion = 0;
};

/// The library getCudaDriver opens: $TESSEL_LIBCUDA when set (tests point it
/// at a bogus path; deployments at a non-standard driver), else libcuda.so.1.
std::string cudaLibraryPath();

/// The driver from cudaLibraryPath(), opened, resolved and cuInit'ed once per
/// library path and process (thread-safe). Errors say why no driver is usable:
/// "no CUDA driver (libcuda.so.1 not found): <dlerror>", a missing entry
/// point, or cuInit's status (e.g. no device).
llvm::Expected<const CudaDriverApi &> getCudaDriver();

/// Success when `result` is CUDA_SUCCESS, else "<call> failed: <name>
/// (<description>)" followed by ": <detail>" when `detail` is not empty.
llvm::Error checkCuda(const CudaDriverApi &api, CUresult result,
                      llvm::StringRef call, llvm::StringRef detail = {});

/// What the runtime needs to know about a device, queried when it is opened.
struct CudaDeviceProperties {
  int ordinal = 0;
  std::string name;
  int smCount = 0;
  int computeMajor = 0;
  int computeMinor = 0;
  /// Bytes of shared memory one block may use after opting in
  /// (CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN).
  int maxSharedPerBlockOptin = 0;
  /// 32-bit registers available to one block.
  int maxRegistersPerBlock = 0;
  /// Bytes of L2 cache: timing inputs must exceed it.
  int l2Bytes = 0;
  /// cuDriverGetVersion: 13000 for CUDA 13.0.
  int driverVersion = 0;

  /// The ptxas/JIT target: "sm_90a" on compute capability 9.0 (wgmma and TMA
  /// exist only in the arch-specific target), "sm_<major><minor>" elsewhere.
  std::string arch() const;
};

/// One device with its primary context retained. Obtained from
/// getCudaDevice; lives until the process exits.
class CudaDevice {
public:
  CudaDevice(const CudaDevice &) = delete;
  CudaDevice &operator=(const CudaDevice &) = delete;

  const CudaDeviceProperties &properties() const { return props_; }
  const CudaDriverApi &api() const { return *api_; }
  CUdevice handle() const { return device_; }
  CUcontext context() const { return context_; }

  /// Makes this device's primary context current on the calling thread. The
  /// current context is per thread, so every wrapper below calls this first
  /// and callers on fresh threads need nothing more.
  llvm::Error makeCurrent() const;
  /// Waits for all work queued on this device's context.
  llvm::Error synchronize() const;
  /// Waits for the work queued on `stream` (a CUstream of this device's
  /// context; null: the legacy default stream).
  llvm::Error synchronize(CUstream stream) const;
  /// Copies `bytes` at device address `src` (memory the caller owns, such
  /// as a tensor's) to host `dst`, synchronously on the default stream.
  llvm::Error copyToHost(void *dst, CUdeviceptr src, size_t bytes) const;

private:
  friend class CudaDeviceRegistry;
  CudaDevice(const CudaDriverApi &api, CUdevice device, CUcontext context,
             CudaDeviceProperties props)
      : api_(&api), device_(device), context_(context),
        props_(std::move(props)) {}

  const CudaDriverApi *api_;
  CUdevice device_;
  CUcontext context_;
  CudaDeviceProperties props_;
};

/// Device `ordinal`, opened once per process (thread-safe) through
/// getCudaDriver(). Errors: no driver, no device, ordinal out of range, or the
/// failing driver call.
llvm::Expected<CudaDevice &> getCudaDevice(int ordinal = 0);

/// Number of visible devices, or the error that makes the driver unusable.
llvm::Expected<int> cudaDeviceCount();

/// True when device 0 can be opened; the error is dropped.
bool cudaAvailable();

/// Device memory owned by one object: freed when it goes out of scope.
/// Copies are synchronous (cuMemcpy on the legacy default stream).
class DeviceBuffer {
public:
  DeviceBuffer() = default;
  DeviceBuffer(DeviceBuffer &&other) noexcept;
  DeviceBuffer &operator=(DeviceBuffer &&other) noexcept;
  DeviceBuffer(const DeviceBuffer &) = delete;
  DeviceBuffer &operator=(const DeviceBuffer &) = delete;
  ~DeviceBuffer();

  /// Allocates `bytes` (> 0) on `device`; the contents are undefined.
  static llvm::Expected<DeviceBuffer> allocate(CudaDevice &device,
                                               size_t bytes);

  CUdeviceptr address() const { return address_; }
  size_t size() const { return bytes_; }
  explicit operator bool() const { return address_ != 0; }

  /// Copies `bytes` from host `src` to this buffer at byte `offset`.
  llvm::Error copyFromHost(const void *src, size_t bytes, size_t offset = 0);
  /// Copies `bytes` from this buffer at byte `offset` to host `dst`.
  llvm::Error copyToHost(void *dst, size_t bytes, size_t offset = 0) const;
  /// Sets `bytes` bytes from `offset` to `value`; the whole buffer by default.
  llvm::Error memset(uint8_t value, size_t bytes = SIZE_MAX,
                     size_t offset = 0);
  /// This buffer as a pointer launch argument to elements of `elem` (marked
  /// as a device address, so launchers pass it through without staging).
  LaunchArg arg(DType elem) const;
  /// Frees now and reports the driver's status (the destructor cannot).
  llvm::Error release();

  /// Bytes held by all DeviceBuffers of the process (every device), and
  /// the most held at once since the last resetPeakBytes(): what a call
  /// allocates beyond its caller's tensors (the benchmark's high-water mark).
  static size_t liveBytes();
  static size_t peakBytes();
  /// Starts a new high-water mark at the bytes held now.
  static void resetPeakBytes();

private:
  llvm::Error checkRange(llvm::StringRef what, size_t bytes,
                         size_t offset) const;

  CudaDevice *device_ = nullptr;
  CUdeviceptr address_ = 0;
  size_t bytes_ = 0;
};

/// A device event for timing work on the default stream.
class CudaEvent {
public:
  CudaEvent() = default;
  CudaEvent(CudaEvent &&other) noexcept;
  CudaEvent &operator=(CudaEvent &&other) noexcept;
  CudaEvent(const CudaEvent &) = delete;
  CudaEvent &operator=(const CudaEvent &) = delete;
  ~CudaEvent();

  /// A timing-capable event on `device`.
  static llvm::Expected<CudaEvent> create(CudaDevice &device);

  /// Records the event on `stream` (the legacy default stream by default).
  llvm::Error record(CUstream stream = nullptr);
  /// Blocks until the work captured by the last record() has finished.
  llvm::Error synchronize();
  /// Milliseconds between two recorded events; waits for `end` first.
  static llvm::Expected<float> elapsedMs(const CudaEvent &start,
                                         const CudaEvent &end);

  CUevent handle() const { return event_; }

private:
  CudaDevice *device_ = nullptr;
  CUevent event_ = nullptr;
};

} // namespace tessel

#endif // TESSEL_RUNTIME_CUDADRIVER_H
