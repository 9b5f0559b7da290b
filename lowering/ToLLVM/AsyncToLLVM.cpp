// Asynchronous copies (tile-pipeline-loads): an async_load is one cp.async
// per vector each thread holds of the pointer tile — 16 bytes (.cg, through
// L2 only) where AxisInfo proves the pointers contiguous and aligned, 4 or 8
// bytes (.ca) otherwise — into its ring slot at the staging layout the dots
// read (SharedMemory.h), then one commit group. A masked-off vector copies 0
// source bytes: cp.async zero-fills it. An async_wait waits until at most
// `pending` groups are in flight and synchronizes the CTA, so every
// thread's copies are visible and every read of the buffer the next copies
// overwrite is done.
#include "lowering/ToLLVM/Patterns.h"
#include "lowering/ToLLVM/AxisInfo.h"
#include "lowering/ToLLVM/Utility.h"
#include "lowering/SharedMemory.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

using namespace mlir;
using namespace tessel;

namespace tessel::lowering {
namespace {

struct AsyncLoadLowering : OpConversionPattern<tile::AsyncLoadOp> {
  AsyncLoadLowering(const TypeConverter &tc, MLIRContext *ctx,
                    AxisInfoAnalysis &info)
      : OpConversionPattern(tc, ctx), info_(info) {}

  LogicalResult
  matchAndRewrite(tile::AsyncLoadOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto ll = getLinearLayout(op.getPtr().getType());
    if (failed(ll))
      return op.emitError("async_load pointers need a distributed layout");
    auto type = op.getType();
    Type elem = type.getElementType();
    int64_t elemBytes = tile::getElementByteSize(elem);
    int64_t vec = accessWidth(info_, op.getPtr(), op.getMask());
    int64_t bytes = vec * elemBytes;
    // tile-pipeline-loads only makes copies of whole 4-byte words.
    if (bytes != 4 && bytes != 8 && bytes != 16)
      return op.emitError("internal: async_load of ")
             << bytes << "-byte vectors; cp.async copies 4, 8 or 16";

    Value ring = scratchBase(rewriter, loc, op);
    Value slotBytes = arith::MulIOp::create(
        rewriter, loc, adaptor.getSlot().front(),
        i32Const(rewriter, loc, asyncBufferBytes(type)));
    Value buffer = LLVM::GEPOp::create(rewriter, loc, ring.getType(),
                                       rewriter.getI8Type(), ring,
                                       ValueRange{slotBytes});
    SharedPlacement placement = stagingPlacement(type);
    SmallVector<Value> thread = threadCoords(rewriter, loc, *ll);
    ValueRange ptrs = adaptor.getPtr(), masks = adaptor.getMask();
    auto modifier = bytes == 16 ? NVVM::LoadCacheModifierKind::CG
                                : NVVM::LoadCacheModifierKind::CA;
    Value full = i32Const(rewriter, loc, bytes);
    Value none = i32Const(rewriter, loc, 0);
    for (int64_t r = 0; r < ll->numRegs(); r += vec) {
      Value dst = sharedElementAddress(rewriter, loc, buffer, elem, *ll,
                                       thread, placement, r);
      Value srcBytes =
          masks.empty()
              ? Value()
              : Value(arith::SelectOp::create(rewriter, loc, masks[r], full,
                                              none));
      NVVM::CpAsyncOp::create(rewriter, loc, dst, ptrs[r],
                              rewriter.getI32IntegerAttr(bytes),
                              NVVM::LoadCacheModifierKindAttr::get(
                                  getContext(), modifier),
                              srcBytes);
    }
    NVVM::CpAsyncCommitGroupOp::create(rewriter, loc);
    rewriter.replaceOpWithMultiple(op, {{buffer}});
    return success();
  }

  AxisInfoAnalysis &info_;
};

struct AsyncWaitLowering : OpConversionPattern<tile::AsyncWaitOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(tile::AsyncWaitOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    NVVM::CpAsyncWaitGroupOp::create(rewriter, loc, op.getPending());
    // Buffers wgmma reads (swizzled) are read through the async proxy.
    if (llvm::any_of(op.getSrcs(), [](Value v) {
          return stagingPlacement(cast<RankedTensorType>(v.getType()))
              .isSwizzled();
        }))
      asyncProxyFence(rewriter, loc);
    barrier(rewriter, loc);
    SmallVector<SmallVector<Value>> results;
    for (ValueRange src : adaptor.getSrcs())
      results.emplace_back(src.begin(), src.end());
    rewriter.replaceOpWithMultiple(op, results);
    return success();
  }
};

} // namespace

void populateAsyncToLLVMPatterns(const TypeConverter &converter,
                                 RewritePatternSet &patterns,
                                 AxisInfoAnalysis &axisInfo) {
  patterns.add<AsyncLoadLowering>(converter, patterns.getContext(), axisInfo);
  patterns.add<AsyncWaitLowering>(converter, patterns.getContext());
}

} // namespace tessel::lowering
