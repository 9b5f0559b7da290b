// LinearLayout: a layout attribute made concrete for one tensor shape. Each
// register, lane and warp index bit contributes a basis vector of coordinates;
// the coordinates an element sits at are the XOR of the bases of the set bits
// (Triton's linear layouts, restricted to power-of-two shapes). Zero bases mean
// replication: several lanes or warps hold the same element.
#ifndef TESSEL_DIALECT_LINEARLAYOUT_H
#define TESSEL_DIALECT_LINEARLAYOUT_H

#include "mlir/IR/Attributes.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/SmallVector.h"

namespace tessel::tile {

using Coords = llvm::SmallVector<int64_t, 2>;

struct LinearLayout {
  llvm::SmallVector<int64_t, 2> shape;
  llvm::SmallVector<Coords> reg, lane, warp;

  size_t rank() const { return shape.size(); }
  int64_t numRegs() const { return int64_t(1) << reg.size(); }
  /// Coordinates of register `r` for lane 0 of warp 0.
  Coords regCoords(int64_t r) const;
  /// Coordinates of register `r` in lane `l` of warp `w`.
  Coords coords(int64_t r, int64_t l, int64_t w) const;
  /// Number of warps the layout is built for (2^warp bases).
  int64_t numWarps() const { return int64_t(1) << warp.size(); }
};

/// Whether every dimension of `shape` is a power of two.
bool isPowerOfTwoShape(llvm::ArrayRef<int64_t> shape);

/// The LinearLayout of `layout` (a #tile.blocked, mma, dot_operand or slice
/// attribute) over `shape`; fails for non-power-of-two shapes or an unknown
/// attribute.
mlir::FailureOr<LinearLayout> toLinearLayout(mlir::Attribute layout,
                                             llvm::ArrayRef<int64_t> shape);

/// Warps a layout is laid out over.
unsigned getNumWarps(mlir::Attribute layout);

} // namespace tessel::tile

#endif // TESSEL_DIALECT_LINEARLAYOUT_H
