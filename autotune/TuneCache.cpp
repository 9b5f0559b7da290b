// File handling of the tuning cache: flock-serialized read-merge-rename for
// writers, lock-free reads, warnings for anything damaged.
#include "autotune/TuneCache.h"

#include "runtime/KernelCache.h"

#include "fmt/format.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/file.h>
#include <thread>
#include <unistd.h>

namespace tessel::autotune {

using nlohmann::json;

namespace {

void warn(const std::string &message) {
  fmt::print(stderr, "tessel: warning: {}\n", message);
}

/// The entries of the file at `path`: an empty object when it is absent,
/// and (with a warning) when it is damaged.
json readEntries(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return json::object();
  std::stringstream text;
  text << in.rdbuf();
  json file = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (file.is_discarded()) {
    warn(fmt::format("tuning cache {} is not valid JSON (truncated or "
                     "overwritten?); treating it as empty",
                     path));
    return json::object();
  }
  if (!file.is_object() || !file.contains("format") ||
      file["format"] != TuneCache::kFormatVersion || !file.contains("entries") ||
      !file["entries"].is_object()) {
    warn(fmt::format("tuning cache {} is not a format-{} tessel tuning cache; "
                     "treating it as empty",
                     path, TuneCache::kFormatVersion));
    return json::object();
  }
  return file["entries"];
}

/// An exclusive flock on `<path>.lock`, released on destruction.
class FileLock {
public:
  static llvm::Expected<FileLock> acquire(const std::string &path) {
    std::string lockPath = path + ".lock";
    int fd = ::open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
      return llvm::createStringError(fmt::format(
          "cannot open lock file {}: {}", lockPath, std::strerror(errno)));
    while (::flock(fd, LOCK_EX) != 0) {
      if (errno == EINTR)
        continue;
      int saved = errno;
      ::close(fd);
      return llvm::createStringError(fmt::format(
          "cannot lock {}: {}", lockPath, std::strerror(saved)));
    }
    return FileLock(fd);
  }
  FileLock(FileLock &&other) : fd_(other.fd_) { other.fd_ = -1; }
  ~FileLock() {
    if (fd_ >= 0) {
      ::flock(fd_, LOCK_UN);
      ::close(fd_);
    }
  }

private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

llvm::Error writeAtomically(const std::string &path, const std::string &text) {
  std::string tmp = fmt::format(
      "{}.tmp.{}.{}", path, ::getpid(),
      std::hash<std::thread::id>{}(std::this_thread::get_id()));
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      return llvm::createStringError(
          fmt::format("cannot write {}: {}", tmp, std::strerror(errno)));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    int saved = errno;
    std::remove(tmp.c_str());
    return llvm::createStringError(fmt::format(
        "cannot rename {} to {}: {}", tmp, path, std::strerror(saved)));
  }
  return llvm::Error::success();
}

} // namespace

TuneCache::TuneCache(std::string directory) : directory_(std::move(directory)) {}

TuneCache &TuneCache::global() {
  static TuneCache cache(KernelCache::defaultDirectory());
  return cache;
}

std::string TuneCache::path() const {
  if (directory_.empty())
    return {};
  llvm::SmallString<256> p(directory_);
  llvm::sys::path::append(p, "autotune.json");
  return std::string(p);
}

std::optional<TuneRecord> TuneCache::lookup(const TuneKey &key) const {
  if (directory_.empty())
    return std::nullopt;
  json entries = readEntries(path());
  std::string digest = key.digest();
  if (!entries.contains(digest))
    return std::nullopt;
  auto record = TuneRecord::fromJson(entries[digest]);
  if (!record) {
    warn(fmt::format("tuning cache {}: entry {} is damaged ({}); tuning again",
                     path(), digest.substr(0, 12),
                     llvm::toString(record.takeError())));
    return std::nullopt;
  }
  if (!(record->key == key)) {
    warn(fmt::format("tuning cache {}: entry {} holds another key; tuning "
                     "again",
                     path(), digest.substr(0, 12)));
    return std::nullopt;
  }
  return std::move(*record);
}

llvm::Error TuneCache::store(const TuneRecord &record) {
  if (directory_.empty())
    return llvm::Error::success();
  if (std::error_code ec = llvm::sys::fs::create_directories(directory_))
    return llvm::createStringError(fmt::format(
        "cannot create tuning cache directory {}: {}", directory_, ec.message()));
  auto lock = FileLock::acquire(path());
  if (!lock)
    return lock.takeError();
  json entries = readEntries(path());
  entries[record.key.digest()] = record.toJson();
  json file = {{"format", kFormatVersion}, {"entries", entries}};
  return writeAtomically(path(), file.dump(1));
}

std::vector<TuneRecord> TuneCache::list() const {
  std::vector<TuneRecord> out;
  if (directory_.empty())
    return out;
  json entries = readEntries(path());
  for (auto &[digest, value] : entries.items()) {
    auto record = TuneRecord::fromJson(value);
    if (!record) {
      warn(fmt::format("tuning cache {}: skipping damaged entry {} ({})",
                       path(), digest.substr(0, 12),
                       llvm::toString(record.takeError())));
      continue;
    }
    out.push_back(std::move(*record));
  }
  return out;
}

llvm::Expected<size_t> TuneCache::clear() {
  if (directory_.empty() || !llvm::sys::fs::exists(path()))
    return 0;
  auto lock = FileLock::acquire(path());
  if (!lock)
    return lock.takeError();
  size_t n = readEntries(path()).size();
  if (std::remove(path().c_str()) != 0 && errno != ENOENT)
    return llvm::createStringError(
        fmt::format("cannot remove {}: {}", path(), std::strerror(errno)));
  return n;
}

} // namespace tessel::autotune
