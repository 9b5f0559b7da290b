// AxisInfo: what is known about the integer and pointer values of a kernel
// along each dimension — runs of consecutive values (contiguity), runs of
// equal values (constancy) and the power of two that divides each run's first
// value (divisibility). Loads and stores use it to issue 16-byte vector
// accesses, as Triton's AxisInfo analysis does.
#ifndef TESSEL_LOWERING_TOLLVM_AXISINFO_H
#define TESSEL_LOWERING_TOLLVM_AXISINFO_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallVector.h"

namespace tessel::lowering {

struct AxisInfo {
  /// One entry per dimension; a scalar has one entry.
  llvm::SmallVector<int64_t, 2> contiguity, divisibility, constancy;
};

/// The argument attribute the launcher sets on a pointer (bytes) or integer
/// argument known to be divisible by that power of two.
inline constexpr llvm::StringLiteral kDivisibilityAttr = "tile.divisibility";

class AxisInfoAnalysis {
public:
  explicit AxisInfoAnalysis(mlir::ModuleOp module);
  /// The facts about `v` (computed on first use and memoized).
  const AxisInfo &get(mlir::Value v);

private:
  AxisInfo compute(mlir::Value v);
  llvm::DenseMap<mlir::Value, AxisInfo> cache_;
};

/// Elements per vector for an access through pointers `ptr` (with optional
/// `mask`) whose layout gives each thread `perThread` consecutive elements
/// along the last dimension: at most 16 bytes, and only as many as the
/// pointers are provably contiguous, aligned and uniformly masked.
int64_t vectorWidth(AxisInfoAnalysis &info, mlir::Value ptr, mlir::Value mask,
                    int64_t perThread, unsigned elemBytes);

/// Elements per vector of a load, store or async copy through the pointer
/// tensor `ptr` (optional `mask`): vectorWidth over the registers each
/// thread holds consecutively along the last dimension; 1 for scalars,
/// pointers to pointers, and when a vector would move less than a 32-bit
/// word (predicated vector accesses move whole words).
int64_t accessWidth(AxisInfoAnalysis &info, mlir::Value ptr, mlir::Value mask);

} // namespace tessel::lowering

#endif // TESSEL_LOWERING_TOLLVM_AXISINFO_H
