// Shared-memory scratch sizes and staging layouts (see SharedMemory.h).
#include "lowering/SharedMemory.h"

#include "dialect/LinearLayout.h"
#include "lowering/Passes.h"
#include "lowering/ToLLVM/OperandFragments.h"
#include "lowering/ToLLVM/Utility.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

using namespace mlir;
using namespace tessel::tile;

namespace tessel::lowering {

bool isSharedTensor(Type type) {
  auto t = dyn_cast<RankedTensorType>(type);
  return t && isa_and_nonnull<SharedAttr>(t.getEncoding());
}

bool convertNeedsShared(ConvertLayoutOp op) {
  if (isSharedTensor(op.getSrc().getType()))
    return true;
  auto sl = getLinearLayout(op.getSrc().getType());
  auto dl = getLinearLayout(op.getType());
  if (failed(sl) || failed(dl))
    return true;
  return !registerMap(*sl, *dl, [](const Coords &c) { return c; });
}

bool forEachOperandReader(ConvertLayoutOp op,
                          function_ref<void(Operation *, unsigned)> f) {
  auto visit = [&](OpOperand &use) {
    auto dot = dyn_cast<DotOp>(use.getOwner());
    if (!dot || use.getOperandNumber() > 1 || dot->getBlock() != op->getBlock())
      return false;
    f(dot, use.getOperandNumber());
    return true;
  };
  for (OpOperand &use : op->getUses()) {
    auto tr = dyn_cast<TransOp>(use.getOwner());
    if (!tr) {
      if (!visit(use))
        return false;
      continue;
    }
    if (tr->use_empty())
      return false;
    for (OpOperand &trUse : tr->getUses())
      if (!visit(trUse))
        return false;
  }
  return true;
}

bool readsFragmentsAtUse(ConvertLayoutOp op) {
  if (op->use_empty() || !convertNeedsShared(op) ||
      !OperandFragments::applies(op.getSrc().getType(),
                                 op.getType().getEncoding()))
    return false;
  return forEachOperandReader(op, [](Operation *, unsigned) {});
}

CumsumOp scanSumsSource(ConvertLayoutOp op) {
  auto scan = op.getSrc().getDefiningOp<CumsumOp>();
  if (!scan || scan->getBlock() != op->getBlock() ||
      isSharedTensor(op.getType()) || !convertNeedsShared(op) ||
      failed(getLinearLayout(op.getType())))
    return nullptr;
  return scan;
}

CumsumOp scanTotalSource(ReduceOp op) {
  if (op.getKind() != "sum" || op.getSrc().getType().getRank() != 1)
    return nullptr;
  for (Operation *user : op.getSrc().getUsers()) {
    auto scan = dyn_cast<CumsumOp>(user);
    if (scan && scan->getBlock() == op->getBlock() && !scan.getExclusive() &&
        scan->isBeforeInBlock(op))
      return scan;
  }
  return nullptr;
}

Type scanWordType(Type elem) {
  MLIRContext *ctx = elem.getContext();
  return isa<FloatType>(elem) ? Type(Float32Type::get(ctx))
                              : Type(IntegerType::get(ctx, 32));
}

Value scanSums(OpBuilder &b, Location loc, CumsumOp scan) {
  Value base = scratchBase(b, loc, scan);
  auto type = scan.getSrc().getType();
  return LLVM::GEPOp::create(
      b, loc, base.getType(), scanWordType(type.getElementType()), base,
      ValueRange{i32Const(b, loc, type.getNumElements())});
}

SmallVector<Operation *> fragmentReaders(Operation *op) {
  SmallVector<Operation *> readers;
  auto add = [&](Operation *r) {
    if (!llvm::is_contained(readers, r))
      readers.push_back(r);
  };
  if (auto scan = dyn_cast<CumsumOp>(op)) {
    for (Operation *user : scan->getUsers())
      if (auto c = dyn_cast<ConvertLayoutOp>(user); c && scanSumsSource(c))
        add(user);
    for (Operation *user : scan.getSrc().getUsers())
      if (auto r = dyn_cast<ReduceOp>(user); r && scanTotalSource(r) == scan)
        add(user);
    return readers;
  }
  if (auto c = dyn_cast<ConvertLayoutOp>(op); c && readsFragmentsAtUse(c))
    forEachOperandReader(c, [&](Operation *dot, unsigned) {
      add(dot);
      // An asynchronous dot reads until the wait that completes it.
      if (dot->hasAttr(kAsyncDotAttr))
        for (Operation *user : dot->getUsers())
          if (isa<DotWaitOp>(user))
            add(user);
    });
  return readers;
}

int64_t stagedElementBytes(Type elem) {
  return std::max<int64_t>(1, getElementByteSize(elem));
}

bool swizzleFits(RankedTensorType type) {
  Type elem = type.getElementType();
  return type.getRank() == 2 && elem.isIntOrFloat() &&
         elem.getIntOrFloatBitWidth() == 16 &&
         type.getDimSize(1) % kSwizzleAtomCols == 0 &&
         type.getDimSize(0) % 8 == 0;
}

bool isWgmmaOperandLayout(Attribute layout) {
  if (auto t = dyn_cast_or_null<TransAttr>(layout))
    layout = t.getParent();
  auto dot = dyn_cast_or_null<DotOperandAttr>(layout);
  return dot && cast<MmaAttr>(dot.getParent()).getWgmma();
}

static bool stagesSwizzled(RankedTensorType type, Attribute readAs) {
  if (!swizzleFits(type))
    return false;
  if (auto shared = dyn_cast_or_null<SharedAttr>(type.getEncoding()))
    return shared.getSwizzled();
  return isWgmmaOperandLayout(readAs);
}

SharedPlacement stagingPlacement(RankedTensorType type, Attribute readAs) {
  if (stagesSwizzled(type, readAs))
    return SharedPlacement::swizzled(type.getShape());
  SmallVector<int64_t> strides = rowMajorStrides(type.getShape());
  if (type.getRank() == 2) {
    int64_t pad = std::max<int64_t>(1, 16 / stagedElementBytes(type.getElementType()));
    strides[0] = type.getDimSize(1) + pad;
  }
  return SharedPlacement(strides);
}

static int64_t stagedBytes(RankedTensorType type, Attribute readAs = {}) {
  SmallVector<int64_t> strides = stagingPlacement(type, readAs).strides;
  int64_t span = type.getRank() == 0 ? 1 : type.getDimSize(0) * strides[0];
  return span * stagedElementBytes(type.getElementType());
}

static int64_t stagingAlignment(RankedTensorType type, Attribute readAs = {}) {
  return stagesSwizzled(type, readAs) ? 1024 : 16;
}

int64_t asyncBufferBytes(RankedTensorType type) {
  return alignTo(stagedBytes(type), stagingAlignment(type));
}

int64_t scratchAlignment(Operation *op) {
  if (auto c = dyn_cast<ConvertLayoutOp>(op))
    return stagingAlignment(c.getSrc().getType(), c.getType().getEncoding());
  if (auto a = dyn_cast<AsyncLoadOp>(op))
    return stagingAlignment(a.getType());
  return 16;
}

int64_t scratchBytes(Operation *op) {
  if (auto c = dyn_cast<ConvertLayoutOp>(op))
    return convertNeedsShared(c) && !isSharedTensor(c.getSrc().getType()) &&
                   !scanSumsSource(c)
               ? stagedBytes(c.getSrc().getType(), c.getType().getEncoding())
               : 0;
  if (auto a = dyn_cast<AsyncLoadOp>(op))
    return a.getBuffers() * asyncBufferBytes(a.getType());
  if (auto t = dyn_cast<TransOp>(op)) {
    auto sl = getLinearLayout(t.getSrc().getType());
    auto dl = getLinearLayout(t.getType());
    bool inRegisters =
        succeeded(sl) && succeeded(dl) &&
        registerMap(*sl, *dl, [](const Coords &c) {
          return Coords{c[1], c[0]};
        });
    auto src = t.getSrc().getType();
    return inRegisters ? 0
                       : src.getNumElements() *
                             stagedElementBytes(src.getElementType());
  }
  if (auto r = dyn_cast<ReshapeOp>(op)) {
    auto src = r.getSrc().getType();
    return src.getNumElements() * stagedElementBytes(src.getElementType());
  }
  if (auto c = dyn_cast<CumsumOp>(op)) {
    // The operand and the running sums, 4-byte words each (ScanToLLVM).
    return 2 * c.getSrc().getType().getNumElements() * 4;
  }
  if (auto r = dyn_cast<ReduceOp>(op)) {
    if (scanTotalSource(r))
      return 0;
    // One partial per warp along the axis for every output element.
    auto src = r.getSrc().getType();
    auto sl = getLinearLayout(src);
    if (failed(sl) || llvm::none_of(sl->warp, [&](const Coords &c) {
          return c[r.getAxis()] != 0;
        }))
      return 0; // reduced within each warp, by shuffles
    int64_t elem = std::max<int64_t>(4, getElementByteSize(src.getElementType()));
    int64_t out = src.getNumElements() / src.getDimSize(r.getAxis());
    return out * getNumWarps(src.getEncoding()) * elem;
  }
  return 0;
}

int64_t scratchOffset(Operation *op) {
  if (auto off = op->getAttrOfType<IntegerAttr>(kSmemOffsetAttr))
    return off.getInt();
  return 0;
}

bool needsBarrierBefore(Operation *op) {
  auto attr = op->getAttrOfType<BoolAttr>(kBarrierBeforeAttr);
  return !attr || attr.getValue();
}

bool needsBarrierAfter(Operation *op) {
  auto attr = op->getAttrOfType<BoolAttr>(kBarrierAfterAttr);
  return !attr || attr.getValue();
}

} // namespace tessel::lowering
