// tile-remove-layout-conversions: removes layout conversions that are not
// needed. Chains and identities fold (ConvertLayoutOp::fold); conversions of
// values that are cheap to build again (constants, splats, ranges) are
// replaced by a copy built directly in the wanted layout, so no shared-memory
// round trip remains for them.
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

struct TileRemoveLayoutConversions
    : tessel::lowering::impl::TileRemoveLayoutConversionsBase<
          TileRemoveLayoutConversions> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<RematerializeCheapProducer, ConvertBeforeBroadcast>(
        &getContext());
    ConvertLayoutOp::getCanonicalizationPatterns(patterns, &getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace
