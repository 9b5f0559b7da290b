// Tuned Lightning Attention-2: a callable that picks each kernel's block
// sizes from the tuning cache, sweeping on the first use of a new key, and a
// start-up call that readies (tunes, compiles, loads) a list of shapes up
// front — the "JIT tuned kernels at program start" use.
#ifndef TESSEL_KERNELS_LIGHTNINGTUNED_H
#define TESSEL_KERNELS_LIGHTNINGTUNED_H

#include "autotune/TuneCache.h"
#include "autotune/Tuner.h"
#include "kernels/LightningTuning.h"

#include <map>
#include <memory>
#include <mutex>

namespace tessel {

struct TunedLightningOptions {
  Backend backend = Backend::Auto;
  /// The GPU calls run (and sweeps time) on.
  int device = 0;
  autotune::TuneOptions tune;
  /// The cache read and written; null: autotune::TuneCache::global().
  autotune::TuneCache *cache = nullptr;
  /// On a miss: sweep (true) or run heuristicConfig (false).
  bool tuneOnMiss = true;
  /// What the interpreter stands in for when it is the backend (the arch
  /// compiled for, the limits candidates are pruned against).
  autotune::DeviceInfo standIn;
};

/// Where a configuration came from (Default: heuristicConfig, no sweep).
using autotune::ConfigSource;
const char *sourceName(ConfigSource source);

struct PassChoice {
  kernels::LightningPass pass;
  kernels::PassConfig config;
  ConfigSource source;
  /// Time to obtain it (lookup or sweep).
  double seconds = 0;
  /// The sweep's record when source is Tuned, the cached one for Cache.
  std::optional<autotune::TuneRecord> record;
};

class TunedLightning {
public:
  explicit TunedLightning(TunedLightningOptions options = {});
  ~TunedLightning();

  /// lightningForward / lightningBackward with tuned block sizes. The
  /// tuning space is Lightning's fixed-length one: a simple GLA (gates) or
  /// variable-length (cu_seqlens) call runs the heuristic configuration
  /// (LightningOptions::config unset), which respects their limits. The
  /// kernels are queued on `stream` (LightningOptions::stream); a sweep on
  /// a cache miss runs on the tuner's own buffers and synchronizes.
  llvm::Error forward(const LightningForwardArgs &args,
                      void *stream = nullptr);
  llvm::Error backward(const LightningBackwardArgs &args,
                       void *stream = nullptr);

  /// The configuration of `pass` at `shape`: from memory, else the disk
  /// cache, else a sweep whose winner is stored in the cache (or the
  /// heuristic, without tuneOnMiss). A sweep where no candidate passes is an
  /// error listing why.
  llvm::Expected<PassChoice> choose(kernels::LightningPass pass,
                                    const LightningShape &shape);
  /// Choices of the forward kernel or of the three backward kernels.
  llvm::Expected<kernels::LightningConfig>
  configFor(const LightningShape &shape, bool backward,
            std::vector<PassChoice> *choices = nullptr);

  const TunedLightningOptions &options() const { return options_; }
  /// The device sweeps run on (created on first use).
  llvm::Expected<autotune::TuneDevice &> device();

private:
  autotune::TuneCache &cache() const;
  /// The options of a call on (q, v) queued on `stream`: tuned
  /// configuration when the shapes are readable, else none (the entry point
  /// then reports what is wrong).
  llvm::Expected<LightningOptions> optionsFor(const TensorRef &q,
                                              const TensorRef &v, Layout layout,
                                              bool s0, bool sN, bool backward,
                                              void *stream);
  /// The backend, device and stream of a call that takes the heuristic's
  /// blocks.
  LightningOptions untunedOptions(void *stream) const;

  TunedLightningOptions options_;
  std::unique_ptr<autotune::TuneDevice> device_;
  std::mutex mutex_;
  std::map<std::string, kernels::PassConfig> memory_;
};

/// What startLightning did for one kernel of one shape.
struct StartupItem {
  LightningShape shape;
  PassChoice choice;
  /// Compiling and loading the chosen kernel, on its thread (0 when
  /// already loaded); the kernels compile in parallel, so these add up to
  /// more than StartupReport::seconds.
  double compileSeconds = 0;
  /// Where its kernels came from: "compiled", or "disk" when every one was
  /// in the disk cache (GpuKernel::origin).
  std::string origin;
};

struct StartupReport {
  std::vector<StartupItem> items;
  double seconds = 0;
};

/// For every shape: chooses the forward (and, with `backward`, the three
/// backward) configurations — tuning where the cache has none — then
/// compiles and loads those kernels — all at once, a thread per kernel up
/// to the core count — specialized as a call with 16-byte aligned tensors
/// of that shape will use them.
llvm::Expected<StartupReport> startLightning(TunedLightning &tuned,
                                             llvm::ArrayRef<LightningShape> shapes,
                                             bool backward = true);

} // namespace tessel

#endif // TESSEL_KERNELS_LIGHTNINGTUNED_H
