// tile-combine-dot-add: folds an addition into the accumulator of the dot
// that feeds it, `dot(a, b, 0) + x -> dot(a, b, x)`. The tensor cores add
// the accumulator for free, and a dot whose accumulator is a loop-carried
// state updates that state in place in the accumulator layout (the
// Lightning state update KV·λ^C + KᵀV) instead of adding two tiles that
// live in different layouts.
#include "lowering/Passes.h"

#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace tessel::lowering {
#define GEN_PASS_DEF_TILECOMBINEDOTADD
#include "lowering/Passes.h.inc"
} // namespace tessel::lowering

using namespace mlir;
using namespace tessel::tile;

namespace {

/// Whether `v` is a constant tensor of +0.0 (or -0.0: x + -0 == x too).
bool isZeroAccumulator(Value v) {
  return matchPattern(v, m_AnyZeroFloat());
}

struct FoldAddIntoDot : OpRewritePattern<arith::AddFOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(arith::AddFOp add,
                                PatternRewriter &rewriter) const override {
    for (int side = 0; side < 2; ++side) {
      Value dotValue = add->getOperand(side), other = add->getOperand(1 - side);
      auto dot = dotValue.getDefiningOp<DotOp>();
      // The dot's own result must not be needed elsewhere: it would then be
      // computed twice.
      if (!dot || !dot->hasOneUse() || !isZeroAccumulator(dot.getAcc()))
        continue;
      if (other.getType() != dot.getType())
        continue;
      rewriter.replaceOpWithNewOp<DotOp>(add, dot.getType(), dot.getA(),
                                         dot.getB(), other);
      rewriter.eraseOp(dot);
      return success();
    }
    return rewriter.notifyMatchFailure(add, "no single-use dot with a zero "
                                            "accumulator on either side");
  }
};

struct TileCombineDotAdd
    : tessel::lowering::impl::TileCombineDotAddBase<TileCombineDotAdd> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FoldAddIntoDot>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace
