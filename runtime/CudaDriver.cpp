// Opens libcuda with dlopen and resolves the driver entry points into
// CudaDriverApi; opens devices (primary context), and implements the RAII
// device-memory and event wrappers on top of that table.
#include "runtime/CudaDriver.h"

#include "llvm/Support/raw_ostream.h"

#include <dlfcn.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>

namespace tessel {

namespace {

/// Points `slot` at `name` in `handle`; false when the library lacks it.
/// (void* to function pointer is conditionally supported; POSIX requires it.)
template <typename Fn> bool resolve(void *handle, const char *name, Fn &slot) {
  void *sym = dlsym(handle, name);
  slot = reinterpret_cast<Fn>(sym);
  return sym != nullptr;
}

llvm::Error driverError(const std::string &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

std::string versionText(int version) {
  return std::to_string(version / 1000) + "." +
         std::to_string(version % 1000 / 10);
}

/// dlopens `path`, fills the table and calls cuInit. Never dlcloses once
/// cuInit ran: the driver may have started threads that live in its code.
llvm::Expected<std::unique_ptr<CudaDriverApi>>
loadDriver(const std::string &path) {
  dlerror();
  void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char *why = dlerror();
    return driverError("no CUDA driver (" + path +
                       " not found): " + (why ? why : "dlopen failed"));
  }
  auto api = std::make_unique<CudaDriverApi>();
  api->libraryPath = path;

  // Every required symbol is tried so the error lists all that are missing,
  // which tells an old driver apart from a wrong library.
  std::string missing;
  auto need = [&](const char *name, auto &slot) {
    if (!resolve(handle, name, slot))
      missing += std::string(missing.empty() ? "" : ", ") + name;
  };
  need("cuGetErrorName", api->cuGetErrorName);
  need("cuGetErrorString", api->cuGetErrorString);
  need("cuInit", api->cuInit);
  need("cuDriverGetVersion", api->cuDriverGetVersion);
  need("cuDeviceGetCount", api->cuDeviceGetCount);
  need("cuDeviceGet", api->cuDeviceGet);
  need("cuDeviceGetName", api->cuDeviceGetName);
  need("cuDeviceGetAttribute", api->cuDeviceGetAttribute);
  need("cuDevicePrimaryCtxRetain", api->cuDevicePrimaryCtxRetain);
  need("cuDevicePrimaryCtxRelease_v2", api->cuDevicePrimaryCtxRelease_v2);
  need("cuCtxSetCurrent", api->cuCtxSetCurrent);
  need("cuCtxSynchronize", api->cuCtxSynchronize);
  need("cuStreamSynchronize", api->cuStreamSynchronize);
  need("cuModuleLoadDataEx", api->cuModuleLoadDataEx);
  need("cuModuleGetFunction", api->cuModuleGetFunction);
  need("cuModuleUnload", api->cuModuleUnload);
  need("cuFuncSetAttribute", api->cuFuncSetAttribute);
  need("cuFuncGetAttribute", api->cuFuncGetAttribute);
  need("cuLaunchKernel", api->cuLaunchKernel);
  need("cuMemAlloc_v2", api->cuMemAlloc_v2);
  need("cuMemFree_v2", api->cuMemFree_v2);
  need("cuMemcpyHtoD_v2", api->cuMemcpyHtoD_v2);
  need("cuMemcpyDtoH_v2", api->cuMemcpyDtoH_v2);
  need("cuMemsetD8_v2", api->cuMemsetD8_v2);
  need("cuEventCreate", api->cuEventCreate);
  need("cuEventRecord", api->cuEventRecord);
  need("cuEventSynchronize", api->cuEventSynchronize);
  need("cuEventDestroy_v2", api->cuEventDestroy_v2);
  if (!resolve(handle, "cuEventElapsedTime_v2", api->cuEventElapsedTime))
    need("cuEventElapsedTime", api->cuEventElapsedTime);
  resolve(handle, "cuFuncGetParamInfo", api->cuFuncGetParamInfo);
  if (!missing.empty()) {
    dlclose(handle);
    return driverError("no usable CUDA driver: " + path +
                       " lacks the entry points " + missing);
  }

  if (llvm::Error err = checkCuda(*api, api->cuInit(0), "cuInit"))
    return driverError("CUDA driver " + path +
                       " unusable: " + llvm::toString(std::move(err)));
  if (llvm::Error err = checkCuda(
          *api, api->cuDriverGetVersion(&api->driverVersion),
          "cuDriverGetVersion"))
    return err;
  return api;
}

} // namespace

/// Process-wide driver and device state, one entry per library path so a
/// TESSEL_LIBCUDA override set later (tests) is honoured. Never destroyed:
/// releasing primary contexts during static destruction races the driver's
/// own teardown, and the OS reclaims everything at exit anyway.
class CudaDeviceRegistry {
public:
  static CudaDeviceRegistry &instance() {
    static CudaDeviceRegistry *registry = new CudaDeviceRegistry();
    return *registry;
  }

  llvm::Expected<const CudaDriverApi &> driver() {
    std::lock_guard<std::mutex> lock(mutex_);
    auto lib = library();
    if (!lib)
      return lib.takeError();
    return *(*lib)->api;
  }

  llvm::Expected<int> deviceCount() {
    std::lock_guard<std::mutex> lock(mutex_);
    auto lib = library();
    if (!lib)
      return lib.takeError();
    int count = 0;
    if (llvm::Error err = checkCuda(*(*lib)->api,
                                    (*lib)->api->cuDeviceGetCount(&count),
                                    "cuDeviceGetCount"))
      return err;
    return count;
  }

  llvm::Expected<CudaDevice &> device(int ordinal) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto lib = library();
    if (!lib)
      return lib.takeError();
    Library &state = **lib;
    auto it = state.devices.find(ordinal);
    if (it != state.devices.end())
      return *it->second;
    auto opened = open(*state.api, ordinal);
    if (!opened)
      return opened.takeError();
    CudaDevice &device = **opened;
    state.devices.emplace(ordinal, std::move(*opened));
    return device;
  }

private:
  struct Library {
    std::unique_ptr<CudaDriverApi> api;
    /// Set instead of `api` when loading failed; kept so a machine without a
    /// driver does not retry dlopen on every cudaAvailable().
    std::string error;
    std::map<int, std::unique_ptr<CudaDevice>> devices;
  };

  /// The state for cudaLibraryPath(), loading it on first use. Caller holds
  /// the mutex.
  llvm::Expected<Library *> library() {
    std::string path = cudaLibraryPath();
    auto [it, inserted] = libraries_.try_emplace(path);
    Library &lib = it->second;
    if (inserted) {
      auto api = loadDriver(path);
      if (api)
        lib.api = std::move(*api);
      else
        lib.error = llvm::toString(api.takeError());
    }
    if (!lib.api)
      return driverError(lib.error);
    return &lib;
  }

  static llvm::Expected<std::unique_ptr<CudaDevice>>
  open(const CudaDriverApi &api, int ordinal) {
    int count = 0;
    if (llvm::Error err =
            checkCuda(api, api.cuDeviceGetCount(&count), "cuDeviceGetCount"))
      return err;
    if (count == 0)
      return driverError("no CUDA device: driver " + api.libraryPath + " (" +
                         versionText(api.driverVersion) + ") sees 0 devices");
    if (ordinal < 0 || ordinal >= count)
      return driverError("CUDA device ordinal " + std::to_string(ordinal) +
                         " out of range: expected 0.." +
                         std::to_string(count - 1) + " (" +
                         std::to_string(count) + " visible)");
    CUdevice dev = 0;
    if (llvm::Error err =
            checkCuda(api, api.cuDeviceGet(&dev, ordinal), "cuDeviceGet"))
      return err;

    CudaDeviceProperties props;
    props.ordinal = ordinal;
    props.driverVersion = api.driverVersion;
    char name[256] = {};
    if (llvm::Error err = checkCuda(
            api, api.cuDeviceGetName(name, sizeof(name) - 1, dev),
            "cuDeviceGetName"))
      return err;
    props.name = name;
    struct {
      CUdevice_attribute attr;
      const char *what;
      int *out;
    } attrs[] = {
        {CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, "SM count", &props.smCount},
        {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
         "compute capability major", &props.computeMajor},
        {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
         "compute capability minor", &props.computeMinor},
        {CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
         "max shared memory per block (opt-in)",
         &props.maxSharedPerBlockOptin},
        {CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK, "registers per block",
         &props.maxRegistersPerBlock},
        {CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, "L2 cache size", &props.l2Bytes},
    };
    for (auto &a : attrs)
      if (llvm::Error err =
              checkCuda(api, api.cuDeviceGetAttribute(a.out, a.attr, dev),
                        "cuDeviceGetAttribute", a.what))
        return err;

    CUcontext ctx = nullptr;
    if (llvm::Error err = checkCuda(api, api.cuDevicePrimaryCtxRetain(&ctx, dev),
                                    "cuDevicePrimaryCtxRetain",
                                    "device " + std::to_string(ordinal)))
      return err;
    return std::unique_ptr<CudaDevice>(
        new CudaDevice(api, dev, ctx, std::move(props)));
  }

  std::mutex mutex_;
  std::map<std::string, Library> libraries_;
};

std::string cudaLibraryPath() {
  const char *env = std::getenv("TESSEL_LIBCUDA");
  return env && *env ? env : "libcuda.so.1";
}

llvm::Expected<const CudaDriverApi &> getCudaDriver() {
  return CudaDeviceRegistry::instance().driver();
}

llvm::Error checkCuda(const CudaDriverApi &api, CUresult result,
                      llvm::StringRef call, llvm::StringRef detail) {
  if (result == CUDA_SUCCESS)
    return llvm::Error::success();
  const char *name = nullptr;
  const char *description = nullptr;
  if (!api.cuGetErrorName || api.cuGetErrorName(result, &name) != CUDA_SUCCESS)
    name = nullptr;
  if (!api.cuGetErrorString ||
      api.cuGetErrorString(result, &description) != CUDA_SUCCESS)
    description = nullptr;
  std::string message = call.str() + " failed: ";
  message += name ? name : "CUresult " + std::to_string(result);
  if (description)
    message += std::string(" (") + description + ")";
  if (!detail.empty())
    message += ": " + detail.str();
  return driverError(message);
}

std::string CudaDeviceProperties::arch() const {
  std::string arch =
      "sm_" + std::to_string(computeMajor) + std::to_string(computeMinor);
  if (computeMajor == 9 && computeMinor == 0)
    arch += "a";
  return arch;
}

llvm::Error CudaDevice::makeCurrent() const {
  return checkCuda(*api_, api_->cuCtxSetCurrent(context_), "cuCtxSetCurrent");
}

llvm::Error CudaDevice::synchronize() const {
  if (llvm::Error err = makeCurrent())
    return err;
  return checkCuda(*api_, api_->cuCtxSynchronize(), "cuCtxSynchronize");
}

llvm::Error CudaDevice::synchronize(CUstream stream) const {
  if (llvm::Error err = makeCurrent())
    return err;
  return checkCuda(*api_, api_->cuStreamSynchronize(stream),
                   "cuStreamSynchronize");
}

llvm::Expected<CudaDevice &> getCudaDevice(int ordinal) {
  return CudaDeviceRegistry::instance().device(ordinal);
}

llvm::Expected<int> cudaDeviceCount() {
  return CudaDeviceRegistry::instance().deviceCount();
}

bool cudaAvailable() {
  auto device = getCudaDevice(0);
  if (!device) {
    llvm::consumeError(device.takeError());
    return false;
  }
  return true;
}

//===----------------------------------------------------------------------===//
// DeviceBuffer
//===----------------------------------------------------------------------===//

namespace {
std::atomic<size_t> gLiveBytes{0}, gPeakBytes{0};

void countAllocation(size_t bytes) {
  size_t live = gLiveBytes.fetch_add(bytes) + bytes;
  size_t peak = gPeakBytes.load();
  while (live > peak && !gPeakBytes.compare_exchange_weak(peak, live)) {
  }
}
} // namespace

size_t DeviceBuffer::liveBytes() { return gLiveBytes.load(); }
size_t DeviceBuffer::peakBytes() { return gPeakBytes.load(); }
void DeviceBuffer::resetPeakBytes() { gPeakBytes.store(gLiveBytes.load()); }

DeviceBuffer::DeviceBuffer(DeviceBuffer &&other) noexcept
    : device_(other.device_), address_(other.address_), bytes_(other.bytes_) {
  other.device_ = nullptr;
  other.address_ = 0;
  other.bytes_ = 0;
}

DeviceBuffer &DeviceBuffer::operator=(DeviceBuffer &&other) noexcept {
  if (this != &other) {
    llvm::consumeError(release());
    std::swap(device_, other.device_);
    std::swap(address_, other.address_);
    std::swap(bytes_, other.bytes_);
  }
  return *this;
}

DeviceBuffer::~DeviceBuffer() {
  // A failed free here usually means the context is already broken by an
  // earlier fault, which was reported where it happened; say so once more
  // rather than lose it.
  if (llvm::Error err = release())
    llvm::errs() << "tessel: warning: " << llvm::toString(std::move(err))
                 << "\n";
}

llvm::Expected<DeviceBuffer> DeviceBuffer::allocate(CudaDevice &device,
                                                    size_t bytes) {
  if (bytes == 0)
    return driverError("DeviceBuffer::allocate: expected a size > 0 bytes, "
                       "got 0");
  if (llvm::Error err = device.makeCurrent())
    return err;
  DeviceBuffer buffer;
  const CudaDriverApi &api = device.api();
  if (llvm::Error err = checkCuda(api, api.cuMemAlloc_v2(&buffer.address_, bytes),
                                  "cuMemAlloc_v2",
                                  std::to_string(bytes) + " bytes on device " +
                                      std::to_string(
                                          device.properties().ordinal)))
    return err;
  buffer.device_ = &device;
  buffer.bytes_ = bytes;
  countAllocation(bytes);
  return buffer;
}

llvm::Error DeviceBuffer::checkRange(llvm::StringRef what, size_t bytes,
                                     size_t offset) const {
  if (!device_)
    return driverError("DeviceBuffer::" + what.str() +
                       ": the buffer is empty (moved from or released)");
  if (offset > bytes_ || bytes > bytes_ - offset)
    return driverError("DeviceBuffer::" + what.str() + ": bytes [" +
                       std::to_string(offset) + ", " + std::to_string(offset) +
                       " + " + std::to_string(bytes) +
                       ") expected within the buffer's " +
                       std::to_string(bytes_) + " bytes");
  return llvm::Error::success();
}

llvm::Error DeviceBuffer::copyFromHost(const void *src, size_t bytes,
                                       size_t offset) {
  if (llvm::Error err = checkRange("copyFromHost", bytes, offset))
    return err;
  if (bytes == 0)
    return llvm::Error::success();
  if (llvm::Error err = device_->makeCurrent())
    return err;
  const CudaDriverApi &api = device_->api();
  return checkCuda(api, api.cuMemcpyHtoD_v2(address_ + offset, src, bytes),
                   "cuMemcpyHtoD_v2", std::to_string(bytes) + " bytes");
}

llvm::Error CudaDevice::copyToHost(void *dst, CUdeviceptr src,
                                   size_t bytes) const {
  if (bytes == 0)
    return llvm::Error::success();
  if (llvm::Error err = makeCurrent())
    return err;
  return checkCuda(api(), api().cuMemcpyDtoH_v2(dst, src, bytes),
                   "cuMemcpyDtoH_v2", std::to_string(bytes) + " bytes");
}

llvm::Error DeviceBuffer::copyToHost(void *dst, size_t bytes,
                                     size_t offset) const {
  if (llvm::Error err = checkRange("copyToHost", bytes, offset))
    return err;
  if (bytes == 0)
    return llvm::Error::success();
  if (llvm::Error err = device_->makeCurrent())
    return err;
  const CudaDriverApi &api = device_->api();
  return checkCuda(api, api.cuMemcpyDtoH_v2(dst, address_ + offset, bytes),
                   "cuMemcpyDtoH_v2", std::to_string(bytes) + " bytes");
}

llvm::Error DeviceBuffer::memset(uint8_t value, size_t bytes, size_t offset) {
  if (bytes == SIZE_MAX)
    bytes = offset <= bytes_ ? bytes_ - offset : 0;
  if (llvm::Error err = checkRange("memset", bytes, offset))
    return err;
  if (bytes == 0)
    return llvm::Error::success();
  if (llvm::Error err = device_->makeCurrent())
    return err;
  const CudaDriverApi &api = device_->api();
  return checkCuda(api, api.cuMemsetD8_v2(address_ + offset, value, bytes),
                   "cuMemsetD8_v2", std::to_string(bytes) + " bytes");
}

LaunchArg DeviceBuffer::arg(DType elem) const {
  return LaunchArg::deviceBuffer(address_, bytes_, elem);
}

llvm::Error DeviceBuffer::release() {
  if (!device_)
    return llvm::Error::success();
  CudaDevice *device = device_;
  CUdeviceptr address = address_;
  gLiveBytes.fetch_sub(bytes_);
  device_ = nullptr;
  address_ = 0;
  bytes_ = 0;
  if (llvm::Error err = device->makeCurrent())
    return err;
  return checkCuda(device->api(), device->api().cuMemFree_v2(address),
                   "cuMemFree_v2");
}

//===----------------------------------------------------------------------===//
// CudaEvent
//===----------------------------------------------------------------------===//

CudaEvent::CudaEvent(CudaEvent &&other) noexcept
    : device_(other.device_), event_(other.event_) {
  other.device_ = nullptr;
  other.event_ = nullptr;
}

CudaEvent &CudaEvent::operator=(CudaEvent &&other) noexcept {
  std::swap(device_, other.device_);
  std::swap(event_, other.event_);
  return *this;
}

CudaEvent::~CudaEvent() {
  if (!event_)
    return;
  // Destroying an event is valid from any context; nothing useful can be done
  // with a failure here, so it is dropped.
  (void)device_->api().cuEventDestroy_v2(event_);
}

llvm::Expected<CudaEvent> CudaEvent::create(CudaDevice &device) {
  if (llvm::Error err = device.makeCurrent())
    return err;
  CudaEvent event;
  // CU_EVENT_DEFAULT keeps timing enabled (DISABLE_TIMING would make
  // elapsedMs fail).
  if (llvm::Error err =
          checkCuda(device.api(),
                    device.api().cuEventCreate(&event.event_, CU_EVENT_DEFAULT),
                    "cuEventCreate"))
    return err;
  event.device_ = &device;
  return event;
}

llvm::Error CudaEvent::record(CUstream stream) {
  if (!event_)
    return driverError("CudaEvent::record: the event is empty");
  if (llvm::Error err = device_->makeCurrent())
    return err;
  return checkCuda(device_->api(), device_->api().cuEventRecord(event_, stream),
                   "cuEventRecord");
}

llvm::Error CudaEvent::synchronize() {
  if (!event_)
    return driverError("CudaEvent::synchronize: the event is empty");
  return checkCuda(device_->api(), device_->api().cuEventSynchronize(event_),
                   "cuEventSynchronize");
}

llvm::Expected<float> CudaEvent::elapsedMs(const CudaEvent &start,
                                           const CudaEvent &end) {
  if (!start.event_ || !end.event_)
    return driverError("CudaEvent::elapsedMs: expected two created events, "
                       "got an empty one");
  const CudaDriverApi &api = end.device_->api();
  if (llvm::Error err =
          checkCuda(api, api.cuEventSynchronize(end.event_),
                    "cuEventSynchronize"))
    return err;
  float ms = 0;
  if (llvm::Error err =
          checkCuda(api, api.cuEventElapsedTime(&ms, start.event_, end.event_),
                    "cuEventElapsedTime"))
    return err;
  return ms;
}

} // namespace tessel
