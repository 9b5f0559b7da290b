// Backend dispatch: the GPU when one is usable and TESSEL_INTERPRET is not
// set, otherwise the interpreter.
#include "runtime/Launch.h"

#include "runtime/CudaDriver.h"
#include "runtime/GpuLauncher.h"
#include "runtime/Interpreter.h"

namespace tessel {

bool usesGpu(Backend backend) {
  if (backend == Backend::Interpreter)
    return false;
  if (backend == Backend::Gpu)
    return true;
  return !interpreterRequested() && cudaAvailable();
}

const char *resolvedBackendName(Backend backend) {
  return usesGpu(backend) ? "GPU" : "interpreter";
}

llvm::Error launch(const Kernel &kernel, const Grid &grid,
                   llvm::ArrayRef<LaunchArg> args, Backend backend,
                   unsigned numWarps, int device, void *stream) {
  if (usesGpu(backend)) {
    GpuLaunchOptions options;
    options.numWarps = numWarps;
    options.device = device;
    options.stream = static_cast<CUstream>(stream);
    return launchOnGpu(kernel, grid, args, options);
  }
  for (const LaunchArg &a : args)
    if (a.onDevice)
      return llvm::createStringError(
          "kernel '" + kernel.name() +
          "': the interpreter cannot read device memory; pass host buffers");
  return interpret(kernel, grid, args);
}

} // namespace tessel
