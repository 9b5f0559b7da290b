// GPU compilation cache and launch.
#include "runtime/GpuLauncher.h"

#include "lowering/ToLLVM/AxisInfo.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "runtime/CudaDriver.h"
#include "runtime/KernelCache.h"
#include "runtime/Ptxas.h"

#include <map>
#include <memory>
#include <mutex>

namespace tessel {

llvm::SmallVector<bool> divisibilityHints(llvm::ArrayRef<LaunchArg> args) {
  llvm::SmallVector<bool> hints;
  for (const LaunchArg &a : args) {
    if (a.kind == KernelArg::Kind::Pointer)
      hints.push_back(reinterpret_cast<uintptr_t>(a.pointer) % 16 == 0);
    else
      hints.push_back(a.dtype != DType::f32 && a.intValue % 16 == 0);
  }
  return hints;
}

namespace {

/// What decides the binary of an already built kernel in this process.
struct LaunchKey {
  uint64_t kernel;
  int device;
  unsigned numWarps;
  bool ldmatrix;
  std::vector<bool> hints;
  auto operator<=>(const LaunchKey &) const = default;
};

} // namespace

static llvm::Expected<const GpuKernel &>
getGpuKernelSlow(const Kernel &kernel, const GpuLaunchOptions &options,
                 llvm::ArrayRef<bool> hints);

llvm::Expected<const GpuKernel &> getGpuKernel(const Kernel &kernel,
                                               const GpuLaunchOptions &options,
                                               llvm::ArrayRef<bool> hints) {
  // Every launch comes here: the fast path skips specializing, printing and
  // hashing the IR (milliseconds of host time that would otherwise sit
  // inside every timed launch) once this kernel was seen with these facts.
  static std::mutex mutex;
  static std::map<LaunchKey, const GpuKernel *> seen;
  LaunchKey key{kernel.id(), options.device, options.numWarps,
                !std::getenv("TESSEL_NO_LDMATRIX"),
                std::vector<bool>(hints.begin(), hints.end())};
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (auto it = seen.find(key); it != seen.end())
      return *it->second;
  }
  auto loaded = getGpuKernelSlow(kernel, options, hints);
  if (!loaded)
    return loaded.takeError();
  std::lock_guard<std::mutex> lock(mutex);
  seen.emplace(std::move(key), &*loaded);
  return *loaded;
}

static llvm::Expected<const GpuKernel &>
getGpuKernelSlow(const Kernel &kernel, const GpuLaunchOptions &options,
                 llvm::ArrayRef<bool> hints) {
  auto device = getCudaDevice(options.device);
  if (!device)
    return device.takeError();
  if (auto err = device->makeCurrent())
    return std::move(err);
  lowering::TargetOptions target;
  target.arch = device->properties().arch();
  target.numWarps = options.numWarps;
  // Experiment switch (bench/RESULTS.md): element-wise operand staging.
  target.useLdmatrix = !std::getenv("TESSEL_NO_LDMATRIX");

  auto ptxasVer = ptxasVersion();
  std::string ptxas = ptxasVer ? *ptxasVer : "";
  if (!ptxasVer)
    llvm::consumeError(ptxasVer.takeError());
  // The specialized module: divisibility facts as argument attributes, so
  // they are part of the IR text and hence of the cache key.
  auto specialized = lowering::specializeDivisibility(kernel.module(), hints);
  std::string ir;
  {
    llvm::raw_string_ostream os(ir);
    specialized->print(os);
  }
  std::string key =
      KernelCache::makeKey(ir, target.str(), target.arch,
                           KernelCache::compilerVersion(ptxas));

  // Modules belong to one device's context: loaded kernels are per device.
  // The lock is not held while compiling, so threads driving different GPUs
  // (the tuner's sweeps) compile in parallel; two threads racing for one key
  // both compile it and the first to finish wins.
  static std::mutex mutex;
  static std::map<std::pair<int, std::string>, std::unique_ptr<GpuKernel>>
      loaded;
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = loaded.find({options.device, key});
    if (it != loaded.end())
      return *it->second;
  }

  auto entry = std::make_unique<GpuKernel>();
  entry->numWarps = target.numWarps;
  KernelBinary binary;
  if (auto cached = KernelCache::global().lookup(key)) {
    binary = *cached;
    auto shared = lowering::sharedMemoryBytes(*specialized, target);
    if (!shared)
      return shared.takeError();
    entry->sharedBytes = *shared;
    entry->origin = "disk";
  } else {
    const char *dumpDir = std::getenv("TESSEL_DUMP_IR");
    auto compiled =
        lowering::compileToPTX(*specialized, target, dumpDir ? dumpDir : "");
    if (!compiled)
      return compiled.takeError();
    entry->sharedBytes = compiled->sharedBytes;
    if (!ptxas.empty()) {
      auto assembled = assemblePtx(compiled->ptx, target.arch);
      if (!assembled)
        return assembled.takeError();
      binary = KernelBinary::cubin(std::move(assembled->cubin));
    } else {
      binary = KernelBinary::ptx(std::move(compiled->ptx));
    }
    if (auto err = KernelCache::global().store(key, binary))
      return std::move(err);
    entry->origin = "compiled";
  }
  auto module = CudaModule::load(*device, binary);
  if (!module)
    return module.takeError();
  entry->module = std::move(*module);
  auto function = entry->module.function(kernel.name(), kernel.args().size());
  if (!function)
    return function.takeError();
  entry->function = *function;
  std::lock_guard<std::mutex> lock(mutex);
  auto result = loaded.emplace(std::pair{options.device, key}, std::move(entry));
  return *result.first->second;
}

llvm::Error launchOnGpu(const Kernel &kernel, const Grid &grid,
                        llvm::ArrayRef<LaunchArg> args,
                        const GpuLaunchOptions &options) {
  if (auto err = checkLaunchArgs(kernel, args, grid))
    return err;
  auto device = getCudaDevice(options.device);
  if (!device)
    return device.takeError();

  // Stage host buffers on the device.
  std::vector<LaunchArg> deviceArgs(args.begin(), args.end());
  std::vector<std::pair<size_t, DeviceBuffer>> staged;
  for (size_t i = 0; i < args.size(); ++i) {
    const LaunchArg &a = args[i];
    if (a.kind != KernelArg::Kind::Pointer || a.onDevice)
      continue;
    auto buffer = DeviceBuffer::allocate(*device, std::max<size_t>(a.bytes, 1));
    if (!buffer)
      return buffer.takeError();
    if (auto err = buffer->copyFromHost(a.pointer, a.bytes))
      return err;
    deviceArgs[i] = LaunchArg::deviceBuffer(buffer->address(), a.bytes, a.dtype);
    staged.emplace_back(i, std::move(*buffer));
  }
  // A copy from pageable memory may return before its DMA lands, ordered
  // only on the legacy default stream: a launch on another stream waits.
  if (!staged.empty() && options.stream)
    if (auto err = device->synchronize())
      return err;
  auto gpuKernel = getGpuKernel(kernel, options, divisibilityHints(deviceArgs));
  if (!gpuKernel)
    return gpuKernel.takeError();
  const GpuKernel &k = *gpuKernel;
  if (auto err = k.function.launch(grid, 32 * k.numWarps, k.sharedBytes,
                                   deviceArgs, options.stream))
    return err;
  if (staged.empty())
    return llvm::Error::success();
  if (auto err = device->synchronize())
    return err;
  for (auto &[i, buffer] : staged)
    if (auto err = buffer.copyToHost(args[i].pointer, args[i].bytes))
      return err;
  return llvm::Error::success();
}

} // namespace tessel
