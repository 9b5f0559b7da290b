// ptxas from the runtime: finding it, assembling fixture PTX for sm_80 and
// sm_90a into ELF cubins, reading registers/spills/shared memory from -v, and
// turning ptxas's diagnostics into errors. Skips where no ptxas is installed.
#include "runtime/Ptxas.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"

#include "gtest/gtest.h"

#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "tests/unit/ScopedEnv.h"

using namespace tessel;

namespace {

using tessel::test::ScopedEnv;

// Test fixtures (not kernel bodies): the smallest valid entry, and one that
// uses static shared memory and a barrier.
const char *kNoopSm80 = ".version 8.0\n"
                        ".target sm_80\n"
                        ".address_size 64\n"
                        ".visible .entry noop() { ret; }\n";
const char *kNoopSm90a = ".version 8.0\n"
                         ".target sm_90a\n"
                         ".address_size 64\n"
                         ".visible .entry noop() { ret; }\n";
const char *kSharedSm90a = R"(.version 8.0
.target sm_90a
.address_size 64
.shared .align 4 .b8 tile[1024];
.visible .entry touch(.param .u64 out)
{
  .reg .b32 %r<4>;
  .reg .b64 %rd<3>;
  mov.u32 %r1, %tid.x;
  mov.u32 %r2, tile;
  st.shared.u32 [%r2], %r1;
  bar.sync 0;
  ld.shared.u32 %r3, [%r2];
  ld.param.u64 %rd1, [out];
  cvta.to.global.u64 %rd2, %rd1;
  st.global.u32 [%rd2], %r3;
  ret;
}
.visible .entry other() { ret; }
)";

/// An entry that keeps `n` loaded values live at once, so a low register cap
/// forces spills. Volatile accesses keep ptxas from reordering them away.
std::string spillingPtx(int n) {
  std::string ptx = ".version 8.0\n.target sm_80\n.address_size 64\n"
                    ".visible .entry spill(.param .u64 p)\n{\n"
                    "  .reg .f32 %f<" +
                    std::to_string(n) +
                    ">;\n  .reg .b64 %rd<3>;\n"
                    "  ld.param.u64 %rd1, [p];\n"
                    "  cvta.to.global.u64 %rd2, %rd1;\n";
  for (int i = 0; i < n; ++i)
    ptx += "  ld.volatile.global.f32 %f" + std::to_string(i) + ", [%rd2+" +
           std::to_string(4 * i) + "];\n";
  for (int i = 0; i < n; ++i)
    ptx += "  st.volatile.global.f32 [%rd2+" +
           std::to_string(4 * (2 * n - 1 - i)) + "], %f" + std::to_string(i) +
           ";\n";
  return ptx + "  ret;\n}\n";
}

bool isCudaElf(const std::string &cubin) {
  // ELF magic, then e_machine (offset 18, little-endian) = EM_CUDA (190).
  return cubin.size() > 20 && std::memcmp(cubin.data(), "\x7f" "ELF", 4) == 0 &&
         static_cast<unsigned char>(cubin[18]) == 190 && cubin[19] == 0;
}

#define REQUIRE_PTXAS()                                                        \
  do {                                                                         \
    auto found = findPtxas();                                                  \
    if (!found)                                                                \
      GTEST_SKIP() << llvm::toString(found.takeError());                       \
  } while (0)

TEST(Ptxas, ParsesResourceLines) {
  // The shape of `ptxas -v` output, including a non-entry function's frame
  // that must not be attributed to an entry.
  const char *log =
      "ptxas info    : 0 bytes gmem\n"
      "ptxas info    : Function properties for helper\n"
      "    16 bytes stack frame, 8 bytes spill stores, 4 bytes spill loads\n"
      "ptxas info    : Compiling entry function 'big' for 'sm_90a'\n"
      "ptxas info    : Function properties for big\n"
      "    72 bytes stack frame, 64 bytes spill stores, 48 bytes spill loads\n"
      "ptxas info    : Used 255 registers, used 1 barriers, 49152 bytes smem, "
      "400 bytes cmem[0]\n"
      "ptxas info    : Compile time = 10.1 ms\n"
      "ptxas info    : Compiling entry function 'small' for 'sm_90a'\n"
      "ptxas info    : Function properties for small\n"
      "    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n"
      "ptxas info    : Used 8 registers, used 0 barriers, 352 bytes cmem[0]\n";
  auto kernels = parsePtxasResources(log);
  ASSERT_EQ(kernels.size(), 2u);
  EXPECT_EQ(kernels[0].function, "big");
  EXPECT_EQ(kernels[0].registers, 255);
  EXPECT_EQ(kernels[0].sharedBytes, 49152);
  EXPECT_EQ(kernels[0].stackBytes, 72);
  EXPECT_EQ(kernels[0].spillStoreBytes, 64);
  EXPECT_EQ(kernels[0].spillLoadBytes, 48);
  EXPECT_EQ(kernels[1].function, "small");
  EXPECT_EQ(kernels[1].registers, 8);
  EXPECT_EQ(kernels[1].sharedBytes, 0);
  EXPECT_EQ(kernels[1].stackBytes, 0);
  EXPECT_EQ(kernels[1].spillStoreBytes, 0);
}

TEST(Ptxas, BadOverrideIsAnError) {
  ScopedEnv env("TESSEL_PTXAS", "/nonexistent/bin/ptxas");
  auto found = findPtxas();
  ASSERT_FALSE(found);
  std::string message = llvm::toString(found.takeError());
  EXPECT_NE(message.find("TESSEL_PTXAS=/nonexistent/bin/ptxas"),
            std::string::npos)
      << message;
  auto assembled = assemblePtx(kNoopSm80, "sm_80");
  ASSERT_FALSE(assembled);
  EXPECT_NE(llvm::toString(assembled.takeError()).find("TESSEL_PTXAS"),
            std::string::npos);
}

TEST(Ptxas, Version) {
  REQUIRE_PTXAS();
  auto version = ptxasVersion();
  ASSERT_TRUE(static_cast<bool>(version)) << llvm::toString(version.takeError());
  EXPECT_TRUE(llvm::StringRef(*version).count('.') == 2) << *version;
  EXPECT_EQ(version->find_first_not_of("0123456789."), std::string::npos)
      << *version;
}

TEST(Ptxas, AssemblesNoopForSm80AndSm90a) {
  REQUIRE_PTXAS();
  struct Case {
    const char *ptx;
    const char *arch;
  } cases[] = {{kNoopSm80, "sm_80"}, {kNoopSm90a, "sm_90a"}};
  for (const Case &c : cases) {
    SCOPED_TRACE(c.arch);
    auto result = assemblePtx(c.ptx, c.arch);
    ASSERT_TRUE(static_cast<bool>(result))
        << llvm::toString(result.takeError());
    EXPECT_TRUE(isCudaElf(result->cubin));
    ASSERT_EQ(result->kernels.size(), 1u) << result->log;
    const PtxasResources *noop = result->find("noop");
    ASSERT_NE(noop, nullptr) << result->log;
    EXPECT_GE(noop->registers, 0);
    EXPECT_EQ(noop->spillStoreBytes, 0);
    EXPECT_EQ(noop->sharedBytes, 0);
    EXPECT_NE(result->log.find("for '" + std::string(c.arch) + "'"),
              std::string::npos)
        << result->log;
  }
}

TEST(Ptxas, ReportsSharedMemoryPerKernel) {
  REQUIRE_PTXAS();
  auto result = assemblePtx(kSharedSm90a, "sm_90a");
  ASSERT_TRUE(static_cast<bool>(result)) << llvm::toString(result.takeError());
  ASSERT_EQ(result->kernels.size(), 2u) << result->log;
  const PtxasResources *touch = result->find("touch");
  ASSERT_NE(touch, nullptr) << result->log;
  EXPECT_EQ(touch->sharedBytes, 1024);
  EXPECT_GT(touch->registers, 0);
  ASSERT_NE(result->find("other"), nullptr);
  EXPECT_EQ(result->find("other")->sharedBytes, 0);
}

TEST(Ptxas, ReportsSpillsUnderARegisterCap) {
  REQUIRE_PTXAS();
  auto result = assemblePtx(spillingPtx(48), "sm_80", {"--maxrregcount=24"});
  ASSERT_TRUE(static_cast<bool>(result)) << llvm::toString(result.takeError());
  const PtxasResources *spill = result->find("spill");
  ASSERT_NE(spill, nullptr) << result->log;
  EXPECT_LE(spill->registers, 24) << result->log;
  EXPECT_GT(spill->spillStoreBytes, 0) << result->log;
  EXPECT_GT(spill->spillLoadBytes, 0) << result->log;
  EXPECT_GE(spill->stackBytes, spill->spillStoreBytes) << result->log;
}

TEST(Ptxas, InvalidPtxCarriesPtxasDiagnostics) {
  REQUIRE_PTXAS();
  auto result = assemblePtx(".version 8.0\n.target sm_80\n.address_size 64\n"
                            ".visible .entry bad() { foo.bar; }\n",
                            "sm_80");
  ASSERT_FALSE(result);
  std::string message = llvm::toString(result.takeError());
  EXPECT_NE(message.find("ptxas failed for sm_80"), std::string::npos)
      << message;
  EXPECT_NE(message.find("kernel.ptx, line 4; error"), std::string::npos)
      << message;
  EXPECT_NE(message.find("foo"), std::string::npos) << message;
}

TEST(Ptxas, RejectsMalformedArch) {
  auto result = assemblePtx(kNoopSm80, "sm80 -o /etc/passwd");
  ASSERT_FALSE(result);
  EXPECT_NE(llvm::toString(result.takeError())
                .find("expected an architecture like sm_80 or sm_90a"),
            std::string::npos);
}

TEST(Ptxas, LeavesNoTemporaryFiles) {
  REQUIRE_PTXAS();
  llvm::SmallString<256> tmp;
  ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("tessel-ptxas-test", tmp));
  {
    // system_temp_directory() follows TMPDIR, so the runs' scratch
    // directories land in `tmp` and must be gone afterwards.
    ScopedEnv env("TMPDIR", tmp.c_str());
    EXPECT_TRUE(static_cast<bool>(assemblePtx(kNoopSm80, "sm_80")));
    auto failed = assemblePtx("not ptx", "sm_80");
    EXPECT_FALSE(failed);
    llvm::consumeError(failed.takeError());
  }
  std::error_code ec;
  llvm::sys::fs::directory_iterator it(tmp, ec);
  EXPECT_FALSE(ec);
  EXPECT_EQ(it, llvm::sys::fs::directory_iterator())
      << "left behind: " << it->path();
  (void)llvm::sys::fs::remove_directories(tmp);
}

} // namespace
