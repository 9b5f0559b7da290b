// reduce along one axis in three steps: registers of a thread, lanes of a
// warp (butterfly shuffles over the lane bits that move along the axis), and
// warps (partials through shared memory). Replicated lanes and warps (zero
// bases) are skipped, so no element is counted twice. 16-bit values reduce
// in f32.
#include "lowering/ToLLVM/Patterns.h"
#include "lowering/ToLLVM/Utility.h"
#include "lowering/SharedMemory.h"

#include "lowering/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

using namespace mlir;
using namespace tessel;

namespace tessel::lowering {
namespace {

struct ReduceLowering : OpConversionPattern<tile::ReduceOp> {
  using OpConversionPattern::OpConversionPattern;

  /// x ⊕ y for the reduction `kind` ("sum", "max" or "min").
  Value combine(OpBuilder &b, Location loc, StringRef kind, Value x,
                Value y) const {
    bool isFloat = isa<FloatType>(x.getType());
    if (kind == "max")
      return isFloat ? Value(arith::MaximumFOp::create(b, loc, x, y))
                     : Value(arith::MaxSIOp::create(b, loc, x, y));
    if (kind == "min")
      return isFloat ? Value(arith::MinimumFOp::create(b, loc, x, y))
                     : Value(arith::MinSIOp::create(b, loc, x, y));
    return isFloat ? Value(arith::AddFOp::create(b, loc, x, y))
                   : Value(arith::AddIOp::create(b, loc, x, y));
  }

  LogicalResult
  matchAndRewrite(tile::ReduceOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto srcType = op.getSrc().getType();
    if (tile::CumsumOp scan = scanTotalSource(op)) {
      // The scan's last running sum (its first when reversed).
      Type work = scanWordType(srcType.getElementType());
      Value sums = scanSums(rewriter, loc, scan);
      int64_t last = scan.getReverse() ? 0 : srcType.getDimSize(0) - 1;
      Value at = LLVM::GEPOp::create(rewriter, loc, sums.getType(), work, sums,
                                     ValueRange{i32Const(rewriter, loc, last)});
      Value v = LLVM::LoadOp::create(rewriter, loc, work, at);
      if (v.getType() != op.getType())
        v = arith::TruncFOp::create(rewriter, loc, op.getType(), v);
      rewriter.replaceOpWithMultiple(op, {{v}});
      return success();
    }
    auto sl = getLinearLayout(srcType);
    if (failed(sl))
      return rewriter.notifyMatchFailure(op, "tensor has no layout");
    int64_t axis = op.getAxis();
    StringRef kind = op.getKind();
    Type elem = srcType.getElementType();
    if (elem.isInteger(64))
      return op.emitError("the GPU back end does not reduce i64 yet");
    Type work = isa<FloatType>(elem) ? Type(rewriter.getF32Type()) : elem;
    for (auto &bases : {sl->lane, sl->warp})
      for (const Coords &b : bases)
        if (b[axis] && llvm::count_if(b, [](int64_t v) { return v != 0; }) > 1)
          return op.emitError("internal: reduce over a layout whose lanes "
                              "move along several dimensions");

    // 1. Registers: group by coordinates with the axis zeroed.
    ValueRange src = adaptor.getSrc();
    SmallVector<Coords> keys;
    SmallVector<Value> partial;
    for (int64_t r = 0; r < sl->numRegs(); ++r) {
      Coords k = sl->regCoords(r);
      k[axis] = 0;
      Value v = src[r];
      if (v.getType() != work)
        v = arith::ExtFOp::create(rewriter, loc, work, v);
      auto it = llvm::find(keys, k);
      if (it == keys.end()) {
        keys.push_back(k);
        partial.push_back(v);
      } else {
        size_t i = it - keys.begin();
        partial[i] = combine(rewriter, loc, kind, partial[i], v);
      }
    }

    // 2. Lanes.
    Value full = i32Const(rewriter, loc, -1);
    Value clamp = i32Const(rewriter, loc, 31);
    for (size_t bit = 0; bit < sl->lane.size(); ++bit) {
      if (!sl->lane[bit][axis])
        continue;
      for (Value &v : partial) {
        Value other = NVVM::ShflOp::create(
            rewriter, loc, work, full, v, i32Const(rewriter, loc, 1 << bit),
            clamp, NVVM::ShflKind::bfly, UnitAttr());
        v = combine(rewriter, loc, kind, v, other);
      }
    }

    // 3. Warps: partial[warp group][output index] in shared memory.
    SmallVector<unsigned> axisWarpBits;
    for (size_t bit = 0; bit < sl->warp.size(); ++bit)
      if (sl->warp[bit][axis])
        axisWarpBits.push_back(bit);
    if (!axisWarpBits.empty()) {
      SmallVector<int64_t> outShape(srcType.getShape());
      outShape[axis] = 1;
      SmallVector<int64_t> strides = rowMajorStrides(outShape);
      int64_t outNumel = 1;
      for (int64_t d : outShape)
        outNumel *= d;
      int64_t groups = int64_t(1) << axisWarpBits.size();
      auto [lane, warp] = laneAndWarp(rewriter, loc);
      // This warp's index within its group along the axis.
      Value group = i32Const(rewriter, loc, 0);
      for (size_t i = 0; i < axisWarpBits.size(); ++i) {
        Value bitv = arith::AndIOp::create(
            rewriter, loc,
            arith::ShRUIOp::create(rewriter, loc, warp,
                                   i32Const(rewriter, loc, axisWarpBits[i])),
            i32Const(rewriter, loc, 1));
        group = arith::OrIOp::create(
            rewriter, loc, group,
            arith::ShLIOp::create(rewriter, loc, bitv, i32Const(rewriter, loc, i)));
      }
      SmallVector<Value> thread = threadCoords(rewriter, loc, *sl);
      Value base = scratchBase(rewriter, loc, op);
      auto slot = [&](Value g, size_t i) {
        Value idx = g ? arith::MulIOp::create(rewriter, loc, g,
                                              i32Const(rewriter, loc, outNumel))
                      : i32Const(rewriter, loc, 0);
        for (size_t d = 0; d < keys[i].size(); ++d) {
          if (static_cast<int64_t>(d) == axis)
            continue;
          Value c = keys[i][d] ? Value(arith::XOrIOp::create(
                                     rewriter, loc, thread[d],
                                     i32Const(rewriter, loc, keys[i][d])))
                               : thread[d];
          idx = arith::AddIOp::create(
              rewriter, loc, idx,
              arith::MulIOp::create(rewriter, loc, c,
                                    i32Const(rewriter, loc, strides[d])));
        }
        return LLVM::GEPOp::create(rewriter, loc, base.getType(), work, base,
                                   ValueRange{idx});
      };
      if (needsBarrierBefore(op))
        barrier(rewriter, loc);
      for (size_t i = 0; i < partial.size(); ++i)
        LLVM::StoreOp::create(rewriter, loc, partial[i], slot(group, i));
      barrier(rewriter, loc);
      for (size_t i = 0; i < partial.size(); ++i) {
        Value acc;
        for (int64_t g = 0; g < groups; ++g) {
          Value v = LLVM::LoadOp::create(rewriter, loc, work,
                                         slot(i32Const(rewriter, loc, g), i));
          acc = acc ? combine(rewriter, loc, kind, acc, v) : v;
        }
        partial[i] = acc;
      }
    }

    auto finish = [&](Value v) -> Value {
      return v.getType() == elem ? v
                                 : Value(arith::TruncFOp::create(rewriter, loc,
                                                                 elem, v));
    };
    if (!isa<RankedTensorType>(op.getType())) {
      rewriter.replaceOpWithMultiple(op, {SmallVector<Value>{finish(partial[0])}});
      return success();
    }
    // Registers of the result (the slice layout) in their own order.
    auto dl = getLinearLayout(op.getType());
    if (failed(dl))
      return rewriter.notifyMatchFailure(op, "result has no layout");
    SmallVector<Value> out;
    for (int64_t r = 0; r < dl->numRegs(); ++r) {
      Coords c = dl->regCoords(r);
      c.insert(c.begin() + axis, 0);
      auto it = llvm::find(keys, c);
      if (it == keys.end())
        return op.emitError("internal: reduce result layout does not match "
                            "its operand");
      out.push_back(finish(partial[it - keys.begin()]));
    }
    rewriter.replaceOpWithMultiple(op, {out});
    return success();
  }
};

} // namespace

void populateReduceToLLVMPatterns(const TypeConverter &converter,
                                  RewritePatternSet &patterns) {
  patterns.add<ReduceLowering>(converter, patterns.getContext());
}

} // namespace tessel::lowering
