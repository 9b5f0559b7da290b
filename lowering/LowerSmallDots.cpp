// tile-lower-small-dots: a dot too small for the tensor cores (M < 16,
// N < 8, or K under the instruction's k: 16 for 16-bit inputs, 8 for f32)
// becomes elementwise multiplies and sums in fp32, looping over its
// smallest dimension, so that every dot the verifier accepts lowers (a
// [64×64]·[64×1] triangular-matmul cumsum, a rank-few update). With d the
// loop dimension, unrolled (it is below 16 or 8):
//   N: acc[:, n] += Σ_k a[:, k] b[k, n]     (b's column n picked by a mask)
//   M: acc[m, :] += Σ_k a[m, k] b[k, :]
//   K: acc       += a[:, k] ⊗ b[k, :]       (outer products)
// Runs before layout assignment, on tile IR without layouts.
#include "lowering/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Builders.h"

namespace tessel::lowering {
#define GEN_PASS_DEF_TILELOWERSMALLDOTS
#include "lowering/Passes.h.inc"
} // namespace tessel::lowering

using namespace mlir;
using namespace tessel::tile;

namespace {

class SmallDotLowering {
public:
  SmallDotLowering(DotOp dot) : b_(dot), loc_(dot.getLoc()) {}

  Value lower(DotOp dot) {
    auto aType = dot.getA().getType(), bType = dot.getB().getType();
    int64_t M = aType.getDimSize(0), K = aType.getDimSize(1),
            N = bType.getDimSize(1);
    Value a = toF32(dot.getA()), b = toF32(dot.getB()), acc = dot.getAcc();
    if (N <= M && N <= K) {
      for (int64_t n = 0; n < N; ++n) {
        Value bn = pick(b, /*axis=*/1, n);                  // [K]
        Value cn = sum(mul(a, spread(bn, 0, {M, K})), 1);   // [M]
        acc = add(acc, only(spread(cn, 1, {M, N}), 1, n));
      }
    } else if (M <= K) {
      for (int64_t m = 0; m < M; ++m) {
        Value am = pick(a, /*axis=*/0, m);                  // [K]
        Value rm = sum(mul(spread(am, 1, {K, N}), b), 0);   // [N]
        acc = add(acc, only(spread(rm, 0, {M, N}), 0, m));
      }
    } else {
      for (int64_t k = 0; k < K; ++k) {
        Value ak = pick(a, /*axis=*/1, k), bk = pick(b, /*axis=*/0, k);
        acc = add(acc, mul(spread(ak, 1, {M, N}), spread(bk, 0, {M, N})));
      }
    }
    return acc;
  }

private:
  RankedTensorType f32Type(ArrayRef<int64_t> shape) {
    return RankedTensorType::get(shape, b_.getF32Type());
  }
  Value toF32(Value v) {
    auto t = cast<RankedTensorType>(v.getType());
    if (t.getElementType().isF32())
      return v;
    return ConvertOp::create(b_, loc_, f32Type(t.getShape()), v);
  }
  Value mul(Value x, Value y) { return arith::MulFOp::create(b_, loc_, x, y); }
  Value add(Value x, Value y) { return arith::AddFOp::create(b_, loc_, x, y); }
  Value sum(Value x, int axis) {
    auto t = cast<RankedTensorType>(x.getType());
    SmallVector<int64_t> shape(t.getShape());
    shape.erase(shape.begin() + axis);
    return ReduceOp::create(b_, loc_, f32Type(shape), x, "sum", axis);
  }
  /// The 1-D `v` with a size-1 dimension inserted at `axis`, stretched to
  /// `shape`.
  Value spread(Value v, int axis, ArrayRef<int64_t> shape) {
    auto t = cast<RankedTensorType>(v.getType());
    SmallVector<int64_t> one(t.getShape());
    one.insert(one.begin() + axis, 1);
    auto expanded = ExpandDimsOp::create(
        b_, loc_, RankedTensorType::get(one, t.getElementType()), v, axis);
    return BroadcastOp::create(
        b_, loc_, RankedTensorType::get(shape, t.getElementType()), expanded);
  }
  /// Where index `i` along `axis` of the 2-D `x`, else 0.
  Value only(Value x, int axis, int64_t i) {
    auto t = cast<RankedTensorType>(x.getType());
    int64_t extent = t.getDimSize(axis);
    auto idx = MakeRangeOp::create(
        b_, loc_, RankedTensorType::get({extent}, b_.getI32Type()), 0,
        static_cast<int32_t>(extent));
    Value along = spread(idx, 1 - axis, t.getShape());
    auto iType = RankedTensorType::get(t.getShape(), b_.getI32Type());
    Value target = arith::ConstantOp::create(
        b_, loc_, DenseElementsAttr::get(iType, b_.getI32IntegerAttr(i)));
    Value hit = arith::CmpIOp::create(b_, loc_, arith::CmpIPredicate::eq,
                                      along, target);
    Value zero = arith::ConstantOp::create(
        b_, loc_, DenseElementsAttr::get(t, b_.getF32FloatAttr(0.0f)));
    return arith::SelectOp::create(b_, loc_, hit, x, zero);
  }
  /// Index `i` along `axis` of the 2-D `x`: a 1-D tensor over the other
  /// dimension.
  Value pick(Value x, int axis, int64_t i) {
    return sum(only(x, axis, i), axis);
  }

  OpBuilder b_;
  Location loc_;
};

struct TileLowerSmallDots
    : tessel::lowering::impl::TileLowerSmallDotsBase<TileLowerSmallDots> {
  void runOnOperation() override {
    SmallVector<DotOp> small;
    getOperation().walk([&](DotOp dot) {
      auto a = dot.getA().getType(), b = dot.getB().getType();
      int64_t kMin = a.getElementType().isF32() ? 8 : 16;
      if (a.getDimSize(0) < 16 || b.getDimSize(1) < 8 || a.getDimSize(1) < kMin)
        small.push_back(dot);
    });
    for (DotOp dot : small) {
      Value result = SmallDotLowering(dot).lower(dot);
      dot.replaceAllUsesWith(result);
      dot.erase();
    }
  }
};

} // namespace
