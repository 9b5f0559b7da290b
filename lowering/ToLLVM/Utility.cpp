// Implementation of the lowering helpers.
#include "lowering/ToLLVM/Utility.h"

#include "lowering/Passes.h"
#include "lowering/SharedMemory.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

using namespace mlir;

namespace tessel::lowering {

FailureOr<LinearLayout> getLinearLayout(Type tensorType) {
  auto t = dyn_cast<RankedTensorType>(tensorType);
  if (!t || !t.getEncoding())
    return failure();
  return tile::toLinearLayout(t.getEncoding(), t.getShape());
}

Value i32Const(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(v));
}

std::pair<Value, Value> laneAndWarp(OpBuilder &b, Location loc) {
  Value tid = NVVM::ThreadIdXOp::create(b, loc, b.getI32Type());
  Value lane = arith::AndIOp::create(b, loc, tid, i32Const(b, loc, 31));
  Value warp = arith::ShRUIOp::create(b, loc, tid, i32Const(b, loc, 5));
  return {lane, warp};
}

SmallVector<Value> threadCoords(OpBuilder &b, Location loc,
                                const LinearLayout &ll) {
  auto [lane, warp] = laneAndWarp(b, loc);
  SmallVector<Value> out(ll.rank(), i32Const(b, loc, 0));
  auto addBits = [&](Value id, const SmallVector<Coords> &bases) {
    for (size_t bit = 0; bit < bases.size(); ++bit) {
      bool any = llvm::any_of(bases[bit], [](int64_t v) { return v != 0; });
      if (!any)
        continue;
      Value set = arith::AndIOp::create(
          b, loc, arith::ShRUIOp::create(b, loc, id, i32Const(b, loc, bit)),
          i32Const(b, loc, 1));
      for (size_t d = 0; d < ll.rank(); ++d) {
        if (!bases[bit][d])
          continue;
        // set ∈ {0, 1}: set * basis selects the contribution.
        Value part = arith::MulIOp::create(b, loc, set,
                                           i32Const(b, loc, bases[bit][d]));
        out[d] = arith::XOrIOp::create(b, loc, out[d], part);
      }
    }
  };
  addBits(lane, ll.lane);
  addBits(warp, ll.warp);
  return out;
}

SmallVector<Value> elementCoords(OpBuilder &b, Location loc,
                                 const LinearLayout &ll,
                                 ArrayRef<Value> thread, int64_t r) {
  Coords c = ll.regCoords(r);
  SmallVector<Value> out;
  for (size_t d = 0; d < ll.rank(); ++d)
    out.push_back(c[d] ? Value(arith::XOrIOp::create(b, loc, thread[d],
                                                     i32Const(b, loc, c[d])))
                       : thread[d]);
  return out;
}

std::optional<SmallVector<int64_t>>
registerMap(const LinearLayout &src, const LinearLayout &dst,
            function_ref<Coords(const Coords &)> dstToSrc) {
  auto sameThreads = [&](const SmallVector<Coords> &s,
                         const SmallVector<Coords> &d) {
    if (s.size() != d.size())
      return false;
    for (size_t i = 0; i < s.size(); ++i)
      if (dstToSrc(d[i]) != s[i])
        return false;
    return true;
  };
  if (!sameThreads(src.lane, dst.lane) || !sameThreads(src.warp, dst.warp))
    return std::nullopt;
  llvm::DenseMap<int64_t, int64_t> byKey;
  auto key = [&](const Coords &c) {
    int64_t k = 0;
    for (size_t d = 0; d < src.rank(); ++d)
      k = k * src.shape[d] + c[d];
    return k;
  };
  for (int64_t r = 0; r < src.numRegs(); ++r)
    byKey[key(src.regCoords(r))] = r;
  SmallVector<int64_t> map;
  for (int64_t r = 0; r < dst.numRegs(); ++r) {
    auto it = byKey.find(key(dstToSrc(dst.regCoords(r))));
    if (it == byKey.end())
      return std::nullopt;
    map.push_back(it->second);
  }
  return map;
}

Value sharedBase(OpBuilder &b, Location loc) {
  auto ptrTy = LLVM::LLVMPointerType::get(b.getContext(), 3);
  return LLVM::AddressOfOp::create(b, loc, ptrTy, kSmemSymbol);
}

void barrier(OpBuilder &b, Location loc) { NVVM::Barrier0Op::create(b, loc); }

void asyncProxyFence(OpBuilder &b, Location loc) {
  NVVM::FenceProxyOp::create(
      b, loc, NVVM::ProxyKind::async_shared,
      NVVM::SharedSpaceAttr::get(b.getContext(), NVVM::SharedSpace::shared_cta));
}

SmallVector<int64_t> rowMajorStrides(ArrayRef<int64_t> shape) {
  SmallVector<int64_t> s(shape.size(), 1);
  for (int d = static_cast<int>(shape.size()) - 2; d >= 0; --d)
    s[d] = s[d + 1] * shape[d + 1];
  return s;
}

Type lowerScalarType(Type type) {
  if (isa<tile::PtrType>(type))
    return LLVM::LLVMPointerType::get(type.getContext(), 1);
  return type;
}

/// The type an element is kept as in shared memory (i1 as i8).
static Type storageType(OpBuilder &b, Type elem) {
  return elem.isInteger(1) ? b.getI8Type() : elem;
}

Value sharedAt(OpBuilder &b, Location loc, int64_t offset) {
  Value base = sharedBase(b, loc);
  if (!offset)
    return base;
  return LLVM::GEPOp::create(b, loc, base.getType(), b.getI8Type(), base,
                             ValueRange{i32Const(b, loc, offset)});
}

Value scratchBase(OpBuilder &b, Location loc, Operation *op) {
  return sharedAt(b, loc, scratchOffset(op));
}

int64_t contiguousRegisters(const LinearLayout &ll, int64_t maxElems) {
  size_t last = ll.rank() - 1;
  int64_t vec = 1;
  for (size_t i = 0; i < ll.reg.size() && vec < maxElems; ++i) {
    Coords unitStep(ll.rank(), 0);
    unitStep[last] = vec;
    if (ll.reg[i] != unitStep)
      break;
    vec *= 2;
  }
  // A lane or warp basis below the vector width would interleave threads
  // inside one vector.
  for (const auto *bases : {&ll.lane, &ll.warp})
    for (const Coords &c : *bases)
      while (vec > 1 && (c[last] & (vec - 1)))
        vec /= 2;
  return vec;
}

SharedPlacement SharedPlacement::swizzled(ArrayRef<int64_t> shape) {
  SharedPlacement p(rowMajorStrides(shape));
  p.swizzledRows = shape[0];
  return p;
}

Value sharedIndex(OpBuilder &b, Location loc, ArrayRef<Value> coords,
                  const SharedPlacement &p) {
  auto c = [&](int64_t v) { return i32Const(b, loc, v); };
  if (p.isSwizzled()) {
    // (r, col): atom col / 64, then row r of it, chunk (col / 8 % 8) ^ (r % 8).
    Value r = coords[0], col = coords[1];
    Value atom = arith::ShRUIOp::create(b, loc, col, c(6));
    Value chunk = arith::AndIOp::create(
        b, loc, arith::ShRUIOp::create(b, loc, col, c(3)), c(7));
    Value phase = arith::AndIOp::create(b, loc, r, c(7));
    Value swizzled = arith::XOrIOp::create(b, loc, chunk, phase);
    Value idx = arith::MulIOp::create(
        b, loc, atom, c(p.swizzledRows * kSwizzleAtomCols));
    idx = arith::AddIOp::create(
        b, loc, idx, arith::MulIOp::create(b, loc, r, c(kSwizzleAtomCols)));
    idx = arith::AddIOp::create(
        b, loc, idx, arith::ShLIOp::create(b, loc, swizzled, c(3)));
    return arith::AddIOp::create(b, loc, idx,
                                 arith::AndIOp::create(b, loc, col, c(7)));
  }
  Value idx;
  for (size_t d = 0; d < coords.size(); ++d) {
    Value term = p.strides[d] == 1
                     ? coords[d]
                     : Value(arith::MulIOp::create(b, loc, coords[d],
                                                   c(p.strides[d])));
    idx = idx ? Value(arith::AddIOp::create(b, loc, idx, term)) : term;
  }
  return idx ? idx : c(0);
}

/// Vector width for accesses of `ll` at `strides`: contiguous registers, at
/// most 16 bytes, and every vector aligned to its size.
static int64_t accessWidth(const LinearLayout &ll, ArrayRef<int64_t> strides,
                           int64_t elemBytes) {
  if (strides.empty() || strides.back() != 1)
    return 1;
  int64_t vec = contiguousRegisters(ll, std::max<int64_t>(1, 16 / elemBytes));
  for (size_t d = 0; d + 1 < strides.size(); ++d)
    while (vec > 1 && strides[d] % vec)
      vec /= 2;
  return vec;
}

namespace {

/// How one thread's registers of `ll` map onto shared memory at `strides`:
/// the element type kept there, the vector width, and each vector's address.
struct SharedAccess {
  Type stored;
  int64_t elemBytes, vec;
  SmallVector<Value> thread;

  SharedAccess(OpBuilder &b, Location loc, Type elemType,
               const LinearLayout &ll, const SharedPlacement &p)
      : stored(storageType(b, elemType)),
        elemBytes(std::max<int64_t>(1, stored.getIntOrFloatBitWidth() / 8)),
        vec(accessWidth(ll, p.strides, elemBytes)),
        thread(threadCoords(b, loc, ll)) {}

  /// The address of the vector that starts at register `r`.
  Value address(OpBuilder &b, Location loc, Value base, const LinearLayout &ll,
                const SharedPlacement &p, int64_t r) const {
    return sharedElementAddress(b, loc, base, stored, ll, thread, p, r);
  }
};

} // namespace

Value sharedElementAddress(OpBuilder &b, Location loc, Value base,
                           Type elemType, const LinearLayout &ll,
                           ArrayRef<Value> thread, const SharedPlacement &p,
                           int64_t r) {
  return LLVM::GEPOp::create(
      b, loc, base.getType(), elemType, base,
      ValueRange{sharedIndex(b, loc, elementCoords(b, loc, ll, thread, r), p)});
}

void storeToShared(OpBuilder &b, Location loc, Value base, ValueRange regs,
                   Type elemType, const LinearLayout &ll,
                   const SharedPlacement &p) {
  SharedAccess access(b, loc, elemType, ll, p);
  Type stored = access.stored;
  int64_t vec = access.vec, elemBytes = access.elemBytes;
  for (int64_t r = 0; r < ll.numRegs(); r += vec) {
    Value addr = access.address(b, loc, base, ll, p, r);
    auto element = [&](int64_t i) {
      Value v = regs[r + i];
      return elemType.isInteger(1) ? Value(arith::ExtUIOp::create(b, loc, stored, v))
                                   : v;
    };
    if (vec == 1) {
      LLVM::StoreOp::create(b, loc, element(0), addr);
      continue;
    }
    auto vecTy = VectorType::get({vec}, stored);
    Value v = LLVM::UndefOp::create(b, loc, vecTy);
    for (int64_t i = 0; i < vec; ++i)
      v = LLVM::InsertElementOp::create(b, loc, v, element(i), i32Const(b, loc, i));
    LLVM::StoreOp::create(b, loc, v, addr, vec * elemBytes);
  }
}

SmallVector<Value> loadFromShared(OpBuilder &b, Location loc, Value base,
                                  Type elemType, const LinearLayout &ll,
                                  const SharedPlacement &p) {
  SharedAccess access(b, loc, elemType, ll, p);
  Type stored = access.stored;
  int64_t vec = access.vec, elemBytes = access.elemBytes;
  SmallVector<Value> out;
  for (int64_t r = 0; r < ll.numRegs(); r += vec) {
    Value addr = access.address(b, loc, base, ll, p, r);
    auto finish = [&](Value v) {
      out.push_back(elemType.isInteger(1)
                        ? Value(arith::TruncIOp::create(b, loc, elemType, v))
                        : v);
    };
    if (vec == 1) {
      finish(LLVM::LoadOp::create(b, loc, stored, addr));
      continue;
    }
    auto vecTy = VectorType::get({vec}, stored);
    Value v = LLVM::LoadOp::create(b, loc, vecTy, addr, vec * elemBytes);
    for (int64_t i = 0; i < vec; ++i)
      finish(LLVM::ExtractElementOp::create(b, loc, v, i32Const(b, loc, i)));
  }
  return out;
}

Value stageInScratch(OpBuilder &b, Location loc, Operation *op,
                     ValueRange regs, Type elemType, const LinearLayout &ll,
                     const SharedPlacement &p, bool barrierAfter) {
  Value base = scratchBase(b, loc, op);
  if (needsBarrierBefore(op))
    barrier(b, loc);
  storeToShared(b, loc, base, regs, elemType, ll, p);
  // A swizzled tile is read by wgmma, through the async proxy: each writer
  // orders its stores before those reads, ahead of the barrier.
  if (p.isSwizzled())
    asyncProxyFence(b, loc);
  if (barrierAfter)
    barrier(b, loc);
  return base;
}

SmallVector<Value> shuffleThroughShared(OpBuilder &b, Location loc,
                                        Operation *op, ValueRange srcRegs,
                                        Type elemType, const LinearLayout &src,
                                        const LinearLayout &dst,
                                        const SharedPlacement &srcPlace,
                                        const SharedPlacement &dstPlace) {
  Value base = stageInScratch(b, loc, op, srcRegs, elemType, src, srcPlace,
                              /*barrierAfter=*/true);
  return loadFromShared(b, loc, base, elemType, dst, dstPlace);
}

} // namespace tessel::lowering
