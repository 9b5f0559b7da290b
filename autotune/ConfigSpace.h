// Configuration spaces, declared beside each kernel the way
// @triton.autotune(configs=...) sits on a Triton kernel: named integer
// parameters with their candidate values, the Cartesian product of which is
// what the tuner sweeps. Kernel-specific meaning (block sizes, warps, stages,
// strategy) lives with the kernel; the tuner only sees names and values.
#ifndef TESSEL_AUTOTUNE_CONFIGSPACE_H
#define TESSEL_AUTOTUNE_CONFIGSPACE_H

#include "llvm/Support/Error.h"
#include "nlohmann/json.hpp"

#include <string>
#include <utility>
#include <vector>

namespace tessel::autotune {

/// One point of a space: parameter values by name, in declaration order.
struct Config {
  std::vector<std::pair<std::string, int>> values;

  /// The value of `name`; a missing name is a programming error (asserts).
  int get(const std::string &name) const;
  bool has(const std::string &name) const;
  /// "C=64 W=64 warps=8".
  std::string str() const;
  nlohmann::json toJson() const;
  /// A config from {"name": int, ...}; anything else is an error naming the
  /// offending field.
  static llvm::Expected<Config> fromJson(const nlohmann::json &json);
  bool operator==(const Config &) const = default;
};

/// One tunable parameter.
struct Param {
  std::string name;
  std::vector<int> values;
  /// What the values mean, for `tessel tune --help`-style listings.
  std::string help;
};

class ConfigSpace {
public:
  /// `version` goes into tuning-cache keys: bump it whenever the meaning of
  /// a parameter or the set of candidates changes, so stale winners are
  /// not reused.
  ConfigSpace(std::string name, int version);

  /// Adds a parameter; values must be distinct and non-empty (asserts).
  ConfigSpace &param(std::string name, std::vector<int> values,
                     std::string help = {});
  /// The value every parameter takes when not tuned; defaults to each
  /// parameter's first value.
  ConfigSpace &defaults(Config config);

  const std::string &name() const { return name_; }
  int version() const { return version_; }
  const std::vector<Param> &params() const { return params_; }
  const Config &defaultConfig() const { return default_; }

  /// Every combination, the first parameter varying slowest.
  std::vector<Config> enumerate() const;
  /// Whether `config` names exactly this space's parameters with values
  /// from their lists; the error says which one is off.
  llvm::Error contains(const Config &config) const;

private:
  std::string name_;
  int version_;
  std::vector<Param> params_;
  Config default_;
  bool explicitDefault_ = false;
};

} // namespace tessel::autotune

#endif // TESSEL_AUTOTUNE_CONFIGSPACE_H
