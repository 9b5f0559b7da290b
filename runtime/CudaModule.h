// Loading compiled kernel images (cubin, or PTX through the driver's JIT) into
// a device's primary context, and launching their entry points with tessel's
// LaunchArg packed into the exact C types the kernel parameters expect.
#ifndef TESSEL_RUNTIME_CUDAMODULE_H
#define TESSEL_RUNTIME_CUDAMODULE_H

#include "runtime/CudaDriver.h"
#include "runtime/KernelBinary.h"
#include "runtime/LaunchArgs.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace tessel {

/// Dynamic shared memory a block may use without opting in. Above it (static
/// plus dynamic), a launch first raises the function's
/// CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES.
inline constexpr size_t kDefaultSharedLimitBytes = 48 * 1024;

/// One entry point of a loaded module. Valid while its CudaModule lives.
class CudaFunction {
public:
  CudaFunction() = default;

  const std::string &name() const { return name_; }
  CUfunction handle() const { return function_; }
  /// Registers per thread (CU_FUNC_ATTRIBUTE_NUM_REGS).
  int registers() const { return registers_; }
  /// Statically declared shared memory (CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES).
  int staticSharedBytes() const { return staticSharedBytes_; }
  /// Largest block this function can be launched with, given its registers.
  int maxThreadsPerBlock() const { return maxThreadsPerBlock_; }
  /// Any other function attribute, read from the driver.
  llvm::Expected<int> attribute(CUfunction_attribute attribute) const;

  /// Launches a 1-D block of `threadsPerBlock` threads over `grid` on
  /// `stream` (the legacy default stream by default); returns once queued.
  /// Pointer arguments must be device addresses (`onDevice`, as from
  /// DeviceBuffer::arg); scalars are packed as int32_t (i32), int64_t (i64)
  /// or float (f32). Where the driver reports parameter sizes (12.4+), count
  /// and sizes are checked before launching.
  llvm::Error launch(Grid grid, int threadsPerBlock, size_t dynamicSharedBytes,
                     llvm::ArrayRef<LaunchArg> args,
                     CUstream stream = nullptr) const;

private:
  friend class CudaModule;

  CudaDevice *device_ = nullptr;
  CUfunction function_ = nullptr;
  std::string name_;
  int registers_ = 0;
  int staticSharedBytes_ = 0;
  int maxThreadsPerBlock_ = 0;
  /// Byte size of each kernel parameter; only meaningful when
  /// paramSizesKnown_ (the driver has cuFuncGetParamInfo).
  std::vector<size_t> paramSizes_;
  bool paramSizesKnown_ = false;
  // Whether the shared-memory carveout has been raised to its maximum.
  mutable bool carveoutSet_ = false;
};

/// A loaded kernel image, unloaded when the object goes out of scope.
class CudaModule {
public:
  CudaModule() = default;
  CudaModule(CudaModule &&other) noexcept;
  CudaModule &operator=(CudaModule &&other) noexcept;
  CudaModule(const CudaModule &) = delete;
  CudaModule &operator=(const CudaModule &) = delete;
  ~CudaModule();

  /// Loads `binary` on `device`: a cubin as is, PTX through the driver's JIT
  /// for the device's architecture. A JIT failure's error carries the JIT
  /// error log.
  static llvm::Expected<CudaModule> load(CudaDevice &device,
                                         const KernelBinary &binary);
  /// Shorthands for load().
  static llvm::Expected<CudaModule> loadPtx(CudaDevice &device,
                                            llvm::StringRef ptx);
  static llvm::Expected<CudaModule> loadCubin(CudaDevice &device,
                                              llvm::StringRef cubin);

  /// The entry point called `name`, with its attributes read once. Given
  /// `expectedParams` (the kernel signature's count), the driver is asked for
  /// exactly that many parameter sizes, and a kernel with fewer is an error.
  llvm::Expected<CudaFunction>
  function(llvm::StringRef name,
           std::optional<size_t> expectedParams = std::nullopt) const;

  CUmodule handle() const { return module_; }
  /// The driver JIT's info log for a PTX load (empty for a cubin).
  const std::string &jitInfoLog() const { return jitInfoLog_; }

private:
  CudaDevice *device_ = nullptr;
  CUmodule module_ = nullptr;
  std::string jitInfoLog_;
};

} // namespace tessel

#endif // TESSEL_RUNTIME_CUDAMODULE_H
