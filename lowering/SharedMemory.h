// Shared-memory scratch of the ops that move data through it: which ops
// need it, how a tile is laid out in it (row-major, rows padded), how many
// bytes that takes, and what tile-allocate-shared / tile-insert-barriers
// decided for it. One definition for the passes and the lowering, so both
// agree on where every element lives.
#ifndef TESSEL_LOWERING_SHAREDMEMORY_H
#define TESSEL_LOWERING_SHAREDMEMORY_H

#include "dialect/TileOps.h"
#include "lowering/ToLLVM/Utility.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/SmallVector.h"

namespace tessel::lowering {

/// Whether `type` is a tensor in #tile.shared (a buffer in shared memory,
/// written by tile.async_load).
bool isSharedTensor(mlir::Type type);

/// Bytes of one buffer of an async_load's ring: its tile staged as
/// stagingPlacement says, rounded up to its alignment (scratchAlignment),
/// so every slot starts aligned.
int64_t asyncBufferBytes(mlir::RankedTensorType type);

/// Whether a convert_layout moves elements between threads. One that only
/// renumbers each thread's registers needs no shared memory.
bool convertNeedsShared(tile::ConvertLayoutOp op);

/// A byte range of shared memory.
struct ScratchSpan {
  int64_t offset = 0, bytes = 0;
  bool overlaps(const ScratchSpan &o) const {
    return offset < o.offset + o.bytes && o.offset < offset + bytes;
  }
  bool operator==(const ScratchSpan &o) const {
    return offset == o.offset && bytes == o.bytes;
  }
};

/// Calls `f(dot, operandNumber)` for every dot that takes `op`'s result as
/// its A (0) or B (1) operand, directly or through a trans (a register
/// relabeling of #tile.trans layouts); false, stopping, at any other use or
/// a dot in another block.
bool forEachOperandReader(
    tile::ConvertLayoutOp op,
    llvm::function_ref<void(mlir::Operation *, unsigned)> f);

/// Whether `op` stages a 16-bit tile for dot operands that the dots read
/// fragment by fragment, one k-step at a time (ldmatrix), instead of every
/// fragment being read into registers at the conversion: every user is a
/// dot in the same block taking it as A or B (forEachOperandReader). Its
/// scratch then stays live
/// (and is read) up to its last user.
bool readsFragmentsAtUse(tile::ConvertLayoutOp op);

/// The cumsum whose running sums `op` reads straight from that cumsum's
/// scratch, where ScanToLLVM leaves them published by its last barrier: a
/// convert_layout of a cumsum's result, in the cumsum's block, into a
/// distributed layout that needs shared memory. It then needs no scratch
/// and no barrier of its own (a gate vector's cumulative sum read in the
/// accumulator's row and column layouts and the loads' row layout is one
/// scan, not a scan and three stagings). Null otherwise.
tile::CumsumOp scanSumsSource(tile::ConvertLayoutOp op);

/// The cumsum whose last running sum is `op`'s result: a sum of a vector
/// (rank 1) that an inclusive cumsum of the same vector, earlier in the
/// block, also sums (a chunk's total log-decay beside its cumulative one).
/// It then reads that one word (the first one when the scan is reversed)
/// and needs no scratch and no barrier of its own. Null otherwise.
tile::CumsumOp scanTotalSource(tile::ReduceOp op);

/// The word a cumsum of `elem` works in: f32 for floats, i32 for integers.
mlir::Type scanWordType(mlir::Type elem);

/// A cumsum's scratch (ScanToLLVM): its operand's words, then its running
/// sums', each row-major and unpadded. The start of the sums; the readers
/// above address them with rowMajorStrides of the scan's shape.
mlir::Value scanSums(mlir::OpBuilder &b, mlir::Location loc,
                     tile::CumsumOp scan);

/// The ops that read `op`'s scratch after `op` itself, so that it stays
/// live (tile-allocate-shared) and counts as read there
/// (tile-insert-barriers): for a dot-operand staging (readsFragmentsAtUse)
/// the dots that read it and, for an asynchronous dot (tile-overlap-dots),
/// the tile.dot_wait that completes it; for a cumsum, the conversions and
/// sums that read its running sums (scanSumsSource, scanTotalSource).
/// Else empty.
llvm::SmallVector<mlir::Operation *> fragmentReaders(mlir::Operation *op);

/// How `type` is staged in shared memory, for reading as `readAs` (the
/// layout a convert_layout reads it into; none for an async copy's buffer,
/// whose #tile.shared says). Operands of wgmma dots (#tile.mma with wgmma,
/// #tile.shared<swizzled = true>) that fit (swizzleFits) take wgmma's
/// 128-byte-swizzled layout (SharedPlacement), which its matrix descriptors
/// address. Everything else is row-major with rows padded by 16 bytes: 8
/// rows of 16-byte accesses (ldmatrix, 16-byte vector stores) and 8 rows of
/// mma accumulator pairs then fall in distinct banks; without it every row
/// starts in the same bank. (Swizzled addresses are exclusive-ors of the
/// row that ptxas cannot fold into immediate offsets: they cost registers
/// where the padded layout needs none, so only wgmma operands pay them.)
SharedPlacement stagingPlacement(mlir::RankedTensorType type,
                                 mlir::Attribute readAs = {});

/// Whether `type` can be staged swizzled: 2-D, 16-bit elements, rows of a
/// multiple of 64 elements (whole 128-byte atoms), a multiple of 8 rows.
bool swizzleFits(mlir::RankedTensorType type);

/// Whether `layout` is an operand layout (or its #tile.trans) of a dot
/// lowered with wgmma (#tile.mma<..., wgmma = true>).
bool isWgmmaOperandLayout(mlir::Attribute layout);

/// `v` rounded up to a multiple of `align`.
inline int64_t alignTo(int64_t v, int64_t align) {
  return (v + align - 1) / align * align;
}

/// Byte alignment of `op`'s scratch: 1024 for a swizzled tile (a swizzle
/// atom of 8 rows of 128 bytes starts on its own boundary, where wgmma's
/// descriptors assume it), else 16.
int64_t scratchAlignment(mlir::Operation *op);

/// Bytes an element of `type` takes in shared memory (i1 is kept as i8).
int64_t stagedElementBytes(mlir::Type elem);

/// Bytes of scratch `op` needs, or 0 when it does not touch shared memory.
/// A convert_layout from #tile.shared reads its source's buffer and needs
/// none; an async_load needs its whole ring, live through the kernel.
int64_t scratchBytes(mlir::Operation *op);

/// Byte offset of `op`'s scratch (tile.smem_offset, 0 when unassigned).
int64_t scratchOffset(mlir::Operation *op);

/// Whether tile-insert-barriers found that `op` must synchronize before it
/// writes its scratch (tile.barrier_before). Ops never analysed (a pipeline
/// that skipped the pass) synchronize.
bool needsBarrierBefore(mlir::Operation *op);

/// Whether a dot-operand staging must synchronize after its writes
/// (tile.barrier_after): false when a later staging's barrier comes before
/// any reader. Unanalysed ops synchronize.
bool needsBarrierAfter(mlir::Operation *op);

} // namespace tessel::lowering

#endif // TESSEL_LOWERING_SHAREDMEMORY_H
