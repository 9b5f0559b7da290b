// Pointer arithmetic, loads and stores. Masked accesses are predicated PTX
// ld/st (a masked-off lane issues no memory access, and takes `other`), so
// tails never touch memory outside the tensor. Registers that AxisInfo proves
// contiguous, aligned and uniformly masked go as one access of up to 16 bytes.
#include "lowering/ToLLVM/Patterns.h"
#include "lowering/ToLLVM/Utility.h"
#include "lowering/ToLLVM/AxisInfo.h"

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

/// Words of 32 bits covering `vec` elements of `elem` starting at `first`.
SmallVector<Value> packWords(OpBuilder &b, Location loc, ValueRange elems,
                             Type elem) {
  unsigned perWord = 32 / elem.getIntOrFloatBitWidth();
  SmallVector<Value> words;
  for (size_t i = 0; i < elems.size(); i += perWord) {
    if (perWord == 1) {
      words.push_back(LLVM::BitcastOp::create(b, loc, b.getI32Type(), elems[i]));
      continue;
    }
    auto vecTy = VectorType::get({static_cast<int64_t>(perWord)}, elem);
    Value v = LLVM::UndefOp::create(b, loc, vecTy);
    for (unsigned j = 0; j < perWord; ++j)
      v = LLVM::InsertElementOp::create(b, loc, v, elems[i + j],
                                        i32Const(b, loc, j));
    words.push_back(LLVM::BitcastOp::create(b, loc, b.getI32Type(), v));
  }
  return words;
}

SmallVector<Value> unpackWords(OpBuilder &b, Location loc, ValueRange words,
                               Type elem) {
  unsigned perWord = 32 / elem.getIntOrFloatBitWidth();
  SmallVector<Value> out;
  for (Value w : words) {
    if (perWord == 1) {
      out.push_back(LLVM::BitcastOp::create(b, loc, elem, w));
      continue;
    }
    auto vecTy = VectorType::get({static_cast<int64_t>(perWord)}, elem);
    Value v = LLVM::BitcastOp::create(b, loc, vecTy, w);
    for (unsigned j = 0; j < perWord; ++j)
      out.push_back(LLVM::ExtractElementOp::create(b, loc, v, i32Const(b, loc, j)));
  }
  return out;
}

/// "{$1, $2, $3, $4}" or "$1" for `n` operands starting at `first`.
std::string operandList(unsigned first, unsigned n) {
  if (n == 1)
    return "$" + std::to_string(first);
  std::string s = "{";
  for (unsigned i = 0; i < n; ++i)
    s += (i ? ", $" : "$") + std::to_string(first + i);
  return s + "}";
}

const char *vecSuffix(unsigned words) {
  return words == 4 ? ".v4.b32" : words == 2 ? ".v2.b32" : ".b32";
}

struct LoadLowering : OpConversionPattern<tile::LoadOp> {
  LoadLowering(const TypeConverter &tc, MLIRContext *ctx, AxisInfoAnalysis &info)
      : OpConversionPattern(tc, ctx), info_(info) {}

  /// One vector load per group of `vec` registers.
  LogicalResult vectorized(tile::LoadOp op, OneToNOpAdaptor adaptor,
                           ConversionPatternRewriter &rewriter, Type elem,
                           int64_t vec) const {
    Location loc = op.getLoc();
    ValueRange ptrs = adaptor.getPtr(), masks = adaptor.getMask();
    unsigned words = vec * elem.getIntOrFloatBitWidth() / 32;
    Type i32 = rewriter.getI32Type();
    SmallVector<Value> out;
    for (size_t r = 0; r < ptrs.size(); r += vec) {
      SmallVector<Value> got;
      if (masks.empty()) {
        auto vecTy = VectorType::get({vec}, elem);
        Value v = LLVM::LoadOp::create(rewriter, loc, vecTy, ptrs[r],
                                       vec * elem.getIntOrFloatBitWidth() / 8);
        for (int64_t i = 0; i < vec; ++i)
          out.push_back(LLVM::ExtractElementOp::create(rewriter, loc, v,
                                                       i32Const(rewriter, loc, i)));
        continue;
      }
      // Outputs $0..$w-1 start at zero; $w is the address, $w+1 the predicate.
      std::string text;
      for (unsigned i = 0; i < words; ++i)
        text += "mov.b32 $" + std::to_string(i) + ", 0;\n\t";
      text += "@$" + std::to_string(words + 1) + " ld.global" + vecSuffix(words) +
              " " + operandList(0, words) + ", [$" + std::to_string(words) + "];";
      std::string constraints;
      for (unsigned i = 0; i < words; ++i)
        constraints += "=r,";
      constraints += "l,b";
      Type resTy = words == 1 ? Type(i32)
                              : Type(LLVM::LLVMStructType::getLiteral(
                                    getContext(), SmallVector<Type>(words, i32)));
      auto asmOp = LLVM::InlineAsmOp::create(
          rewriter, loc, resTy, ValueRange{ptrs[r], masks[r]}, text, constraints,
          /*has_side_effects=*/true, false,
          LLVM::tailcallkind::TailCallKind::None, nullptr, nullptr);
      SmallVector<Value> ws;
      for (unsigned i = 0; i < words; ++i)
        ws.push_back(words == 1 ? asmOp.getResult(0)
                                : Value(LLVM::ExtractValueOp::create(
                                      rewriter, loc, asmOp.getResult(0), i)));
      for (Value v : unpackWords(rewriter, loc, ws, elem))
        out.push_back(v);
    }
    rewriter.replaceOpWithMultiple(op, {out});
    return success();
  }

  LogicalResult
  matchAndRewrite(tile::LoadOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    {
      Type elem = pointeeOf(op.getPtr().getType());
      int64_t vec = op.getOther() ? 1
                                  : accessWidth(info_, op.getPtr(), op.getMask());
      if (vec > 1)
        return vectorized(op, adaptor, rewriter, elem, vec);
    }
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

  AxisInfoAnalysis &info_;
};

struct StoreLowering : OpConversionPattern<tile::StoreOp> {
  StoreLowering(const TypeConverter &tc, MLIRContext *ctx, AxisInfoAnalysis &info)
      : OpConversionPattern(tc, ctx), info_(info) {}

  LogicalResult vectorized(tile::StoreOp op, OneToNOpAdaptor adaptor,
                           ConversionPatternRewriter &rewriter, Type elem,
                           int64_t vec) const {
    Location loc = op.getLoc();
    ValueRange ptrs = adaptor.getPtr(), vals = adaptor.getValue(),
               masks = adaptor.getMask();
    unsigned words = vec * elem.getIntOrFloatBitWidth() / 32;
    for (size_t r = 0; r < ptrs.size(); r += vec) {
      ValueRange group = vals.slice(r, vec);
      if (masks.empty()) {
        auto vecTy = VectorType::get({vec}, elem);
        Value v = LLVM::UndefOp::create(rewriter, loc, vecTy);
        for (int64_t i = 0; i < vec; ++i)
          v = LLVM::InsertElementOp::create(rewriter, loc, v, group[i],
                                            i32Const(rewriter, loc, i));
        LLVM::StoreOp::create(rewriter, loc, v, ptrs[r],
                              vec * elem.getIntOrFloatBitWidth() / 8);
        continue;
      }
      SmallVector<Value> operands{ptrs[r]};
      for (Value w : packWords(rewriter, loc, group, elem))
        operands.push_back(w);
      operands.push_back(masks[r]);
      std::string text = "@$" + std::to_string(words + 1) + " st.global" +
                         vecSuffix(words) + " [$0], " + operandList(1, words) +
                         ";";
      std::string constraints = "l,";
      for (unsigned i = 0; i < words; ++i)
        constraints += "r,";
      constraints += "b";
      LLVM::InlineAsmOp::create(rewriter, loc, TypeRange{}, operands, text,
                                constraints, /*has_side_effects=*/true, false,
                                LLVM::tailcallkind::TailCallKind::None, nullptr,
                                nullptr);
    }
    rewriter.eraseOp(op);
    return success();
  }

  LogicalResult
  matchAndRewrite(tile::StoreOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    {
      Type elem = pointeeOf(op.getPtr().getType());
      int64_t vec = accessWidth(info_, op.getPtr(), op.getMask());
      if (vec > 1)
        return vectorized(op, adaptor, rewriter, elem, vec);
    }
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

  AxisInfoAnalysis &info_;
};

} // namespace

void populateMemoryToLLVMPatterns(const TypeConverter &converter,
                                  RewritePatternSet &patterns,
                                  AxisInfoAnalysis &axisInfo) {
  patterns.add<AddPtrLowering>(converter, patterns.getContext());
  patterns.add<LoadLowering, StoreLowering>(converter, patterns.getContext(),
                                            axisInfo);
}

} // namespace tessel::lowering
