// Tuning any DSL kernel: the user describes the kernel family once — its
// configuration space, how to build it at a configuration, its launch
// geometry, its timing inputs and a check against the user's reference —
// and TunedKernel does the rest: the first call for a problem reads the
// winner from the tuning cache or sweeps the space on the device (compile,
// prune, validate, time), every call launches the winner. TunedLightning
// (kernels/LightningTuned.h) is the Lightning-specific callable with its
// multi-launch strategies; this is the plain case of one kernel, one launch.
#ifndef TESSEL_AUTOTUNE_TUNEDKERNEL_H
#define TESSEL_AUTOTUNE_TUNEDKERNEL_H

#include "autotune/TuneCache.h"
#include "autotune/Tunable.h"
#include "autotune/Tuner.h"
#include "dsl/Kernel.h"
#include "runtime/Launch.h"

#include <functional>
#include <map>
#include <mutex>

namespace tessel::autotune {

/// Compiles (on a GPU: and loads) `kernel` for `device` with the launch's
/// divisibility `hints`, reporting what it needs: on a stand-in, lowered and
/// assembled for its arch as the GPU path would (registers unknown without
/// ptxas).
llvm::Expected<Resources> compileCandidate(const Kernel &kernel,
                                           unsigned numWarps,
                                           llvm::ArrayRef<bool> hints,
                                           TuneDevice &device);

/// A kernel family to tune.
struct KernelSpec {
  /// The tuning cache's kernel name, e.g. "my_gated_fwd".
  std::string name;
  ConfigSpace space{"", 1};
  /// What a winner applies to (dtype, fixed sizes, a bucket of the variable
  /// ones), e.g. "f32 d64 n<=4096".
  std::string problem;
  std::function<llvm::Expected<Kernel>(const Config &)> build;
  std::function<Grid(const Config &)> grid;
  /// Warps per program; unset: the space's "warps" parameter, else 4.
  std::function<unsigned(const Config &)> warps;
  /// The timing inputs, one per leading kernel argument: buffers of
  /// `elements` of `dtype`, filled with random values; then `scalars`.
  struct Buffer {
    int64_t elements;
    DType dtype;
  };
  std::vector<Buffer> buffers;
  std::vector<LaunchArg> scalars;
  /// Launches the candidate under test on the device under test with
  /// `args` (host buffers are staged to the GPU and back).
  using Launcher = std::function<llvm::Error(std::vector<LaunchArg> args)>;
  /// Runs the candidate through `launch` on a small input of the user's and
  /// compares it with the user's reference.
  std::function<llvm::Expected<Validation>(const Config &, const Launcher &)>
      validate;
};

/// The Tunable of a KernelSpec.
class KernelTunable : public Tunable {
public:
  explicit KernelTunable(const KernelSpec &spec) : spec_(spec) {}
  std::string name() const override { return spec_.name; }
  const ConfigSpace &space() const override { return spec_.space; }
  std::string problemKey() const override { return spec_.problem; }
  llvm::Expected<std::string> sourceHash() const override;
  llvm::Expected<std::unique_ptr<Workspace>>
  prepare(TuneDevice &device) override;
  llvm::Expected<Resources> compile(const Config &config, TuneDevice &device,
                                    Workspace &workspace) override;
  llvm::Expected<Validation> validate(const Config &config,
                                      TuneDevice &device) override;
  llvm::Error run(const Config &config, TuneDevice &device,
                  Workspace &workspace, int rep) override;

  /// The kernel at `config`, built once (candidates compile on several
  /// threads).
  llvm::Expected<std::shared_ptr<const Kernel>> kernelAt(const Config &config);
  unsigned warpsAt(const Config &config) const;

private:
  const KernelSpec &spec_;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const Kernel>> built_;
};

struct TunedKernelOptions {
  Backend backend = Backend::Auto;
  int device = 0;
  /// Sweep on a miss; false: run the space's default.
  bool tuneOnMiss = true;
  /// Null: TuneCache::global().
  TuneCache *cache = nullptr;
  TuneOptions tune;
  /// Describes the interpreter stand-in when there is no GPU.
  DeviceInfo standIn;
};

class TunedKernel {
public:
  TunedKernel(KernelSpec spec, TunedKernelOptions options = {});
  TunedKernel(const TunedKernel &) = delete;
  TunedKernel &operator=(const TunedKernel &) = delete;

  /// The winner for this problem on this device: from memory, the cache, a
  /// sweep, or (without tuneOnMiss) the space's default. `source` tells
  /// which.
  llvm::Expected<Config> choose(ConfigSource *source = nullptr);
  /// Launches the winner on `args`.
  llvm::Error operator()(std::vector<LaunchArg> args);

private:
  KernelSpec spec_;
  TunedKernelOptions options_;
  KernelTunable tunable_;
  std::unique_ptr<TuneDevice> device_;
  std::mutex mutex_;
  std::optional<Config> chosen_;
};

} // namespace tessel::autotune

#endif // TESSEL_AUTOTUNE_TUNEDKERNEL_H
