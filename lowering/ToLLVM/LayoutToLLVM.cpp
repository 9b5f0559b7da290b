// Ops that only move elements: ranges and splats are built in place;
// broadcast, expand_dims and trans stay in registers when the layouts line up
// (registerMap); everything else, and every convert_layout that is not a
// relabeling, goes through shared memory.
#include "lowering/ToLLVM/Patterns.h"
#include "lowering/ToLLVM/Utility.h"

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

/// Row padding (elements) of a 16-bit tile staged for ldmatrix: rows 16 bytes
/// apart modulo 128 put the eight rows of one 8x8 matrix in distinct banks.
constexpr int64_t kLdmatrixPad = 8;

/// Conversion of a 16-bit tensor into an mma.sync operand layout: store it
/// row-major (rows padded) to shared memory, then one ldmatrix.x4 per A
/// fragment (16x16) or ldmatrix.x2.trans per B fragment (16x8) — the
/// instruction hands each lane exactly its fragment registers.
LogicalResult lowerToDotOperand(tile::ConvertLayoutOp op, ValueRange src,
                                ConversionPatternRewriter &rewriter) {
  Location loc = op.getLoc();
  auto srcType = op.getSrc().getType();
  auto dstType = cast<RankedTensorType>(op.getType());
  auto dot = cast<tile::DotOperandAttr>(dstType.getEncoding());
  auto mma = cast<tile::MmaAttr>(dot.getParent());
  auto sl = getLinearLayout(srcType);
  auto dl = getLinearLayout(dstType);
  if (failed(sl) || failed(dl))
    return rewriter.notifyMatchFailure(op, "tensor has no layout");
  Type elem = srcType.getElementType();
  int64_t rows = srcType.getDimSize(0), cols = srcType.getDimSize(1);
  int64_t wm = mma.getWarpsPerCTA()[0], wn = mma.getWarpsPerCTA()[1];
  SmallVector<int64_t> strides{cols + kLdmatrixPad, 1};

  // 1. Every thread writes its registers (replicas write equal values).
  Value base = sharedBase(rewriter, loc);
  auto addr = [&](Value row, Value col) {
    Value idx = arith::AddIOp::create(
        rewriter, loc,
        arith::MulIOp::create(rewriter, loc, row,
                              i32Const(rewriter, loc, strides[0])),
        col);
    return LLVM::GEPOp::create(rewriter, loc, base.getType(), elem, base,
                               ValueRange{idx});
  };
  barrier(rewriter, loc);
  SmallVector<Value> thread = threadCoords(rewriter, loc, *sl);
  for (int64_t r = 0; r < sl->numRegs(); ++r) {
    auto c = elementCoords(rewriter, loc, *sl, thread, r);
    LLVM::StoreOp::create(rewriter, loc, src[r], addr(c[0], c[1]));
  }
  barrier(rewriter, loc);

  // 2. Fragments.
  auto [lane, warp] = laneAndWarp(rewriter, loc);
  Value lane8 = arith::RemUIOp::create(rewriter, loc, lane, i32Const(rewriter, loc, 8));
  Value group = arith::DivUIOp::create(rewriter, loc, lane, i32Const(rewriter, loc, 8));
  Value warpM = arith::RemUIOp::create(rewriter, loc, warp, i32Const(rewriter, loc, wm));
  Value warpN = arith::RemUIOp::create(
      rewriter, loc,
      arith::DivUIOp::create(rewriter, loc, warp, i32Const(rewriter, loc, wm)),
      i32Const(rewriter, loc, wn));
  auto masked = [&](Value v, int64_t size) {
    return arith::AndIOp::create(rewriter, loc, v, i32Const(rewriter, loc, size - 1));
  };
  auto shape = NVVM::LdStMatrixShapeAttr::get(rewriter.getContext(), 8, 8);
  Type i32 = rewriter.getI32Type();
  SmallVector<Value> out(dl->numRegs());
  auto unpack = [&](Value word, int64_t at) {
    auto vecTy = VectorType::get({2}, elem);
    Value v = LLVM::BitcastOp::create(rewriter, loc, vecTy, word);
    out[at] = LLVM::ExtractElementOp::create(rewriter, loc, v, i32Const(rewriter, loc, 0));
    out[at + 1] = LLVM::ExtractElementOp::create(rewriter, loc, v, i32Const(rewriter, loc, 1));
  };
  if (dot.getOpIdx() == 0) {
    int64_t nM = std::max<int64_t>(1, rows / (16 * wm)), nK = cols / 16;
    // Lane l addresses row (l % 8) + 8·((l / 8) % 2), column 8·(l / 16).
    Value rowInFrag = arith::AddIOp::create(
        rewriter, loc, lane8,
        arith::MulIOp::create(
            rewriter, loc,
            arith::RemUIOp::create(rewriter, loc, group, i32Const(rewriter, loc, 2)),
            i32Const(rewriter, loc, 8)));
    Value colInFrag = arith::MulIOp::create(
        rewriter, loc,
        arith::DivUIOp::create(rewriter, loc, group, i32Const(rewriter, loc, 2)),
        i32Const(rewriter, loc, 8));
    auto resTy = LLVM::LLVMStructType::getLiteral(rewriter.getContext(),
                                                  {i32, i32, i32, i32});
    for (int64_t i = 0; i < nM; ++i)
      for (int64_t k = 0; k < nK; ++k) {
        Value m0 = arith::AddIOp::create(
            rewriter, loc,
            arith::MulIOp::create(rewriter, loc, warpM, i32Const(rewriter, loc, 16)),
            i32Const(rewriter, loc, i * 16 * wm));
        Value row = masked(arith::AddIOp::create(rewriter, loc, m0, rowInFrag), rows);
        Value col = arith::AddIOp::create(rewriter, loc, colInFrag,
                                          i32Const(rewriter, loc, k * 16));
        auto ld = NVVM::LdMatrixOp::create(rewriter, loc, resTy, addr(row, col), 4,
                                           NVVM::MMALayout::row, shape,
                                           NVVM::LdStMatrixEltType::B16);
        for (int w = 0; w < 4; ++w)
          unpack(LLVM::ExtractValueOp::create(rewriter, loc, ld, w),
                 8 * (k + nK * i) + 2 * w);
      }
  } else {
    int64_t nN = std::max<int64_t>(1, cols / (8 * wn)), nK = rows / 16;
    // Lanes 0..15 address rows k0 + l of the two 8x8 matrices (k and k + 8).
    Value rowInFrag = arith::RemUIOp::create(rewriter, loc, lane, i32Const(rewriter, loc, 16));
    auto resTy = LLVM::LLVMStructType::getLiteral(rewriter.getContext(), {i32, i32});
    for (int64_t j = 0; j < nN; ++j)
      for (int64_t k = 0; k < nK; ++k) {
        Value n0 = arith::AddIOp::create(
            rewriter, loc,
            arith::MulIOp::create(rewriter, loc, warpN, i32Const(rewriter, loc, 8)),
            i32Const(rewriter, loc, j * 8 * wn));
        Value row = arith::AddIOp::create(rewriter, loc, rowInFrag,
                                          i32Const(rewriter, loc, k * 16));
        auto ld = NVVM::LdMatrixOp::create(rewriter, loc, resTy,
                                           addr(row, masked(n0, cols)), 2,
                                           NVVM::MMALayout::col, shape,
                                           NVVM::LdStMatrixEltType::B16);
        for (int w = 0; w < 2; ++w)
          unpack(LLVM::ExtractValueOp::create(rewriter, loc, ld, w),
                 4 * (k + nK * j) + 2 * w);
      }
  }
  rewriter.replaceOpWithMultiple(op, {out});
  return success();
}

/// Whether the ldmatrix path applies: a 16-bit tensor converted into a
/// 16-bit mma.sync operand layout whose fragments it covers.
bool ldmatrixApplies(tile::ConvertLayoutOp op) {
  auto dst = cast<RankedTensorType>(op.getType());
  auto dot = dyn_cast<tile::DotOperandAttr>(dst.getEncoding());
  if (!dot || dot.getBitWidth() != 16 || dst.getRank() != 2)
    return false;
  Type elem = dst.getElementType();
  if (!elem.isBF16() && !elem.isF16())
    return false;
  auto mma = cast<tile::MmaAttr>(dot.getParent());
  int64_t rows = dst.getDimSize(0), cols = dst.getDimSize(1);
  if (dot.getOpIdx() == 0)
    return rows >= 16 && cols >= 16;
  return rows >= 16 && cols >= 8 && cols >= 8 * (int64_t)mma.getWarpsPerCTA()[1];
}

struct ConvertLayoutLowering : OpConversionPattern<tile::ConvertLayoutOp> {
  ConvertLayoutLowering(const TypeConverter &tc, MLIRContext *ctx,
                        bool useLdmatrix)
      : OpConversionPattern(tc, ctx), useLdmatrix_(useLdmatrix) {}
  bool useLdmatrix_;
  LogicalResult
  matchAndRewrite(tile::ConvertLayoutOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto identity = [](const Coords &c) { return c; };
    if (succeeded(remapRegisters(op, adaptor.getSrc(), op.getSrc().getType(),
                                 op.getType(), identity, rewriter)))
      return success();
    if (useLdmatrix_ && ldmatrixApplies(op))
      return lowerToDotOperand(op, adaptor.getSrc(), rewriter);
    auto dst = cast<RankedTensorType>(op.getType());
    return viaShared(op, adaptor.getSrc(), op.getSrc().getType(), dst,
                     rowMajorStrides(dst.getShape()), rewriter);
  }
};

} // namespace

void populateLayoutToLLVMPatterns(const TypeConverter &converter,
                                  RewritePatternSet &patterns,
                                  bool useLdmatrix) {
  patterns.add<MakeRangeLowering, SplatLowering, BroadcastLowering,
               ExpandDimsLowering, TransLowering, ReshapeLowering>(
      converter, patterns.getContext());
  patterns.add<ConvertLayoutLowering>(converter, patterns.getContext(),
                                      useLdmatrix);
}

} // namespace tessel::lowering
