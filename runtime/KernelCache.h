// The compiled-kernel cache (docs/design.md §2.5): binaries kept in memory and in
// one file per key on disk, keyed by a SHA-256 over everything that decides
// the binary, written atomically and validated on every read.
#ifndef TESSEL_RUNTIME_KERNELCACHE_H
#define TESSEL_RUNTIME_KERNELCACHE_H

#include "runtime/KernelBinary.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <atomic>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace tessel {

/// A cached kernel image.
using CachedBinary = KernelBinary;

/// tessel's version: the CMake project version and a hash of the compiler's
/// sources (dialect, DSL, lowering), "0.1.0+3f2a9c0d1e4b5a67".
const char *tesselVersion();

/// Binaries by key, in memory and (unless disabled) on disk. Thread-safe.
///
/// On disk each key is one file `<dir>/<key>.kernel`: a header (magic, format
/// version, payload kind, payload size, the key, a SHA-256 of the payload)
/// and the payload. A file that is short, corrupt or for another key or
/// format is a miss with a one-line warning on stderr, and the next store()
/// of that key overwrites it. Disk failures are warnings too: the cache then
/// carries on in memory only.
class KernelCache {
public:
  /// A cache over `directory`, created if needed; an empty `directory` gives
  /// a memory-only cache.
  explicit KernelCache(std::string directory);
  KernelCache(const KernelCache &) = delete;
  KernelCache &operator=(const KernelCache &) = delete;

  /// The process-wide cache over defaultDirectory().
  static KernelCache &global();

  /// $TESSEL_CACHE_DIR, else $XDG_CACHE_HOME/tessel, else
  /// $HOME/.cache/tessel; empty when none of them is set.
  static std::string defaultDirectory();

  /// The compiler identity that goes into keys: "tessel 0.1.0; LLVM 22.1.8",
  /// plus "; ptxas 13.0.88" when `ptxasVersion` is not empty (cubins depend
  /// on it; PTX for the driver's JIT does not).
  static std::string compilerVersion(llvm::StringRef ptxasVersion = {});

  /// Hex SHA-256 over the kernel IR text, the compile options, the target
  /// arch and the compiler version. Each part is length-prefixed, so moving
  /// text from one part to the next changes the key.
  static std::string makeKey(llvm::StringRef kernelIR, llvm::StringRef options,
                             llvm::StringRef arch,
                             llvm::StringRef compilerVersion);

  /// The binary stored under `key`: from memory, else from disk (then kept in
  /// memory). A malformed key is a miss.
  std::optional<CachedBinary> lookup(llvm::StringRef key);

  /// Stores `binary` under `key` in memory and, when enabled, on disk (a
  /// unique temporary file renamed into place, so readers never see half an
  /// entry). Errors only for a key makeKey could not have produced; disk
  /// trouble is a warning.
  llvm::Error store(llvm::StringRef key, const CachedBinary &binary);

  /// The directory entries live in; empty for a memory-only cache.
  const std::string &directory() const { return directory_; }
  /// False once the directory proved unusable for writing.
  bool diskEnabled() const { return diskWritable_.load(); }
  /// Where `key`'s entry lives on disk (whether or not it exists).
  std::string entryPath(llvm::StringRef key) const;

  /// The on-disk format version; entries of other versions are misses.
  static constexpr uint32_t kFormatVersion = 1;

private:
  struct Entry {
    CachedBinary binary;
    /// True when this exact entry is known to be on disk, so storing the
    /// same binary again need not rewrite the file.
    bool onDisk = false;
  };

  std::optional<CachedBinary> readEntry(llvm::StringRef key);
  bool writeEntry(llvm::StringRef key, const CachedBinary &binary);
  void disableDisk(const std::string &why);

  std::string directory_;
  std::atomic<bool> diskWritable_{false};
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> memory_;
};

} // namespace tessel

#endif // TESSEL_RUNTIME_KERNELCACHE_H
