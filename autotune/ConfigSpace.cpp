// Cartesian enumeration and (de)serialization of configurations.
#include "autotune/ConfigSpace.h"

#include "fmt/format.h"

#include <algorithm>
#include <cassert>

namespace tessel::autotune {

int Config::get(const std::string &name) const {
  for (const auto &[n, v] : values)
    if (n == name)
      return v;
  assert(false && "config has no such parameter");
  return 0;
}

bool Config::has(const std::string &name) const {
  return std::any_of(values.begin(), values.end(),
                     [&](const auto &p) { return p.first == name; });
}

std::string Config::str() const {
  std::string s;
  for (const auto &[n, v] : values)
    s += fmt::format("{}{}={}", s.empty() ? "" : " ", n, v);
  return s;
}

nlohmann::json Config::toJson() const {
  // An array of pairs keeps the declaration order, which str() and tables
  // rely on; nlohmann's object would sort the names.
  nlohmann::json j = nlohmann::json::array();
  for (const auto &[n, v] : values)
    j.push_back({n, v});
  return j;
}

llvm::Expected<Config> Config::fromJson(const nlohmann::json &json) {
  if (!json.is_array())
    return llvm::createStringError("config: expected an array of "
                                   "[name, value] pairs");
  Config c;
  for (const auto &item : json) {
    if (!item.is_array() || item.size() != 2 || !item[0].is_string() ||
        !item[1].is_number_integer())
      return llvm::createStringError(
          fmt::format("config: entry {} is not a [name, integer] pair",
                      item.dump()));
    c.values.emplace_back(item[0].get<std::string>(), item[1].get<int>());
  }
  return c;
}

ConfigSpace::ConfigSpace(std::string name, int version)
    : name_(std::move(name)), version_(version) {}

ConfigSpace &ConfigSpace::param(std::string name, std::vector<int> values,
                                std::string help) {
  assert(!values.empty() && "a parameter needs at least one value");
  assert(std::adjacent_find(values.begin(), values.end()) == values.end());
  if (!explicitDefault_)
    default_.values.emplace_back(name, values.front());
  params_.push_back({std::move(name), std::move(values), std::move(help)});
  return *this;
}

ConfigSpace &ConfigSpace::defaults(Config config) {
  default_ = std::move(config);
  explicitDefault_ = true;
  return *this;
}

std::vector<Config> ConfigSpace::enumerate() const {
  std::vector<Config> out{Config{}};
  for (const Param &p : params_) {
    std::vector<Config> next;
    for (const Config &prefix : out)
      for (int v : p.values) {
        Config c = prefix;
        c.values.emplace_back(p.name, v);
        next.push_back(std::move(c));
      }
    out = std::move(next);
  }
  return out;
}

llvm::Error ConfigSpace::contains(const Config &config) const {
  if (config.values.size() != params_.size())
    return llvm::createStringError(fmt::format(
        "config '{}' has {} parameters; space {} has {}", config.str(),
        config.values.size(), name_, params_.size()));
  for (size_t i = 0; i < params_.size(); ++i) {
    const auto &[n, v] = config.values[i];
    const Param &p = params_[i];
    if (n != p.name)
      return llvm::createStringError(fmt::format(
          "config '{}': parameter {} is '{}', space {} expects '{}'",
          config.str(), i, n, name_, p.name));
    if (std::find(p.values.begin(), p.values.end(), v) == p.values.end())
      return llvm::createStringError(fmt::format(
          "config '{}': {}={} is not one of space {}'s values", config.str(),
          n, v, name_));
  }
  return llvm::Error::success();
}

} // namespace tessel::autotune
