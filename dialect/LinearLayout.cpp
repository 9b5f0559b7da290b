// Construction of LinearLayouts from the layout attributes. The mma and
// dot-operand bases transcribe the fragment tables of PTX's mma.m16n8k16
// (groupID = lane / 4 picks the row, lane % 4 the column pair).
#include "dialect/LinearLayout.h"

#include "dialect/TileOps.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;

namespace tessel::tile {

Coords LinearLayout::regCoords(int64_t r) const { return coords(r, 0, 0); }

Coords LinearLayout::coords(int64_t r, int64_t l, int64_t w) const {
  Coords c(rank(), 0);
  auto apply = [&](const SmallVector<Coords> &bases, int64_t idx) {
    for (size_t b = 0; b < bases.size(); ++b)
      if (idx >> b & 1)
        for (size_t d = 0; d < rank(); ++d)
          c[d] ^= bases[b][d];
  };
  apply(reg, r);
  apply(lane, l);
  apply(warp, w);
  return c;
}

bool isPowerOfTwoShape(ArrayRef<int64_t> shape) {
  for (int64_t d : shape)
    if (d < 1 || !llvm::isPowerOf2_64(d))
      return false;
  return true;
}

namespace {

Coords unit(size_t rank, size_t dim, int64_t v) {
  Coords c(rank, 0);
  c[dim] = v;
  return c;
}

Coords at(int64_t row, int64_t col) { return Coords{row, col}; }

/// Takes coordinates modulo the shape and drops register bases that became
/// zero (they would hold the same element twice).
LinearLayout finalize(LinearLayout ll) {
  auto mask = [&](SmallVector<Coords> &bases) {
    for (Coords &b : bases)
      for (size_t d = 0; d < ll.rank(); ++d)
        b[d] &= ll.shape[d] - 1;
  };
  mask(ll.reg);
  mask(ll.lane);
  mask(ll.warp);
  SmallVector<Coords> regs;
  for (Coords &b : ll.reg)
    if (llvm::any_of(b, [](int64_t v) { return v != 0; }))
      regs.push_back(b);
  ll.reg = regs;
  return ll;
}

LinearLayout blocked(BlockedAttr attr, ArrayRef<int64_t> shape) {
  LinearLayout ll;
  ll.shape.assign(shape.begin(), shape.end());
  size_t rank = shape.size();
  auto spt = attr.getSizePerThread(), tpw = attr.getThreadsPerWarp(),
       wpc = attr.getWarpsPerCTA();
  for (unsigned d : attr.getOrder())
    for (unsigned v = 1; v < spt[d]; v <<= 1)
      ll.reg.push_back(unit(rank, d, v));
  for (unsigned d : attr.getOrder())
    for (unsigned v = 1; v < tpw[d]; v <<= 1)
      ll.lane.push_back(unit(rank, d, int64_t(spt[d]) * v));
  for (unsigned d : attr.getOrder())
    for (unsigned v = 1; v < wpc[d]; v <<= 1)
      ll.warp.push_back(unit(rank, d, int64_t(spt[d]) * tpw[d] * v));
  for (unsigned d : attr.getOrder())
    for (int64_t v = int64_t(spt[d]) * tpw[d] * wpc[d]; v < shape[d]; v <<= 1)
      ll.reg.push_back(unit(rank, d, v));
  return finalize(ll);
}

/// Lane bases of the accumulator and of operand A: lane % 4 picks a column
/// pair, lane / 4 the row.
SmallVector<Coords> rowGroupLanes(int64_t colStep) {
  return {at(0, colStep), at(0, 2 * colStep), at(1, 0), at(2, 0), at(4, 0)};
}

LinearLayout mma(MmaAttr attr, ArrayRef<int64_t> shape) {
  LinearLayout ll;
  ll.shape.assign(shape.begin(), shape.end());
  unsigned wm = attr.getWarpsPerCTA()[0], wn = attr.getWarpsPerCTA()[1];
  // c0,c1: (g, 2t + {0,1}); c2,c3: (g + 8, 2t + {0,1}).
  ll.reg = {at(0, 1), at(8, 0)};
  ll.lane = rowGroupLanes(2);
  for (unsigned v = 1; v < wm; v <<= 1)
    ll.warp.push_back(at(16 * v, 0));
  for (unsigned v = 1; v < wn; v <<= 1)
    ll.warp.push_back(at(0, 8 * v));
  for (int64_t v = 8 * wn; v < shape[1]; v <<= 1)
    ll.reg.push_back(at(0, v));
  for (int64_t v = 16 * wm; v < shape[0]; v <<= 1)
    ll.reg.push_back(at(v, 0));
  return finalize(ll);
}

LinearLayout dotOperand(DotOperandAttr attr, ArrayRef<int64_t> shape) {
  auto parent = cast<MmaAttr>(attr.getParent());
  unsigned wm = parent.getWarpsPerCTA()[0], wn = parent.getWarpsPerCTA()[1];
  LinearLayout ll;
  ll.shape.assign(shape.begin(), shape.end());
  if (attr.getBitWidth() == 32) {
    // tf32 m16n8k8. A (M×K): a0 (g, t), a1 (g+8, t), a2 (g, t+4), a3 (g+8, t+4).
    // B (K×N): b0 (k = t, n = g), b1 (k = t+4, n = g).
    bool isA = attr.getOpIdx() == 0;
    ll.reg = isA ? SmallVector<Coords>{at(8, 0), at(0, 4)}
                 : SmallVector<Coords>{at(4, 0)};
    ll.lane = isA ? rowGroupLanes(1)
                  : SmallVector<Coords>{at(1, 0), at(2, 0), at(0, 1), at(0, 2),
                                        at(0, 4)};
    for (unsigned v = 1; v < wm; v <<= 1)
      ll.warp.push_back(isA ? at(16 * v, 0) : at(0, 0));
    for (unsigned v = 1; v < wn; v <<= 1)
      ll.warp.push_back(isA ? at(0, 0) : at(0, 8 * v));
    if (isA) {
      for (int64_t v = 8; v < shape[1]; v <<= 1)
        ll.reg.push_back(at(0, v));
      for (int64_t v = 16 * wm; v < shape[0]; v <<= 1)
        ll.reg.push_back(at(v, 0));
    } else {
      for (int64_t v = 8; v < shape[0]; v <<= 1)
        ll.reg.push_back(at(v, 0));
      for (int64_t v = 8 * wn; v < shape[1]; v <<= 1)
        ll.reg.push_back(at(0, v));
    }
  } else if (attr.getOpIdx() == 0) {
    // A (M×K, row): a0,a1 (g, 2t+{0,1}); a2,a3 (g+8, ·); a4..a7 (·, +8).
    ll.reg = {at(0, 1), at(8, 0), at(0, 8)};
    ll.lane = rowGroupLanes(2);
    for (unsigned v = 1; v < wm; v <<= 1)
      ll.warp.push_back(at(16 * v, 0));
    for (unsigned v = 1; v < wn; v <<= 1)
      ll.warp.push_back(at(0, 0));
    for (int64_t v = 16; v < shape[1]; v <<= 1)
      ll.reg.push_back(at(0, v));
    for (int64_t v = 16 * wm; v < shape[0]; v <<= 1)
      ll.reg.push_back(at(v, 0));
  } else {
    // B (K×N, col): b0,b1 (k = 2t+{0,1}, n = g); b2,b3 (k + 8, ·).
    ll.reg = {at(1, 0), at(8, 0)};
    ll.lane = {at(2, 0), at(4, 0), at(0, 1), at(0, 2), at(0, 4)};
    for (unsigned v = 1; v < wm; v <<= 1)
      ll.warp.push_back(at(0, 0));
    for (unsigned v = 1; v < wn; v <<= 1)
      ll.warp.push_back(at(0, 8 * v));
    for (int64_t v = 16; v < shape[0]; v <<= 1)
      ll.reg.push_back(at(v, 0));
    for (int64_t v = 8 * wn; v < shape[1]; v <<= 1)
      ll.reg.push_back(at(0, v));
  }
  return finalize(ll);
}

} // namespace

FailureOr<LinearLayout> toLinearLayout(Attribute layout,
                                       ArrayRef<int64_t> shape) {
  if (!isPowerOfTwoShape(shape))
    return failure();
  if (auto b = dyn_cast<BlockedAttr>(layout)) {
    if (b.getOrder().size() != shape.size())
      return failure();
    return blocked(b, shape);
  }
  if (auto m = dyn_cast<MmaAttr>(layout))
  {
    if (shape.size() != 2)
      return failure();
    return mma(m, shape);
  }
  if (auto d = dyn_cast<DotOperandAttr>(layout))
  {
    if (shape.size() != 2)
      return failure();
    return dotOperand(d, shape);
  }
  if (auto t = dyn_cast<TransAttr>(layout)) {
    if (shape.size() != 2)
      return failure();
    auto parent = toLinearLayout(t.getParent(), {shape[1], shape[0]});
    if (failed(parent))
      return failure();
    LinearLayout ll;
    ll.shape.assign(shape.begin(), shape.end());
    auto swap = [](const SmallVector<Coords> &bases) {
      SmallVector<Coords> out;
      for (const Coords &b : bases)
        out.push_back(Coords{b[1], b[0]});
      return out;
    };
    ll.reg = swap(parent->reg);
    ll.lane = swap(parent->lane);
    ll.warp = swap(parent->warp);
    return ll;
  }
  if (auto s = dyn_cast<SliceAttr>(layout)) {
    SmallVector<int64_t> parentShape(shape.begin(), shape.end());
    if (s.getDim() > parentShape.size())
      return failure();
    parentShape.insert(parentShape.begin() + s.getDim(), 1);
    auto parent = toLinearLayout(s.getParent(), parentShape);
    if (failed(parent))
      return failure();
    LinearLayout ll;
    ll.shape.assign(shape.begin(), shape.end());
    auto drop = [&](const SmallVector<Coords> &bases) {
      SmallVector<Coords> out;
      for (Coords b : bases) {
        b.erase(b.begin() + s.getDim());
        out.push_back(b);
      }
      return out;
    };
    ll.reg = drop(parent->reg);
    ll.lane = drop(parent->lane);
    ll.warp = drop(parent->warp);
    return finalize(ll);
  }
  return failure();
}

unsigned getNumWarps(Attribute layout) {
  auto product = [](ArrayRef<unsigned> v) {
    unsigned p = 1;
    for (unsigned x : v)
      p *= x;
    return p;
  };
  if (auto b = dyn_cast<BlockedAttr>(layout))
    return product(b.getWarpsPerCTA());
  if (auto m = dyn_cast<MmaAttr>(layout))
    return product(m.getWarpsPerCTA());
  if (auto d = dyn_cast<DotOperandAttr>(layout))
    return getNumWarps(d.getParent());
  if (auto s = dyn_cast<SliceAttr>(layout))
    return getNumWarps(s.getParent());
  if (auto t = dyn_cast<TransAttr>(layout))
    return getNumWarps(t.getParent());
  return 0;
}

} // namespace tessel::tile
