// tile-remove-layout-conversions: removes layout conversions that are not
// needed. Chains and identities fold (ConvertLayoutOp::fold); a value
// computed from much smaller ones through elementwise ops, broadcasts and
// cheap producers (splats, ranges: nothing; a decay mask from a vector of
// cumulative gates) is computed again in the wanted layout and only the
// small ones convert; a transposed dot operand is read transposed from its
// source's staging instead of being transposed through memory.
#include "lowering/Passes.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/DenseMap.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace tessel::lowering {
#define GEN_PASS_DEF_TILEREMOVELAYOUTCONVERSIONS
#include "lowering/Passes.h.inc"
} // namespace tessel::lowering

using namespace mlir;
using namespace tessel::tile;

namespace {

RankedTensorType withLayout(Type type, Attribute layout) {
  auto t = cast<RankedTensorType>(type);
  return RankedTensorType::get(t.getShape(), t.getElementType(), layout);
}

/// Layouts that elementwise ops compute in: blocked and mma, and 1-D slices
/// of them (dot-operand and shared layouts only feed dots).
bool isComputeLayout(Attribute layout) {
  if (auto s = dyn_cast<SliceAttr>(layout))
    layout = s.getParent();
  return isa<BlockedAttr, MmaAttr>(layout);
}

bool isPureElementwise(Operation *op) {
  return op->getNumResults() == 1 && op->getNumRegions() == 0 &&
         (isa<arith::ArithDialect, math::MathDialect>(op->getDialect()) ||
          isa<ConvertOp>(op)) &&
         isMemoryEffectFree(op);
}

/// Ops that only build or move elements within registers: cloning them
/// costs no arithmetic.
bool isFreeToClone(Operation *op) {
  if (auto cst = dyn_cast<arith::ConstantOp>(op)) {
    auto dense = dyn_cast<DenseElementsAttr>(cst.getValue());
    return dense && dense.isSplat();
  }
  return isa<SplatOp, MakeRangeOp, BroadcastOp, ExpandDimsOp>(op);
}

/// convert(x) into L, x computed from smaller values through ops that are
/// elementwise or only build or move elements within registers (splats,
/// ranges, splat constants, broadcasts, expand_dims): the ops are built
/// again in L (each right after its original, so loop-invariant ones stay
/// out of loops) and only the leaves convert — into L, or into its slices
/// through expand_dims. A splat or range converts to nothing; a broadcast
/// converts its operand; a C×C decay mask made from two C-vectors converts
/// 2C elements instead of C². Taken when the leaves hold at most half the
/// elements of x.
///
/// An op whose value is also used outside the chain stays, and its clone is
/// computed twice. Inside the conversion's loop that is allowed for integer
/// and float arithmetic of at most x's elements in all (an index or a mask
/// computed again costs an instruction per element; the conversion a
/// shared-memory round trip and barriers), never for math functions (exp,
/// log: the special-function unit is a decay computation's budget); such an
/// op becomes a leaf instead. Outside the loop (once per kernel) anything
/// is rebuilt.
struct RematerializeChain : OpRewritePattern<ConvertLayoutOp> {
  using OpRewritePattern::OpRewritePattern;

  static constexpr unsigned kMaxOps = 32;

  struct Plan {
    Operation *root;                   // the conversion
    scf::ForOp loop;                   // its innermost loop, if any
    int64_t budget;                    // elements of arithmetic to redo
    // Default member initializers: an aggregate initialization that omits
    // these must not copy-initialize them (DenseMap's constructor is
    // explicit; clang rejects it).
    DenseMap<Value, Attribute> layout{}; // the layout each value is wanted in
    llvm::SmallPtrSet<Operation *, 16> consumers{}; // ops reached so far
    SmallVector<Operation *> ops{};      // to clone, operands first
    SmallVector<Value> leaves{};         // to convert
    int64_t leafElements = 0;
  };

  /// Whether `def` may be cloned: free, outside the loop, used only by what
  /// the chain reached so far, or cheap arithmetic within the budget.
  static bool mayClone(Operation *def, Plan &p) {
    if (isFreeToClone(def) || (p.loop && !p.loop->isAncestor(def)))
      return true;
    bool usedElsewhere = llvm::any_of(def->getUsers(), [&](Operation *u) {
      return u != p.root && !p.consumers.contains(u);
    });
    if (!usedElsewhere)
      return true;
    if (isa<math::MathDialect>(def->getDialect()))
      return false;
    int64_t elements =
        cast<RankedTensorType>(def->getResult(0).getType()).getNumElements();
    if (elements > p.budget)
      return false;
    p.budget -= elements;
    return true;
  }

  /// Plans `v` in `want`; false when the chain cannot be rebuilt there.
  static bool plan(Value v, Attribute want, Plan &p) {
    auto t = dyn_cast<RankedTensorType>(v.getType());
    if (!t)
      return true; // scalars are used as they are
    if (auto it = p.layout.find(v); it != p.layout.end())
      return it->second == want;
    p.layout[v] = want;
    if (t.getEncoding() == want)
      return true; // already there: used as it is
    Operation *def = v.getDefiningOp();
    bool rebuild = def && (isFreeToClone(def) || isPureElementwise(def));
    if (isa_and_nonnull<ExpandDimsOp>(def))
      rebuild = isa<BlockedAttr, MmaAttr>(want);
    if (!rebuild || !mayClone(def, p)) {
      p.leaves.push_back(v);
      p.leafElements += t.getNumElements();
      return true;
    }
    if (p.ops.size() >= kMaxOps)
      return false;
    p.consumers.insert(def);
    for (Value operand : def->getOperands()) {
      Attribute operandLayout = want;
      if (auto ex = dyn_cast<ExpandDimsOp>(def))
        operandLayout = SliceAttr::get(def->getContext(), ex.getAxis(), want);
      if (!plan(operand, operandLayout, p))
        return false;
    }
    p.ops.push_back(def);
    return true;
  }

  LogicalResult matchAndRewrite(ConvertLayoutOp op,
                                PatternRewriter &rewriter) const override {
    auto dst = cast<RankedTensorType>(op.getType());
    if (!isComputeLayout(dst.getEncoding()))
      return rewriter.notifyMatchFailure(op, "not an elementwise layout");
    Plan p{op, op->getParentOfType<scf::ForOp>(), dst.getNumElements()};
    if (!plan(op.getSrc(), dst.getEncoding(), p) || p.ops.empty())
      return rewriter.notifyMatchFailure(op, "no chain to rebuild");
    if (2 * p.leafElements > dst.getNumElements())
      return rewriter.notifyMatchFailure(op, "leaves are not much smaller");

    IRMapping map;
    for (Value leaf : p.leaves) {
      if (auto arg = dyn_cast<BlockArgument>(leaf))
        rewriter.setInsertionPointToStart(arg.getOwner());
      else
        rewriter.setInsertionPointAfter(leaf.getDefiningOp());
      map.map(leaf, ConvertLayoutOp::create(
                        rewriter, op.getLoc(),
                        withLayout(leaf.getType(), p.layout.lookup(leaf)),
                        leaf));
    }
    for (Operation *def : p.ops) {
      rewriter.setInsertionPointAfter(def);
      Operation *clone = rewriter.clone(*def, map);
      Value r = clone->getResult(0);
      r.setType(withLayout(r.getType(), p.layout.lookup(def->getResult(0))));
      if (auto cst = dyn_cast<arith::ConstantOp>(clone))
        cst.setValueAttr(DenseElementsAttr::get(
            cast<ShapedType>(r.getType()),
            cast<DenseElementsAttr>(cst.getValue()).getSplatValue<Attribute>()));
    }
    rewriter.replaceOp(op, map.lookupOrDefault(op.getSrc()));
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
    patterns.add<RematerializeChain, FoldTransIntoOperandLoad>(&getContext());
    ConvertLayoutOp::getCanonicalizationPatterns(patterns, &getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace
