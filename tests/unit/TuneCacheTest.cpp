// The tuning cache: round trips, damaged files and entries (a miss and a
// warning, never a crash), keys that differ in any part, and several real
// processes storing into one file at once without losing a record.
#include "autotune/TuneCache.h"

#include "TempDir.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include <filesystem>
#include <fstream>
#include <sys/wait.h>
#include <unistd.h>

namespace tessel::autotune {
namespace {

using ::testing::HasSubstr;

using test::TempDir;

TuneKey key(const std::string &problem, const std::string &device = "GPU-A") {
  TuneKey k;
  k.kernel = "lightning_fwd";
  k.sourceHash = "0123456789abcdef";
  k.spaceVersion = 1;
  k.deviceName = device;
  k.smCount = 132;
  k.computeMajor = 9;
  k.driverVersion = 12080;
  k.tesselVersion = "0.1.0";
  k.problem = problem;
  return k;
}

TuneRecord record(const TuneKey &k, int c, double ms) {
  TuneRecord r;
  r.key = k;
  r.best = Config{{{"C", c}, {"warps", 8}}};
  r.bestMs = ms;
  r.defaultConfig = Config{{{"C", 64}, {"warps", 8}}};
  r.defaultMs = 2 * ms;
  r.tuneSeconds = 1.5;
  r.date = "2026-11-24";
  CandidateResult row;
  row.config = r.best;
  row.ms = row.minMs = row.maxMs = ms;
  row.reason = "max rel err 1e-3";
  row.resources = {128, 0, 4096, 256};
  row.device = "GPU 0";
  CandidateResult pruned;
  pruned.config = Config{{{"C", 256}, {"warps", 8}}};
  pruned.status = Status::Pruned;
  pruned.reason = "needs 300000 B of shared memory";
  r.table = {row, pruned};
  return r;
}

TEST(TuneCache, StoresAndFindsRecords) {
  TempDir dir;
  TuneCache cache(dir.path);
  EXPECT_FALSE(cache.lookup(key("p1")).has_value());
  ASSERT_FALSE(static_cast<bool>(cache.store(record(key("p1"), 32, 1.25))));
  ASSERT_FALSE(static_cast<bool>(cache.store(record(key("p2"), 128, 3.5))));
  auto r = cache.lookup(key("p1"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->best.str(), "C=32 warps=8");
  EXPECT_DOUBLE_EQ(r->bestMs, 1.25);
  ASSERT_TRUE(r->defaultMs.has_value());
  EXPECT_DOUBLE_EQ(*r->defaultMs, 2.5);
  ASSERT_EQ(r->table.size(), 2u);
  EXPECT_EQ(r->table[1].status, Status::Pruned);
  EXPECT_EQ(r->table[1].reason, "needs 300000 B of shared memory");
  EXPECT_EQ(r->table[0].resources.sharedBytes, 4096);
  EXPECT_EQ(cache.lookup(key("p2"))->best.get("C"), 128);
  EXPECT_EQ(cache.list().size(), 2u);
  // Replacing keeps one record per key.
  ASSERT_FALSE(static_cast<bool>(cache.store(record(key("p1"), 64, 1.0))));
  EXPECT_EQ(cache.lookup(key("p1"))->best.get("C"), 64);
  EXPECT_EQ(cache.list().size(), 2u);
}

TEST(TuneCache, EveryKeyPartSeparatesRecords) {
  TempDir dir;
  TuneCache cache(dir.path);
  TuneKey base = key("p");
  ASSERT_FALSE(static_cast<bool>(cache.store(record(base, 32, 1))));
  std::vector<TuneKey> variants(9, base);
  variants[0].kernel = "lightning_bwd_dq";
  variants[1].sourceHash = "fedcba9876543210";
  variants[2].spaceVersion = 2;
  variants[3].deviceName = "GPU-B";
  variants[4].smCount = 114;
  variants[5].computeMinor = 1;
  variants[6].driverVersion = 13000;
  variants[7].tesselVersion = "0.2.0";
  variants[8].problem = "q";
  for (const TuneKey &k : variants) {
    EXPECT_NE(k.digest(), base.digest());
    EXPECT_FALSE(cache.lookup(k).has_value()) << k.toJson().dump();
  }
  EXPECT_TRUE(cache.lookup(base).has_value());
}

TEST(TuneCache, TruncatedFileIsAMissWithAWarningAndIsReplaced) {
  TempDir dir;
  TuneCache cache(dir.path);
  ASSERT_FALSE(static_cast<bool>(cache.store(record(key("p1"), 32, 1))));
  std::string text;
  {
    std::ifstream in(cache.path());
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::ofstream(cache.path(), std::ios::trunc) << text.substr(0, text.size() / 2);
  testing::internal::CaptureStderr();
  EXPECT_FALSE(cache.lookup(key("p1")).has_value());
  EXPECT_THAT(testing::internal::GetCapturedStderr(),
              HasSubstr("is not valid JSON (truncated or overwritten?)"));
  // The next store writes a valid file again.
  testing::internal::CaptureStderr();
  ASSERT_FALSE(static_cast<bool>(cache.store(record(key("p2"), 64, 2))));
  testing::internal::GetCapturedStderr();
  EXPECT_TRUE(cache.lookup(key("p2")).has_value());
}

TEST(TuneCache, GarbageFilesAndEntriesAreMisses) {
  TempDir dir;
  TuneCache cache(dir.path);
  for (const char *garbage : {"\x01\x02\xff binary", "[1, 2, 3]",
                              R"({"format": 99, "entries": {}})", ""}) {
    std::ofstream(cache.path(), std::ios::trunc | std::ios::binary) << garbage;
    testing::internal::CaptureStderr();
    EXPECT_FALSE(cache.lookup(key("p1")).has_value()) << garbage;
    EXPECT_TRUE(cache.list().empty());
    std::string err = testing::internal::GetCapturedStderr();
    if (*garbage)
      EXPECT_THAT(err, HasSubstr("treating it as empty")) << garbage;
  }
  // One damaged entry among good ones: only it misses.
  std::filesystem::remove(cache.path());
  ASSERT_FALSE(static_cast<bool>(cache.store(record(key("good"), 32, 1))));
  ASSERT_FALSE(static_cast<bool>(cache.store(record(key("bad"), 32, 1))));
  nlohmann::json file;
  std::ifstream(cache.path()) >> file;
  file["entries"][key("bad").digest()]["best_ms"] = "fast";
  file["entries"][key("bad").digest()].erase("table");
  std::ofstream(cache.path(), std::ios::trunc) << file.dump();
  testing::internal::CaptureStderr();
  EXPECT_FALSE(cache.lookup(key("bad")).has_value());
  EXPECT_TRUE(cache.lookup(key("good")).has_value());
  EXPECT_EQ(cache.list().size(), 1u);
  EXPECT_THAT(testing::internal::GetCapturedStderr(),
              HasSubstr("field 'best_ms' has the wrong type"));
  // An entry filed under another key's digest is not returned for it.
  file["entries"][key("bad").digest()] = file["entries"][key("good").digest()];
  std::ofstream(cache.path(), std::ios::trunc) << file.dump();
  testing::internal::CaptureStderr();
  EXPECT_FALSE(cache.lookup(key("bad")).has_value());
  EXPECT_THAT(testing::internal::GetCapturedStderr(), HasSubstr("holds another key"));
}

TEST(TuneCache, ClearRemovesEverythingAndDisabledCacheIsInert) {
  TempDir dir;
  TuneCache cache(dir.path);
  ASSERT_FALSE(static_cast<bool>(cache.store(record(key("p1"), 32, 1))));
  ASSERT_FALSE(static_cast<bool>(cache.store(record(key("p2"), 32, 1))));
  auto n = cache.clear();
  ASSERT_TRUE(static_cast<bool>(n));
  EXPECT_EQ(*n, 2u);
  EXPECT_FALSE(std::filesystem::exists(cache.path()));
  EXPECT_TRUE(cache.list().empty());

  TuneCache off("");
  EXPECT_EQ(off.path(), "");
  EXPECT_FALSE(static_cast<bool>(off.store(record(key("p1"), 32, 1))));
  EXPECT_FALSE(off.lookup(key("p1")).has_value());
}

TEST(TuneCache, UnwritableDirectoryIsAnErrorNotACrash) {
  TuneCache cache("/proc/tessel-cannot-exist");
  llvm::Error err = cache.store(record(key("p1"), 32, 1));
  ASSERT_TRUE(static_cast<bool>(err));
  EXPECT_THAT(llvm::toString(std::move(err)),
              HasSubstr("/proc/tessel-cannot-exist"));
}

// Real processes, one file: each child stores its own records while the
// others do; the flock'ed read-merge-rename must keep every one of them.
TEST(TuneCache, ConcurrentProcessesLoseNothing) {
  TempDir dir;
  constexpr int kProcesses = 8, kRecordsEach = 6;
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      TuneCache cache(dir.path);
      int failures = 0;
      for (int r = 0; r < kRecordsEach; ++r)
        if (llvm::Error err = cache.store(
                record(key("proc" + std::to_string(p) + "-" + std::to_string(r)),
                       32, p + r)))
          ++failures, llvm::consumeError(std::move(err));
      ::_exit(failures);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "a child's store failed";
  }
  TuneCache cache(dir.path);
  EXPECT_EQ(cache.list().size(), size_t(kProcesses * kRecordsEach));
  for (int p = 0; p < kProcesses; ++p)
    for (int r = 0; r < kRecordsEach; ++r) {
      auto rec = cache.lookup(
          key("proc" + std::to_string(p) + "-" + std::to_string(r)));
      ASSERT_TRUE(rec.has_value()) << p << "/" << r;
      EXPECT_DOUBLE_EQ(rec->bestMs, p + r);
    }
  // No temporary files are left behind.
  for (auto &entry : std::filesystem::directory_iterator(dir.path))
    EXPECT_EQ(entry.path().string().find(".tmp."), std::string::npos)
        << entry.path();
}

} // namespace
} // namespace tessel::autotune
