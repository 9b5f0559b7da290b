// cumsum along one axis, through shared memory whatever the operand's
// layout: every thread stores its elements (row-major, 4-byte words: floats
// as f32, integers as i32), each thread then runs the sums of whole lines
// along the axis, unrolled, from that copy into a second one, and reads its
// elements back. Lines are dealt out round-robin; a thread past the last line
// repeats it, which rereads the input and rewrites the same sums (no
// branches, no races). Sized for what a chunk loop scans — a gate vector or
// a C × C tile — and refused above that (256 along the axis, 4 lines per
// thread) rather than unrolled without bound.
#include "lowering/ToLLVM/Patterns.h"
#include "lowering/ToLLVM/Utility.h"
#include "lowering/SharedMemory.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

using namespace mlir;
using namespace tessel;

namespace tessel::lowering {
namespace {

constexpr int64_t kMaxScanLength = 256, kMaxLinesPerThread = 4;

struct CumsumLowering : OpConversionPattern<tile::CumsumOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(tile::CumsumOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto srcType = op.getSrc().getType();
    auto sl = getLinearLayout(srcType);
    if (failed(sl))
      return rewriter.notifyMatchFailure(op, "tensor has no layout");
    Type elem = srcType.getElementType();
    if (elem.isInteger(64))
      return op.emitError("the GPU back end does not sum i64 running sums yet");
    bool isFloat = isa<FloatType>(elem);
    Type work = isFloat ? Type(rewriter.getF32Type()) : Type(rewriter.getI32Type());

    ArrayRef<int64_t> shape = srcType.getShape();
    SmallVector<int64_t> strides = rowMajorStrides(shape);
    int64_t axis = op.getAxis(), len = shape[axis];
    int64_t numel = srcType.getNumElements(), lines = numel / len;
    int64_t threads = int64_t(tile::getNumWarps(srcType.getEncoding())) * 32;
    int64_t rounds = (lines + threads - 1) / threads;
    if (len > kMaxScanLength || rounds > kMaxLinesPerThread)
      return op.emitError() << "cumsum over " << len << " elements along axis "
                            << axis << " in " << lines << " lines: the GPU "
                            << "back end sums at most " << kMaxScanLength
                            << " along the axis and " << kMaxLinesPerThread
                            << " lines per thread (" << threads << " threads)";

    auto add = [&](Value x, Value y) -> Value {
      return isFloat ? Value(arith::AddFOp::create(rewriter, loc, x, y))
                     : Value(arith::AddIOp::create(rewriter, loc, x, y));
    };
    Value in = scratchBase(rewriter, loc, op);
    auto at = [&](Value base, Value index) -> Value {
      return LLVM::GEPOp::create(rewriter, loc, base.getType(), work, base,
                                 ValueRange{index});
    };
    Value out = at(in, i32Const(rewriter, loc, numel));
    SmallVector<Value> thread = threadCoords(rewriter, loc, *sl);
    auto rowMajor = [&](int64_t r) {
      SmallVector<Value> c = elementCoords(rewriter, loc, *sl, thread, r);
      Value idx = i32Const(rewriter, loc, 0);
      for (size_t d = 0; d < c.size(); ++d)
        idx = arith::AddIOp::create(
            rewriter, loc, idx,
            arith::MulIOp::create(rewriter, loc, c[d],
                                  i32Const(rewriter, loc, strides[d])));
      return idx;
    };

    // 1. The operand, in row-major words.
    if (needsBarrierBefore(op))
      barrier(rewriter, loc);
    ValueRange src = adaptor.getSrc();
    for (int64_t r = 0; r < sl->numRegs(); ++r) {
      Value v = src[r];
      if (v.getType() != work)
        v = arith::ExtFOp::create(rewriter, loc, work, v);
      LLVM::StoreOp::create(rewriter, loc, v, at(in, rowMajor(r)));
    }
    barrier(rewriter, loc);

    // 2. Whole lines, one per thread and round.
    auto [lane, warp] = laneAndWarp(rewriter, loc);
    Value tid = arith::AddIOp::create(
        rewriter, loc,
        arith::MulIOp::create(rewriter, loc, warp, i32Const(rewriter, loc, 32)),
        lane);
    Value zero = isFloat ? Value(arith::ConstantOp::create(
                               rewriter, loc, rewriter.getF32FloatAttr(0)))
                         : i32Const(rewriter, loc, 0);
    for (int64_t round = 0; round < rounds; ++round) {
      Value line = arith::MinSIOp::create(
          rewriter, loc,
          arith::AddIOp::create(rewriter, loc, tid,
                                i32Const(rewriter, loc, round * threads)),
          i32Const(rewriter, loc, lines - 1));
      // The line's first element: its coordinates off the axis, row-major.
      Value first = i32Const(rewriter, loc, 0);
      int64_t below = 1; // lines per step of dimension d
      for (int64_t d = int64_t(shape.size()) - 1; d >= 0; --d) {
        if (d == axis)
          continue;
        Value c = arith::RemSIOp::create(
            rewriter, loc,
            arith::DivSIOp::create(rewriter, loc, line,
                                   i32Const(rewriter, loc, below)),
            i32Const(rewriter, loc, shape[d]));
        first = arith::AddIOp::create(
            rewriter, loc, first,
            arith::MulIOp::create(rewriter, loc, c,
                                  i32Const(rewriter, loc, strides[d])));
        below *= shape[d];
      }
      Value acc = zero;
      for (int64_t step = 0; step < len; ++step) {
        int64_t l = op.getReverse() ? len - 1 - step : step;
        Value idx = arith::AddIOp::create(
            rewriter, loc, first, i32Const(rewriter, loc, l * strides[axis]));
        Value x = LLVM::LoadOp::create(rewriter, loc, work, at(in, idx));
        Value next = add(acc, x);
        LLVM::StoreOp::create(rewriter, loc, op.getExclusive() ? acc : next,
                              at(out, idx));
        acc = next;
      }
    }
    barrier(rewriter, loc);

    // 3. Each thread's elements of the sums.
    SmallVector<Value> result;
    for (int64_t r = 0; r < sl->numRegs(); ++r) {
      Value v = LLVM::LoadOp::create(rewriter, loc, work, at(out, rowMajor(r)));
      if (v.getType() != elem)
        v = arith::TruncFOp::create(rewriter, loc, elem, v);
      result.push_back(v);
    }
    rewriter.replaceOpWithMultiple(op, {result});
    return success();
  }
};

} // namespace

void populateScanToLLVMPatterns(const TypeConverter &converter,
                                RewritePatternSet &patterns) {
  patterns.add<CumsumLowering>(converter, patterns.getContext());
}

} // namespace tessel::lowering
