// Ops that only move elements: ranges and splats are built in place;
// broadcast, expand_dims and trans stay in registers when the layouts line up
// (registerMap); everything else, and every convert_layout that is not a
// relabeling, goes through shared memory.
#include "lowering/ToLLVM/Patterns.h"
#include "lowering/ToLLVM/Utility.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

using namespace mlir;
using namespace tessel;

namespace tessel::lowering {
namespace {

struct MakeRangeLowering : OpConversionPattern<tile::MakeRangeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(tile::MakeRangeOp op, OneToNOpAdaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto ll = getLinearLayout(op.getType());
    if (failed(ll))
      return rewriter.notifyMatchFailure(op, "tensor has no layout");
    Location loc = op.getLoc();
    SmallVector<Value> thread = threadCoords(rewriter, loc, *ll);
    Value start = i32Const(rewriter, loc, op.getStart());
    SmallVector<Value> out;
    for (int64_t r = 0; r < ll->numRegs(); ++r)
      out.push_back(arith::AddIOp::create(
          rewriter, loc, start, elementCoords(rewriter, loc, *ll, thread, r)[0]));
    rewriter.replaceOpWithMultiple(op, {out});
    return success();
  }
};

struct SplatLowering : OpConversionPattern<tile::SplatOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(tile::SplatOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto ll = getLinearLayout(op.getType());
    if (failed(ll))
      return rewriter.notifyMatchFailure(op, "tensor has no layout");
    rewriter.replaceOpWithMultiple(
        op, {SmallVector<Value>(ll->numRegs(), adaptor.getSrc()[0])});
    return success();
  }
};

/// Replaces `op` by picking source registers through registerMap, or reports
/// why it cannot.
LogicalResult remapRegisters(Operation *op, ValueRange src, Type srcType,
                             Type dstType,
                             function_ref<Coords(const Coords &)> dstToSrc,
                             ConversionPatternRewriter &rewriter) {
  auto sl = getLinearLayout(srcType), dl = getLinearLayout(dstType);
  if (failed(sl) || failed(dl))
    return rewriter.notifyMatchFailure(op, "tensor has no layout");
  auto map = registerMap(*sl, *dl, dstToSrc);
  if (!map)
    return failure();
  SmallVector<Value> out;
  for (int64_t s : *map)
    out.push_back(src[s]);
  rewriter.replaceOpWithMultiple(op, {out});
  return success();
}

struct BroadcastLowering : OpConversionPattern<tile::BroadcastOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(tile::BroadcastOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto srcShape = op.getSrc().getType().getShape();
    auto result = remapRegisters(
        op, adaptor.getSrc(), op.getSrc().getType(), op.getType(),
        [&](const Coords &c) {
          Coords s = c;
          for (size_t d = 0; d < s.size(); ++d)
            s[d] &= srcShape[d] - 1;
          return s;
        },
        rewriter);
    if (failed(result))
      return op.emitError("internal: broadcast between layouts that do not "
                          "line up; tile-assign-layouts must give both one");
    return success();
  }
};

struct ExpandDimsLowering : OpConversionPattern<tile::ExpandDimsOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(tile::ExpandDimsOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    int64_t axis = op.getAxis();
    auto result = remapRegisters(
        op, adaptor.getSrc(), op.getSrc().getType(), op.getType(),
        [&](const Coords &c) {
          Coords s = c;
          s.erase(s.begin() + axis);
          return s;
        },
        rewriter);
    if (failed(result))
      return op.emitError("internal: expand_dims operand is not a slice of the "
                          "result layout");
    return success();
  }
};

/// Shared-memory path for trans, reshape and convert_layout.
LogicalResult viaShared(Operation *op, ValueRange src, RankedTensorType srcType,
                        RankedTensorType dstType, ArrayRef<int64_t> dstStrides,
                        ConversionPatternRewriter &rewriter) {
  auto sl = getLinearLayout(srcType), dl = getLinearLayout(dstType);
  if (failed(sl) || failed(dl))
    return rewriter.notifyMatchFailure(op, "tensor has no layout");
  auto out = shuffleThroughShared(rewriter, op->getLoc(), op, src,
                                  lowerScalarType(srcType.getElementType()),
                                  *sl, *dl, dstStrides);
  rewriter.replaceOpWithMultiple(op, {out});
  return success();
}

struct TransLowering : OpConversionPattern<tile::TransOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(tile::TransOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto swap = [](const Coords &c) { return Coords{c[1], c[0]}; };
    if (succeeded(remapRegisters(op, adaptor.getSrc(), op.getSrc().getType(),
                                 op.getType(), swap, rewriter)))
      return success();
    // dst (j, i) reads src (i, j) at i·N + j.
    int64_t n = op.getSrc().getType().getDimSize(1);
    return viaShared(op, adaptor.getSrc(), op.getSrc().getType(),
                     cast<RankedTensorType>(op.getType()), {1, n}, rewriter);
  }
};

struct ReshapeLowering : OpConversionPattern<tile::ReshapeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(tile::ReshapeOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto dst = cast<RankedTensorType>(op.getType());
    return viaShared(op, adaptor.getSrc(), op.getSrc().getType(), dst,
                     rowMajorStrides(dst.getShape()), rewriter);
  }
};

struct ConvertLayoutLowering : OpConversionPattern<tile::ConvertLayoutOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(tile::ConvertLayoutOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto identity = [](const Coords &c) { return c; };
    if (succeeded(remapRegisters(op, adaptor.getSrc(), op.getSrc().getType(),
                                 op.getType(), identity, rewriter)))
      return success();
    auto dst = cast<RankedTensorType>(op.getType());
    return viaShared(op, adaptor.getSrc(), op.getSrc().getType(), dst,
                     rowMajorStrides(dst.getShape()), rewriter);
  }
};

} // namespace

void populateLayoutToLLVMPatterns(const TypeConverter &converter,
                                  RewritePatternSet &patterns) {
  patterns.add<MakeRangeLowering, SplatLowering, BroadcastLowering,
               ExpandDimsLowering, TransLowering, ReshapeLowering,
               ConvertLayoutLowering>(converter, patterns.getContext());
}

} // namespace tessel::lowering
