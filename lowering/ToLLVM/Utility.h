// Helpers shared by the tile-to-LLVM patterns: the distributed layout of a
// tensor type, thread and element coordinates, shared-memory round trips and
// barriers.
#ifndef TESSEL_LOWERING_TOLLVM_UTILITY_H
#define TESSEL_LOWERING_TOLLVM_UTILITY_H

#include "dialect/LinearLayout.h"
#include "dialect/TileOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Transforms/DialectConversion.h"

#include <optional>

namespace tessel::lowering {

using tile::Coords;
using tile::LinearLayout;

/// The LinearLayout of a tensor type with a layout encoding.
mlir::FailureOr<LinearLayout> getLinearLayout(mlir::Type tensorType);

mlir::Value i32Const(mlir::OpBuilder &b, mlir::Location loc, int64_t v);

/// Lane id (0..31) and warp id of the calling thread.
std::pair<mlir::Value, mlir::Value> laneAndWarp(mlir::OpBuilder &b,
                                                mlir::Location loc);

/// The thread-dependent part of every coordinate: XOR over the set bits of
/// lane and warp id of their bases.
llvm::SmallVector<mlir::Value> threadCoords(mlir::OpBuilder &b,
                                            mlir::Location loc,
                                            const LinearLayout &ll);

/// Coordinates of register `r`: threadCoords XOR the register's constant part.
llvm::SmallVector<mlir::Value> elementCoords(mlir::OpBuilder &b,
                                             mlir::Location loc,
                                             const LinearLayout &ll,
                                             llvm::ArrayRef<mlir::Value> thread,
                                             int64_t r);

/// For every register of `dst`, the register of `src` the same thread holds
/// at coordinates `dstToSrc(coords)`; nullopt when lanes or warps do not line
/// up (the values would have to cross threads). `dstToSrc` must be linear
/// under XOR (masking, permuting, dropping or inserting dimensions).
std::optional<llvm::SmallVector<int64_t>>
registerMap(const LinearLayout &src, const LinearLayout &dst,
            llvm::function_ref<Coords(const Coords &)> dstToSrc);

/// The base of the kernel's dynamic shared memory, as !llvm.ptr<3>.
mlir::Value sharedBase(mlir::OpBuilder &b, mlir::Location loc);

/// sharedBase + `offset` bytes.
mlir::Value sharedAt(mlir::OpBuilder &b, mlir::Location loc, int64_t offset);

/// The start of `op`'s scratch: sharedBase + its tile.smem_offset.
mlir::Value scratchBase(mlir::OpBuilder &b, mlir::Location loc,
                        mlir::Operation *op);

/// How many registers from each multiple of the result hold consecutive
/// elements along the last dimension in every thread, at most `maxElems`:
/// the width of the vector one shared-memory access can move.
int64_t contiguousRegisters(const LinearLayout &ll, int64_t maxElems);

/// Where a tile's elements sit in shared memory: element (c_0, c_1, ...) at
/// Σ c_d · strides[d] elements, or, for a swizzled tile, in wgmma's
/// 128-byte-swizzled layout (SharedMemory.h): 16-bit elements in atoms of
/// 64 columns stored one after another, row r of an atom 128·r bytes in,
/// its 16-byte chunk c at chunk c ^ (r % 8). `strides` are then the
/// unpadded row-major strides (vector widths are computed from them: a
/// vector of at most 16 aligned bytes never leaves its chunk).
struct SharedPlacement {
  llvm::SmallVector<int64_t> strides;
  /// Rows of the tile when it is swizzled, else 0.
  int64_t swizzledRows = 0;

  SharedPlacement(llvm::ArrayRef<int64_t> strides)
      : strides(strides.begin(), strides.end()) {}
  /// The swizzled placement of a 2-D tile of 16-bit elements.
  static SharedPlacement swizzled(llvm::ArrayRef<int64_t> shape);
  bool isSwizzled() const { return swizzledRows != 0; }
};

/// Columns of 16-bit elements in one 128-byte swizzle atom.
constexpr int64_t kSwizzleAtomCols = 64;

/// The element index of `coords` in a tile placed as `p`, as an i32.
mlir::Value sharedIndex(mlir::OpBuilder &b, mlir::Location loc,
                        llvm::ArrayRef<mlir::Value> coords,
                        const SharedPlacement &p);

/// The address of register `r`'s element of a tile in shared memory at
/// `base`, placed as `p` (`thread` from threadCoords).
mlir::Value sharedElementAddress(mlir::OpBuilder &b, mlir::Location loc,
                                 mlir::Value base, mlir::Type elemType,
                                 const LinearLayout &ll,
                                 llvm::ArrayRef<mlir::Value> thread,
                                 const SharedPlacement &p, int64_t r);

/// Writes every register of `regs` (layout `ll`) to `base`, placed as `p`,
/// in vectors of up to 16 bytes.
void storeToShared(mlir::OpBuilder &b, mlir::Location loc, mlir::Value base,
                   mlir::ValueRange regs, mlir::Type elemType,
                   const LinearLayout &ll, const SharedPlacement &p);

/// Reads every register of layout `ll` from `base` (the inverse of
/// storeToShared).
llvm::SmallVector<mlir::Value>
loadFromShared(mlir::OpBuilder &b, mlir::Location loc, mlir::Value base,
               mlir::Type elemType, const LinearLayout &ll,
               const SharedPlacement &p);

void barrier(mlir::OpBuilder &b, mlir::Location loc);

/// fence.proxy.async.shared::cta: orders this thread's shared-memory
/// accesses before later async-proxy (wgmma, TMA) ones.
void asyncProxyFence(mlir::OpBuilder &b, mlir::Location loc);

/// Writes `regs` (layout `ll`) into `op`'s scratch placed as `p`, with a
/// barrier before when tile-insert-barriers asked for one and after unless
/// `barrierAfter` is false (a swizzled tile, which wgmma reads, with an
/// async-proxy fence after the stores); returns the scratch's start.
mlir::Value stageInScratch(mlir::OpBuilder &b, mlir::Location loc,
                           mlir::Operation *op, mlir::ValueRange regs,
                           mlir::Type elemType, const LinearLayout &ll,
                           const SharedPlacement &p, bool barrierAfter);

/// Moves a tensor between layouts through `op`'s scratch: a barrier when
/// tile-insert-barriers asked for one, every thread writes its registers
/// placed as `srcPlace`, a barrier, then reads each register of `dst`
/// placed as `dstPlace`.
llvm::SmallVector<mlir::Value>
shuffleThroughShared(mlir::OpBuilder &b, mlir::Location loc,
                     mlir::Operation *op, mlir::ValueRange srcRegs,
                     mlir::Type elemType, const LinearLayout &src,
                     const LinearLayout &dst,
                     const SharedPlacement &srcPlace,
                     const SharedPlacement &dstPlace);

/// Row-major strides of `shape`.
llvm::SmallVector<int64_t> rowMajorStrides(llvm::ArrayRef<int64_t> shape);

/// The LLVM type a scalar of the tile dialect lowers to.
mlir::Type lowerScalarType(mlir::Type type);

} // namespace tessel::lowering

#endif // TESSEL_LOWERING_TOLLVM_UTILITY_H
