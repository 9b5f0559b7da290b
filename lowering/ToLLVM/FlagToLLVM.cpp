// Flags between the programs of one launch (tile.wait_flag, tile.signal_flag):
// the hand-off of a chained scan. A signal is a CTA barrier — every
// thread's earlier writes are then ordered before thread 0's — and thread 0's
// GPU-scope fence and release store of the flag. A wait is thread 0 polling
// the flag with GPU-scope acquire loads, then a CTA barrier, after which
// every thread's reads are ordered after the writes the signal released
// (the pattern of a cooperative grid barrier). GPU-scope acquire also drops
// the SM's L1 lines, so no thread reads a stale copy of what was handed on.
#include "lowering/ToLLVM/Patterns.h"
#include "lowering/ToLLVM/Utility.h"

#include "dialect/TileOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace tessel;

namespace tessel::lowering {
namespace {

/// NVPTX's name for GPU scope (PTX `.gpu`).
constexpr const char *kGpuScope = "device";

/// Opens `scf.if (threadIdx.x == 0)` and leaves the rewriter in its body.
void onlyThreadZero(ConversionPatternRewriter &rewriter, Location loc) {
  Value tid = NVVM::ThreadIdXOp::create(rewriter, loc, rewriter.getI32Type());
  Value first = arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::eq,
                                      tid, i32Const(rewriter, loc, 0));
  auto ifOp = scf::IfOp::create(rewriter, loc, first, /*withElseRegion=*/false);
  rewriter.setInsertionPoint(ifOp.thenBlock()->getTerminator());
}

struct WaitFlagLowering : OpConversionPattern<tile::WaitFlagOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(tile::WaitFlagOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value flag = adaptor.getFlag().front();
    Value target = adaptor.getTarget().front();
    {
      OpBuilder::InsertionGuard guard(rewriter);
      onlyThreadZero(rewriter, loc);
      scf::WhileOp::create(
          rewriter, loc, TypeRange{}, ValueRange{},
          [&](OpBuilder &b, Location l, ValueRange) {
            Value seen = LLVM::LoadOp::create(
                b, l, b.getI64Type(), flag, /*alignment=*/8,
                /*isVolatile=*/false, /*isNonTemporal=*/false,
                /*isInvariant=*/false, /*isInvariantGroup=*/false,
                LLVM::AtomicOrdering::acquire, kGpuScope);
            Value below = arith::CmpIOp::create(
                b, l, arith::CmpIPredicate::slt, seen, target);
            scf::ConditionOp::create(b, l, below, ValueRange{});
          },
          [&](OpBuilder &b, Location l, ValueRange) {
            scf::YieldOp::create(b, l);
          });
    }
    barrier(rewriter, loc);
    rewriter.eraseOp(op);
    return success();
  }
};

struct SignalFlagLowering : OpConversionPattern<tile::SignalFlagOp> {
  using OpConversionPattern::OpConversionPattern;

  LogicalResult
  matchAndRewrite(tile::SignalFlagOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value flag = adaptor.getFlag().front();
    Value value = adaptor.getValue().front();
    barrier(rewriter, loc);
    {
      OpBuilder::InsertionGuard guard(rewriter);
      onlyThreadZero(rewriter, loc);
      LLVM::FenceOp::create(rewriter, loc, LLVM::AtomicOrdering::release,
                            kGpuScope);
      LLVM::StoreOp::create(rewriter, loc, value, flag, /*alignment=*/8,
                            /*isVolatile=*/false, /*isNonTemporal=*/false,
                            /*isInvariantGroup=*/false,
                            LLVM::AtomicOrdering::release, kGpuScope);
    }
    rewriter.eraseOp(op);
    return success();
  }
};

} // namespace

void populateFlagToLLVMPatterns(const TypeConverter &converter,
                                RewritePatternSet &patterns) {
  patterns.add<WaitFlagLowering, SignalFlagLowering>(converter,
                                                     patterns.getContext());
}

} // namespace tessel::lowering
