// The AxisInfo transfer functions.
#include "lowering/ToLLVM/AxisInfo.h"

#include "dialect/TileOps.h"
#include "lowering/ToLLVM/Utility.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/Support/MathExtras.h"

#include <numeric>

using namespace mlir;

namespace tessel::lowering {
namespace {

constexpr int64_t kMaxDivisibility = int64_t(1) << 30;

int64_t pow2Factor(int64_t v) {
  if (v == 0)
    return kMaxDivisibility;
  return std::min<int64_t>(kMaxDivisibility, int64_t(1) << llvm::countr_zero(
                                                 static_cast<uint64_t>(v)));
}

SmallVector<int64_t, 2> shapeOf(Value v) {
  auto s = tile::getShapeOrScalar(v.getType());
  if (s.empty())
    return {1};
  return SmallVector<int64_t, 2>(s.begin(), s.end());
}

AxisInfo unknown(Value v) {
  size_t rank = shapeOf(v).size();
  return {SmallVector<int64_t, 2>(rank, 1), SmallVector<int64_t, 2>(rank, 1),
          SmallVector<int64_t, 2>(rank, 1)};
}

AxisInfo uniform(Value v, int64_t divisibility) {
  auto shape = shapeOf(v);
  return {SmallVector<int64_t, 2>(shape.size(), 1),
          SmallVector<int64_t, 2>(shape.size(), divisibility), shape};
}

std::optional<int64_t> splatConstant(Value v) {
  Attribute attr;
  if (auto cst = v.getDefiningOp<arith::ConstantOp>())
    attr = cst.getValue();
  if (auto i = dyn_cast_or_null<IntegerAttr>(attr))
    return i.getValue().getSExtValue();
  if (auto d = dyn_cast_or_null<DenseIntElementsAttr>(attr))
    if (d.isSplat())
      return d.getSplatValue<APInt>().getSExtValue();
  if (auto splat = v.getDefiningOp<tile::SplatOp>())
    return splatConstant(splat.getSrc());
  return std::nullopt;
}

} // namespace

AxisInfoAnalysis::AxisInfoAnalysis(ModuleOp) {}

const AxisInfo &AxisInfoAnalysis::get(Value v) {
  auto it = cache_.find(v);
  if (it != cache_.end())
    return it->second;
  AxisInfo info = compute(v);
  return cache_[v] = info;
}

AxisInfo AxisInfoAnalysis::compute(Value v) {
  if (auto arg = dyn_cast<BlockArgument>(v)) {
    auto fn = dyn_cast<func::FuncOp>(arg.getOwner()->getParentOp());
    if (!fn)
      return unknown(v);
    int64_t div = 1;
    if (auto attr = fn.getArgAttrOfType<IntegerAttr>(arg.getArgNumber(),
                                                     kDivisibilityAttr)) {
      div = attr.getInt();
      // Pointer alignment is given in bytes; count it in elements.
      if (auto ptr = dyn_cast<tile::PtrType>(v.getType()))
        div = std::max<int64_t>(
            1, div / tile::getElementByteSize(ptr.getPointeeType()));
    }
    return uniform(v, div);
  }
  Operation *op = v.getDefiningOp();
  if (auto c = splatConstant(v))
    return uniform(v, pow2Factor(*c));
  if (auto range = dyn_cast<tile::MakeRangeOp>(op)) {
    int64_t n = range.getEnd() - range.getStart();
    return {{n}, {pow2Factor(range.getStart())}, {1}};
  }
  if (auto splat = dyn_cast<tile::SplatOp>(op))
    return uniform(v, get(splat.getSrc()).divisibility[0]);
  if (auto ex = dyn_cast<tile::ExpandDimsOp>(op)) {
    AxisInfo a = get(ex.getSrc());
    int64_t axis = ex.getAxis();
    a.contiguity.insert(a.contiguity.begin() + axis, 1);
    a.divisibility.insert(a.divisibility.begin() + axis, kMaxDivisibility);
    a.constancy.insert(a.constancy.begin() + axis, 1);
    return a;
  }
  if (auto bc = dyn_cast<tile::BroadcastOp>(op)) {
    AxisInfo a = get(bc.getSrc());
    auto src = bc.getSrc().getType().getShape();
    auto dst = shapeOf(v);
    for (size_t d = 0; d < dst.size(); ++d)
      if (src[d] == 1 && dst[d] > 1)
        a.constancy[d] = dst[d], a.contiguity[d] = 1;
    return a;
  }
  if (isa<tile::ConvertLayoutOp, tile::ConvertOp, arith::ExtSIOp,
          arith::TruncIOp, arith::IndexCastOp>(op))
    return get(op->getOperand(0));
  if (isa<arith::AddIOp, tile::AddPtrOp>(op)) {
    const AxisInfo a = get(op->getOperand(0)), b = get(op->getOperand(1));
    AxisInfo r = a;
    for (size_t d = 0; d < a.contiguity.size(); ++d) {
      r.contiguity[d] = std::max(std::min(a.contiguity[d], b.constancy[d]),
                                 std::min(b.contiguity[d], a.constancy[d]));
      r.divisibility[d] = std::gcd(a.divisibility[d], b.divisibility[d]);
      r.constancy[d] = std::min(a.constancy[d], b.constancy[d]);
    }
    return r;
  }
  if (isa<arith::SubIOp>(op)) {
    const AxisInfo a = get(op->getOperand(0)), b = get(op->getOperand(1));
    AxisInfo r = a;
    for (size_t d = 0; d < a.contiguity.size(); ++d) {
      r.contiguity[d] = std::min(a.contiguity[d], b.constancy[d]);
      r.divisibility[d] = std::gcd(a.divisibility[d], b.divisibility[d]);
      r.constancy[d] = std::min(a.constancy[d], b.constancy[d]);
    }
    return r;
  }
  if (isa<arith::MulIOp>(op)) {
    const AxisInfo a = get(op->getOperand(0)), b = get(op->getOperand(1));
    auto ca = splatConstant(op->getOperand(0)), cb = splatConstant(op->getOperand(1));
    AxisInfo r = a;
    for (size_t d = 0; d < a.contiguity.size(); ++d) {
      r.contiguity[d] = cb == 1 ? a.contiguity[d] : ca == 1 ? b.contiguity[d] : 1;
      r.divisibility[d] = std::min(kMaxDivisibility,
                                   a.divisibility[d] * b.divisibility[d]);
      r.constancy[d] = std::min(a.constancy[d], b.constancy[d]);
    }
    return r;
  }
  if (auto cmp = dyn_cast<arith::CmpIOp>(op)) {
    // A contiguous run starting at a multiple of m, compared with a value
    // that is constant and divisible by m, flips at most at a multiple of m.
    const AxisInfo a = get(cmp.getLhs()), b = get(cmp.getRhs());
    AxisInfo r = unknown(v);
    for (size_t d = 0; d < a.contiguity.size(); ++d) {
      int64_t aligned = std::min({a.contiguity[d], b.constancy[d],
                                  a.divisibility[d], b.divisibility[d]});
      r.constancy[d] = std::max(std::min(a.constancy[d], b.constancy[d]), aligned);
    }
    return r;
  }
  if (isa<arith::AndIOp, arith::OrIOp>(op)) {
    const AxisInfo a = get(op->getOperand(0)), b = get(op->getOperand(1));
    AxisInfo r = unknown(v);
    for (size_t d = 0; d < a.constancy.size(); ++d)
      r.constancy[d] = std::min(a.constancy[d], b.constancy[d]);
    return r;
  }
  return unknown(v);
}

int64_t vectorWidth(AxisInfoAnalysis &info, Value ptr, Value mask,
                    int64_t perThread, unsigned elemBytes) {
  const AxisInfo &p = info.get(ptr);
  size_t last = p.contiguity.size() - 1;
  int64_t vec = std::min<int64_t>(perThread, 16 / std::max(1u, elemBytes));
  vec = std::min({vec, p.contiguity[last], p.divisibility[last]});
  if (mask)
    vec = std::min(vec, info.get(mask).constancy[last]);
  // A power of two at least 1.
  int64_t w = 1;
  while (w * 2 <= vec)
    w *= 2;
  return w;
}

/// Consecutive registers each thread holds along the last dimension: the
/// leading register bases of the layout that step 1, 2, 4, ... along it.
static int64_t consecutivePerThread(Type ptrTensor) {
  auto ll = getLinearLayout(ptrTensor);
  if (failed(ll))
    return 1;
  size_t last = ll->rank() - 1;
  int64_t n = 1;
  for (const Coords &b : ll->reg) {
    Coords want(ll->rank(), 0);
    want[last] = n;
    if (b != want)
      break;
    n *= 2;
  }
  return n;
}

int64_t accessWidth(AxisInfoAnalysis &info, Value ptr, Value mask) {
  if (!isa<RankedTensorType>(ptr.getType()))
    return 1;
  Type pointee =
      cast<tile::PtrType>(tile::getElementTypeOrSelf(ptr.getType()))
          .getPointeeType();
  unsigned bytes = tile::getElementByteSize(pointee);
  if (bytes < 2 || isa<tile::PtrType>(pointee))
    return 1;
  int64_t vec = vectorWidth(info, ptr, mask, consecutivePerThread(ptr.getType()),
                            bytes);
  return vec * bytes >= 4 ? vec : 1;
}

} // namespace tessel::lowering
