// Verifiers of the tile dialect's ops and type. Each one names the operand,
// the expected and the actual, so a bad DSL kernel reads as a clear error.
#include "dialect/TileOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace tessel::tile;

#include "dialect/TileOpsDialect.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "dialect/TileOpsTypes.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "dialect/TileOpsAttrs.cpp.inc"

#define GET_OP_CLASSES
#include "dialect/TileOps.cpp.inc"

void TileDialect::initialize() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialect/TileOpsAttrs.cpp.inc"
      >();
  addTypes<
#define GET_TYPEDEF_LIST
#include "dialect/TileOpsTypes.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "dialect/TileOps.cpp.inc"
      >();
}

namespace tessel::tile {

Type getElementTypeOrSelf(Type type) {
  if (auto tensor = dyn_cast<RankedTensorType>(type))
    return tensor.getElementType();
  return type;
}

ArrayRef<int64_t> getShapeOrScalar(Type type) {
  if (auto tensor = dyn_cast<RankedTensorType>(type))
    return tensor.getShape();
  return {};
}

Type withElementType(Type type, Type elem) {
  if (auto tensor = dyn_cast<RankedTensorType>(type))
    return RankedTensorType::get(tensor.getShape(), elem);
  return elem;
}

unsigned getElementByteSize(Type elem) {
  if (isa<PtrType>(elem))
    return 8;
  if (elem.isInteger(1))
    return 1;
  return elem.getIntOrFloatBitWidth() / 8;
}

} // namespace tessel::tile

LogicalResult PtrType::verify(function_ref<InFlightDiagnostic()> emitError,
                              Type pointee) {
  if (!pointee.isF32() && !pointee.isF16() && !pointee.isBF16() &&
      !pointee.isInteger(32) && !pointee.isInteger(64) && !pointee.isInteger(1))
    return emitError() << "pointee must be f32, f16, bf16, i1, i32 or i64, got "
                       << pointee;
  return success();
}

static std::string shapeStr(ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? "x" : "") + std::to_string(shape[i]);
  return s + "]";
}

static LogicalResult verifyAxis(Operation *op, int64_t axis) {
  if (axis < 0 || axis > 2)
    return op->emitOpError() << "axis must be 0, 1 or 2, got " << axis;
  return success();
}

// I32Attr getters return unsigned: read the attribute to keep the sign.
LogicalResult ProgramIdOp::verify() {
  return verifyAxis(*this, getAxisAttr().getInt());
}
LogicalResult NumProgramsOp::verify() {
  return verifyAxis(*this, getAxisAttr().getInt());
}

LogicalResult MakeRangeOp::verify() {
  auto type = getResult().getType();
  int64_t start = getStartAttr().getInt(), end = getEndAttr().getInt();
  if (end <= start)
    return emitOpError() << "end (" << end << ") must exceed start (" << start
                         << ")";
  if (type.getRank() != 1 || type.getDimSize(0) != end - start)
    return emitOpError() << "result must be a 1-D tensor of " << end - start
                         << " elements, got " << type;
  return success();
}

LogicalResult SplatOp::verify() {
  auto type = cast<RankedTensorType>(getResult().getType());
  if (type.getElementType() != getSrc().getType())
    return emitOpError() << "result element type " << type.getElementType()
                         << " differs from the scalar's type "
                         << getSrc().getType();
  return success();
}

LogicalResult BroadcastOp::verify() {
  auto src = cast<RankedTensorType>(getSrc().getType());
  auto dst = cast<RankedTensorType>(getResult().getType());
  if (src.getElementType() != dst.getElementType())
    return emitOpError() << "element type changes from " << src.getElementType()
                         << " to " << dst.getElementType();
  if (src.getRank() != dst.getRank())
    return emitOpError() << "rank changes from " << src.getRank() << " to "
                         << dst.getRank() << "; use expand_dims first";
  for (int64_t i = 0; i < src.getRank(); ++i)
    if (src.getDimSize(i) != dst.getDimSize(i) && src.getDimSize(i) != 1)
      return emitOpError() << "dimension " << i << " of size "
                           << src.getDimSize(i)
                           << " can only broadcast from size 1 (to "
                           << dst.getDimSize(i) << ")";
  return success();
}

LogicalResult ExpandDimsOp::verify() {
  auto src = cast<RankedTensorType>(getSrc().getType());
  auto dst = cast<RankedTensorType>(getResult().getType());
  int64_t axis = getAxisAttr().getInt();
  if (axis < 0 || axis > src.getRank())
    return emitOpError() << "axis " << axis << " is out of range [0, "
                         << src.getRank() << "]";
  SmallVector<int64_t> want(src.getShape());
  want.insert(want.begin() + axis, 1);
  if (dst.getShape() != ArrayRef<int64_t>(want) ||
      dst.getElementType() != src.getElementType())
    return emitOpError() << "result shape must be " << shapeStr(want)
                         << " of " << src.getElementType() << ", got " << dst;
  return success();
}

LogicalResult ReshapeOp::verify() {
  auto src = cast<RankedTensorType>(getSrc().getType());
  auto dst = cast<RankedTensorType>(getResult().getType());
  if (src.getNumElements() != dst.getNumElements())
    return emitOpError() << "element count changes from "
                         << src.getNumElements() << " to "
                         << dst.getNumElements();
  if (src.getElementType() != dst.getElementType())
    return emitOpError() << "element type changes from " << src.getElementType()
                         << " to " << dst.getElementType();
  return success();
}

LogicalResult TransOp::verify() {
  auto src = cast<RankedTensorType>(getSrc().getType());
  auto dst = cast<RankedTensorType>(getResult().getType());
  if (src.getRank() != 2)
    return emitOpError() << "operand must be 2-D, got rank " << src.getRank();
  if (dst.getRank() != 2 || dst.getDimSize(0) != src.getDimSize(1) ||
      dst.getDimSize(1) != src.getDimSize(0) ||
      dst.getElementType() != src.getElementType())
    return emitOpError() << "result must be the transpose "
                         << shapeStr({src.getDimSize(1), src.getDimSize(0)})
                         << " of " << src.getElementType() << ", got " << dst;
  return success();
}

LogicalResult AddPtrOp::verify() {
  if (getShapeOrScalar(getPtr().getType()) !=
      getShapeOrScalar(getOffset().getType()))
    return emitOpError() << "offset shape "
                         << shapeStr(getShapeOrScalar(getOffset().getType()))
                         << " differs from pointer shape "
                         << shapeStr(getShapeOrScalar(getPtr().getType()));
  return success();
}

/// Shared checks of load and store: the value and the mask have the pointers'
/// shape and the value has the pointee type.
static LogicalResult verifyAccess(Operation *op, Type ptrType, Type valueType,
                                  Value mask, StringRef valueName) {
  auto shape = getShapeOrScalar(ptrType);
  auto pointee = cast<PtrType>(getElementTypeOrSelf(ptrType)).getPointeeType();
  if (getShapeOrScalar(valueType) != shape ||
      isa<RankedTensorType>(valueType) != isa<RankedTensorType>(ptrType))
    return op->emitOpError() << valueName << " shape "
                             << shapeStr(getShapeOrScalar(valueType))
                             << " differs from pointer shape "
                             << shapeStr(shape);
  if (getElementTypeOrSelf(valueType) != pointee)
    return op->emitOpError() << valueName << " element type "
                             << getElementTypeOrSelf(valueType)
                             << " differs from the pointee type " << pointee;
  if (mask && (getShapeOrScalar(mask.getType()) != shape ||
               isa<RankedTensorType>(mask.getType()) !=
                   isa<RankedTensorType>(ptrType)))
    return op->emitOpError() << "mask shape "
                             << shapeStr(getShapeOrScalar(mask.getType()))
                             << " differs from pointer shape "
                             << shapeStr(shape);
  return success();
}

LogicalResult LoadOp::verify() {
  if (failed(verifyAccess(*this, getPtr().getType(), getResult().getType(),
                          getMask(), "result")))
    return failure();
  if (getOther() && getOther().getType() != getResult().getType())
    return emitOpError() << "`other` type " << getOther().getType()
                         << " differs from result type "
                         << getResult().getType();
  if (getOther() && !getMask())
    return emitOpError() << "`other` needs a mask";
  return success();
}

LogicalResult AsyncLoadOp::verify() {
  if (failed(verifyAccess(*this, getPtr().getType(), getResult().getType(),
                          getMask(), "result")))
    return failure();
  if (!isa_and_nonnull<SharedAttr>(getResult().getType().getEncoding()))
    return emitOpError() << "result must be in #tile.shared, got "
                         << getResult().getType();
  if (getBuffers() < 1)
    return emitOpError() << "needs at least one buffer, got " << getBuffers();
  return success();
}

LogicalResult AsyncWaitOp::verify() {
  if (getSrcs().getTypes() != getResults().getTypes())
    return emitOpError() << "result types must be the operand types";
  for (Type t : getSrcs().getTypes())
    if (!isa_and_nonnull<SharedAttr>(cast<RankedTensorType>(t).getEncoding()))
      return emitOpError() << "waits on #tile.shared tensors only, got " << t;
  if (getPendingAttr().getInt() < 0)
    return emitOpError() << "pending must be >= 0, got "
                         << getPendingAttr().getInt();
  return success();
}

/// A flag is one i64 in global memory.
static LogicalResult verifyFlag(Operation *op, Type ptrType) {
  Type pointee = cast<PtrType>(ptrType).getPointeeType();
  if (!pointee.isInteger(64))
    return op->emitOpError() << "flag must point to an i64, got a pointer to "
                             << pointee;
  return success();
}
LogicalResult WaitFlagOp::verify() {
  return verifyFlag(*this, getFlag().getType());
}
LogicalResult SignalFlagOp::verify() {
  return verifyFlag(*this, getFlag().getType());
}

LogicalResult DotWaitOp::verify() {
  if (getAccs().getTypes() != getResults().getTypes())
    return emitOpError() << "result types must be the operand types";
  if (getPendingAttr().getInt() < 0)
    return emitOpError() << "pending must be >= 0, got "
                         << getPendingAttr().getInt();
  for (Value acc : getAccs())
    if (!acc.getDefiningOp<DotOp>())
      return emitOpError() << "waits on the results of tile.dot only";
  return success();
}

LogicalResult StoreOp::verify() {
  return verifyAccess(*this, getPtr().getType(), getValue().getType(),
                      getMask(), "value");
}

LogicalResult DotOp::verify() {
  auto a = getA().getType(), b = getB().getType();
  auto c = getAcc().getType();
  if (a.getRank() != 2 || b.getRank() != 2 || c.getRank() != 2)
    return emitOpError() << "operands must be 2-D";
  if (a.getElementType() != b.getElementType())
    return emitOpError() << "a and b element types differ: "
                         << a.getElementType() << " vs " << b.getElementType();
  if (a.getDimSize(1) != b.getDimSize(0))
    return emitOpError() << "inner dimensions differ: a is "
                         << shapeStr(a.getShape()) << ", b is "
                         << shapeStr(b.getShape());
  if (c.getDimSize(0) != a.getDimSize(0) || c.getDimSize(1) != b.getDimSize(1))
    return emitOpError() << "accumulator must be "
                         << shapeStr({a.getDimSize(0), b.getDimSize(1)})
                         << ", got " << shapeStr(c.getShape());
  return success();
}

LogicalResult CumsumOp::verify() {
  auto src = cast<RankedTensorType>(getSrc().getType());
  int64_t axis = getAxisAttr().getInt();
  if (axis < 0 || axis >= src.getRank())
    return emitOpError() << "axis " << axis << " is out of range [0, "
                         << src.getRank() << ")";
  Type elem = src.getElementType();
  if (elem.isInteger(1) || isa<PtrType>(elem))
    return emitOpError() << "cannot sum elements of type " << elem;
  auto res = cast<RankedTensorType>(getResult().getType());
  if (res.getShape() != src.getShape() || res.getElementType() != elem)
    return emitOpError() << "result must have the shape and element type of "
                            "its operand, "
                         << shapeStr(src.getShape()) << " " << elem << ", got "
                         << shapeStr(res.getShape()) << " "
                         << res.getElementType();
  return success();
}

LogicalResult ReduceOp::verify() {
  auto src = cast<RankedTensorType>(getSrc().getType());
  if (getKind() != "sum" && getKind() != "max" && getKind() != "min")
    return emitOpError() << "kind must be \"sum\", \"max\" or \"min\", got \""
                         << getKind() << "\"";
  int64_t axis = getAxisAttr().getInt();
  if (axis < 0 || axis >= src.getRank())
    return emitOpError() << "axis " << axis << " is out of range [0, "
                         << src.getRank() << ")";
  if (src.getElementType().isInteger(1) || isa<PtrType>(src.getElementType()))
    return emitOpError() << "cannot reduce elements of type "
                         << src.getElementType();
  SmallVector<int64_t> want(src.getShape());
  want.erase(want.begin() + axis);
  Type expected = want.empty()
                      ? src.getElementType()
                      : Type(RankedTensorType::get(want, src.getElementType()));
  // Layouts (encodings) are the lowering's business: compare shape and type.
  Type got = getResult().getType();
  if (isa<RankedTensorType>(got) != !want.empty() ||
      getShapeOrScalar(got) != ArrayRef<int64_t>(want) ||
      getElementTypeOrSelf(got) != src.getElementType())
    return emitOpError() << "result must be " << expected << ", got " << got;
  return success();
}

LogicalResult ConvertOp::verify() {
  Type src = getSrc().getType(), dst = getResult().getType();
  if (getShapeOrScalar(src) != getShapeOrScalar(dst) ||
      isa<RankedTensorType>(src) != isa<RankedTensorType>(dst))
    return emitOpError() << "shape changes from "
                         << shapeStr(getShapeOrScalar(src)) << " to "
                         << shapeStr(getShapeOrScalar(dst));
  if (isa<PtrType>(getElementTypeOrSelf(src)) ||
      isa<PtrType>(getElementTypeOrSelf(dst)))
    return emitOpError() << "cannot convert pointers";
  return success();
}

//===----------------------------------------------------------------------===//
// Layouts
//===----------------------------------------------------------------------===//

static bool isPow2(unsigned v) { return v && !(v & (v - 1)); }

LogicalResult BlockedAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                  ArrayRef<unsigned> spt, ArrayRef<unsigned> tpw,
                                  ArrayRef<unsigned> wpc,
                                  ArrayRef<unsigned> order) {
  size_t rank = spt.size();
  if (tpw.size() != rank || wpc.size() != rank || order.size() != rank)
    return emitError() << "sizePerThread, threadsPerWarp, warpsPerCTA and "
                          "order must all have the tensor's rank";
  unsigned lanes = 1;
  for (size_t d = 0; d < rank; ++d) {
    if (!isPow2(spt[d]) || !isPow2(tpw[d]) || !isPow2(wpc[d]))
      return emitError() << "layout sizes must be powers of two";
    lanes *= tpw[d];
  }
  if (lanes != 32)
    return emitError() << "threadsPerWarp must multiply to 32, got " << lanes;
  SmallVector<bool> seen(rank, false);
  for (unsigned d : order) {
    if (d >= rank || seen[d])
      return emitError() << "order must be a permutation of [0, " << rank
                         << ")";
    seen[d] = true;
  }
  return success();
}

LogicalResult MmaAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                              ArrayRef<unsigned> wpc, bool wgmma) {
  if (wpc.size() != 2 || !isPow2(wpc[0]) || !isPow2(wpc[1]))
    return emitError() << "warpsPerCTA must be two powers of two";
  if (wgmma && (wpc[1] != 1 || wpc[0] % 4 != 0))
    return emitError() << "a wgmma layout needs warps along M only, in "
                          "warpgroups of 4, got wpc = ["
                       << wpc[0] << ", " << wpc[1] << "]";
  return success();
}

LogicalResult
DotOperandAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                       unsigned opIdx, Attribute parent, unsigned bitWidth) {
  if (bitWidth != 16 && bitWidth != 32)
    return emitError() << "bitWidth must be 16 or 32, got " << bitWidth;
  if (opIdx > 1)
    return emitError() << "opIdx must be 0 (A) or 1 (B), got " << opIdx;
  if (!isa<MmaAttr>(parent))
    return emitError() << "the parent of a dot operand must be #tile.mma";
  return success();
}

OpFoldResult ConvertLayoutOp::fold(FoldAdaptor) {
  if (getSrc().getType() == getResult().getType())
    return getSrc();
  // convert(convert(x)) == convert(x): fold onto the original source.
  if (auto inner = getSrc().getDefiningOp<ConvertLayoutOp>()) {
    if (inner.getSrc().getType() == getResult().getType())
      return inner.getSrc();
    getSrcMutable().assign(inner.getSrc());
    return getResult();
  }
  return {};
}

LogicalResult ConvertLayoutOp::verify() {
  auto src = cast<RankedTensorType>(getSrc().getType());
  auto dst = cast<RankedTensorType>(getResult().getType());
  if (src.getShape() != dst.getShape() ||
      src.getElementType() != dst.getElementType())
    return emitOpError() << "may only change the layout, got " << src
                         << " -> " << dst;
  if (isa_and_nonnull<SharedAttr>(dst.getEncoding()))
    return emitOpError() << "cannot produce a #tile.shared tensor (only "
                            "tile.async_load writes shared memory), got "
                         << dst;
  return success();
}
