// mma.sync operand fragments read with ldmatrix from a 16-bit tile staged
// in shared memory (SharedMemory.h: swizzled or rows padded), possibly the operand's
// transpose. The conversion into a dot-operand layout reads every fragment
// at once; a dot whose operand was staged for it reads one k-step at a
// time, right before the mma instructions that use it, so only a k-slice of
// each operand is ever live in registers.
#ifndef TESSEL_LOWERING_TOLLVM_OPERANDFRAGMENTS_H
#define TESSEL_LOWERING_TOLLVM_OPERANDFRAGMENTS_H

#include "dialect/TileOps.h"
#include "lowering/ToLLVM/Utility.h"
#include "mlir/IR/Builders.h"

namespace tessel::lowering {

/// The 32-bit registers an mma.sync or wgmma operand fragment is passed in:
/// pairs of 16-bit elements (i32 for bf16, vector<2xf16> for f16), or f32
/// rounded to tf32 (cvt.rna.tf32.f32).
llvm::SmallVector<mlir::Value> packFragmentWords(mlir::OpBuilder &b,
                                                 mlir::Location loc,
                                                 mlir::ValueRange elems);

class OperandFragments {
public:
  /// `staged` is the tile in shared memory at `base` (row-major, padded
  /// rows); `operand` the dot-operand layout it is read as, or
  /// #tile.trans of it when `staged` is the operand's transpose.
  OperandFragments(mlir::OpBuilder &b, mlir::Location loc, mlir::Value base,
                   mlir::RankedTensorType staged, mlir::Attribute operand);

  /// Whether ldmatrix can read `operand` fragments from `staged`.
  static bool applies(mlir::RankedTensorType staged, mlir::Attribute operand);

  int64_t opIdx() const { return opIdx_; }
  /// Fragments per warp along M (A) or N (B), and k-steps of 16.
  int64_t numTiles() const { return numTiles_; }
  int64_t numK() const { return numK_; }

  /// The 8 bf16/f16 elements of A fragment (i, k), in register order.
  llvm::SmallVector<mlir::Value> loadA(int64_t i, int64_t k);
  /// The 4 elements of B fragment (j, k) for each of `steps` (1 or 2)
  /// consecutive k-steps from `k`, concatenated.
  llvm::SmallVector<mlir::Value> loadB(int64_t j, int64_t k, int steps);

  /// Every register of the operand layout, in its register order.
  llvm::SmallVector<mlir::Value> loadAll();

private:
  mlir::Value c(int64_t v);
  mlir::Value address(mlir::Value row, mlir::Value col);
  llvm::SmallVector<mlir::Value> ldmatrix(mlir::Value address, int num,
                                          bool trans);

  mlir::OpBuilder &b_;
  mlir::Location loc_;
  mlir::Value base_;
  mlir::Type elem_;
  bool transposed_ = false;
  SharedPlacement placement_;
  int64_t opIdx_ = 0, rows_ = 0, cols_ = 0;
  int64_t numTiles_ = 0, numK_ = 0, wm_ = 1, wn_ = 1;
  mlir::Value lane_, lane8_, group_, warpM_, warpN_;
};

} // namespace tessel::lowering

#endif // TESSEL_LOWERING_TOLLVM_OPERANDFRAGMENTS_H
