// What a sweep produces and the tuning cache stores: the key a winner is
// valid for, every candidate's outcome, and the winner.
#ifndef TESSEL_AUTOTUNE_TUNERECORD_H
#define TESSEL_AUTOTUNE_TUNERECORD_H

#include "autotune/Tunable.h"

#include <optional>

namespace tessel::autotune {

/// Everything a winner depends on (docs/design.md §2.6). Two keys with equal
/// digests are the same key.
struct TuneKey {
  std::string kernel;
  std::string sourceHash;
  int spaceVersion = 0;
  std::string deviceName;
  int smCount = 0;
  int computeMajor = 0, computeMinor = 0;
  int driverVersion = 0;
  std::string tesselVersion;
  /// dtype and shape bucket (Tunable::problemKey).
  std::string problem;

  static llvm::Expected<TuneKey> make(const Tunable &tunable,
                                      const DeviceInfo &device);
  /// Hex SHA-256 of the canonical JSON form.
  std::string digest() const;
  nlohmann::json toJson() const;
  static llvm::Expected<TuneKey> fromJson(const nlohmann::json &json);
  bool operator==(const TuneKey &) const = default;
};

enum class Status { Ok, Pruned, CompileFailed, LaunchFailed, WrongResult };
/// "ok", "pruned", "compile failed", "launch failed", "wrong result".
const char *statusName(Status status);

/// One candidate's outcome.
struct CandidateResult {
  Config config;
  Status status = Status::Ok;
  /// Why it was pruned or failed; the validation detail when ok.
  std::string reason;
  Resources resources;
  /// Median and spread of the timed repetitions (status ok only).
  double ms = 0, minMs = 0, maxMs = 0;
  /// Which device measured it ("GPU 1").
  std::string device;
};

struct TuneRecord {
  TuneKey key;
  Config best;
  double bestMs = 0;
  Config defaultConfig;
  /// The default config's median; absent when it did not pass.
  std::optional<double> defaultMs;
  /// Wall time of the sweep that produced this record.
  double tuneSeconds = 0;
  std::string date;
  std::vector<CandidateResult> table;

  nlohmann::json toJson() const;
  /// Any missing or mistyped field is an error naming it.
  static llvm::Expected<TuneRecord> fromJson(const nlohmann::json &json);
};

} // namespace tessel::autotune

#endif // TESSEL_AUTOTUNE_TUNERECORD_H
