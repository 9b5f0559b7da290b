// Hopper's warpgroup MMA (wgmma.mma_async) for dots whose mma layout is
// marked for it (#tile.mma<..., wgmma = true>). A warpgroup of 4 warps
// computes a 64×N block of the accumulator per instruction, k = 16 at a
// time; B (and A, unless it is already in registers) is read straight from
// shared memory through a matrix descriptor, staged in the 128-byte-swizzled
// layout (SharedMemory.h). The accumulator layout is mma.sync's, so the
// rest of the kernel does not see the difference.
#ifndef TESSEL_LOWERING_TOLLVM_WGMMA_H
#define TESSEL_LOWERING_TOLLVM_WGMMA_H

#include "dialect/TileOps.h"
#include "lowering/ToLLVM/Patterns.h"
#include "mlir/IR/Builders.h"

namespace tessel::lowering {

/// Whether `dot` lowers to wgmma: its layout is marked for it, 16-bit
/// operands and an f32 accumulator, M a multiple of 16 rows per warp, N a
/// multiple of 8, K of 16, B staged swizzled (`b`) and A staged swizzled or
/// in registers (`a` absent).
bool wgmmaApplies(tile::DotOp dot, const std::optional<StagedOperand> &a,
                  const std::optional<StagedOperand> &b);

/// Emits `dot` as wgmma: fence, one instruction per (64-row block, N piece,
/// k-step), commit, and (with `wait`) a wait that the accumulator values
/// pass through (so nothing reads them while the tensor cores still write
/// them). `aBase` is
/// A's shared buffer, or null with A's registers in `aRegs`; `bBase` B's.
/// Returns the accumulator registers in the mma layout's order. Without
/// `wait` (an asynchronous dot) they are the instructions' outputs, to be
/// read only through emitWgmmaWait.
llvm::SmallVector<mlir::Value>
emitWgmma(mlir::OpBuilder &b, mlir::Location loc, tile::DotOp dot,
          mlir::Value aBase, const std::optional<StagedOperand> &a,
          mlir::ValueRange aRegs, mlir::Value bBase, const StagedOperand &bOp,
          mlir::ValueRange acc, bool wait);

/// wgmma.wait_group `pending`, with `values` (accumulators of the dots it
/// completes) passed through it; returns them, readable.
llvm::SmallVector<mlir::Value> emitWgmmaWait(mlir::OpBuilder &b,
                                             mlir::Location loc,
                                             mlir::ValueRange values,
                                             int64_t pending);

} // namespace tessel::lowering

#endif // TESSEL_LOWERING_TOLLVM_WGMMA_H
