// Ops that only move elements: ranges and splats are built in place;
// broadcast, expand_dims and trans stay in registers when the layouts line up
// (registerMap); everything else, and every convert_layout that is not a
// relabeling, goes through shared memory (vectorized, placed as
// stagingPlacement says; dot operands read back with ldmatrix).
#include "lowering/ToLLVM/Patterns.h"
#include "lowering/ToLLVM/Utility.h"
#include "lowering/SharedMemory.h"
#include "lowering/ToLLVM/OperandFragments.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

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
    Value start = i32Const(rewriter, loc, op.getStartAttr().getInt());
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
                        RankedTensorType dstType,
                        const SharedPlacement &srcPlace,
                        const SharedPlacement &dstPlace,
                        ConversionPatternRewriter &rewriter) {
  auto sl = getLinearLayout(srcType), dl = getLinearLayout(dstType);
  if (failed(sl) || failed(dl))
    return rewriter.notifyMatchFailure(op, "tensor has no layout");
  auto out = shuffleThroughShared(rewriter, op->getLoc(), op, src,
                                  lowerScalarType(srcType.getElementType()),
                                  *sl, *dl, srcPlace, dstPlace);
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
    auto srcType = op.getSrc().getType();
    int64_t n = srcType.getDimSize(1);
    return viaShared(op, adaptor.getSrc(), srcType,
                     cast<RankedTensorType>(op.getType()),
                     SharedPlacement(rowMajorStrides(srcType.getShape())),
                     SharedPlacement({1, n}), rewriter);
  }
};

struct ReshapeLowering : OpConversionPattern<tile::ReshapeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(tile::ReshapeOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto dst = cast<RankedTensorType>(op.getType());
    return viaShared(op, adaptor.getSrc(), op.getSrc().getType(), dst,
                     SharedPlacement(rowMajorStrides(op.getSrc().getType().getShape())),
                     SharedPlacement(rowMajorStrides(dst.getShape())), rewriter);
  }
};

/// Reads a tile from shared memory at `base` (staged as stagingPlacement
/// says, SharedMemory.h) into a register layout: nothing when the dots
/// read its fragments themselves, one k-step at a time (`deferred`: the
/// result registers are placeholders no one reads), ldmatrix for 16-bit dot
/// operands (OperandFragments), vector loads otherwise.
LogicalResult lowerFromShared(tile::ConvertLayoutOp op, Value base,
                              bool deferred, bool useLdmatrix,
                              ConversionPatternRewriter &rewriter) {
  Location loc = op.getLoc();
  auto srcType = op.getSrc().getType();
  auto dstType = cast<RankedTensorType>(op.getType());
  auto dl = getLinearLayout(dstType);
  if (failed(dl))
    return rewriter.notifyMatchFailure(op, "tensor has no layout");
  Type elem = srcType.getElementType();
  if (deferred) {
    Value unused = LLVM::PoisonOp::create(rewriter, loc, elem);
    rewriter.replaceOpWithMultiple(
        op, {SmallVector<Value>(dl->numRegs(), unused)});
    return success();
  }
  if (useLdmatrix && OperandFragments::applies(srcType, dstType.getEncoding())) {
    OperandFragments fragments(rewriter, loc, base, srcType,
                               dstType.getEncoding());
    rewriter.replaceOpWithMultiple(op, {fragments.loadAll()});
    return success();
  }
  rewriter.replaceOpWithMultiple(
      op, {loadFromShared(rewriter, loc, base, elem, *dl,
                          stagingPlacement(srcType, dstType.getEncoding()))});
  return success();
}

/// Conversion of a 16-bit tile X into an mma.sync operand layout (or into
/// the transpose of one): X is staged in its scratch in vectors, a barrier,
/// then it is read as lowerFromShared reads an async copy's buffer.
LogicalResult lowerToDotOperand(tile::ConvertLayoutOp op, ValueRange src,
                                bool deferred,
                                ConversionPatternRewriter &rewriter) {
  auto srcType = op.getSrc().getType();
  auto sl = getLinearLayout(srcType);
  if (failed(sl))
    return rewriter.notifyMatchFailure(op, "tensor has no layout");
  Value base = stageInScratch(rewriter, op.getLoc(), op, src,
                              srcType.getElementType(), *sl,
                              stagingPlacement(srcType, op.getType().getEncoding()),
                              !deferred || needsBarrierAfter(op));
  return lowerFromShared(op, base, deferred, /*useLdmatrix=*/true, rewriter);
}

/// `op`'s elements read from the running sums `scan` left in its scratch
/// (SharedMemory.h, scanSums), published by the scan's barrier.
LogicalResult readScanSums(tile::ConvertLayoutOp op, tile::CumsumOp scan,
                           ConversionPatternRewriter &rewriter) {
  Location loc = op.getLoc();
  auto type = cast<RankedTensorType>(op.getType());
  auto dl = getLinearLayout(type);
  Type elem = type.getElementType(), work = scanWordType(elem);
  Value sums = scanSums(rewriter, loc, scan);
  SharedPlacement rowMajor(rowMajorStrides(type.getShape()));
  SmallVector<Value> thread = threadCoords(rewriter, loc, *dl);
  SmallVector<Value> out;
  for (int64_t r = 0; r < dl->numRegs(); ++r) {
    Value v = LLVM::LoadOp::create(
        rewriter, loc, work,
        sharedElementAddress(rewriter, loc, sums, work, *dl, thread, rowMajor,
                             r));
    if (v.getType() != elem)
      v = arith::TruncFOp::create(rewriter, loc, elem, v);
    out.push_back(v);
  }
  rewriter.replaceOpWithMultiple(op, {out});
  return success();
}

struct ConvertLayoutLowering : OpConversionPattern<tile::ConvertLayoutOp> {
  ConvertLayoutLowering(const TypeConverter &tc, MLIRContext *ctx,
                        bool useLdmatrix, const StagedOperands &staged)
      : OpConversionPattern(tc, ctx), useLdmatrix_(useLdmatrix),
        staged_(staged) {}
  bool useLdmatrix_;
  const StagedOperands &staged_;
  LogicalResult
  matchAndRewrite(tile::ConvertLayoutOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    if (isSharedTensor(op.getSrc().getType()))
      return lowerFromShared(op, adaptor.getSrc().front(),
                             staged_.stagers.contains(op), useLdmatrix_,
                             rewriter);
    if (tile::CumsumOp scan = scanSumsSource(op))
      return readScanSums(op, scan, rewriter);
    auto identity = [](const Coords &c) { return c; };
    if (succeeded(remapRegisters(op, adaptor.getSrc(), op.getSrc().getType(),
                                 op.getType(), identity, rewriter)))
      return success();
    if (useLdmatrix_ && OperandFragments::applies(op.getSrc().getType(),
                                                  op.getType().getEncoding()))
      return lowerToDotOperand(op, adaptor.getSrc(),
                               staged_.stagers.contains(op), rewriter);
    auto dst = cast<RankedTensorType>(op.getType());
    SharedPlacement placement =
        stagingPlacement(op.getSrc().getType(), dst.getEncoding());
    return viaShared(op, adaptor.getSrc(), op.getSrc().getType(), dst,
                     placement, placement, rewriter);
  }
};

} // namespace

void populateLayoutToLLVMPatterns(const TypeConverter &converter,
                                  RewritePatternSet &patterns,
                                  bool useLdmatrix,
                                  const StagedOperands &staged) {
  patterns.add<MakeRangeLowering, SplatLowering, BroadcastLowering,
               ExpandDimsLowering, TransLowering, ReshapeLowering>(
      converter, patterns.getContext());
  patterns.add<ConvertLayoutLowering>(converter, patterns.getContext(),
                                      useLdmatrix, staged);
}

} // namespace tessel::lowering
