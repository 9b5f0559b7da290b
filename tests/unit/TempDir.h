// Test helper: a fresh private directory under /tmp, removed with everything
// in it at the end of the scope.
#ifndef TESSEL_TESTS_UNIT_TEMPDIR_H
#define TESSEL_TESTS_UNIT_TEMPDIR_H

#include <cstdlib>
#include <filesystem>
#include <string>

namespace tessel::test {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/tessel-test-XXXXXX";
    if (const char *made = ::mkdtemp(tmpl))
      path = made;
  }
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;
  ~TempDir() {
    if (!path.empty())
      std::filesystem::remove_all(path);
  }
};

} // namespace tessel::test

#endif // TESSEL_TESTS_UNIT_TEMPDIR_H
