// Declarations and registration of tessel's lowering passes.
#ifndef TESSEL_LOWERING_PASSES_H
#define TESSEL_LOWERING_PASSES_H

#include "dialect/TileOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace tessel::lowering {

#define GEN_PASS_DECL
#include "lowering/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "lowering/Passes.h.inc"

/// Attribute names shared between passes.
inline constexpr llvm::StringLiteral kNumWarpsAttr = "tile.num_warps";
inline constexpr llvm::StringLiteral kSharedBytesAttr = "tile.shared_bytes";
inline constexpr llvm::StringLiteral kSmemOffsetAttr = "tile.smem_offset";
inline constexpr llvm::StringLiteral kBarrierBeforeAttr = "tile.barrier_before";
inline constexpr llvm::StringLiteral kBarrierAfterAttr = "tile.barrier_after";
inline constexpr llvm::StringLiteral kSmemSymbol = "tessel_smem";
/// On a tile.dot: issued asynchronously, completed by a tile.dot_wait
/// (tile-overlap-dots).
inline constexpr llvm::StringLiteral kAsyncDotAttr = "tile.async";

} // namespace tessel::lowering

#endif // TESSEL_LOWERING_PASSES_H
