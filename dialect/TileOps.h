// The tile dialect's C++ face: dialect, the !tile.ptr type and the ops
// generated from TileOps.td.
#ifndef TESSEL_DIALECT_TILEOPS_H
#define TESSEL_DIALECT_TILEOPS_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dialect/TileOpsDialect.h.inc"

#define GET_TYPEDEF_CLASSES
#include "dialect/TileOpsTypes.h.inc"

#define GET_ATTRDEF_CLASSES
#include "dialect/TileOpsAttrs.h.inc"

#define GET_OP_CLASSES
#include "dialect/TileOps.h.inc"

namespace tessel::tile {

/// The element type of a scalar or of a tensor's elements.
mlir::Type getElementTypeOrSelf(mlir::Type type);

/// The shape of a tensor, or the empty shape of a scalar.
llvm::ArrayRef<int64_t> getShapeOrScalar(mlir::Type type);

/// `type`'s shape with element type `elem` (a scalar stays a scalar).
mlir::Type withElementType(mlir::Type type, mlir::Type elem);

/// Size in bytes of one element of a scalar type stored in global memory.
unsigned getElementByteSize(mlir::Type elem);

/// The attribute that marks a func.func as a tessel kernel entry point.
inline constexpr llvm::StringLiteral kKernelAttrName = "tile.kernel";
/// On a kernel (func.func) or one scf.for: software-pipeline its loads over
/// this many loop iterations (1: off). Read by tile-pipeline-loads; a loop's
/// own value wins over its kernel's.
inline constexpr llvm::StringLiteral kNumStagesAttrName = "tile.num_stages";
/// On a tile.load in a loop: tile-pipeline-loads may issue it stages ahead
/// even though no dot reads it (those it pipelines anyway). Its author
/// vouches that no store of the loop writes what a later iteration loads —
/// a read-modify-write of each iteration's own rows.
inline constexpr llvm::StringLiteral kPipelineAttrName = "tile.pipeline";

} // namespace tessel::tile

#endif // TESSEL_DIALECT_TILEOPS_H
