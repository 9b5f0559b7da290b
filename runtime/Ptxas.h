// Running the CUDA toolkit's ptxas: finding it, assembling PTX into a cubin
// for one architecture, and reading the per-kernel resource usage it reports
// with -v (registers, spills, shared memory, stack).
#ifndef TESSEL_RUNTIME_PTXAS_H
#define TESSEL_RUNTIME_PTXAS_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace tessel {

/// What ptxas -v reports for one entry function.
struct PtxasResources {
  std::string function;
  int registers = 0;
  int64_t spillStoreBytes = 0;
  int64_t spillLoadBytes = 0;
  /// Statically allocated shared memory ("N bytes smem"); dynamic shared
  /// memory is chosen at launch and not counted.
  int64_t sharedBytes = 0;
  int64_t stackBytes = 0;
};

/// A successful assembly.
struct PtxasResult {
  /// The ELF image.
  std::string cubin;
  /// One entry per entry function, in the order ptxas compiled them.
  std::vector<PtxasResources> kernels;
  /// ptxas's own output (info lines and warnings).
  std::string log;

  /// The resources of entry function `name`, or null when ptxas did not
  /// report it.
  const PtxasResources *find(llvm::StringRef name) const;
};

/// The ptxas to run: $TESSEL_PTXAS (which must then be executable), else
/// /usr/local/cuda/bin/ptxas, else the first ptxas on PATH.
llvm::Expected<std::string> findPtxas();

/// The found ptxas's version, e.g. "13.0.88" (from "V13.0.88" in
/// `ptxas --version`); computed once per ptxas path. Part of the kernel cache
/// key whenever cubins come from ptxas.
llvm::Expected<std::string> ptxasVersion();

/// Assembles `ptx` for `arch` ("sm_80", "sm_90a", ...) with -v and any
/// `extraArgs`, in a private temporary directory that is removed afterwards.
/// A failure's error names the arch and carries ptxas's diagnostics.
llvm::Expected<PtxasResult> assemblePtx(llvm::StringRef ptx,
                                        llvm::StringRef arch,
                                        llvm::ArrayRef<std::string> extraArgs =
                                            {});

/// Parses the resource lines of `ptxas -v` output (exposed for tests and for
/// logs obtained elsewhere, e.g. the driver JIT with CU_JIT_LOG_VERBOSE).
std::vector<PtxasResources> parsePtxasResources(llvm::StringRef log);

} // namespace tessel

#endif // TESSEL_RUNTIME_PTXAS_H
