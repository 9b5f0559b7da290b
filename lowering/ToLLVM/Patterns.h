// The op-family pattern sets of tile-to-llvm. Each family lives in its own
// file and exports one populate function.
#ifndef TESSEL_LOWERING_TOLLVM_PATTERNS_H
#define TESSEL_LOWERING_TOLLVM_PATTERNS_H

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/Transforms/DialectConversion.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

#include <array>
#include <optional>

namespace tessel::lowering {

class AxisInfoAnalysis;

/// Dot operands whose dots read their fragments from shared memory one
/// k-step at a time (SharedMemory.h, readsFragmentsAtUse), gathered from the
/// tile IR before the conversion rewrites it.
struct StagedOperand {
  int64_t offset;                 ///< scratch byte offset
  /// The #tile.shared tile it is read from (an async copy's buffer), in
  /// place of the scratch at `offset`.
  mlir::Value buffer;
  mlir::RankedTensorType staged;  ///< the tile in shared memory
  mlir::Attribute layout;         ///< dot-operand layout, or #tile.trans of it
};
struct StagedOperands {
  /// The conversions that only stage (their fragments are read at the dots).
  llvm::DenseSet<mlir::Operation *> stagers;
  /// dot -> staged A and B (either may be absent).
  llvm::DenseMap<mlir::Operation *, std::array<std::optional<StagedOperand>, 2>>
      byDot;
  /// Finds them in `module`.
  static StagedOperands collect(mlir::Operation *module);
};

/// arith/math ops on tensors, constants, tile.convert, exp/log, program ids.
void populateElementwiseToLLVMPatterns(const mlir::TypeConverter &converter,
                                       mlir::RewritePatternSet &patterns);
/// addptr, load and store (predicated for masks, vectorized where `axisInfo`
/// proves the pointers contiguous and aligned).
void populateMemoryToLLVMPatterns(const mlir::TypeConverter &converter,
                                  mlir::RewritePatternSet &patterns,
                                  AxisInfoAnalysis &axisInfo);
/// wait_flag and signal_flag: thread 0 polls or signals at GPU scope, the
/// CTA synchronizes around it.
void populateFlagToLLVMPatterns(const mlir::TypeConverter &converter,
                                mlir::RewritePatternSet &patterns);
/// async_load (cp.async into its ring slot, one commit group) and
/// async_wait (cp.async.wait_group, then a barrier).
void populateAsyncToLLVMPatterns(const mlir::TypeConverter &converter,
                                 mlir::RewritePatternSet &patterns,
                                 AxisInfoAnalysis &axisInfo);
/// make_range, splat, broadcast, expand_dims, trans, reshape, convert_layout
/// (to mma operands through ldmatrix when `useLdmatrix`; only staged for
/// the `staged` ones).
void populateLayoutToLLVMPatterns(const mlir::TypeConverter &converter,
                                  mlir::RewritePatternSet &patterns,
                                  bool useLdmatrix,
                                  const StagedOperands &staged);
/// reduce: in registers, across lanes by shuffles, across warps in shared.
void populateReduceToLLVMPatterns(const mlir::TypeConverter &converter,
                                  mlir::RewritePatternSet &patterns);
/// cumsum: through shared memory, whole lines per thread.
void populateScanToLLVMPatterns(const mlir::TypeConverter &converter,
                                mlir::RewritePatternSet &patterns);
/// dot on tensor cores (mma.sync m16n8k16), reading `staged` operands from
/// shared memory per k-step.
void populateDotToLLVMPatterns(const mlir::TypeConverter &converter,
                               mlir::RewritePatternSet &patterns,
                               const StagedOperands &staged);

} // namespace tessel::lowering

#endif // TESSEL_LOWERING_TOLLVM_PATTERNS_H
