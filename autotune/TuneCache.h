// The tuning cache (docs/design.md §2.6): one JSON file, `autotune.json`, in the
// kernel cache's directory ($TESSEL_CACHE_DIR, else the XDG cache). Records
// are keyed by TuneKey::digest(). Writers take an exclusive flock on a
// sibling lock file, re-read the file, merge their record and rename a fresh
// copy into place, so concurrent tuners in several processes lose nothing
// and readers (who take no lock) never see half a file. A file or record
// that does not parse is a miss and a one-line warning, never a crash; the
// next store replaces it.
#ifndef TESSEL_AUTOTUNE_TUNECACHE_H
#define TESSEL_AUTOTUNE_TUNECACHE_H

#include "autotune/TuneRecord.h"

#include <optional>
#include <string>
#include <vector>

namespace tessel::autotune {

class TuneCache {
public:
  /// A cache in `directory`; empty means "no disk cache" (lookups miss,
  /// stores succeed without writing).
  explicit TuneCache(std::string directory);

  /// The cache in KernelCache::defaultDirectory().
  static TuneCache &global();

  const std::string &directory() const { return directory_; }
  /// The JSON file; empty for a disabled cache.
  std::string path() const;

  /// The record for `key`, or nothing (with a warning on stderr when the
  /// file or the record is damaged).
  std::optional<TuneRecord> lookup(const TuneKey &key) const;
  /// Adds or replaces `record` under its key's digest.
  llvm::Error store(const TuneRecord &record);
  /// Every readable record, in digest order; damaged ones are skipped with a
  /// warning.
  std::vector<TuneRecord> list() const;
  /// Removes the file; returns how many records it held.
  llvm::Expected<size_t> clear();

  /// The file's format version; files of other versions are treated as
  /// empty.
  static constexpr int kFormatVersion = 1;

private:
  std::string directory_;
};

} // namespace tessel::autotune

#endif // TESSEL_AUTOTUNE_TUNECACHE_H
