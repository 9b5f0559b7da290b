// tile-assign-layouts: gives every tensor value a distributed layout and
// inserts convert_layout wherever an op needs its operand in another layout.
//
// Rules: one blocked layout for all 2-D tensors of the kernel (chosen from
// the narrowest tile the hot loops load or store, so accesses are 16-byte
// vectors along the contiguous dimension and broadcasts stay in registers);
// dot operands in the mma.sync operand layouts and dot results in the
// accumulator layout, one warp split for all dots; transposes relabel
// registers (#tile.trans); 1-D tensors in the slice layout of the 2-D layout they
// are expanded into (decided users-first); elementwise results follow their
// first tensor operand, or the mma layout when any operand carries it, since
// converting the large accumulator costs more than converting the rest;
// loop-carried tensors take the layout of the dot that updates them.
#include "lowering/Passes.h"

#include "dialect/LinearLayout.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseMap.h"

namespace tessel::lowering {
#define GEN_PASS_DEF_TILEASSIGNLAYOUTS
#include "lowering/Passes.h.inc"
} // namespace tessel::lowering

using namespace mlir;
using namespace tessel;
using namespace tessel::tile;

namespace {

RankedTensorType withLayout(Type type, Attribute layout) {
  auto t = cast<RankedTensorType>(type);
  return RankedTensorType::get(t.getShape(), t.getElementType(), layout);
}

Attribute layoutOf(Value v) {
  if (auto t = dyn_cast<RankedTensorType>(v.getType()))
    return t.getEncoding();
  return {};
}

bool isElementwise(Operation *op) {
  return isa<arith::ArithDialect, math::MathDialect>(op->getDialect()) ||
         isa<ConvertOp>(op);
}

class LayoutAssigner {
public:
  LayoutAssigner(func::FuncOp fn, unsigned numWarps, bool wgmma)
      : fn_(fn), ctx_(fn.getContext()), numWarps_(numWarps), wgmma_(wgmma) {}

  LogicalResult run() {
    if (failed(checkShapes()))
      return failure();
    chooseBlocked();
    SmallVector<Operation *> ops;
    fn_.walk<WalkOrder::PreOrder>([&](Operation *op) { ops.push_back(op); });
    for (Operation *op : llvm::reverse(ops))
      planOneDim(op);
    for (Operation *op : ops)
      if (failed(assign(op)))
        return failure();
    fn_->setAttr(lowering::kNumWarpsAttr,
                 IntegerAttr::get(IntegerType::get(ctx_, 32), numWarps_));
    return success();
  }

private:
  LogicalResult checkShapes() {
    LogicalResult result = success();
    fn_.walk([&](Operation *op) {
      for (Value v : op->getResults()) {
        auto t = dyn_cast<RankedTensorType>(v.getType());
        if (!t)
          continue;
        if (t.getRank() > 2 || !isPowerOfTwoShape(t.getShape())) {
          op->emitError() << "the GPU back end needs tensors of rank 1 or 2 "
                             "with power-of-two dimensions, got "
                          << t << "; pad the tile and mask the tail";
          result = failure();
        }
      }
    });
    return result;
  }

  /// One blocked layout for every 2-D tensor: vectors of 16 bytes along the
  /// contiguous dimension, lanes across the narrowest tile that the hot
  /// loops load or store. A layout sized for the widest tile would replicate the
  /// narrower ones over lanes; sized for the narrowest, wider tiles just
  /// hold more vectors per thread and each row segment stays a full line.
  void chooseBlocked() {
    // The accesses inside loops decide (the hot ones); those outside only
    // when there are none inside.
    int64_t width = 0;
    unsigned elemBytes = 0;
    for (bool inLoops : {true, false}) {
      fn_.walk([&](Operation *op) {
        if (!isa<LoadOp, StoreOp>(op) ||
            (inLoops && !op->getParentOfType<scf::ForOp>()))
          return;
        auto t = dyn_cast<RankedTensorType>(op->getOperand(0).getType());
        if (!t || t.getRank() != 2)
          return;
        width = width ? std::min(width, t.getDimSize(1)) : t.getDimSize(1);
        auto pointee = cast<PtrType>(t.getElementType()).getPointeeType();
        elemBytes = std::max(elemBytes, getElementByteSize(pointee));
      });
      if (width)
        break;
    }
    elemBytes = std::max(elemBytes, 2u);
    width = std::max<int64_t>(width, 16);
    unsigned spt = std::min<int64_t>(16 / elemBytes, width);
    unsigned tpw1 = std::min<int64_t>(32, width / spt);
    blocked2_ = BlockedAttr::get(ctx_, {1, spt}, {32 / tpw1, tpw1},
                                 {numWarps_, 1}, {1, 0});
    blocked1_ = BlockedAttr::get(ctx_, {1}, {32}, {numWarps_}, {0});
  }

  Attribute defaultLayout(int64_t rank) {
    return rank == 1 ? blocked1_ : blocked2_;
  }

  /// 1-D tensors take the layout their first user needs.
  void planOneDim(Operation *op) {
    for (Value v : op->getResults()) {
      auto t = dyn_cast<RankedTensorType>(v.getType());
      if (!t || t.getRank() != 1 || desired_.count(v))
        continue;
      for (OpOperand &use : v.getUses()) {
        Operation *user = use.getOwner();
        if (auto expand = dyn_cast<ExpandDimsOp>(user)) {
          desired_[v] = SliceAttr::get(ctx_, expand.getAxis(), blocked2_);
          break;
        }
        if (isElementwise(user) && user->getNumResults() == 1 &&
            desired_.count(user->getResult(0))) {
          // Copied out first: inserting v may grow the map and move the
          // entry a reference would point at.
          Attribute layout = desired_.lookup(user->getResult(0));
          desired_[v] = layout;
          break;
        }
      }
    }
  }

  Attribute oneDimLayout(Value v) {
    auto it = desired_.find(v);
    return it != desired_.end() ? it->second : blocked1_;
  }

  /// Makes `operand` of `user` carry `layout`, inserting a conversion.
  void require(OpOperand &operand, Attribute layout) {
    Value v = operand.get();
    auto t = dyn_cast<RankedTensorType>(v.getType());
    if (!t || t.getEncoding() == layout)
      return;
    OpBuilder b(operand.getOwner());
    auto conv = ConvertLayoutOp::create(b, operand.getOwner()->getLoc(),
                                        withLayout(t, layout), v);
    operand.set(conv);
  }

  void setLayout(Value v, Attribute layout) {
    v.setType(withLayout(v.getType(), layout));
  }

  /// One warp split for every dot of the kernel, so that chained dots
  /// (scores -> P·V, the state update and the inter-block product) share
  /// their operand layouts: a tile feeding two dots is staged once, and an
  /// accumulator feeding the next dot's A operand stays in registers when
  /// warps split M only. Warps go along M as far as the shortest dot allows
  /// (16 rows per warp), the rest along N. On sm_90a a split along M only,
  /// in whole warpgroups, is marked for wgmma.
  MmaAttr kernelMma() {
    if (!mma_) {
      int64_t minM = 0;
      fn_.walk([&](DotOp dot) {
        int64_t m = dot.getType().getDimSize(0);
        minM = minM ? std::min(minM, m) : m;
      });
      unsigned wm = 1;
      while (wm < numWarps_ && 16 * wm * 2 <= std::max<int64_t>(minM, 16))
        wm *= 2;
      unsigned wn = numWarps_ / wm;
      mma_ = MmaAttr::get(ctx_, {wm, wn}, wgmma_ && wn == 1 && wm % 4 == 0);
    }
    return mma_;
  }

  /// The layout a loop-carried value should live in: the accumulator layout
  /// of the dot its next value comes from (through elementwise ops), so a
  /// state updated by a dot stays in the mma layout across iterations
  /// instead of a round trip to the blocked layout and back in each.
  Attribute carriedLayout(Value next, int depth = 0) {
    Operation *def = next.getDefiningOp();
    if (!def || depth > 16)
      return {};
    if (auto dot = dyn_cast<DotOp>(def))
      return kernelMma();
    if (isElementwise(def) && def->getNumResults() == 1)
      for (Value v : def->getOperands())
        if (Attribute l = carriedLayout(v, depth + 1))
          return l;
    return {};
  }

  LogicalResult assign(Operation *op) {
    // Ops without tensor results or operands need nothing.
    bool touchesTensors =
        llvm::any_of(op->getResultTypes(),
                     [](Type t) { return isa<RankedTensorType>(t); }) ||
        llvm::any_of(op->getOperandTypes(),
                     [](Type t) { return isa<RankedTensorType>(t); });
    if (!touchesTensors && !isa<scf::ForOp>(op))
      return success();

    if (isa<MakeRangeOp, SplatOp, arith::ConstantOp>(op)) {
      Value r = op->getResult(0);
      auto t = cast<RankedTensorType>(r.getType());
      setLayout(r, t.getRank() == 1 ? oneDimLayout(r) : blocked2_);
      if (auto cst = dyn_cast<arith::ConstantOp>(op)) {
        auto dense = cast<DenseElementsAttr>(cst.getValue());
        auto type = cast<ShapedType>(r.getType());
        cst.setValueAttr(dense.isSplat()
                             ? DenseElementsAttr::get(
                                   type, dense.getSplatValue<Attribute>())
                             : dense.reshape(type));
      }
      return success();
    }
    if (auto dot = dyn_cast<DotOp>(op)) {
      auto mma = kernelMma();
      unsigned bits =
          dot.getA().getType().getElementType().getIntOrFloatBitWidth();
      require(dot.getAMutable(), DotOperandAttr::get(ctx_, 0, mma, bits));
      require(dot.getBMutable(), DotOperandAttr::get(ctx_, 1, mma, bits));
      require(dot.getAccMutable(), mma);
      setLayout(dot.getResult(), mma);
      return success();
    }
    if (auto bc = dyn_cast<BroadcastOp>(op)) {
      setLayout(bc.getResult(), layoutOf(bc.getSrc()));
      return success();
    }
    if (auto ex = dyn_cast<ExpandDimsOp>(op)) {
      auto slice = dyn_cast_or_null<SliceAttr>(layoutOf(ex.getSrc()));
      Attribute parent = blocked2_;
      if (slice && slice.getDim() == static_cast<unsigned>(ex.getAxis()))
        parent = slice.getParent();
      else
        require(ex.getSrcMutable(),
                SliceAttr::get(ctx_, ex.getAxis(), blocked2_));
      setLayout(ex.getResult(), parent);
      return success();
    }
    if (auto tr = dyn_cast<TransOp>(op)) {
      // A transpose never moves data: a blocked source gives the blocked
      // layout with dimensions swapped, any other the #tile.trans of it
      // (of its parent when it is one already).
      Attribute srcLayout = layoutOf(tr.getSrc());
      if (!srcLayout) {
        require(tr.getSrcMutable(), blocked2_);
        srcLayout = blocked2_;
      }
      auto src = dyn_cast<BlockedAttr>(srcLayout);
      if (!src) {
        auto inner = dyn_cast<TransAttr>(srcLayout);
        setLayout(tr.getResult(),
                  inner ? inner.getParent() : TransAttr::get(ctx_, srcLayout));
        return success();
      }
      auto swap = [](ArrayRef<unsigned> v) {
        return SmallVector<unsigned>{v[1], v[0]};
      };
      auto order = src.getOrder();
      setLayout(tr.getResult(),
                BlockedAttr::get(ctx_, swap(src.getSizePerThread()),
                                 swap(src.getThreadsPerWarp()),
                                 swap(src.getWarpsPerCTA()),
                                 {1 - order[0], 1 - order[1]}));
      return success();
    }
    if (auto re = dyn_cast<ReshapeOp>(op)) {
      setLayout(re.getResult(), defaultLayout(re.getType().getRank()));
      return success();
    }
    if (auto cs = dyn_cast<CumsumOp>(op)) {
      // Staged through shared memory whatever its layout: keep the source's.
      setLayout(cs.getResult(), layoutOf(cs.getSrc()));
      return success();
    }
    if (auto red = dyn_cast<ReduceOp>(op)) {
      if (auto t = dyn_cast<RankedTensorType>(red.getType()))
        setLayout(red.getResult(),
                  SliceAttr::get(ctx_, red.getAxis(), layoutOf(red.getSrc())));
      return success();
    }
    if (auto ap = dyn_cast<AddPtrOp>(op)) {
      if (!isa<RankedTensorType>(ap.getType()))
        return success();
      setLayout(ap.getResult(), layoutOf(ap.getPtr()));
      require(ap.getOffsetMutable(), layoutOf(ap.getPtr()));
      return success();
    }
    if (auto ld = dyn_cast<LoadOp>(op)) {
      Attribute l = layoutOf(ld.getPtr());
      if (!l)
        return success();
      setLayout(ld.getResult(), l);
      for (OpOperand &o : ld->getOpOperands())
        require(o, l);
      return success();
    }
    if (auto st = dyn_cast<StoreOp>(op)) {
      Attribute l = layoutOf(st.getPtr());
      if (!l)
        return success();
      for (OpOperand &o : st->getOpOperands())
        require(o, l);
      return success();
    }
    if (isa<ConvertLayoutOp>(op))
      return success();
    // A wait written before layouts (tile-overlap-dots normally inserts it
    // after them): each result passes its dot's accumulator through.
    if (auto wait = dyn_cast<DotWaitOp>(op)) {
      for (auto [acc, res] : llvm::zip(wait.getAccs(), wait.getResults()))
        setLayout(res, layoutOf(acc));
      return success();
    }
    if (auto forOp = dyn_cast<scf::ForOp>(op)) {
      auto yield = cast<scf::YieldOp>(forOp.getBody()->getTerminator());
      for (auto [init, arg, res, next] :
           llvm::zip(forOp.getInitArgsMutable(), forOp.getRegionIterArgs(),
                     forOp.getResults(), yield.getOperands())) {
        auto t = dyn_cast<RankedTensorType>(init.get().getType());
        if (t && t.getRank() == 2)
          if (Attribute l = carriedLayout(next))
            require(init, l);
        arg.setType(init.get().getType());
        res.setType(init.get().getType());
      }
      return success();
    }
    if (auto yield = dyn_cast<scf::YieldOp>(op)) {
      Operation *parent = yield->getParentOp();
      for (OpOperand &o : yield->getOpOperands())
        if (auto t = dyn_cast<RankedTensorType>(
                parent->getResult(o.getOperandNumber()).getType()))
          require(o, t.getEncoding());
      return success();
    }
    if (isElementwise(op) && op->getNumResults() == 1) {
      Value r = op->getResult(0);
      auto rt = dyn_cast<RankedTensorType>(r.getType());
      if (!rt)
        return success();
      Attribute l;
      if (rt.getRank() == 1 && desired_.count(r))
        l = desired_[r];
      else
        for (Value v : op->getOperands()) {
          Attribute vl = layoutOf(v);
          if (vl && (!l || isa<MmaAttr>(vl)))
            l = vl;
        }
      if (!l)
        l = defaultLayout(rt.getRank());
      for (OpOperand &o : op->getOpOperands())
        require(o, l);
      setLayout(r, l);
      return success();
    }
    return op->emitError() << "the GPU back end has no layout rule for this op";
  }

  func::FuncOp fn_;
  MLIRContext *ctx_;
  unsigned numWarps_;
  bool wgmma_;
  BlockedAttr blocked2_, blocked1_;
  MmaAttr mma_;
  llvm::DenseMap<Value, Attribute> desired_;
};

struct TileAssignLayouts
    : tessel::lowering::impl::TileAssignLayoutsBase<TileAssignLayouts> {
  using TileAssignLayoutsBase::TileAssignLayoutsBase;
  void runOnOperation() override {
    unsigned warps = numWarps;
    if (warps == 0 || (warps & (warps - 1))) {
      getOperation().emitError() << "num-warps must be a power of two, got "
                                 << warps;
      return signalPassFailure();
    }
    for (auto fn : getOperation().getOps<func::FuncOp>())
      if (failed(LayoutAssigner(fn, numWarps, wgmma).run()))
        return signalPassFailure();
  }
};

} // namespace
