// JIT compilation and launch of tile kernels on the GPU: lowering to PTX,
// ptxas to a cubin when the toolkit is present (else the driver's JIT), the
// memory and disk kernel cache, and launches with host or device buffers.
#ifndef TESSEL_RUNTIME_GPULAUNCHER_H
#define TESSEL_RUNTIME_GPULAUNCHER_H

#include "lowering/Pipeline.h"
#include "runtime/CudaModule.h"
#include "runtime/LaunchArgs.h"

namespace tessel {

/// A kernel loaded on a device, ready to launch.
struct GpuKernel {
  CudaModule module;
  CudaFunction function;
  unsigned sharedBytes = 0;
  unsigned numWarps = 4;
  /// Where the binary came from: "memory", "disk" or "compiled".
  std::string origin;
};

struct GpuLaunchOptions {
  unsigned numWarps = 4;
  int device = 0;
  /// The stream the launch is queued on (null: the legacy default stream).
  CUstream stream = nullptr;
};

/// Which arguments of a launch are divisible by 16 (pointers: 16-byte
/// aligned addresses; integers: multiples of 16). The kernel is specialized
/// on them, as Triton does, so loads and stores can be vectorized.
llvm::SmallVector<bool> divisibilityHints(llvm::ArrayRef<LaunchArg> args);

/// The loaded kernel for `kernel` specialized on `hints` (empty: none) on the
/// current device, compiling it on the first call (per process, and per cache
/// directory across processes).
llvm::Expected<const GpuKernel &>
getGpuKernel(const Kernel &kernel, const GpuLaunchOptions &options,
             llvm::ArrayRef<bool> hints = {});

/// Launches `kernel` over `grid`. Pointer arguments on the host are copied to
/// the device before and back after the launch (convenient, slow); device
/// pointers (LaunchArg::onDevice) are used as they are and the launch is
/// asynchronous, queued on `options.stream`.
llvm::Error launchOnGpu(const Kernel &kernel, const Grid &grid,
                        llvm::ArrayRef<LaunchArg> args,
                        const GpuLaunchOptions &options = {});

} // namespace tessel

#endif // TESSEL_RUNTIME_GPULAUNCHER_H
