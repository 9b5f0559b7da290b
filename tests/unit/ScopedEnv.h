// Test helper: sets (or unsets, for nullptr) an environment variable for one
// scope and restores the old value afterwards.
#ifndef TESSEL_TESTS_UNIT_SCOPEDENV_H
#define TESSEL_TESTS_UNIT_SCOPEDENV_H

#include <cstdlib>
#include <optional>
#include <string>

namespace tessel::test {

class ScopedEnv {
public:
  ScopedEnv(const char *name, const char *value) : name_(name) {
    if (const char *old = std::getenv(name))
      old_ = old;
    if (value)
      setenv(name, value, 1);
    else
      unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_)
      setenv(name_.c_str(), old_->c_str(), 1);
    else
      unsetenv(name_.c_str());
  }
  ScopedEnv(const ScopedEnv &) = delete;
  ScopedEnv &operator=(const ScopedEnv &) = delete;

private:
  std::string name_;
  std::optional<std::string> old_;
};

} // namespace tessel::test

#endif // TESSEL_TESTS_UNIT_SCOPEDENV_H
