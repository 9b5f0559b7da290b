// dot on tensor cores: one mma.sync.m16n8k16 (bf16/f16 in, f32 accumulate)
// per 16×8 output fragment and 16-wide k step; f32 operands use tf32
// m16n8k8. The dot-operand and mma
// layouts (dialect/LinearLayout.cpp) number registers so that fragment
// element e of repetition (i, k) is register e + size·(k + nK·i).
#include "lowering/ToLLVM/Patterns.h"
#include "lowering/ToLLVM/Utility.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

using namespace mlir;
using namespace tessel;

namespace tessel::lowering {
namespace {

struct DotLowering : OpConversionPattern<tile::DotOp> {
  using OpConversionPattern::OpConversionPattern;

  /// Packs two 16-bit elements into the register mma.sync expects: i32 for
  /// bf16, vector<2xf16> for f16.
  Value pack(OpBuilder &b, Location loc, Value lo, Value hi) const {
    auto vecTy = VectorType::get({2}, lo.getType());
    Value v = LLVM::UndefOp::create(b, loc, vecTy);
    v = LLVM::InsertElementOp::create(b, loc, v, lo, i32Const(b, loc, 0));
    v = LLVM::InsertElementOp::create(b, loc, v, hi, i32Const(b, loc, 1));
    if (lo.getType().isBF16())
      return LLVM::BitcastOp::create(b, loc, b.getI32Type(), v);
    return v;
  }

  /// f32 operands: mma.sync.m16n8k8 on tf32 (inputs rounded to nearest, ties
  /// away, by cvt.rna.tf32.f32), fp32 accumulation.
  LogicalResult lowerTF32(tile::DotOp op, OneToNOpAdaptor adaptor,
                          ConversionPatternRewriter &rewriter) const {
    Location loc = op.getLoc();
    auto aType = op.getA().getType(), bType = op.getB().getType();
    int64_t M = aType.getDimSize(0), K = aType.getDimSize(1),
            N = bType.getDimSize(1);
    if (M < 16 || N < 8 || K < 8)
      return op.emitError("an f32 dot needs M >= 16, N >= 8 and K >= 8 on the "
                          "GPU, got M=")
             << M << " N=" << N << " K=" << K;
    auto mma = cast<tile::MmaAttr>(
        cast<RankedTensorType>(op.getType()).getEncoding());
    int64_t wm = mma.getWarpsPerCTA()[0], wn = mma.getWarpsPerCTA()[1];
    int64_t nM = std::max<int64_t>(1, M / (16 * wm));
    int64_t nN = std::max<int64_t>(1, N / (8 * wn));
    int64_t nK = K / 8;
    ValueRange a = adaptor.getA(), b = adaptor.getB(), c = adaptor.getAcc();
    if (static_cast<int64_t>(a.size()) != 4 * nK * nM ||
        static_cast<int64_t>(b.size()) != 2 * nK * nN ||
        static_cast<int64_t>(c.size()) != 4 * nM * nN)
      return op.emitError("internal: tf32 dot operand register counts do not "
                          "match the mma layouts");
    Type f32 = rewriter.getF32Type(), i32 = rewriter.getI32Type();
    auto toTF32 = [&](Value v) -> Value {
      return NVVM::ConvertFloatToTF32Op::create(
          rewriter, loc, i32, v, NVVM::FPRoundingMode::RNA,
          NVVM::SaturationMode::NONE, false);
    };
    auto resTy = LLVM::LLVMStructType::getLiteral(getContext(), {f32, f32, f32, f32});
    SmallVector<Value> out(c.begin(), c.end());
    for (int64_t i = 0; i < nM; ++i)
      for (int64_t j = 0; j < nN; ++j) {
        int64_t cBase = 4 * (j + nN * i);
        SmallVector<Value> acc(out.begin() + cBase, out.begin() + cBase + 4);
        for (int64_t k = 0; k < nK; ++k) {
          int64_t aBase = 4 * (k + nK * i), bBase = 2 * (k + nK * j);
          SmallVector<Value> aRegs, bRegs;
          for (int e = 0; e < 4; ++e)
            aRegs.push_back(toTF32(a[aBase + e]));
          for (int e = 0; e < 2; ++e)
            bRegs.push_back(toTF32(b[bBase + e]));
          auto mmaOp = NVVM::MmaOp::create(
              rewriter, loc, resTy, aRegs, bRegs, acc, {16, 8, 8}, std::nullopt,
              std::nullopt,
              std::array<NVVM::MMATypes, 2>{NVVM::MMATypes::tf32,
                                            NVVM::MMATypes::tf32},
              std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                             NVVM::MMALayout::col});
          for (int e = 0; e < 4; ++e)
            acc[e] = LLVM::ExtractValueOp::create(rewriter, loc, mmaOp, e);
        }
        std::copy(acc.begin(), acc.end(), out.begin() + cBase);
      }
    rewriter.replaceOpWithMultiple(op, {out});
    return success();
  }

  LogicalResult
  matchAndRewrite(tile::DotOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto aType = op.getA().getType(), bType = op.getB().getType();
    Type in = aType.getElementType();
    if (in.isF32())
      return lowerTF32(op, adaptor, rewriter);
    int64_t M = aType.getDimSize(0), K = aType.getDimSize(1),
            N = bType.getDimSize(1);
    if (M < 16 || N < 8 || K < 16)
      return op.emitError("dot needs M >= 16, N >= 8 and K >= 16 on the GPU, "
                          "got M=")
             << M << " N=" << N << " K=" << K;
    auto mma = cast<tile::MmaAttr>(
        cast<RankedTensorType>(op.getType()).getEncoding());
    int64_t wm = mma.getWarpsPerCTA()[0], wn = mma.getWarpsPerCTA()[1];
    int64_t nM = std::max<int64_t>(1, M / (16 * wm));
    int64_t nN = std::max<int64_t>(1, N / (8 * wn));
    int64_t nK = K / 16;
    ValueRange a = adaptor.getA(), b = adaptor.getB(), c = adaptor.getAcc();
    if (static_cast<int64_t>(a.size()) != 8 * nK * nM ||
        static_cast<int64_t>(b.size()) != 4 * nK * nN ||
        static_cast<int64_t>(c.size()) != 4 * nM * nN)
      return op.emitError("internal: dot operand register counts do not match "
                          "the mma layouts");

    Type f32 = rewriter.getF32Type();
    auto resTy = LLVM::LLVMStructType::getLiteral(getContext(), {f32, f32, f32, f32});
    auto ptxType = in.isBF16() ? NVVM::MMATypes::bf16 : NVVM::MMATypes::f16;
    SmallVector<Value> out(c.begin(), c.end());
    for (int64_t i = 0; i < nM; ++i)
      for (int64_t j = 0; j < nN; ++j) {
        int64_t cBase = 4 * (j + nN * i);
        SmallVector<Value> acc(out.begin() + cBase, out.begin() + cBase + 4);
        for (int64_t k = 0; k < nK; ++k) {
          int64_t aBase = 8 * (k + nK * i), bBase = 4 * (k + nK * j);
          SmallVector<Value> aRegs, bRegs;
          for (int e = 0; e < 8; e += 2)
            aRegs.push_back(pack(rewriter, loc, a[aBase + e], a[aBase + e + 1]));
          for (int e = 0; e < 4; e += 2)
            bRegs.push_back(pack(rewriter, loc, b[bBase + e], b[bBase + e + 1]));
          auto mmaOp = NVVM::MmaOp::create(
              rewriter, loc, resTy, aRegs, bRegs, acc, {16, 8, 16},
              std::nullopt, std::nullopt,
              std::array<NVVM::MMATypes, 2>{ptxType, ptxType},
              std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                             NVVM::MMALayout::col});
          for (int e = 0; e < 4; ++e)
            acc[e] = LLVM::ExtractValueOp::create(rewriter, loc, mmaOp, e);
        }
        std::copy(acc.begin(), acc.end(), out.begin() + cBase);
      }
    rewriter.replaceOpWithMultiple(op, {out});
    return success();
  }
};

} // namespace

void populateDotToLLVMPatterns(const TypeConverter &converter,
                               RewritePatternSet &patterns) {
  patterns.add<DotLowering>(converter, patterns.getContext());
}

} // namespace tessel::lowering
