// The devices a sweep runs on, behind one interface: a real GPU (CUDA events
// for timing, device memory for inputs) or the interpreter standing in for
// one (wall clock, host memory), so CI can exercise pruning, validation,
// caching and sharding without a GPU.
#ifndef TESSEL_AUTOTUNE_TUNEDEVICE_H
#define TESSEL_AUTOTUNE_TUNEDEVICE_H

#include "runtime/Launch.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace tessel::autotune {

/// What a tuning result depends on about a device.
struct DeviceInfo {
  /// "NVIDIA H100 80GB HBM3", or "interpreter" for a stand-in.
  std::string name;
  /// The architecture kernels are compiled for, e.g. "sm_90a".
  std::string arch = "sm_90a";
  int smCount = 0;
  int computeMajor = 0, computeMinor = 0;
  /// cuDriverGetVersion, e.g. 12080; 0 for a stand-in.
  int driverVersion = 0;
  /// Opt-in shared memory per block and the register file per block: the
  /// limits a candidate must fit.
  int maxSharedPerBlock = 227 * 1024;
  int maxRegistersPerBlock = 65536;
  int64_t l2Bytes = 0;

  /// Devices of one kind give interchangeable timings: a sweep shards its
  /// candidates over all devices of a kind and keeps one winner per kind.
  std::string kind() const;
};

/// Memory for a tunable's inputs and outputs on one device.
class TuneBuffer {
public:
  virtual ~TuneBuffer() = default;
  /// Host pointer (interpreter) or device address (GPU).
  virtual void *data() const = 0;
  virtual bool onDevice() const = 0;
  virtual size_t size() const = 0;
  virtual llvm::Error upload(const void *src, size_t bytes) = 0;
};

class TuneDevice {
public:
  virtual ~TuneDevice() = default;
  virtual const DeviceInfo &info() const = 0;
  /// Backend::Gpu or Backend::Interpreter.
  virtual Backend backend() const = 0;
  /// The GPU ordinal launches go to (0 for stand-ins).
  virtual int ordinal() const = 0;
  /// "GPU 1" or "interpreter 3": for progress lines and tables.
  virtual std::string label() const = 0;
  /// Makes this device current on the calling thread.
  virtual llvm::Error bind() = 0;
  virtual llvm::Expected<std::unique_ptr<TuneBuffer>> allocate(size_t bytes) = 0;
  /// Calls run(i) `warmup` times, then `reps` more times each timed on its
  /// own; returns the `reps` times in milliseconds.
  llvm::Expected<std::vector<double>>
  time(const std::function<llvm::Error(int)> &run, int warmup, int reps);

protected:
  /// Waits until everything started on this device has finished.
  virtual llvm::Error synchronize() = 0;
  /// The milliseconds of one call run(rep), on this device's clock.
  virtual llvm::Expected<double>
  timeOne(const std::function<llvm::Error(int)> &run, int rep) = 0;
};

/// Every visible GPU (`selection` "all") or the listed ordinals ("0,2"); an
/// unknown ordinal or an unparsable list is an error naming it.
llvm::Expected<std::vector<std::unique_ptr<TuneDevice>>>
gpuDevices(const std::string &selection);

/// `count` interpreter stand-ins described by `info` (name "interpreter"
/// unless set), for sweeps without a GPU.
std::vector<std::unique_ptr<TuneDevice>>
interpreterDevices(int count, DeviceInfo info = {});

/// Stand-ins for `selection` in the syntax of gpuDevices: "all" is one,
/// "0,1,2" is three.
llvm::Expected<std::vector<std::unique_ptr<TuneDevice>>>
interpreterDevices(const std::string &selection, DeviceInfo info = {});

/// The one device a tuned callable on `backend` runs and sweeps on: GPU
/// `ordinal` when `backend` uses the GPU, else an interpreter stand-in
/// described by `standIn`.
llvm::Expected<std::unique_ptr<TuneDevice>>
deviceFor(Backend backend, int ordinal, const DeviceInfo &standIn);

} // namespace tessel::autotune

#endif // TESSEL_AUTOTUNE_TUNEDEVICE_H
