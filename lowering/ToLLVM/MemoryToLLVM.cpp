// Pointer arithmetic, loads and stores per register. Masked accesses are
// predicated PTX ld/st (a masked-off lane issues no memory access, and takes
// `other`), so tails never touch memory outside the tensor.
#include "lowering/ToLLVM/Patterns.h"
#include "lowering/ToLLVM/Utility.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

using namespace mlir;
using namespace tessel;

namespace tessel::lowering {
namespace {

Type pointeeOf(Type ptrLike) {
  return lowerScalarType(
      cast<tile::PtrType>(tile::getElementTypeOrSelf(ptrLike)).getPointeeType());
}

struct AddPtrLowering : OpConversionPattern<tile::AddPtrOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(tile::AddPtrOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Type ptrTy = LLVM::LLVMPointerType::get(getContext(), 1);
    Type elem = pointeeOf(op.getType());
    SmallVector<Value> out;
    for (auto [p, off] : llvm::zip_equal(adaptor.getPtr(), adaptor.getOffset()))
      out.push_back(LLVM::GEPOp::create(rewriter, op.getLoc(), ptrTy, elem, p,
                                        ValueRange{off}));
    rewriter.replaceOpWithMultiple(op, {out});
    return success();
  }
};

/// PTX register class and width of an element in memory.
struct AsmType {
  const char *constraint;
  const char *bits;
  Type intType;
};

FailureOr<AsmType> asmTypeFor(OpBuilder &b, Type elem) {
  if (isa<LLVM::LLVMPointerType>(elem) || elem.isInteger(64))
    return AsmType{"l", "b64", b.getI64Type()};
  if (elem.isF32() || elem.isInteger(32))
    return AsmType{"r", "b32", b.getI32Type()};
  if (elem.isBF16() || elem.isF16())
    return AsmType{"h", "b16", b.getI16Type()};
  return failure();
}

Value toBits(OpBuilder &b, Location loc, Value v, Type intType) {
  if (isa<LLVM::LLVMPointerType>(v.getType()))
    return LLVM::PtrToIntOp::create(b, loc, intType, v);
  return LLVM::BitcastOp::create(b, loc, intType, v);
}

Value fromBits(OpBuilder &b, Location loc, Value v, Type elem) {
  if (isa<LLVM::LLVMPointerType>(elem))
    return LLVM::IntToPtrOp::create(b, loc, elem, v);
  return LLVM::BitcastOp::create(b, loc, elem, v);
}

struct LoadLowering : OpConversionPattern<tile::LoadOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(tile::LoadOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Type elem = pointeeOf(op.getPtr().getType());
    unsigned align = std::max(1u, tile::getElementByteSize(
                                      tile::getElementTypeOrSelf(op.getType())));
    ValueRange ptrs = adaptor.getPtr();
    ValueRange masks = adaptor.getMask();
    ValueRange others = adaptor.getOther();
    SmallVector<Value> out;
    if (masks.empty()) {
      for (Value p : ptrs)
        out.push_back(LLVM::LoadOp::create(rewriter, loc, elem, p, align));
      rewriter.replaceOpWithMultiple(op, {out});
      return success();
    }
    auto asmTy = asmTypeFor(rewriter, elem);
    if (failed(asmTy))
      return rewriter.notifyMatchFailure(op, "masked load of this element type");
    std::string text = std::string("mov.") + asmTy->bits + " $0, $3;\n\t@$2 ld.global." +
                       asmTy->bits + " $0, [$1];";
    std::string constraints = std::string("=") + asmTy->constraint + ",l,b," +
                              asmTy->constraint;
    Value zero = LLVM::ZeroOp::create(rewriter, loc, asmTy->intType);
    for (size_t r = 0; r < ptrs.size(); ++r) {
      Value other = others.empty()
                        ? zero
                        : toBits(rewriter, loc, others[r], asmTy->intType);
      auto asmOp = LLVM::InlineAsmOp::create(
          rewriter, loc, asmTy->intType, ValueRange{ptrs[r], masks[r], other},
          text, constraints, /*has_side_effects=*/true, /*is_align_stack=*/false,
          LLVM::tailcallkind::TailCallKind::None, /*asm_dialect=*/nullptr,
          /*operand_attrs=*/nullptr);
      out.push_back(fromBits(rewriter, loc, asmOp.getResult(0), elem));
    }
    rewriter.replaceOpWithMultiple(op, {out});
    return success();
  }
};

struct StoreLowering : OpConversionPattern<tile::StoreOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(tile::StoreOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Type elem = pointeeOf(op.getPtr().getType());
    unsigned align = std::max(1u, tile::getElementByteSize(
                                      tile::getElementTypeOrSelf(op.getValue().getType())));
    ValueRange ptrs = adaptor.getPtr(), vals = adaptor.getValue(),
               masks = adaptor.getMask();
    // Replicated lanes hold the same element: they all store the same value,
    // which is harmless.
    if (masks.empty()) {
      for (auto [p, v] : llvm::zip_equal(ptrs, vals))
        LLVM::StoreOp::create(rewriter, loc, v, p, align);
      rewriter.eraseOp(op);
      return success();
    }
    auto asmTy = asmTypeFor(rewriter, elem);
    if (failed(asmTy))
      return rewriter.notifyMatchFailure(op, "masked store of this element type");
    std::string text = std::string("@$2 st.global.") + asmTy->bits + " [$0], $1;";
    std::string constraints = std::string("l,") + asmTy->constraint + ",b";
    for (size_t r = 0; r < ptrs.size(); ++r)
      LLVM::InlineAsmOp::create(
          rewriter, loc, TypeRange{},
          ValueRange{ptrs[r], toBits(rewriter, loc, vals[r], asmTy->intType),
                     masks[r]},
          text, constraints, /*has_side_effects=*/true, false,
          LLVM::tailcallkind::TailCallKind::None, nullptr, nullptr);
    rewriter.eraseOp(op);
    return success();
  }
};

} // namespace

void populateMemoryToLLVMPatterns(const TypeConverter &converter,
                                  RewritePatternSet &patterns) {
  patterns.add<AddPtrLowering, LoadLowering, StoreLowering>(
      converter, patterns.getContext());
}

} // namespace tessel::lowering
