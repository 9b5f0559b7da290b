// What the tuner needs from a kernel family: its configuration space, a
// fingerprint of its source, and — for one candidate on one device — how to
// compile it (reporting resources), check it against a reference on a small
// input, and run it on inputs of the tuned shape.
#ifndef TESSEL_AUTOTUNE_TUNABLE_H
#define TESSEL_AUTOTUNE_TUNABLE_H

#include "autotune/ConfigSpace.h"
#include "autotune/TuneDevice.h"

#include <memory>
#include <string>

namespace tessel::autotune {

/// What a compiled candidate needs from the device; -1 = not known (e.g. the
/// binary came from the kernel cache and ptxas did not run).
struct Resources {
  int registers = -1;
  int spillBytes = -1;
  int sharedBytes = -1;
  int threads = 0;
};

/// Whether `r` fits `device`; empty when it does, else the reason.
std::string whyNotFits(const Resources &r, const DeviceInfo &device);

/// A candidate's check against the reference.
struct Validation {
  bool ok = false;
  /// "max rel err 3.1e-03 (tol 2e-02)": kept for the table either way.
  std::string detail;
};

/// Per-device state a tunable keeps between candidates: the timing inputs.
class Workspace {
public:
  virtual ~Workspace() = default;
};

class Tunable {
public:
  virtual ~Tunable() = default;

  /// The kernel (family) this tunes, e.g. "lightning_fwd".
  virtual std::string name() const = 0;
  virtual const ConfigSpace &space() const = 0;
  /// The problem a winner applies to: dtype, fixed sizes and a bucket of
  /// the variable ones, e.g. "bf16 d128 e128 bh≤256 n≤4096".
  virtual std::string problemKey() const = 0;
  /// A hash of the kernel source (its IR at the default config): edits to
  /// the kernel invalidate cached winners.
  virtual llvm::Expected<std::string> sourceHash() const = 0;
  /// Bytes and FLOPs of one run, for the table's roofline columns (0 when
  /// unknown).
  virtual double bytesPerRun() const { return 0; }

  /// Allocates and fills the timing inputs on `device` (bound on this
  /// thread).
  virtual llvm::Expected<std::unique_ptr<Workspace>>
  prepare(TuneDevice &device) = 0;
  /// Builds, lowers and assembles `config` for `device`.
  virtual llvm::Expected<Resources> compile(const Config &config,
                                            TuneDevice &device,
                                            Workspace &workspace) = 0;
  /// Runs `config` on a small fresh input and compares with the reference.
  /// An Error means the run itself failed.
  virtual llvm::Expected<Validation> validate(const Config &config,
                                              TuneDevice &device) = 0;
  /// One run on the timing inputs; `rep` picks among input sets so that
  /// consecutive runs do not find their inputs in L2.
  virtual llvm::Error run(const Config &config, TuneDevice &device,
                          Workspace &workspace, int rep) = 0;
};

} // namespace tessel::autotune

#endif // TESSEL_AUTOTUNE_TUNABLE_H
