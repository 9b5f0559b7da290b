// Keys and records, to and from JSON. Parsing is defensive: the cache file
// may be truncated, hand-edited or from another version.
#include "autotune/TuneRecord.h"

#include "runtime/KernelCache.h"

#include "fmt/format.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/SHA256.h"

#include <algorithm>

namespace tessel::autotune {

using nlohmann::json;

llvm::Expected<TuneKey> TuneKey::make(const Tunable &tunable,
                                      const DeviceInfo &device) {
  auto hash = tunable.sourceHash();
  if (!hash)
    return hash.takeError();
  TuneKey k;
  k.kernel = tunable.name();
  k.sourceHash = *hash;
  k.spaceVersion = tunable.space().version();
  k.deviceName = device.name;
  k.smCount = device.smCount;
  k.computeMajor = device.computeMajor;
  k.computeMinor = device.computeMinor;
  k.driverVersion = device.driverVersion;
  k.tesselVersion = tessel::tesselVersion();
  k.problem = tunable.problemKey();
  return k;
}

json TuneKey::toJson() const {
  return {{"kernel", kernel},           {"source_hash", sourceHash},
          {"space_version", spaceVersion}, {"device", deviceName},
          {"sm_count", smCount},       {"cc", {computeMajor, computeMinor}},
          {"driver", driverVersion},   {"tessel", tesselVersion},
          {"problem", problem}};
}

std::string TuneKey::digest() const {
  // nlohmann objects serialize with sorted keys: the dump is canonical.
  std::string text = toJson().dump();
  auto hash = llvm::SHA256::hash(llvm::arrayRefFromStringRef(text));
  return llvm::toHex(hash, /*LowerCase=*/true);
}

namespace {

bool holds(const json &v, const std::string *) { return v.is_string(); }
bool holds(const json &v, const int *) { return v.is_number_integer(); }
bool holds(const json &v, const double *) { return v.is_number(); }
bool holds(const json &v, const std::vector<int> *) {
  return v.is_array() &&
         std::all_of(v.begin(), v.end(),
                     [](const json &x) { return x.is_number_integer(); });
}

/// Reads `j[name]` as T, or says which field is missing or mistyped. Types
/// are checked before converting: nlohmann reports mismatches by throwing,
/// and tessel reports errors as values.
template <typename T>
llvm::Error field(const json &j, const char *name, T &out) {
  if (!j.is_object() || !j.contains(name))
    return llvm::createStringError(fmt::format("missing field '{}'", name));
  const json &v = j.at(name);
  if (!holds(v, &out))
    return llvm::createStringError(fmt::format(
        "field '{}' has the wrong type ({})", name, v.type_name()));
  out = v.get<T>();
  return llvm::Error::success();
}

llvm::Error configField(const json &j, const char *name, Config &out) {
  if (!j.is_object() || !j.contains(name))
    return llvm::createStringError(fmt::format("missing field '{}'", name));
  auto c = Config::fromJson(j.at(name));
  if (!c)
    return c.takeError();
  out = std::move(*c);
  return llvm::Error::success();
}

} // namespace

llvm::Expected<TuneKey> TuneKey::fromJson(const json &j) {
  TuneKey k;
  std::vector<int> cc;
  if (auto e = field(j, "kernel", k.kernel)) return std::move(e);
  if (auto e = field(j, "source_hash", k.sourceHash)) return std::move(e);
  if (auto e = field(j, "space_version", k.spaceVersion)) return std::move(e);
  if (auto e = field(j, "device", k.deviceName)) return std::move(e);
  if (auto e = field(j, "sm_count", k.smCount)) return std::move(e);
  if (auto e = field(j, "cc", cc)) return std::move(e);
  if (cc.size() != 2)
    return llvm::createStringError("field 'cc' must be [major, minor]");
  k.computeMajor = cc[0], k.computeMinor = cc[1];
  if (auto e = field(j, "driver", k.driverVersion)) return std::move(e);
  if (auto e = field(j, "tessel", k.tesselVersion)) return std::move(e);
  if (auto e = field(j, "problem", k.problem)) return std::move(e);
  return k;
}

const char *statusName(Status status) {
  switch (status) {
  case Status::Ok: return "ok";
  case Status::Pruned: return "pruned";
  case Status::CompileFailed: return "compile failed";
  case Status::LaunchFailed: return "launch failed";
  case Status::WrongResult: return "wrong result";
  }
  return "?";
}

json TuneRecord::toJson() const {
  json table = json::array();
  for (const CandidateResult &c : this->table)
    table.push_back({{"config", c.config.toJson()},
                     {"status", statusName(c.status)},
                     {"reason", c.reason},
                     {"registers", c.resources.registers},
                     {"spill_bytes", c.resources.spillBytes},
                     {"shared_bytes", c.resources.sharedBytes},
                     {"ms", c.ms},
                     {"min_ms", c.minMs},
                     {"max_ms", c.maxMs},
                     {"device", c.device}});
  json j = {{"key", key.toJson()},
            {"best", best.toJson()},
            {"best_ms", bestMs},
            {"default", defaultConfig.toJson()},
            {"tune_seconds", tuneSeconds},
            {"date", date},
            {"table", table}};
  if (defaultMs)
    j["default_ms"] = *defaultMs;
  return j;
}

llvm::Expected<TuneRecord> TuneRecord::fromJson(const json &j) {
  TuneRecord r;
  if (!j.is_object())
    return llvm::createStringError("a record must be a JSON object");
  if (!j.contains("key"))
    return llvm::createStringError("missing field 'key'");
  auto key = TuneKey::fromJson(j.at("key"));
  if (!key)
    return key.takeError();
  r.key = std::move(*key);
  if (auto e = configField(j, "best", r.best)) return std::move(e);
  if (auto e = field(j, "best_ms", r.bestMs)) return std::move(e);
  if (auto e = configField(j, "default", r.defaultConfig)) return std::move(e);
  if (auto e = field(j, "tune_seconds", r.tuneSeconds)) return std::move(e);
  if (auto e = field(j, "date", r.date)) return std::move(e);
  if (j.contains("default_ms")) {
    double ms;
    if (auto e = field(j, "default_ms", ms)) return std::move(e);
    r.defaultMs = ms;
  }
  if (!j.contains("table") || !j.at("table").is_array())
    return llvm::createStringError("missing field 'table'");
  for (const json &row : j.at("table")) {
    CandidateResult c;
    std::string status;
    if (auto e = configField(row, "config", c.config)) return std::move(e);
    if (auto e = field(row, "status", status)) return std::move(e);
    bool known = false;
    for (Status s : {Status::Ok, Status::Pruned, Status::CompileFailed,
                     Status::LaunchFailed, Status::WrongResult})
      if (status == statusName(s))
        c.status = s, known = true;
    if (!known)
      return llvm::createStringError(
          fmt::format("unknown candidate status '{}'", status));
    if (auto e = field(row, "reason", c.reason)) return std::move(e);
    if (auto e = field(row, "registers", c.resources.registers)) return std::move(e);
    if (auto e = field(row, "spill_bytes", c.resources.spillBytes)) return std::move(e);
    if (auto e = field(row, "shared_bytes", c.resources.sharedBytes)) return std::move(e);
    if (auto e = field(row, "ms", c.ms)) return std::move(e);
    if (auto e = field(row, "min_ms", c.minMs)) return std::move(e);
    if (auto e = field(row, "max_ms", c.maxMs)) return std::move(e);
    if (auto e = field(row, "device", c.device)) return std::move(e);
    r.table.push_back(std::move(c));
  }
  return r;
}

} // namespace tessel::autotune
