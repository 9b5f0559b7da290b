// cumsum along one axis, through shared memory whatever the operand's
// layout: every thread stores its elements (row-major, 4-byte words: floats
// as f32, integers as i32); each line along the axis then goes to a group of
// G lanes of one warp (G the largest power of two, up to 32 and the line's
// length, such that every line gets its group), lane s of the group sums its
// run of len/G consecutive elements in registers, and a shuffle scan over
// the group's run totals gives each lane the sum before its run (log₂ G
// steps instead of a serial chain of len). The sums go to a second copy,
// from which each thread reads its elements back. Lines are dealt out
// round-robin; a group past the last line repeats it, which rereads the
// input and rewrites the same sums (no branches, no races). Sized for what
// a chunk loop scans — a gate vector or a C × C tile — and refused above
// that (256 along the axis, 4 lines per group) rather than unrolled without
// bound. A vector of 4-byte words that comes straight from an async copy's
// buffer (a gate vector's chunk) is read there, published by its wait: no
// copy, no barrier. The sums stay in the scratch for the conversions and the
// total that read them there (SharedMemory.h, scanSumsSource).
#include "lowering/ToLLVM/Patterns.h"
#include "lowering/ToLLVM/Utility.h"
#include "lowering/SharedMemory.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

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
    Type work = scanWordType(elem);

    ArrayRef<int64_t> shape = srcType.getShape();
    SmallVector<int64_t> strides = rowMajorStrides(shape);
    int64_t axis = op.getAxis(), len = shape[axis];
    int64_t numel = srcType.getNumElements(), lines = numel / len;
    int64_t threads = int64_t(tile::getNumWarps(srcType.getEncoding())) * 32;
    // G lanes per line: as many as the lines leave, within a warp and the
    // line's length (both powers of two, so G divides the length).
    int64_t group = 1;
    while (group * 2 <= 32 && group * 2 <= len && lines * group * 2 <= threads)
      group *= 2;
    int64_t groupsPerRound = threads / group, run = len / group;
    int64_t rounds = (lines + groupsPerRound - 1) / groupsPerRound;
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
    // Laid out as SharedMemory.h's scanSums says, where its readers look.
    Value scratch = scratchBase(rewriter, loc, op);
    Value out = scanSums(rewriter, loc, op);
    auto at = [&](Value base, Value index) -> Value {
      return LLVM::GEPOp::create(rewriter, loc, base.getType(), work, base,
                                 ValueRange{index});
    };
    // The operand's words in an async copy's buffer (unpadded when 1-D).
    Value ring;
    if (auto cvt = op.getSrc().getDefiningOp<tile::ConvertLayoutOp>();
        cvt && isSharedTensor(cvt.getSrc().getType()) &&
        srcType.getRank() == 1 && elem == work)
      ring = rewriter.getRemappedValue(cvt.getSrc());
    Value in = ring ? ring : scratch;
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
    if (!ring) {
      for (int64_t r = 0; r < sl->numRegs(); ++r) {
        Value v = src[r];
        if (v.getType() != work)
          v = arith::ExtFOp::create(rewriter, loc, work, v);
        LLVM::StoreOp::create(rewriter, loc, v, at(in, rowMajor(r)));
      }
      barrier(rewriter, loc);
    }

    // 2. Each line to a group of `group` lanes, `run` elements per lane.
    auto [lane, warp] = laneAndWarp(rewriter, loc);
    Value tid = arith::AddIOp::create(
        rewriter, loc,
        arith::MulIOp::create(rewriter, loc, warp, i32Const(rewriter, loc, 32)),
        lane);
    Value sub = arith::RemUIOp::create(rewriter, loc, tid,
                                       i32Const(rewriter, loc, group));
    Value groupId = arith::DivUIOp::create(rewriter, loc, tid,
                                           i32Const(rewriter, loc, group));
    Value zero = isFloat ? Value(arith::ConstantOp::create(
                               rewriter, loc, rewriter.getF32FloatAttr(0)))
                         : i32Const(rewriter, loc, 0);
    Value fullMask = i32Const(rewriter, loc, -1);
    // The value of lane (this lane − offset) of the warp; lanes below the
    // offset get their own (clamp 0), which the callers select away.
    auto fromLaneBelow = [&](Value v, int64_t offset) -> Value {
      return NVVM::ShflOp::create(rewriter, loc, work, fullMask, v,
                                  i32Const(rewriter, loc, offset),
                                  i32Const(rewriter, loc, 0),
                                  NVVM::ShflKind::up, UnitAttr());
    };
    auto subAtLeast = [&](int64_t k) -> Value {
      return arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::uge,
                                   sub, i32Const(rewriter, loc, k));
    };
    int64_t axisStride = strides[axis];
    for (int64_t round = 0; round < rounds; ++round) {
      Value line = arith::MinSIOp::create(
          rewriter, loc,
          arith::AddIOp::create(rewriter, loc, groupId,
                                i32Const(rewriter, loc, round * groupsPerRound)),
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
      // This lane's run: positions sub·run … sub·run + run − 1 in the order
      // of the sums (from the line's end when reversed).
      Value runStart = arith::MulIOp::create(rewriter, loc, sub,
                                             i32Const(rewriter, loc, run));
      if (op.getReverse())
        runStart = arith::SubIOp::create(
            rewriter, loc, i32Const(rewriter, loc, len - 1), runStart);
      Value base = arith::AddIOp::create(
          rewriter, loc, first,
          arith::MulIOp::create(rewriter, loc, runStart,
                                i32Const(rewriter, loc, axisStride)));
      int64_t step = op.getReverse() ? -axisStride : axisStride;
      SmallVector<Value> idx, partial; // inclusive sums within the run
      for (int64_t i = 0; i < run; ++i) {
        idx.push_back(arith::AddIOp::create(rewriter, loc, base,
                                            i32Const(rewriter, loc, i * step)));
        Value x = LLVM::LoadOp::create(rewriter, loc, work, at(in, idx.back()));
        partial.push_back(i ? add(partial.back(), x) : x);
      }
      // The group's inclusive scan of run totals, then the exclusive one.
      Value upTo = partial.back();
      for (int64_t offset = 1; offset < group; offset *= 2)
        upTo = arith::SelectOp::create(rewriter, loc, subAtLeast(offset),
                                       add(upTo, fromLaneBelow(upTo, offset)),
                                       upTo);
      Value before = zero;
      if (group > 1)
        before = arith::SelectOp::create(rewriter, loc, subAtLeast(1),
                                         fromLaneBelow(upTo, 1), zero);
      for (int64_t i = 0; i < run; ++i) {
        Value v = op.getExclusive()
                      ? (i ? add(before, partial[i - 1]) : before)
                      : add(before, partial[i]);
        LLVM::StoreOp::create(rewriter, loc, v, at(out, idx[i]));
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
