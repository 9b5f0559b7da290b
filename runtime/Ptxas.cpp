// ptxas as a subprocess: the PTX goes to a file in a private temporary
// directory, ptxas -v writes the cubin beside it, and its report is parsed into
// PtxasResources. The directory is removed on every path out.
#include "runtime/Ptxas.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/Regex.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>

namespace tessel {

namespace {

llvm::Error ptxasError(const std::string &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// A directory created for one ptxas run and removed with everything in it
/// when the run is over, whichever way it ends.
class ScratchDir {
public:
  static llvm::Expected<ScratchDir> create() {
    ScratchDir dir;
    if (std::error_code ec =
            llvm::sys::fs::createUniqueDirectory("tessel-ptxas", dir.path_))
      return ptxasError("cannot create a temporary directory for ptxas: " +
                        ec.message());
    return dir;
  }
  ScratchDir(ScratchDir &&other) noexcept : path_(std::move(other.path_)) {
    other.path_.clear();
  }
  ~ScratchDir() {
    if (!path_.empty())
      (void)llvm::sys::fs::remove_directories(path_);
  }
  std::string file(llvm::StringRef name) const {
    llvm::SmallString<256> p(path_);
    llvm::sys::path::append(p, name);
    return std::string(p);
  }

private:
  ScratchDir() = default;
  llvm::SmallString<256> path_;
};

std::string readFileOrEmpty(const std::string &path) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  return buffer ? (*buffer)->getBuffer().str() : std::string();
}

/// Runs `program` with `args` (args[0] is the program name), stdout and
/// stderr into `logPath`. Returns the exit code, or an error when it could
/// not run or was killed.
llvm::Expected<int> run(const std::string &program,
                        llvm::ArrayRef<llvm::StringRef> args,
                        const std::string &logPath) {
  // Same path for stdout and stderr: LLVM then dups one into the other, so
  // diagnostics keep their order.
  std::optional<llvm::StringRef> redirects[] = {
      llvm::StringRef(""), llvm::StringRef(logPath), llvm::StringRef(logPath)};
  std::string errMsg;
  bool failed = false;
  int rc = llvm::sys::ExecuteAndWait(program, args, /*Env=*/std::nullopt,
                                     redirects, /*SecondsToWait=*/0,
                                     /*MemoryLimit=*/0, &errMsg, &failed);
  if (failed || rc < 0) {
    std::string log = llvm::StringRef(readFileOrEmpty(logPath)).trim().str();
    return ptxasError(program + " could not run" +
                      (errMsg.empty() ? "" : ": " + errMsg) +
                      (log.empty() ? "" : "\n" + log));
  }
  return rc;
}

bool isArch(llvm::StringRef arch) {
  return llvm::Regex("^sm_[0-9]+[af]?$").match(arch);
}

int64_t toInt(llvm::StringRef digits) {
  int64_t v = 0;
  (void)digits.getAsInteger(10, v);
  return v;
}

} // namespace

const PtxasResources *PtxasResult::find(llvm::StringRef name) const {
  for (const PtxasResources &k : kernels)
    if (k.function == name)
      return &k;
  return nullptr;
}

llvm::Expected<std::string> findPtxas() {
  if (const char *env = std::getenv("TESSEL_PTXAS"); env && *env) {
    // An explicit choice that does not work is an error, not a reason to
    // quietly run some other ptxas.
    if (!llvm::sys::fs::can_execute(env) || llvm::sys::fs::is_directory(env))
      return ptxasError(std::string("TESSEL_PTXAS=") + env +
                        ": expected an executable ptxas, got no such file");
    return std::string(env);
  }
  const char *toolkit = "/usr/local/cuda/bin/ptxas";
  if (llvm::sys::fs::can_execute(toolkit))
    return std::string(toolkit);
  if (auto onPath = llvm::sys::findProgramByName("ptxas"))
    return *onPath;
  return ptxasError("ptxas not found: set TESSEL_PTXAS, install the CUDA "
                    "toolkit in /usr/local/cuda, or put ptxas on PATH");
}

llvm::Expected<std::string> ptxasVersion() {
  auto ptxas = findPtxas();
  if (!ptxas)
    return ptxas.takeError();

  // One subprocess per ptxas per process: the cache key asks for this on
  // every compile.
  static std::mutex mutex;
  static std::map<std::string, std::string> versions;
  std::lock_guard<std::mutex> lock(mutex);
  if (auto it = versions.find(*ptxas); it != versions.end())
    return it->second;

  auto dir = ScratchDir::create();
  if (!dir)
    return dir.takeError();
  std::string logPath = dir->file("version.txt");
  llvm::StringRef args[] = {*ptxas, "--version"};
  auto rc = run(*ptxas, args, logPath);
  if (!rc)
    return rc.takeError();
  std::string out = readFileOrEmpty(logPath);
  if (*rc != 0)
    return ptxasError(*ptxas + " --version exited with code " +
                      std::to_string(*rc) + ": " +
                      llvm::StringRef(out).trim().str());
  llvm::SmallVector<llvm::StringRef, 2> match;
  if (!llvm::Regex("V([0-9]+\\.[0-9]+\\.[0-9]+)").match(out, &match))
    return ptxasError(*ptxas + " --version: expected a version like "
                               "'V13.0.88', got: " +
                      llvm::StringRef(out).trim().str());
  return versions[*ptxas] = match[1].str();
}

std::vector<PtxasResources> parsePtxasResources(llvm::StringRef log) {
  llvm::Regex entryRe("Compiling entry function '([^']+)'");
  llvm::Regex propsRe("Function properties for ([^ ]+)");
  llvm::Regex frameRe("([0-9]+) bytes stack frame, ([0-9]+) bytes spill "
                      "stores, ([0-9]+) bytes spill loads");
  llvm::Regex regsRe("Used ([0-9]+) registers");
  llvm::Regex smemRe("([0-9]+) bytes smem");

  std::vector<PtxasResources> kernels;
  // "Function properties" blocks also appear for non-entry functions (and,
  // in some ptxas versions, before the entry's "Compiling" line), so frames
  // are collected by name and attached to entries at the end.
  struct Frame {
    int64_t stack = 0, spillStores = 0, spillLoads = 0;
  };
  llvm::StringMap<Frame> frames;
  std::string propsFor;
  PtxasResources *current = nullptr;

  llvm::SmallVector<llvm::StringRef, 8> lines;
  log.split(lines, '\n');
  llvm::SmallVector<llvm::StringRef, 4> m;
  for (llvm::StringRef line : lines) {
    if (entryRe.match(line, &m)) {
      kernels.push_back({});
      kernels.back().function = m[1].str();
      current = &kernels.back();
      continue;
    }
    if (propsRe.match(line, &m)) {
      propsFor = m[1].str();
      continue;
    }
    if (frameRe.match(line, &m) && !propsFor.empty()) {
      frames[propsFor] = {toInt(m[1]), toInt(m[2]), toInt(m[3])};
      continue;
    }
    if (current && regsRe.match(line, &m)) {
      current->registers = static_cast<int>(toInt(m[1]));
      if (smemRe.match(line, &m))
        current->sharedBytes = toInt(m[1]);
    }
  }
  for (PtxasResources &k : kernels) {
    auto it = frames.find(k.function);
    if (it == frames.end())
      continue;
    k.stackBytes = it->second.stack;
    k.spillStoreBytes = it->second.spillStores;
    k.spillLoadBytes = it->second.spillLoads;
  }
  return kernels;
}

llvm::Expected<PtxasResult> assemblePtx(llvm::StringRef ptx,
                                        llvm::StringRef arch,
                                        llvm::ArrayRef<std::string> extraArgs) {
  if (!isArch(arch))
    return ptxasError("ptxas: expected an architecture like sm_80 or sm_90a, "
                      "got '" + arch.str() + "'");
  auto ptxas = findPtxas();
  if (!ptxas)
    return ptxas.takeError();
  auto dir = ScratchDir::create();
  if (!dir)
    return dir.takeError();

  // ptxas prefixes its diagnostics with the input's file name; "kernel.ptx"
  // reads better in an error than a random temporary name.
  std::string input = dir->file("kernel.ptx");
  std::string output = dir->file("kernel.cubin");
  std::string logPath = dir->file("ptxas.log");
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(input, ec);
    if (ec)
      return ptxasError("cannot write " + input + ": " + ec.message());
    os << ptx;
    os.close();
    if (os.has_error())
      return ptxasError("cannot write " + input + ": " +
                        os.error().message());
  }

  std::string archFlag = "-arch=" + arch.str();
  llvm::SmallVector<llvm::StringRef, 16> args = {*ptxas, "-v", archFlag};
  for (const std::string &a : extraArgs)
    args.push_back(a);
  args.append({"-o", output, input});

  auto rc = run(*ptxas, args, logPath);
  if (!rc)
    return rc.takeError();
  std::string log = readFileOrEmpty(logPath);
  if (*rc != 0)
    return ptxasError("ptxas failed for " + arch.str() + " (exit code " +
                      std::to_string(*rc) +
                      "): " + llvm::StringRef(log).trim().str());

  PtxasResult result;
  result.cubin = readFileOrEmpty(output);
  if (result.cubin.empty())
    return ptxasError("ptxas for " + arch.str() +
                      " exited 0 but wrote no cubin: " +
                      llvm::StringRef(log).trim().str());
  result.kernels = parsePtxasResources(log);
  result.log = std::move(log);
  return result;
}

} // namespace tessel
