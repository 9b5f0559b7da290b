// Module loading through cuModuleLoadDataEx (with the JIT's logs captured),
// function lookup with its attributes, and argument packing plus launch
// through cuLaunchKernel.
#include "runtime/CudaModule.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace tessel {

namespace {

llvm::Error moduleError(const std::string &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// Size of the JIT's info and error log buffers. ptxas-style messages are a
/// few hundred bytes each; 64 KiB keeps every diagnostic of a large kernel.
constexpr size_t kJitLogBytes = 64 * 1024;

std::string logText(const std::vector<char> &buffer, void *reportedSize) {
  // The driver writes back the bytes it used (NUL included) into the
  // option's value; bound the read by the buffer either way.
  size_t used = static_cast<size_t>(reinterpret_cast<uintptr_t>(reportedSize));
  used = std::min(used, buffer.size());
  std::string text(buffer.data(), strnlen(buffer.data(), used));
  return llvm::StringRef(text).trim().str();
}

/// One kernel parameter's value, in the bytes the kernel reads.
struct PackedArg {
  alignas(8) unsigned char bytes[8] = {};
  size_t size = 0;
};

llvm::Expected<PackedArg> pack(const LaunchArg &arg, size_t index,
                               const std::string &kernel) {
  PackedArg packed;
  auto put = [&](auto value) {
    static_assert(sizeof(value) <= sizeof(packed.bytes));
    std::memcpy(packed.bytes, &value, sizeof(value));
    packed.size = sizeof(value);
  };
  if (arg.kind == KernelArg::Kind::Pointer) {
    // A host address would fault on the device and poison the context for
    // every later call; refuse it here with a message instead.
    if (!arg.onDevice)
      return moduleError("kernel '" + kernel + "' argument " +
                         std::to_string(index) +
                         ": expected a device buffer (DeviceBuffer::arg or "
                         "LaunchArg::deviceBuffer), got a host pointer");
    put(static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(arg.pointer)));
    return packed;
  }
  switch (arg.dtype) {
  case DType::i32:
    put(static_cast<int32_t>(arg.intValue));
    return packed;
  case DType::i64:
    put(static_cast<int64_t>(arg.intValue));
    return packed;
  case DType::f32:
    put(static_cast<float>(arg.floatValue));
    return packed;
  default:
    return moduleError("kernel '" + kernel + "' argument " +
                       std::to_string(index) +
                       ": expected a scalar of type i32, i64 or f32, got " +
                       dtypeName(arg.dtype));
  }
}

std::string gridText(const Grid &grid) {
  return "(" + std::to_string(grid.x) + ", " + std::to_string(grid.y) + ", " +
         std::to_string(grid.z) + ")";
}

} // namespace

//===----------------------------------------------------------------------===//
// CudaModule
//===----------------------------------------------------------------------===//

CudaModule::CudaModule(CudaModule &&other) noexcept
    : device_(other.device_), module_(other.module_),
      jitInfoLog_(std::move(other.jitInfoLog_)) {
  other.device_ = nullptr;
  other.module_ = nullptr;
}

CudaModule &CudaModule::operator=(CudaModule &&other) noexcept {
  std::swap(device_, other.device_);
  std::swap(module_, other.module_);
  std::swap(jitInfoLog_, other.jitInfoLog_);
  return *this;
}

CudaModule::~CudaModule() {
  if (!module_)
    return;
  // Unloading needs the module's context current on this thread; failures
  // cannot be reported from a destructor and leak at most the module.
  llvm::consumeError(device_->makeCurrent());
  (void)device_->api().cuModuleUnload(module_);
}

llvm::Expected<CudaModule> CudaModule::load(CudaDevice &device,
                                            const KernelBinary &binary) {
  if (binary.bytes.empty())
    return moduleError(std::string("CudaModule::load: expected a ") +
                       binaryKindName(binary.kind) + " image, got 0 bytes");
  if (llvm::Error err = device.makeCurrent())
    return err;

  std::vector<char> infoLog(kJitLogBytes, 0), errorLog(kJitLogBytes, 0);
  CUjit_option options[] = {
      CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES,
      CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void *values[] = {
      infoLog.data(), reinterpret_cast<void *>(uintptr_t(infoLog.size())),
      errorLog.data(), reinterpret_cast<void *>(uintptr_t(errorLog.size()))};

  CudaModule module;
  // PTX must be NUL-terminated; std::string's c_str() is, and a cubin is read
  // by its ELF header, so one pointer serves both kinds.
  const CudaDriverApi &api = device.api();
  CUresult result = api.cuModuleLoadDataEx(
      &module.module_, binary.bytes.c_str(), std::size(options), options,
      values);
  if (result != CUDA_SUCCESS) {
    std::string log = logText(errorLog, values[3]);
    if (log.empty())
      log = std::string("loading ") + std::to_string(binary.bytes.size()) +
            " bytes of " + binaryKindName(binary.kind) + " for " +
            device.properties().arch();
    return checkCuda(api, result, "cuModuleLoadDataEx", log);
  }
  module.device_ = &device;
  module.jitInfoLog_ = logText(infoLog, values[1]);
  return module;
}

llvm::Expected<CudaModule> CudaModule::loadPtx(CudaDevice &device,
                                               llvm::StringRef ptx) {
  return load(device, KernelBinary::ptx(ptx.str()));
}

llvm::Expected<CudaModule> CudaModule::loadCubin(CudaDevice &device,
                                                 llvm::StringRef cubin) {
  return load(device, KernelBinary::cubin(cubin.str()));
}

llvm::Expected<CudaFunction>
CudaModule::function(llvm::StringRef name,
                     std::optional<size_t> expectedParams) const {
  if (!module_)
    return moduleError("CudaModule::function('" + name.str() +
                       "'): the module is empty");
  if (llvm::Error err = device_->makeCurrent())
    return err;
  const CudaDriverApi &api = device_->api();
  CudaFunction fn;
  fn.device_ = device_;
  fn.name_ = name.str();
  if (llvm::Error err = checkCuda(
          api, api.cuModuleGetFunction(&fn.function_, module_, fn.name_.c_str()),
          "cuModuleGetFunction", "kernel '" + fn.name_ + "'"))
    return err;

  struct {
    CUfunction_attribute attr;
    const char *what;
    int *out;
  } attrs[] = {
      {CU_FUNC_ATTRIBUTE_NUM_REGS, "registers", &fn.registers_},
      {CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, "static shared bytes",
       &fn.staticSharedBytes_},
      {CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, "max threads per block",
       &fn.maxThreadsPerBlock_},
  };
  for (auto &a : attrs)
    if (llvm::Error err =
            checkCuda(api, api.cuFuncGetAttribute(a.out, a.attr, fn.function_),
                      "cuFuncGetAttribute",
                      "kernel '" + fn.name_ + "' " + a.what))
      return err;

  // With the parameter count known (the launcher's kernel signature), only
  // indices below it are asked: probing one past the end is answered with
  // CUDA_ERROR_INVALID_VALUE, which compute-sanitizer reports as an API error
  // on every load. Without a count, parameters are listed until the driver
  // says the index is out of range; any other answer means it cannot tell,
  // and launches go unchecked.
  if (api.cuFuncGetParamInfo) {
    constexpr size_t kMaxParams = 4096;
    size_t limit = expectedParams ? *expectedParams : kMaxParams;
    fn.paramSizesKnown_ = true;
    for (size_t i = 0; i < limit; ++i) {
      size_t offset = 0, size = 0;
      CUresult r = api.cuFuncGetParamInfo(fn.function_, i, &offset, &size);
      if (r == CUDA_SUCCESS) {
        fn.paramSizes_.push_back(size);
        continue;
      }
      if (expectedParams && r == CUDA_ERROR_INVALID_VALUE)
        return moduleError("kernel '" + fn.name_ + "' has " +
                           std::to_string(i) + " parameters, its signature " +
                           std::to_string(*expectedParams));
      fn.paramSizesKnown_ = r == CUDA_ERROR_INVALID_VALUE;
      break;
    }
  }
  return fn;
}

//===----------------------------------------------------------------------===//
// CudaFunction
//===----------------------------------------------------------------------===//

llvm::Expected<int>
CudaFunction::attribute(CUfunction_attribute attribute) const {
  if (!function_)
    return moduleError("CudaFunction::attribute: the function is empty");
  int value = 0;
  if (llvm::Error err = checkCuda(
          device_->api(),
          device_->api().cuFuncGetAttribute(&value, attribute, function_),
          "cuFuncGetAttribute",
          "kernel '" + name_ + "' attribute " + std::to_string(attribute)))
    return err;
  return value;
}

llvm::Error CudaFunction::launch(Grid grid, int threadsPerBlock,
                                 size_t dynamicSharedBytes,
                                 llvm::ArrayRef<LaunchArg> args,
                                 CUstream stream) const {
  if (!function_)
    return moduleError("CudaFunction::launch: the function is empty");
  std::string where = "kernel '" + name_ + "'";

  // The hardware limits on grid dimensions (x < 2^31, y and z < 2^16).
  constexpr int64_t kMaxGridX = std::numeric_limits<int32_t>::max();
  constexpr int64_t kMaxGridYZ = 65535;
  if (grid.x < 1 || grid.y < 1 || grid.z < 1 || grid.x > kMaxGridX ||
      grid.y > kMaxGridYZ || grid.z > kMaxGridYZ)
    return moduleError(where + ": grid " + gridText(grid) +
                       " expected within [1, 2147483647] x [1, 65535] x "
                       "[1, 65535]");
  if (threadsPerBlock < 1 || threadsPerBlock > maxThreadsPerBlock_)
    return moduleError(where + ": " + std::to_string(threadsPerBlock) +
                       " threads per block, expected 1.." +
                       std::to_string(maxThreadsPerBlock_) +
                       " (the function's limit with " +
                       std::to_string(registers_) + " registers per thread)");

  std::vector<PackedArg> packed;
  packed.reserve(args.size());
  for (size_t i = 0; i < args.size(); ++i) {
    auto p = pack(args[i], i, name_);
    if (!p)
      return p.takeError();
    packed.push_back(*p);
  }
  // A wrongly sized scalar is not caught by the driver: the kernel would read
  // neighbouring bytes. Check against the kernel's own parameter list.
  if (paramSizesKnown_) {
    if (packed.size() != paramSizes_.size())
      return moduleError(where + " takes " +
                         std::to_string(paramSizes_.size()) +
                         " parameters, got " + std::to_string(packed.size()) +
                         " arguments");
    for (size_t i = 0; i < packed.size(); ++i)
      if (packed[i].size != paramSizes_[i])
        return moduleError(
            where + " argument " + std::to_string(i) + ": parameter takes " +
            std::to_string(paramSizes_[i]) + " bytes, got a " +
            (args[i].kind == KernelArg::Kind::Pointer
                 ? std::string("pointer")
                 : std::string(dtypeName(args[i].dtype))) +
            " of " + std::to_string(packed[i].size) + " bytes");
  }

  if (llvm::Error err = device_->makeCurrent())
    return err;
  const CudaDriverApi &api = device_->api();

  // Without opting in, static plus dynamic shared memory is capped at 48 KiB;
  // above that the function's dynamic limit must be raised before launching,
  // up to the device's opt-in maximum minus the static part.
  size_t staticBytes = static_cast<size_t>(staticSharedBytes_);
  size_t optin =
      static_cast<size_t>(device_->properties().maxSharedPerBlockOptin);
  if (staticBytes + dynamicSharedBytes > kDefaultSharedLimitBytes) {
    if (staticBytes + dynamicSharedBytes > optin)
      return moduleError(
          where + ": " + std::to_string(dynamicSharedBytes) +
          " bytes of dynamic shared memory requested, expected at most " +
          std::to_string(optin > staticBytes ? optin - staticBytes : 0) +
          " (device opt-in maximum " + std::to_string(optin) + " minus " +
          std::to_string(staticBytes) + " static)");
    if (llvm::Error err = checkCuda(
            api,
            api.cuFuncSetAttribute(
                function_, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                static_cast<int>(dynamicSharedBytes)),
            "cuFuncSetAttribute",
            where + " MAX_DYNAMIC_SHARED_SIZE_BYTES = " +
                std::to_string(dynamicSharedBytes)))
      return err;
    // A kernel this large fits twice on an SM only when the SM gives shared
    // memory its whole carveout (228 KiB on Hopper: two 113 KiB programs);
    // left to the driver, it may keep L1 larger and run one program per SM,
    // with one warpgroup to hide every latency. The kernels stage their
    // operands in shared memory, so L1 loses little. TESSEL_SMEM_CARVEOUT=0
    // leaves the driver's choice (an A/B switch).
    const char *env = std::getenv("TESSEL_SMEM_CARVEOUT");
    if (!carveoutSet_ && !(env && std::string(env) == "0")) {
      if (llvm::Error err = checkCuda(
              api,
              api.cuFuncSetAttribute(
                  function_, CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT,
                  CU_SHAREDMEM_CARVEOUT_MAX_SHARED),
              "cuFuncSetAttribute", where + " PREFERRED_SHARED_MEMORY_CARVEOUT"))
        return err;
      carveoutSet_ = true;
    }
  }

  std::vector<void *> params;
  params.reserve(packed.size());
  for (PackedArg &p : packed)
    params.push_back(p.bytes);
  return checkCuda(
      api,
      api.cuLaunchKernel(function_, static_cast<unsigned>(grid.x),
                         static_cast<unsigned>(grid.y),
                         static_cast<unsigned>(grid.z),
                         static_cast<unsigned>(threadsPerBlock), 1, 1,
                         static_cast<unsigned>(dynamicSharedBytes), stream,
                         params.empty() ? nullptr : params.data(), nullptr),
      "cuLaunchKernel",
      where + ", grid " + gridText(grid) + ", " +
          std::to_string(threadsPerBlock) + " threads, " +
          std::to_string(dynamicSharedBytes) + " bytes dynamic shared");
}

} // namespace tessel
