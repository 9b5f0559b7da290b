// The kernel cache: key derivation, memory and disk round trips across cache
// objects (as a new process would see them), damaged entries, an unusable
// directory, and concurrent writers.
#include "runtime/KernelCache.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/ScopedEnv.h"

using namespace tessel;

namespace {

using tessel::test::ScopedEnv;

/// A fresh directory, removed with its contents at the end of the test.
class TempDir {
public:
  TempDir() {
    std::error_code ec =
        llvm::sys::fs::createUniqueDirectory("tessel-cache-test", path_);
    EXPECT_FALSE(ec) << ec.message();
  }
  ~TempDir() { (void)llvm::sys::fs::remove_directories(path_); }
  std::string path() const { return std::string(path_); }
  std::string file(llvm::StringRef name) const {
    llvm::SmallString<256> p(path_);
    llvm::sys::path::append(p, name);
    return std::string(p);
  }

private:
  llvm::SmallString<256> path_;
};

std::string readFile(const std::string &path) {
  auto buffer = llvm::MemoryBuffer::getFile(path, false, false);
  return buffer ? (*buffer)->getBuffer().str() : std::string();
}

void writeFile(const std::string &path, llvm::StringRef bytes) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  ASSERT_FALSE(ec) << ec.message();
  os << bytes;
}

std::vector<std::string> listDir(const std::string &dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec))
    names.push_back(llvm::sys::path::filename(it->path()).str());
  return names;
}

std::string keyFor(llvm::StringRef ir) {
  return KernelCache::makeKey(ir, "num_warps=4", "sm_90a",
                              KernelCache::compilerVersion("13.0.88"));
}

/// Something that looks like a cubin: the ELF magic, then binary noise
/// including NUL bytes, which must survive the round trip.
CachedBinary fakeCubin(char seed) {
  std::string bytes("\x7f" "ELF", 4);
  for (int i = 0; i < 4096; ++i)
    bytes.push_back(static_cast<char>((i * 131 + seed) & 0xff));
  return CachedBinary::cubin(bytes);
}

TEST(KernelCache, KeyIsHexSha256OfEveryPart) {
  std::string base = KernelCache::makeKey("ir", "opts", "sm_80", "v1");
  ASSERT_EQ(base.size(), 64u);
  EXPECT_EQ(base.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(base, KernelCache::makeKey("ir", "opts", "sm_80", "v1"));

  EXPECT_NE(base, KernelCache::makeKey("ir2", "opts", "sm_80", "v1"));
  EXPECT_NE(base, KernelCache::makeKey("ir", "opts2", "sm_80", "v1"));
  EXPECT_NE(base, KernelCache::makeKey("ir", "opts", "sm_90a", "v1"));
  EXPECT_NE(base, KernelCache::makeKey("ir", "opts", "sm_80", "v2"));
  // Parts are length-prefixed: text moved across a boundary is another key.
  EXPECT_NE(KernelCache::makeKey("ab", "c", "sm_80", "v1"),
            KernelCache::makeKey("a", "bc", "sm_80", "v1"));
}

TEST(KernelCache, CompilerVersionNamesTesselLlvmAndPtxas) {
  std::string plain = KernelCache::compilerVersion();
  // "tessel 0.1.0+<16 hex digits of the compiler's source hash>; LLVM ..."
  EXPECT_THAT(plain, ::testing::MatchesRegex("tessel 0\\.1\\.0\\+[0-9a-f]{16}; LLVM .*"));
  EXPECT_EQ(plain.find("ptxas"), std::string::npos) << plain;
  std::string withPtxas = KernelCache::compilerVersion("13.0.88");
  EXPECT_EQ(withPtxas, plain + "; ptxas 13.0.88");
  EXPECT_NE(KernelCache::makeKey("ir", "", "sm_80", plain),
            KernelCache::makeKey("ir", "", "sm_80", withPtxas));
}

TEST(KernelCache, DefaultDirectoryFollowsEnvironment) {
  {
    ScopedEnv dir("TESSEL_CACHE_DIR", "/tmp/explicit-cache");
    ScopedEnv xdg("XDG_CACHE_HOME", "/tmp/xdg");
    EXPECT_EQ(KernelCache::defaultDirectory(), "/tmp/explicit-cache");
  }
  {
    ScopedEnv dir("TESSEL_CACHE_DIR", nullptr);
    ScopedEnv xdg("XDG_CACHE_HOME", "/tmp/xdg");
    EXPECT_EQ(KernelCache::defaultDirectory(), "/tmp/xdg/tessel");
  }
  {
    ScopedEnv dir("TESSEL_CACHE_DIR", nullptr);
    ScopedEnv xdg("XDG_CACHE_HOME", nullptr);
    ScopedEnv home("HOME", "/tmp/home");
    EXPECT_EQ(KernelCache::defaultDirectory(), "/tmp/home/.cache/tessel");
  }
  {
    // A relative XDG_CACHE_HOME is invalid per the XDG spec and ignored.
    ScopedEnv dir("TESSEL_CACHE_DIR", nullptr);
    ScopedEnv xdg("XDG_CACHE_HOME", "relative");
    ScopedEnv home("HOME", "/tmp/home");
    EXPECT_EQ(KernelCache::defaultDirectory(), "/tmp/home/.cache/tessel");
  }
}

TEST(KernelCache, RoundTripThroughMemoryAndDisk) {
  TempDir tmp;
  ScopedEnv env("TESSEL_CACHE_DIR", tmp.path().c_str());
  std::string cubinKey = keyFor("kernel A");
  std::string ptxKey = keyFor("kernel B");
  CachedBinary cubin = fakeCubin(1);
  CachedBinary ptx = CachedBinary::ptx(".version 8.0\n.target sm_80\n");
  {
    KernelCache cache(KernelCache::defaultDirectory());
    EXPECT_EQ(cache.directory(), tmp.path());
    EXPECT_TRUE(cache.diskEnabled());
    EXPECT_FALSE(cache.lookup(cubinKey));
    ASSERT_FALSE(llvm::errorToBool(cache.store(cubinKey, cubin)));
    ASSERT_FALSE(llvm::errorToBool(cache.store(ptxKey, ptx)));
    auto hit = cache.lookup(cubinKey);
    ASSERT_TRUE(hit);
    EXPECT_EQ(*hit, cubin);
    EXPECT_TRUE(llvm::sys::fs::exists(cache.entryPath(cubinKey)));
  }
  // A fresh object over the same directory knows nothing in memory, as in a
  // new process: the hits must come from disk, kind and bytes intact.
  testing::internal::CaptureStderr();
  KernelCache fresh(tmp.path());
  auto cubinHit = fresh.lookup(cubinKey);
  auto ptxHit = fresh.lookup(ptxKey);
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
  ASSERT_TRUE(cubinHit);
  EXPECT_EQ(cubinHit->kind, BinaryKind::Cubin);
  EXPECT_EQ(*cubinHit, cubin);
  ASSERT_TRUE(ptxHit);
  EXPECT_EQ(ptxHit->kind, BinaryKind::Ptx);
  EXPECT_EQ(*ptxHit, ptx);
  EXPECT_FALSE(fresh.lookup(keyFor("never stored")));
  // Only the two entries: no temporary files left behind.
  EXPECT_EQ(listDir(tmp.path()).size(), 2u);
}

TEST(KernelCache, StoreReplacesAnEntry) {
  TempDir tmp;
  std::string key = keyFor("kernel");
  KernelCache cache(tmp.path());
  ASSERT_FALSE(llvm::errorToBool(cache.store(key, fakeCubin(1))));
  ASSERT_FALSE(llvm::errorToBool(cache.store(key, fakeCubin(2))));
  EXPECT_EQ(*cache.lookup(key), fakeCubin(2));
  EXPECT_EQ(*KernelCache(tmp.path()).lookup(key), fakeCubin(2));
}

TEST(KernelCache, MalformedKeysAreRejected) {
  TempDir tmp;
  KernelCache cache(tmp.path());
  for (const char *bad : {"", "../../etc/passwd", "ABCDEF", "short"}) {
    llvm::Error err = cache.store(bad, fakeCubin(1));
    ASSERT_TRUE(static_cast<bool>(err)) << bad;
    EXPECT_NE(llvm::toString(std::move(err)).find("64 lowercase hex digits"),
              std::string::npos);
    EXPECT_FALSE(cache.lookup(bad));
  }
  llvm::Error empty = cache.store(keyFor("k"), CachedBinary::cubin(""));
  ASSERT_TRUE(static_cast<bool>(empty));
  EXPECT_NE(llvm::toString(std::move(empty)).find("got 0 bytes"),
            std::string::npos);
  EXPECT_TRUE(listDir(tmp.path()).empty());
}

TEST(KernelCache, DamagedEntryIsAMissWithAWarningAndIsRewritten) {
  TempDir tmp;
  std::string key = keyFor("kernel");
  std::string otherKey = keyFor("other kernel");
  CachedBinary binary = fakeCubin(7);
  std::string good, other;
  {
    KernelCache cache(tmp.path());
    ASSERT_FALSE(llvm::errorToBool(cache.store(key, binary)));
    ASSERT_FALSE(llvm::errorToBool(cache.store(otherKey, fakeCubin(8))));
    good = readFile(cache.entryPath(key));
    other = readFile(cache.entryPath(otherKey));
  }
  ASSERT_GT(good.size(), 120u + 4096u - 1);

  auto flip = [](std::string s, size_t at) {
    s[at] = static_cast<char>(s[at] ^ 0x40);
    return s;
  };
  struct Damage {
    const char *what;
    std::string bytes;
    const char *reason;
  } damages[] = {
      {"empty file", "", "truncated"},
      {"half a header", good.substr(0, 60), "truncated"},
      {"payload cut short", good.substr(0, good.size() - 100),
       "payload bytes"},
      {"bad magic", flip(good, 0), "bad magic"},
      {"other format version", flip(good, 8), "format version"},
      {"unknown kind", flip(good, 12), "payload kind"},
      {"flipped payload byte", flip(good, good.size() - 1),
       "checksum mismatch"},
      {"entry of another key", other, "entry is for key"},
  };
  for (const Damage &d : damages) {
    SCOPED_TRACE(d.what);
    KernelCache cache(tmp.path());
    std::string path = cache.entryPath(key);
    writeFile(path, d.bytes);

    testing::internal::CaptureStderr();
    EXPECT_FALSE(cache.lookup(key));
    std::string warning = testing::internal::GetCapturedStderr();
    EXPECT_NE(warning.find("warning: kernel cache: ignoring " + path),
              std::string::npos)
        << warning;
    EXPECT_NE(warning.find(d.reason), std::string::npos) << warning;
    EXPECT_EQ(std::count(warning.begin(), warning.end(), '\n'), 1) << warning;

    // The next store overwrites the damaged file with a valid entry.
    ASSERT_FALSE(llvm::errorToBool(cache.store(key, binary)));
    EXPECT_EQ(readFile(path), good);
    testing::internal::CaptureStderr();
    auto hit = KernelCache(tmp.path()).lookup(key);
    EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
    ASSERT_TRUE(hit);
    EXPECT_EQ(*hit, binary);
  }
}

TEST(KernelCache, UncreatableDirectoryMeansMemoryOnly) {
  TempDir tmp;
  // A regular file where a parent directory should be: creating the cache
  // directory fails even for root, unlike a chmod'ed directory.
  writeFile(tmp.file("file"), "not a directory");
  std::string dir = tmp.file("file") + "/cache";

  testing::internal::CaptureStderr();
  KernelCache cache(dir);
  std::string warning = testing::internal::GetCapturedStderr();
  EXPECT_NE(warning.find("cannot create " + dir), std::string::npos)
      << warning;
  EXPECT_NE(warning.find("memory only"), std::string::npos) << warning;
  EXPECT_FALSE(cache.diskEnabled());
  EXPECT_EQ(cache.directory(), "");

  std::string key = keyFor("kernel");
  ASSERT_FALSE(llvm::errorToBool(cache.store(key, fakeCubin(3))));
  auto hit = cache.lookup(key);
  ASSERT_TRUE(hit);
  EXPECT_EQ(*hit, fakeCubin(3));
}

TEST(KernelCache, WriteFailureDegradesToMemoryOnlyWithOneWarning) {
  TempDir tmp;
  std::string dir = tmp.file("cache");
  KernelCache cache(dir);
  ASSERT_TRUE(cache.diskEnabled());
  // The directory disappears under the cache and a file takes its place, so
  // the next write fails (for root too).
  ASSERT_FALSE(llvm::sys::fs::remove_directories(dir));
  writeFile(dir, "not a directory");

  testing::internal::CaptureStderr();
  ASSERT_FALSE(llvm::errorToBool(cache.store(keyFor("a"), fakeCubin(1))));
  ASSERT_FALSE(llvm::errorToBool(cache.store(keyFor("b"), fakeCubin(2))));
  std::string warning = testing::internal::GetCapturedStderr();
  EXPECT_NE(warning.find("memory only"), std::string::npos) << warning;
  EXPECT_EQ(std::count(warning.begin(), warning.end(), '\n'), 1) << warning;
  EXPECT_FALSE(cache.diskEnabled());
  ASSERT_TRUE(cache.lookup(keyFor("a")));
  EXPECT_EQ(*cache.lookup(keyFor("b")), fakeCubin(2));
}

TEST(KernelCache, MemoryOnlyCacheTouchesNoDisk) {
  KernelCache cache("");
  EXPECT_FALSE(cache.diskEnabled());
  EXPECT_EQ(cache.entryPath(keyFor("k")), "");
  ASSERT_FALSE(llvm::errorToBool(cache.store(keyFor("k"), fakeCubin(4))));
  EXPECT_EQ(*cache.lookup(keyFor("k")), fakeCubin(4));
}

TEST(KernelCache, ConcurrentStoresAndLookups) {
  TempDir tmp;
  KernelCache cache(tmp.path());
  constexpr int kThreads = 8, kKeys = 24;
  // Every thread stores every key (same bytes per key), so writers of one key
  // race on the same entry file while other keys are written beside it.
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kKeys; ++i) {
        int k = (i + t * 5) % kKeys;
        std::string key = keyFor("kernel " + std::to_string(k));
        if (llvm::errorToBool(cache.store(key, fakeCubin(char(k)))))
          ++failures[t];
        auto hit = cache.lookup(key);
        if (!hit || hit->bytes.size() != fakeCubin(char(k)).bytes.size())
          ++failures[t];
      }
    });
  for (std::thread &t : threads)
    t.join();
  for (int t = 0; t < kThreads; ++t)
    EXPECT_EQ(failures[t], 0) << "thread " << t;

  testing::internal::CaptureStderr();
  KernelCache fresh(tmp.path());
  for (int k = 0; k < kKeys; ++k) {
    auto hit = fresh.lookup(keyFor("kernel " + std::to_string(k)));
    ASSERT_TRUE(hit) << k;
    EXPECT_EQ(*hit, fakeCubin(char(k))) << k;
  }
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
  EXPECT_EQ(listDir(tmp.path()).size(), size_t(kKeys));
}

} // namespace
