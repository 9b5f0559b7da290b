// Elementwise arith/math ops on distributed tensors become one scalar op per
// register; exp and log go through ex2/lg2 (NVPTX has no exp/log); program
// ids read the special registers.
#include "lowering/ToLLVM/Patterns.h"
#include "lowering/ToLLVM/Utility.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"

using namespace mlir;
using namespace tessel;

namespace tessel::lowering {
namespace {

/// Any arith/math op with a tensor result: replay it per register.
struct ElementwiseOpLowering : ConversionPattern {
  ElementwiseOpLowering(const TypeConverter &tc, MLIRContext *ctx)
      : ConversionPattern(tc, MatchAnyOpTypeTag(), /*benefit=*/1, ctx) {}

  LogicalResult
  matchAndRewrite(Operation *op, ArrayRef<ValueRange> operands,
                  ConversionPatternRewriter &rewriter) const override {
    if (!isa<arith::ArithDialect, math::MathDialect>(op->getDialect()) ||
        isa<arith::ConstantOp>(op) || op->getNumResults() != 1)
      return failure();
    auto type = dyn_cast<RankedTensorType>(op->getResult(0).getType());
    if (!type)
      return failure();
    auto ll = getLinearLayout(type);
    if (failed(ll))
      return rewriter.notifyMatchFailure(op, "tensor has no layout");
    Type elem = lowerScalarType(type.getElementType());
    SmallVector<Value> results;
    for (int64_t r = 0; r < ll->numRegs(); ++r) {
      OperationState state(op->getLoc(), op->getName());
      for (ValueRange range : operands)
        state.addOperands(range.size() == 1 ? range[0] : range[r]);
      state.addTypes(elem);
      state.addAttributes(op->getAttrs());
      results.push_back(rewriter.create(state)->getResult(0));
    }
    rewriter.replaceOpWithMultiple(op, {results});
    return success();
  }
};

struct TensorConstantLowering : OpConversionPattern<arith::ConstantOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(arith::ConstantOp op, OneToNOpAdaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto type = dyn_cast<RankedTensorType>(op.getType());
    if (!type)
      return failure();
    auto dense = dyn_cast<DenseElementsAttr>(op.getValue());
    if (!dense || !dense.isSplat())
      return rewriter.notifyMatchFailure(op, "only splat tensor constants");
    auto ll = getLinearLayout(type);
    if (failed(ll))
      return rewriter.notifyMatchFailure(op, "tensor has no layout");
    Value scalar = arith::ConstantOp::create(
        rewriter, op.getLoc(), cast<TypedAttr>(dense.getSplatValue<Attribute>()));
    rewriter.replaceOpWithMultiple(
        op, {SmallVector<Value>(ll->numRegs(), scalar)});
    return success();
  }
};

/// Scalar conversion between any two tile element types.
Value convertScalar(OpBuilder &b, Location loc, Value v, Type to) {
  Type from = v.getType();
  if (from == to)
    return v;
  bool fromFloat = isa<FloatType>(from), toFloat = isa<FloatType>(to);
  if (fromFloat && toFloat) {
    if (from.getIntOrFloatBitWidth() < to.getIntOrFloatBitWidth())
      return arith::ExtFOp::create(b, loc, to, v);
    if (from.getIntOrFloatBitWidth() > to.getIntOrFloatBitWidth())
      return arith::TruncFOp::create(b, loc, to, v);
    // bf16 <-> f16: through f32.
    return arith::TruncFOp::create(
        b, loc, to, arith::ExtFOp::create(b, loc, b.getF32Type(), v));
  }
  if (!fromFloat && toFloat)
    return from.isInteger(1) ? Value(arith::UIToFPOp::create(b, loc, to, v))
                             : Value(arith::SIToFPOp::create(b, loc, to, v));
  if (fromFloat && !toFloat)
    return arith::FPToSIOp::create(b, loc, to, v);
  unsigned fw = from.getIntOrFloatBitWidth(), tw = to.getIntOrFloatBitWidth();
  if (fw < tw)
    return from.isInteger(1) ? Value(arith::ExtUIOp::create(b, loc, to, v))
                             : Value(arith::ExtSIOp::create(b, loc, to, v));
  return arith::TruncIOp::create(b, loc, to, v);
}

struct ConvertOpLowering : OpConversionPattern<tile::ConvertOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(tile::ConvertOp op, OneToNOpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Type to = tile::getElementTypeOrSelf(op.getType());
    SmallVector<Value> out;
    for (Value v : adaptor.getSrc())
      out.push_back(convertScalar(rewriter, op.getLoc(), v, to));
    rewriter.replaceOpWithMultiple(op, {out});
    return success();
  }
};

/// exp(x) = 2^(x·log2 e) on ex2.approx; 16-bit inputs go through f32.
template <typename MathOp>
struct ExpLogLowering : OpConversionPattern<MathOp> {
  using OpConversionPattern<MathOp>::OpConversionPattern;
  LogicalResult
  matchAndRewrite(MathOp op, typename MathOp::Adaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Type type = op.getType();
    if (!isa<FloatType>(type))
      return failure();
    Location loc = op.getLoc();
    Value x = convertScalar(rewriter, loc, adaptor.getOperand(),
                            rewriter.getF32Type());
    Type f32 = rewriter.getF32Type();
    Value r;
    if constexpr (std::is_same_v<MathOp, math::ExpOp>) {
      Value scaled = arith::MulFOp::create(
          rewriter, loc, x,
          arith::ConstantOp::create(rewriter, loc,
                                    rewriter.getF32FloatAttr(1.4426950408889634)));
      r = LLVM::Exp2Op::create(rewriter, loc, f32, scaled);
    } else if constexpr (std::is_same_v<MathOp, math::Exp2Op>) {
      r = LLVM::Exp2Op::create(rewriter, loc, f32, x);
    } else {
      Value lg2 = LLVM::CallIntrinsicOp::create(
                      rewriter, loc, f32,
                      rewriter.getStringAttr("llvm.nvvm.lg2.approx.f"),
                      ValueRange{x})
                      .getResult(0);
      r = arith::MulFOp::create(
          rewriter, loc, lg2,
          arith::ConstantOp::create(rewriter, loc,
                                    rewriter.getF32FloatAttr(0.6931471805599453)));
    }
    rewriter.replaceOp(op, convertScalar(rewriter, loc, r, type));
    return success();
  }
};

template <typename X, typename Y, typename Z>
Value readSpecial(OpBuilder &b, Location loc, int axis) {
  Type i32 = b.getI32Type();
  if (axis == 0)
    return X::create(b, loc, i32);
  if (axis == 1)
    return Y::create(b, loc, i32);
  return Z::create(b, loc, i32);
}

struct ProgramIdLowering : OpConversionPattern<tile::ProgramIdOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(tile::ProgramIdOp op, OpAdaptor,
                  ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, readSpecial<NVVM::BlockIdXOp, NVVM::BlockIdYOp,
                                       NVVM::BlockIdZOp>(rewriter, op.getLoc(),
                                                         op.getAxis()));
    return success();
  }
};

struct NumProgramsLowering : OpConversionPattern<tile::NumProgramsOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(tile::NumProgramsOp op, OpAdaptor,
                  ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, readSpecial<NVVM::GridDimXOp, NVVM::GridDimYOp,
                                       NVVM::GridDimZOp>(rewriter, op.getLoc(),
                                                         op.getAxis()));
    return success();
  }
};

} // namespace

void populateElementwiseToLLVMPatterns(const TypeConverter &converter,
                                       RewritePatternSet &patterns) {
  MLIRContext *ctx = patterns.getContext();
  patterns.add<ElementwiseOpLowering, TensorConstantLowering, ConvertOpLowering,
               ExpLogLowering<math::ExpOp>, ExpLogLowering<math::Exp2Op>,
               ExpLogLowering<math::LogOp>, ProgramIdLowering,
               NumProgramsLowering>(converter, ctx);
}

} // namespace tessel::lowering
