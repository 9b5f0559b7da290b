// KernelCache: the key hash, the on-disk entry format (header + payload,
// checked on read), atomic writes through a unique temporary file and rename,
// and the in-memory map in front of it all.
#include "runtime/KernelCache.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SHA256.h"
#include "llvm/Support/raw_ostream.h"

#include <array>
#include <cstdlib>
#include <cstring>

#include "SourceHash.h"

#ifndef TESSEL_VERSION_STRING
#error "TESSEL_VERSION_STRING must be defined by the build (runtime/CMakeLists.txt)"
#endif

namespace tessel {

namespace {

// Entry layout, all integers little-endian:
//   [0, 8)    magic "TESSELKC"
//   [8, 12)   format version
//   [12, 16)  payload kind (BinaryKind)
//   [16, 24)  payload size
//   [24, 88)  the key (64 hex digits), so a renamed or misplaced file is
//             caught
//   [88, 120) SHA-256 of the payload, so a torn or bit-flipped write is
//             caught
//   [120, ..) payload
constexpr char kMagic[8] = {'T', 'E', 'S', 'S', 'E', 'L', 'K', 'C'};
constexpr size_t kKeyChars = 64;
constexpr size_t kOffVersion = 8, kOffKind = 12, kOffSize = 16, kOffKey = 24,
                 kOffChecksum = kOffKey + kKeyChars, kHeaderBytes = 120;
static_assert(kOffChecksum + 32 == kHeaderBytes);

bool isKey(llvm::StringRef key) {
  return key.size() == kKeyChars &&
         llvm::all_of(key, [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::array<uint8_t, 32> sha256(llvm::StringRef bytes) {
  return llvm::SHA256::hash(llvm::arrayRefFromStringRef(bytes));
}

/// One line on stderr, written with a single call so lines from concurrent
/// threads do not interleave.
void warn(const std::string &message) {
  std::string line = "tessel: warning: kernel cache: " + message + "\n";
  llvm::errs() << line;
  llvm::errs().flush();
}

} // namespace

const char *tesselVersion() {
  return TESSEL_VERSION_STRING "+" TESSEL_SOURCE_HASH;
}

KernelCache::KernelCache(std::string directory)
    : directory_(std::move(directory)) {
  if (directory_.empty())
    return;
  if (std::error_code ec = llvm::sys::fs::create_directories(directory_)) {
    warn("cannot create " + directory_ + ": " + ec.message() +
         "; caching in memory only");
    directory_.clear();
    return;
  }
  diskWritable_ = true;
}

KernelCache &KernelCache::global() {
  static KernelCache cache(defaultDirectory());
  return cache;
}

std::string KernelCache::defaultDirectory() {
  auto env = [](const char *name) -> std::string {
    const char *v = std::getenv(name);
    return v ? v : "";
  };
  if (std::string dir = env("TESSEL_CACHE_DIR"); !dir.empty())
    return dir;
  llvm::SmallString<256> path;
  // The XDG spec ignores relative values of XDG_CACHE_HOME.
  if (std::string xdg = env("XDG_CACHE_HOME");
      !xdg.empty() && llvm::sys::path::is_absolute(xdg)) {
    path = xdg;
    llvm::sys::path::append(path, "tessel");
    return std::string(path);
  }
  if (std::string home = env("HOME"); !home.empty()) {
    path = home;
    llvm::sys::path::append(path, ".cache", "tessel");
    return std::string(path);
  }
  return "";
}

std::string KernelCache::compilerVersion(llvm::StringRef ptxasVersion) {
  std::string v = std::string("tessel ") + tesselVersion() +
                  "; LLVM " LLVM_VERSION_STRING;
  if (!ptxasVersion.empty())
    v += "; ptxas " + ptxasVersion.str();
  return v;
}

std::string KernelCache::makeKey(llvm::StringRef kernelIR,
                                 llvm::StringRef options, llvm::StringRef arch,
                                 llvm::StringRef compilerVersion) {
  llvm::SHA256 hasher;
  auto part = [&](llvm::StringRef bytes) {
    uint8_t length[8];
    llvm::support::endian::write64le(length, bytes.size());
    hasher.update(llvm::ArrayRef<uint8_t>(length));
    hasher.update(bytes);
  };
  part("tessel kernel cache key v1");
  part(kernelIR);
  part(options);
  part(arch);
  part(compilerVersion);
  return llvm::toHex(hasher.final(), /*LowerCase=*/true);
}

std::string KernelCache::entryPath(llvm::StringRef key) const {
  if (directory_.empty())
    return "";
  llvm::SmallString<256> path(directory_);
  llvm::sys::path::append(path, key.str() + ".kernel");
  return std::string(path);
}

std::optional<CachedBinary> KernelCache::lookup(llvm::StringRef key) {
  if (!isKey(key))
    return std::nullopt;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto it = memory_.find(key.str()); it != memory_.end())
      return it->second.binary;
  }
  if (directory_.empty())
    return std::nullopt;
  // Disk reads happen outside the lock so one slow read does not stall
  // lookups of other keys.
  std::optional<CachedBinary> fromDisk = readEntry(key);
  if (!fromDisk)
    return std::nullopt;
  std::lock_guard<std::mutex> lock(mutex_);
  // A store() that raced ahead wins: it is at least as new as the file.
  auto it = memory_.try_emplace(key.str(), Entry{*fromDisk, true}).first;
  return it->second.binary;
}

std::optional<CachedBinary> KernelCache::readEntry(llvm::StringRef key) {
  std::string path = entryPath(key);
  auto file = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                          /*RequiresNullTerminator=*/false);
  if (!file) {
    if (file.getError() != std::errc::no_such_file_or_directory)
      warn("cannot read " + path + ": " + file.getError().message());
    return std::nullopt;
  }
  llvm::StringRef data = (*file)->getBuffer();
  auto reject = [&](const std::string &why) -> std::optional<CachedBinary> {
    warn("ignoring " + path + ": " + why + "; it will be rewritten");
    return std::nullopt;
  };
  if (data.size() < kHeaderBytes)
    return reject("truncated: " + std::to_string(data.size()) +
                  " bytes, expected at least a " +
                  std::to_string(kHeaderBytes) + "-byte header");
  const char *p = data.data();
  if (std::memcmp(p, kMagic, sizeof(kMagic)) != 0)
    return reject("not a tessel cache entry (bad magic)");
  uint32_t version = llvm::support::endian::read32le(p + kOffVersion);
  if (version != kFormatVersion)
    return reject("format version " + std::to_string(version) + ", expected " +
                  std::to_string(kFormatVersion));
  uint32_t kind = llvm::support::endian::read32le(p + kOffKind);
  if (kind != uint32_t(BinaryKind::Cubin) && kind != uint32_t(BinaryKind::Ptx))
    return reject("payload kind " + std::to_string(kind) +
                  ", expected 1 (cubin) or 2 (ptx)");
  uint64_t size = llvm::support::endian::read64le(p + kOffSize);
  if (size != data.size() - kHeaderBytes)
    return reject("header says " + std::to_string(size) +
                  " payload bytes, file has " +
                  std::to_string(data.size() - kHeaderBytes));
  if (llvm::StringRef(p + kOffKey, kKeyChars) != key)
    return reject("entry is for key " +
                  llvm::StringRef(p + kOffKey, kKeyChars).str());
  llvm::StringRef payload = data.drop_front(kHeaderBytes);
  if (std::memcmp(p + kOffChecksum, sha256(payload).data(), 32) != 0)
    return reject("payload checksum mismatch");
  return CachedBinary{static_cast<BinaryKind>(kind), payload.str()};
}

llvm::Error KernelCache::store(llvm::StringRef key,
                               const CachedBinary &binary) {
  if (!isKey(key))
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "kernel cache key '" + key.str() +
            "': expected 64 lowercase hex digits (KernelCache::makeKey)");
  if (binary.bytes.empty())
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "kernel cache key " + key.str() + ": expected a non-empty " +
            binaryKindName(binary.kind) + ", got 0 bytes");
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Entry &entry = memory_[key.str()];
    if (entry.onDisk && entry.binary == binary)
      return llvm::Error::success();
    entry = Entry{binary, false};
  }
  if (!diskWritable_.load() || !writeEntry(key, binary))
    return llvm::Error::success();
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto it = memory_.find(key.str());
      it != memory_.end() && it->second.binary == binary)
    it->second.onDisk = true;
  return llvm::Error::success();
}

bool KernelCache::writeEntry(llvm::StringRef key, const CachedBinary &binary) {
  std::string path = entryPath(key);
  // A unique name per writer in the same directory: rename() within one file
  // system is atomic, so readers see the old entry or the new one, and
  // concurrent writers of one key each install a complete file.
  llvm::SmallString<256> temp;
  int fd = -1;
  if (std::error_code ec = llvm::sys::fs::createUniqueFile(
          path + ".tmp-%%%%%%%%%%%%", fd, temp)) {
    disableDisk("cannot create a file in " + directory_ + ": " +
                ec.message());
    return false;
  }

  char header[kHeaderBytes] = {};
  std::memcpy(header, kMagic, sizeof(kMagic));
  llvm::support::endian::write32le(header + kOffVersion, kFormatVersion);
  llvm::support::endian::write32le(header + kOffKind,
                                   static_cast<uint32_t>(binary.kind));
  llvm::support::endian::write64le(header + kOffSize, binary.bytes.size());
  std::memcpy(header + kOffKey, key.data(), kKeyChars);
  std::memcpy(header + kOffChecksum, sha256(binary.bytes).data(), 32);

  std::error_code writeError;
  {
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    os.write(header, sizeof(header));
    os << binary.bytes;
    os.close();
    if (os.has_error()) {
      writeError = os.error();
      os.clear_error();
    }
  }
  if (!writeError)
    writeError = llvm::sys::fs::rename(temp, path);
  if (writeError) {
    (void)llvm::sys::fs::remove(temp);
    disableDisk("cannot write " + path + ": " + writeError.message());
    return false;
  }
  return true;
}

void KernelCache::disableDisk(const std::string &why) {
  // Warn once per cache: after the first failure there are no more writes.
  if (diskWritable_.exchange(false))
    warn(why + "; caching in memory only");
}

} // namespace tessel
