// GPU devices (events, device memory) and interpreter stand-ins (wall clock,
// host memory) behind TuneDevice.
#include "autotune/TuneDevice.h"

#include "runtime/CudaDriver.h"

#include "fmt/format.h"
#include "llvm/ADT/StringExtras.h"

#include <chrono>
#include <cstring>
#include <set>

namespace tessel::autotune {

std::string DeviceInfo::kind() const {
  return fmt::format("{} (sm_{}{}, {} SMs)", name, computeMajor, computeMinor,
                     smCount);
}

llvm::Expected<std::vector<double>>
TuneDevice::time(const std::function<llvm::Error(int)> &run, int warmup,
                 int reps) {
  for (int i = 0; i < warmup; ++i)
    if (auto err = run(i))
      return std::move(err);
  if (auto err = synchronize())
    return std::move(err);
  std::vector<double> ms;
  for (int i = 0; i < reps; ++i) {
    auto t = timeOne(run, warmup + i);
    if (!t)
      return t.takeError();
    ms.push_back(*t);
  }
  return ms;
}

namespace {

class HostBuffer : public TuneBuffer {
public:
  explicit HostBuffer(size_t bytes) : bytes_(bytes, char(0)) {}
  void *data() const override { return const_cast<char *>(bytes_.data()); }
  bool onDevice() const override { return false; }
  size_t size() const override { return bytes_.size(); }
  llvm::Error upload(const void *src, size_t n) override {
    if (n > bytes_.size())
      return llvm::createStringError("upload of %zu bytes into a %zu-byte buffer",
                                     n, bytes_.size());
    std::memcpy(bytes_.data(), src, n);
    return llvm::Error::success();
  }

private:
  std::string bytes_;
};

class GpuBuffer : public TuneBuffer {
public:
  explicit GpuBuffer(DeviceBuffer buffer) : buffer_(std::move(buffer)) {}
  void *data() const override {
    return reinterpret_cast<void *>(buffer_.address());
  }
  bool onDevice() const override { return true; }
  size_t size() const override { return buffer_.size(); }
  llvm::Error upload(const void *src, size_t n) override {
    return buffer_.copyFromHost(src, n);
  }

private:
  DeviceBuffer buffer_;
};

class GpuTuneDevice : public TuneDevice {
public:
  explicit GpuTuneDevice(CudaDevice &device) : device_(device) {
    const CudaDeviceProperties &p = device.properties();
    info_.name = p.name;
    info_.arch = p.arch();
    info_.smCount = p.smCount;
    info_.computeMajor = p.computeMajor;
    info_.computeMinor = p.computeMinor;
    info_.driverVersion = p.driverVersion;
    info_.maxSharedPerBlock = p.maxSharedPerBlockOptin;
    info_.maxRegistersPerBlock = p.maxRegistersPerBlock;
    info_.l2Bytes = p.l2Bytes;
  }
  const DeviceInfo &info() const override { return info_; }
  Backend backend() const override { return Backend::Gpu; }
  int ordinal() const override { return device_.properties().ordinal; }
  std::string label() const override { return fmt::format("GPU {}", ordinal()); }
  llvm::Error bind() override { return device_.makeCurrent(); }
  llvm::Expected<std::unique_ptr<TuneBuffer>> allocate(size_t bytes) override {
    auto buffer = DeviceBuffer::allocate(device_, std::max<size_t>(bytes, 1));
    if (!buffer)
      return buffer.takeError();
    return std::make_unique<GpuBuffer>(std::move(*buffer));
  }
protected:
  llvm::Error synchronize() override { return device_.synchronize(); }
  llvm::Expected<double> timeOne(const std::function<llvm::Error(int)> &run,
                                 int rep) override {
    auto start = CudaEvent::create(device_), stop = CudaEvent::create(device_);
    if (!start) return start.takeError();
    if (!stop) return stop.takeError();
    if (auto err = start->record()) return std::move(err);
    if (auto err = run(rep)) return std::move(err);
    if (auto err = stop->record()) return std::move(err);
    if (auto err = stop->synchronize()) return std::move(err);
    auto ms = CudaEvent::elapsedMs(*start, *stop);
    if (!ms) return ms.takeError();
    return double(*ms);
  }

private:
  CudaDevice &device_;
  DeviceInfo info_;
};

class InterpreterTuneDevice : public TuneDevice {
public:
  InterpreterTuneDevice(int index, DeviceInfo info)
      : index_(index), info_(std::move(info)) {}
  const DeviceInfo &info() const override { return info_; }
  Backend backend() const override { return Backend::Interpreter; }
  int ordinal() const override { return 0; }
  std::string label() const override {
    return fmt::format("interpreter {}", index_);
  }
  llvm::Error bind() override { return llvm::Error::success(); }
  llvm::Expected<std::unique_ptr<TuneBuffer>> allocate(size_t bytes) override {
    return std::make_unique<HostBuffer>(bytes);
  }
protected:
  llvm::Error synchronize() override { return llvm::Error::success(); }
  llvm::Expected<double> timeOne(const std::function<llvm::Error(int)> &run,
                                 int rep) override {
    auto start = std::chrono::steady_clock::now();
    if (auto err = run(rep))
      return std::move(err);
    return std::chrono::duration<double, std::milli>(
               std::chrono::steady_clock::now() - start)
        .count();
  }

private:
  int index_;
  DeviceInfo info_;
};

/// The ordinals of "all" (all `count`) or "0,2".
llvm::Expected<std::vector<int>> parseSelection(const std::string &selection,
                                                int count) {
  std::vector<int> out;
  if (selection == "all") {
    for (int i = 0; i < count; ++i)
      out.push_back(i);
    return out;
  }
  llvm::SmallVector<llvm::StringRef> parts;
  llvm::StringRef(selection).split(parts, ',');
  std::set<int> seen;
  for (llvm::StringRef part : parts) {
    int ordinal;
    if (part.trim().getAsInteger(10, ordinal) || ordinal < 0)
      return llvm::createStringError(fmt::format(
          "--devices: '{}' is not 'all' or a list of device ordinals such as "
          "'0,1'",
          selection));
    if (ordinal >= count)
      return llvm::createStringError(fmt::format(
          "--devices: device {} does not exist ({} visible)", ordinal, count));
    if (seen.insert(ordinal).second)
      out.push_back(ordinal);
  }
  return out;
}

} // namespace

llvm::Expected<std::vector<std::unique_ptr<TuneDevice>>>
gpuDevices(const std::string &selection) {
  auto count = cudaDeviceCount();
  if (!count)
    return count.takeError();
  if (*count == 0)
    return llvm::createStringError("no GPU is visible");
  auto ordinals = parseSelection(selection, *count);
  if (!ordinals)
    return ordinals.takeError();
  std::vector<std::unique_ptr<TuneDevice>> out;
  for (int ordinal : *ordinals) {
    auto device = getCudaDevice(ordinal);
    if (!device)
      return device.takeError();
    out.push_back(std::make_unique<GpuTuneDevice>(*device));
  }
  return out;
}

std::vector<std::unique_ptr<TuneDevice>> interpreterDevices(int count,
                                                            DeviceInfo info) {
  // By default a stand-in describes an H100: the arch its candidates are
  // compiled for and the limits they are pruned against.
  if (info.name.empty())
    info.name = "interpreter";
  if (info.computeMajor == 0)
    info.computeMajor = 9, info.computeMinor = 0;
  if (info.smCount == 0)
    info.smCount = 132;
  std::vector<std::unique_ptr<TuneDevice>> out;
  for (int i = 0; i < count; ++i)
    out.push_back(std::make_unique<InterpreterTuneDevice>(i, info));
  return out;
}

llvm::Expected<std::vector<std::unique_ptr<TuneDevice>>>
interpreterDevices(const std::string &selection, DeviceInfo info) {
  if (selection == "all")
    return interpreterDevices(1, std::move(info));
  // Stand-ins exist for any ordinal; the syntax is checked as for GPUs.
  auto ordinals = parseSelection(selection, 1 << 16);
  if (!ordinals)
    return ordinals.takeError();
  return interpreterDevices(static_cast<int>(ordinals->size()), std::move(info));
}

llvm::Expected<std::unique_ptr<TuneDevice>>
deviceFor(Backend backend, int ordinal, const DeviceInfo &standIn) {
  if (!usesGpu(backend))
    return std::move(interpreterDevices(1, standIn).front());
  auto devices = gpuDevices(std::to_string(ordinal));
  if (!devices)
    return devices.takeError();
  return std::move(devices->front());
}

} // namespace tessel::autotune
