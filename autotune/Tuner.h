// The sweep: every candidate of a tunable's space is compiled, pruned when
// it cannot fit the device, checked against the reference on a small input,
// and timed (device events, warm-up, repetitions, median) on the tuned
// shape. Candidates are sharded over the given devices — one thread per
// device — and results merged into one record per device kind.
#ifndef TESSEL_AUTOTUNE_TUNER_H
#define TESSEL_AUTOTUNE_TUNER_H

#include "autotune/TuneRecord.h"

#include <optional>

#include <functional>

namespace tessel::autotune {

class TuneCache;

struct TuneOptions {
  int warmup = 3;
  int reps = 10;
  /// Threads compiling candidates ahead of the timing on each device; 0:
  /// the machine's cores shared among the devices.
  int compileThreads = 0;
  /// Called once per finished candidate with the count finished so far and
  /// the total; calls are serialized (never concurrent).
  std::function<void(const CandidateResult &, size_t done, size_t total)>
      progress;
};

/// A sweep's outcome on one device kind.
struct KindResult {
  DeviceInfo device;
  TuneRecord record;
  /// Candidates run by each device of the kind, by label ("GPU 1": 9).
  std::vector<std::pair<std::string, size_t>> shares;

  bool found() const { return !record.best.values.empty(); }
};

/// Sweeps `tunable` over `devices`. Fails only when no device was given or
/// the key cannot be formed; a kind where no candidate passed comes back
/// with found() false and the reasons in its table.
llvm::Expected<std::vector<KindResult>>
sweep(Tunable &tunable, llvm::ArrayRef<TuneDevice *> devices,
      const TuneOptions &options = {});

/// Where a tuned callable's configuration came from (Default: the caller's
/// fallback on a miss without tuning, no sweep).
enum class ConfigSource { Memory, Cache, Tuned, Default };

struct Winner {
  TuneRecord record;
  ConfigSource source; ///< Cache or Tuned
};

/// `tunable`'s winner on `device`: the record in `cache` when its best
/// configuration is still in the space, else — with `tuneOnMiss` — a sweep
/// on `device` whose record is stored; nothing on a miss without it. A
/// sweep where no candidate passed is an error that lists every
/// candidate's outcome.
llvm::Expected<std::optional<Winner>>
findWinner(Tunable &tunable, TuneDevice &device, TuneCache &cache,
           bool tuneOnMiss, const TuneOptions &options);

/// Today's date, "2026-11-24", for records.
std::string today();

} // namespace tessel::autotune

#endif // TESSEL_AUTOTUNE_TUNER_H
