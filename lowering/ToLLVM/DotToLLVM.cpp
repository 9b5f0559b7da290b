// dot on tensor cores: wgmma where the layout is marked for it and the
// operands allow (Wgmma.h), else one mma.sync per 16×8 output fragment and
// k step —
// m16n8k16 for bf16/f16 operands, m16n8k8 on tf32 for f32 operands, fp32
// accumulation either way. The dot-operand and mma layouts
// (dialect/LinearLayout.cpp) number registers so that fragment element e of
// repetition (i, k) is register e + fragmentSize·(k + nK·i).
#include "lowering/ToLLVM/Patterns.h"
#include "lowering/ToLLVM/Utility.h"
#include "lowering/Passes.h"
#include "lowering/SharedMemory.h"
#include "lowering/ToLLVM/OperandFragments.h"
#include "lowering/ToLLVM/Wgmma.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

using namespace mlir;
using namespace tessel;

namespace tessel::lowering {
namespace {

/// What differs between the 16-bit and the tf32 instruction.
struct MmaKind {
  int64_t k;            ///< k per instruction
  int64_t aPerFragment; ///< A elements per thread per instruction
  int64_t bPerFragment;
  NVVM::MMATypes ptxType;
};

struct DotLowering : OpConversionPattern<tile::DotOp> {
  DotLowering(const TypeConverter &tc, MLIRContext *ctx,
              const StagedOperands &staged)
      : OpConversionPattern(tc, ctx), staged_(staged) {}
  const StagedOperands &staged_;

  LogicalResult
  matchAndRewrite(tile::DotOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto aType = op.getA().getType(), bType = op.getB().getType();
    Type in = aType.getElementType();
    MmaKind kind = in.isF32() ? MmaKind{8, 4, 2, NVVM::MMATypes::tf32}
                              : MmaKind{16, 8, 4,
                                        in.isBF16() ? NVVM::MMATypes::bf16
                                                    : NVVM::MMATypes::f16};
    int64_t M = aType.getDimSize(0), K = aType.getDimSize(1),
            N = bType.getDimSize(1);
    if (M < 16 || N < 8 || K < kind.k)
      return op.emitError("dot needs M >= 16, N >= 8 and K >= ")
             << kind.k << " on the GPU, got M=" << M << " N=" << N
             << " K=" << K;
    auto mma = cast<tile::MmaAttr>(
        cast<RankedTensorType>(op.getType()).getEncoding());
    int64_t wm = mma.getWarpsPerCTA()[0], wn = mma.getWarpsPerCTA()[1];
    int64_t nM = std::max<int64_t>(1, M / (16 * wm));
    int64_t nN = std::max<int64_t>(1, N / (8 * wn));
    int64_t nK = K / kind.k;
    ValueRange a = adaptor.getA(), b = adaptor.getB(), c = adaptor.getAcc();
    if (static_cast<int64_t>(a.size()) != kind.aPerFragment * nK * nM ||
        static_cast<int64_t>(b.size()) != kind.bPerFragment * nK * nN ||
        static_cast<int64_t>(c.size()) != 4 * nM * nN)
      return op.emitError("internal: dot operand register counts do not match "
                          "the mma layouts");

    // Operands staged for this dot are read one k-step at a time, right
    // before the mma instructions that use them: only a k-slice of each is
    // live in registers. wgmma reads them from shared memory itself.
    std::array<std::optional<StagedOperand>, 2> stagedOps;
    if (auto it = staged_.byDot.find(op); it != staged_.byDot.end())
      stagedOps = it->second;
    std::array<Value, 2> bases;
    for (int idx = 0; idx < 2; ++idx)
      if (const auto &so = stagedOps[idx]) {
        bases[idx] = so->buffer ? rewriter.getRemappedValue(so->buffer)
                                : sharedAt(rewriter, loc, so->offset);
        if (!bases[idx])
          return op.emitError("internal: no address for the shared-memory "
                              "buffer of dot operand ")
                 << idx;
      }
    bool async = op->hasAttr(kAsyncDotAttr);
    // Only wgmma has asynchronous groups to wait on (sm_90a).
    if (async && !mma.getWgmma())
      return op.emitError("an asynchronous dot (tile.async) needs a wgmma "
                          "mma layout (sm_90a), got ")
             << mma;
    if (wgmmaApplies(op, stagedOps[0], stagedOps[1])) {
      rewriter.replaceOpWithMultiple(
          op, {emitWgmma(rewriter, loc, op, bases[0], stagedOps[0], a,
                         bases[1], *stagedOps[1], c, /*wait=*/!async)});
      return success();
    }
    std::array<std::optional<OperandFragments>, 2> fragments;
    for (int idx = 0; idx < 2; ++idx)
      if (const auto &so = stagedOps[idx])
        fragments[idx].emplace(rewriter, loc, bases[idx], so->staged,
                               so->layout);

    Type f32 = rewriter.getF32Type();
    auto resTy =
        LLVM::LLVMStructType::getLiteral(getContext(), {f32, f32, f32, f32});
    SmallVector<Value> out(c.begin(), c.end());
    SmallVector<SmallVector<Value>> aK(nM), bK(nN);
    for (int64_t k = 0; k < nK; ++k) {
      for (int64_t i = 0; i < nM; ++i)
        aK[i] = fragments[0]
                    ? fragments[0]->loadA(i, k)
                    : SmallVector<Value>(a.slice(kind.aPerFragment * (k + nK * i),
                                                 kind.aPerFragment));
      for (int64_t j = 0; j < nN; ++j) {
        if (!fragments[1]) {
          bK[j] = SmallVector<Value>(
              b.slice(kind.bPerFragment * (k + nK * j), kind.bPerFragment));
          continue;
        }
        // One k-step per ldmatrix (x2): reading two at once (x4) halves the
        // instructions but keeps twice the B fragments live, which pushed
        // the 8-warp forward past 255 registers.
        bK[j] = fragments[1]->loadB(j, k, 1);
      }
      SmallVector<SmallVector<Value>> bRegs;
      for (int64_t j = 0; j < nN; ++j)
        bRegs.push_back(packFragmentWords(rewriter, loc, bK[j]));
      for (int64_t i = 0; i < nM; ++i) {
        auto aRegs = packFragmentWords(rewriter, loc, aK[i]);
        for (int64_t j = 0; j < nN; ++j) {
          int64_t cBase = 4 * (j + nN * i);
          SmallVector<Value> acc(out.begin() + cBase, out.begin() + cBase + 4);
          auto mmaOp = NVVM::MmaOp::create(
              rewriter, loc, resTy, aRegs, bRegs[j], acc, {16, 8, kind.k},
              std::nullopt, std::nullopt,
              std::array<NVVM::MMATypes, 2>{kind.ptxType, kind.ptxType},
              std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                             NVVM::MMALayout::col});
          for (int e = 0; e < 4; ++e)
            out[cBase + e] = LLVM::ExtractValueOp::create(rewriter, loc, mmaOp, e);
        }
      }
    }
    // An asynchronous dot done on mma.sync commits an empty wgmma group,
    // so that the waits' counts of the dots issued after one still hold.
    if (async)
      NVVM::WgmmaGroupSyncAlignedOp::create(rewriter, loc);
    rewriter.replaceOpWithMultiple(op, {out});
    return success();
  }
};

/// tile.dot_wait: wgmma.wait_group over the accumulators of the dots it
/// completes (they pass through, so nothing reads them before it).
struct DotWaitLowering : OpConversionPattern<tile::DotWaitOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(tile::DotWaitOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    for (Value acc : op.getAccs())
      if (!acc.getDefiningOp()->hasAttr(kAsyncDotAttr))
        return op.emitError("tile.dot_wait waits on asynchronous dots "
                            "(tile.async) only");
    SmallVector<Value> all;
    for (ValueRange acc : adaptor.getAccs())
      all.append(acc.begin(), acc.end());
    SmallVector<Value> done = emitWgmmaWait(rewriter, op.getLoc(), all,
                                            op.getPendingAttr().getInt());
    SmallVector<SmallVector<Value>> results;
    size_t next = 0;
    for (ValueRange acc : adaptor.getAccs()) {
      results.emplace_back(done.begin() + next, done.begin() + next + acc.size());
      next += acc.size();
    }
    SmallVector<ValueRange> ranges(results.begin(), results.end());
    rewriter.replaceOpWithMultiple(op, ranges);
    return success();
  }
};

} // namespace

void populateDotToLLVMPatterns(const TypeConverter &converter,
                               RewritePatternSet &patterns,
                               const StagedOperands &staged) {
  patterns.add<DotLowering>(converter, patterns.getContext(), staged);
  patterns.add<DotWaitLowering>(converter, patterns.getContext());
}

StagedOperands StagedOperands::collect(Operation *module) {
  StagedOperands s;
  module->walk([&](tile::ConvertLayoutOp cvt) {
    if (!readsFragmentsAtUse(cvt))
      return;
    s.stagers.insert(cvt);
    bool async = isSharedTensor(cvt.getSrc().getType());
    StagedOperand operand{scratchOffset(cvt),
                          async ? cvt.getSrc() : Value(),
                          cvt.getSrc().getType(), cvt.getType().getEncoding()};
    forEachOperandReader(cvt, [&](Operation *dot, unsigned idx) {
      s.byDot[dot][idx] = operand;
    });
  });
  return s;
}

} // namespace tessel::lowering
