// tile-allocate-shared: shared-memory scratch for layout conversions,
// reshapes, transposes through memory and cross-warp reductions. Each such op
// uses its scratch only between its own barriers, so the live ranges never
// overlap and every op gets offset 0; the kernel needs the largest size.
#include "lowering/Passes.h"

#include "dialect/LinearLayout.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace tessel::lowering {
#define GEN_PASS_DEF_TILEALLOCATESHARED
#include "lowering/Passes.h.inc"
} // namespace tessel::lowering

using namespace mlir;
using namespace tessel::tile;

namespace {

int64_t bytesOf(RankedTensorType t) {
  int64_t elem = std::max<int64_t>(1, getElementByteSize(t.getElementType()));
  return t.getNumElements() * elem;
}

/// Scratch bytes an op needs, or 0.
int64_t scratchBytes(Operation *op) {
  if (auto c = dyn_cast<ConvertLayoutOp>(op)) {
    auto t = c.getSrc().getType();
    // Operands staged for ldmatrix have each row padded by 8 elements.
    if (isa<DotOperandAttr>(cast<RankedTensorType>(c.getType()).getEncoding()) &&
        t.getRank() == 2)
      return t.getDimSize(0) * (t.getDimSize(1) + 8) *
             std::max<int64_t>(1, getElementByteSize(t.getElementType()));
    return bytesOf(t);
  }
  if (auto r = dyn_cast<ReshapeOp>(op))
    return bytesOf(r.getSrc().getType());
  if (auto r = dyn_cast<ReduceOp>(op)) {
    // One partial per warp along the axis for every output element.
    auto src = r.getSrc().getType();
    int64_t elem = std::max<int64_t>(4, getElementByteSize(src.getElementType()));
    int64_t out = src.getNumElements() / src.getDimSize(r.getAxis());
    return out * getNumWarps(src.getEncoding()) * elem;
  }
  return 0;
}

struct TileAllocateShared
    : tessel::lowering::impl::TileAllocateSharedBase<TileAllocateShared> {
  void runOnOperation() override {
    for (auto fn : getOperation().getOps<func::FuncOp>()) {
      int64_t total = 0;
      fn.walk([&](Operation *op) {
        int64_t bytes = scratchBytes(op);
        if (!bytes)
          return;
        op->setAttr(tessel::lowering::kSmemOffsetAttr,
                    IntegerAttr::get(IntegerType::get(op->getContext(), 32), 0));
        total = std::max(total, bytes);
      });
      fn->setAttr(tessel::lowering::kSharedBytesAttr,
                  IntegerAttr::get(IntegerType::get(fn.getContext(), 32),
                                   (total + 15) / 16 * 16));
    }
  }
};

} // namespace
