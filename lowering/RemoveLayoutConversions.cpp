// tile-remove-layout-conversions: removes layout conversions that are not
// needed. Chains and identities fold (ConvertLayoutOp::fold); conversions of
// values that are cheap to build again (constants, splats, ranges) are
// replaced by a copy built directly in the wanted layout, so no shared-memory
// round trip remains for them; a transposed dot operand is read transposed
// from its source's staging instead of being transposed through memory.
#include "lowering/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace tessel::lowering {
#define GEN_PASS_DEF_TILEREMOVELAYOUTCONVERSIONS
#include "lowering/Passes.h.inc"
} // namespace tessel::lowering

using namespace mlir;
using namespace tessel::tile;

namespace {

/// convert(splat/constant/make_range) -> the same op in the target layout.
struct RematerializeCheapProducer : OpRewritePattern<ConvertLayoutOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ConvertLayoutOp op,
                                PatternRewriter &rewriter) const override {
    Operation *producer = op.getSrc().getDefiningOp();
    if (!producer || !isa<SplatOp, MakeRangeOp, arith::ConstantOp>(producer))
      return rewriter.notifyMatchFailure(op, "producer is not cheap to rebuild");
    Type type = op.getType();
    Operation *clone = rewriter.clone(*producer);
    clone->getResult(0).setType(type);
    if (auto cst = dyn_cast<arith::ConstantOp>(clone)) {
      auto dense = dyn_cast<DenseElementsAttr>(cst.getValue());
      if (!dense || !dense.isSplat()) {
        rewriter.eraseOp(clone);
        return rewriter.notifyMatchFailure(op, "constant is not a splat");
      }
      cst.setValueAttr(DenseElementsAttr::get(
          cast<ShapedType>(type), dense.getSplatValue<Attribute>()));
    }
    rewriter.replaceOp(op, clone->getResults());
    return success();
  }
};

/// convert(broadcast(x)) where x can be given the target layout directly:
/// broadcast keeps its operand's layout, so convert the (smaller) operand.
struct ConvertBeforeBroadcast : OpRewritePattern<ConvertLayoutOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ConvertLayoutOp op,
                                PatternRewriter &rewriter) const override {
    auto bc = op.getSrc().getDefiningOp<BroadcastOp>();
    if (!bc)
      return rewriter.notifyMatchFailure(op, "not a broadcast");
    auto dst = cast<RankedTensorType>(op.getType());
    auto srcType = cast<RankedTensorType>(bc.getSrc().getType());
    auto newSrcType = RankedTensorType::get(
        srcType.getShape(), srcType.getElementType(), dst.getEncoding());
    Value src = ConvertLayoutOp::create(rewriter, op.getLoc(), newSrcType,
                                        bc.getSrc());
    rewriter.replaceOpWithNewOp<BroadcastOp>(op, dst, src);
    return success();
  }
};

/// convert(trans(x)) into a 16-bit dot-operand layout L -> trans(convert(x)
/// into #tile.trans<L>): x is staged once, in its own row-major order, and
/// the operand fragments are read from it transposed by ldmatrix; the trans
/// itself becomes a relabeling of registers. Staging trans(x) instead would
/// write x's rows down the columns of the buffer, one element per store.
struct FoldTransIntoOperandLoad : OpRewritePattern<ConvertLayoutOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ConvertLayoutOp op,
                                PatternRewriter &rewriter) const override {
    auto dst = cast<RankedTensorType>(op.getType());
    auto operand = dyn_cast<DotOperandAttr>(dst.getEncoding());
    if (!operand || operand.getBitWidth() != 16)
      return rewriter.notifyMatchFailure(op, "not a 16-bit dot operand");
    // trans(x), or trans(x) rounded to the operand's type (the dtype
    // conversion commutes with the transpose and moves before it).
    Value src = op.getSrc();
    auto round = src.getDefiningOp<ConvertOp>();
    auto tr = (round ? round.getSrc() : src).getDefiningOp<TransOp>();
    if (!tr || (round && !round->hasOneUse()))
      return rewriter.notifyMatchFailure(op, "not a (rounded) transpose");
    Value x = tr.getSrc();
    auto xType = cast<RankedTensorType>(x.getType());
    if (round)
      x = ConvertOp::create(rewriter, round.getLoc(),
                            RankedTensorType::get(xType.getShape(),
                                                  dst.getElementType(),
                                                  xType.getEncoding()),
                            x);
    auto staged = RankedTensorType::get(xType.getShape(), dst.getElementType(),
                                        TransAttr::get(getContext(), operand));
    Value conv = ConvertLayoutOp::create(rewriter, op.getLoc(), staged, x);
    rewriter.replaceOpWithNewOp<TransOp>(op, dst, conv);
    return success();
  }
};

struct TileRemoveLayoutConversions
    : tessel::lowering::impl::TileRemoveLayoutConversionsBase<
          TileRemoveLayoutConversions> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<RematerializeCheapProducer, ConvertBeforeBroadcast,
                 FoldTransIntoOperandLoad>(
        &getContext());
    ConvertLayoutOp::getCanonicalizationPatterns(patterns, &getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace
