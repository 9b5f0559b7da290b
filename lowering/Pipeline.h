// The one definition of tessel's lowering pipeline, used by tessel-opt, the
// JIT and `tessel compile`: tile IR -> layouts -> LLVM/NVVM -> PTX.
#ifndef TESSEL_LOWERING_PIPELINE_H
#define TESSEL_LOWERING_PIPELINE_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/Error.h"

#include <functional>
#include <string>

namespace tessel::lowering {

struct TargetOptions {
  /// "sm_80" or "sm_90a" (any sm_XY the NVPTX back end knows).
  std::string arch = "sm_90a";
  unsigned numWarps = 4;
  /// PTX ISA version: 8.0 is the first that knows sm_90a.
  unsigned ptxVersion = 80;
  /// Read 16-bit mma operands with ldmatrix (else element-wise from shared).
  bool useLdmatrix = true;
  /// Lower dots to wgmma where layouts and operands allow (sm_90a only).
  bool useWgmma = wgmmaEnabled();
  /// Leave wgmma dots running until their results are needed
  /// (tile-overlap-dots); off, each waits right after it is issued.
  bool overlapDots = overlapDotsEnabled();

  /// The wgmma path is on unless TESSEL_WGMMA=0 turns it off (to compare
  /// with mma.sync on the same GPU).
  static bool wgmmaEnabled();
  /// Overlapped wgmma dots are on unless TESSEL_OVERLAP_DOTS=0.
  static bool overlapDotsEnabled();

  /// Whether the dots of this target may use wgmma.
  bool wgmma() const { return useWgmma && arch == "sm_90a"; }

  /// The most dynamic shared memory a block of `arch` may use; a kernel
  /// whose pipelined loads would need more is laid out with fewer stages.
  int64_t maxSharedBytes() const;

  std::string str() const;
};

/// Adds the passes from tile IR to the LLVM dialect.
void buildTileToLLVMPipeline(mlir::OpPassManager &pm,
                             const TargetOptions &options);

/// Registers tessel's passes and the `tessel-to-llvm` pipeline with the
/// global registry (for tessel-opt).
void registerTesselPassesAndPipelines();

/// Everything one compilation produced, stage by stage.
struct CompiledKernel {
  std::string name;
  std::string layoutIR; ///< tile IR after layout assignment and allocation
  std::string llvmDialectIR;
  std::string llvmIR;
  std::string ptx;
  unsigned sharedBytes = 0;
  unsigned numWarps = 4;
};

/// A copy of `module` whose kernel arguments `i` with `divisible[i]` carry
/// tile.divisibility = 16 (16-byte aligned pointer, integer multiple of 16):
/// the specialization loads and stores are vectorized on.
mlir::OwningOpRef<mlir::ModuleOp>
specializeDivisibility(mlir::ModuleOp module, llvm::ArrayRef<bool> divisible);

/// The dynamic shared memory the kernel in `module` needs, from the layout
/// stage alone (for a kernel whose binary came from the cache).
llvm::Expected<unsigned> sharedMemoryBytes(mlir::ModuleOp module,
                                           const TargetOptions &options);

/// Lowers a clone of `module` (one tile kernel) to PTX. `dumpDir`, when not
/// empty, receives every stage as a file.
llvm::Expected<CompiledKernel> compileToPTX(mlir::ModuleOp module,
                                            const TargetOptions &options,
                                            const std::string &dumpDir = "");

} // namespace tessel::lowering

#endif // TESSEL_LOWERING_PIPELINE_H
