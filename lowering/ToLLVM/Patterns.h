// The op-family pattern sets of tile-to-llvm. Each family lives in its own
// file and exports one populate function.
#ifndef TESSEL_LOWERING_TOLLVM_PATTERNS_H
#define TESSEL_LOWERING_TOLLVM_PATTERNS_H

#include "mlir/Transforms/DialectConversion.h"

namespace tessel::lowering {

class AxisInfoAnalysis;

/// arith/math ops on tensors, constants, tile.convert, exp/log, program ids.
void populateElementwiseToLLVMPatterns(const mlir::TypeConverter &converter,
                                       mlir::RewritePatternSet &patterns);
/// addptr, load and store (predicated for masks, vectorized where `axisInfo`
/// proves the pointers contiguous and aligned).
void populateMemoryToLLVMPatterns(const mlir::TypeConverter &converter,
                                  mlir::RewritePatternSet &patterns,
                                  AxisInfoAnalysis &axisInfo);
/// make_range, splat, broadcast, expand_dims, trans, reshape, convert_layout
/// (to mma operands through ldmatrix when `useLdmatrix`).
void populateLayoutToLLVMPatterns(const mlir::TypeConverter &converter,
                                  mlir::RewritePatternSet &patterns,
                                  bool useLdmatrix = true);
/// reduce: in registers, across lanes by shuffles, across warps in shared.
void populateReduceToLLVMPatterns(const mlir::TypeConverter &converter,
                                  mlir::RewritePatternSet &patterns);
/// dot on tensor cores (mma.sync m16n8k16).
void populateDotToLLVMPatterns(const mlir::TypeConverter &converter,
                               mlir::RewritePatternSet &patterns);

} // namespace tessel::lowering

#endif // TESSEL_LOWERING_TOLLVM_PATTERNS_H
