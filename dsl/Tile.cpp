// The DSL's op builders: type promotion, broadcasting and the shape checks
// that turn a kernel author's mistake into an error at their line.
#include "dsl/Tile.h"

#include "dialect/TileOps.h"
#include "dsl/KernelBuilder.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>

using namespace mlir;

namespace tessel::dsl {

namespace {

std::string str(Type type) {
  std::string s;
  llvm::raw_string_ostream(s) << type;
  return s;
}

std::string str(const Shape &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? "x" : "") + std::to_string(shape[i]);
  return s + "]";
}

KernelBuilder &kb(Loc loc) { return KernelBuilder::current(loc); }

Type withShape(const Shape &shape, Type elem) {
  if (shape.empty())
    return elem;
  return RankedTensorType::get(shape, elem);
}

bool isFloatType(Type t) { return t.isF32() || t.isF16() || t.isBF16(); }
bool isIntType(Type t) { return t.isInteger(32) || t.isInteger(64); }

/// The type two float or two int element types promote to.
Type promote(Type a, Type b) {
  if (a == b)
    return a;
  if (isFloatType(a) && isFloatType(b))
    return Float32Type::get(a.getContext());
  if (isIntType(a) && isIntType(b))
    return IntegerType::get(a.getContext(), 64);
  if (isFloatType(a) && isIntType(b))
    return a;
  if (isIntType(a) && isFloatType(b))
    return b;
  return {};
}

Value constant(KernelBuilder &k, Loc loc, double v, Type elem,
               const Shape &shape = {}) {
  OpBuilder &b = k.builder();
  TypedAttr attr;
  if (isa<FloatType>(elem))
    attr = b.getFloatAttr(elem, v);
  else
    attr = b.getIntegerAttr(elem, static_cast<int64_t>(v));
  if (!shape.empty())
    attr = DenseElementsAttr::get(RankedTensorType::get(shape, elem),
                                  ArrayRef<Attribute>{attr});
  return arith::ConstantOp::create(b, k.location(loc), attr);
}

/// Converts `v` to element type `elem`, keeping its shape.
Value convertElem(KernelBuilder &k, Loc loc, Value v, Type elem) {
  Type from = tile::getElementTypeOrSelf(v.getType());
  if (from == elem)
    return v;
  return tile::ConvertOp::create(k.builder(), k.location(loc),
                                 tile::withElementType(v.getType(), elem), v);
}

/// Broadcasts `v` (scalar or tensor) to `shape`; shapes were checked.
Value broadcastValue(KernelBuilder &k, Loc loc, Value v, const Shape &shape) {
  Shape from(tile::getShapeOrScalar(v.getType()));
  if (from == shape)
    return v;
  Type elem = tile::getElementTypeOrSelf(v.getType());
  auto type = RankedTensorType::get(shape, elem);
  if (from.empty())
    return tile::SplatOp::create(k.builder(), k.location(loc), type, v);
  return tile::BroadcastOp::create(k.builder(), k.location(loc), type, v);
}

/// The broadcast shape of a and b (empty = scalar), or an error.
std::optional<Shape> broadcastShape(KernelBuilder &k, Loc loc, const Shape &a,
                                    const Shape &b, const char *op) {
  if (a.empty())
    return b;
  if (b.empty())
    return a;
  if (a.size() != b.size()) {
    k.error(loc, std::string(op) + ": cannot broadcast " + str(a) + " with " +
                     str(b) + " (ranks differ; use column()/row()/expandDims)");
    return std::nullopt;
  }
  Shape out(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] == b[i] || b[i] == 1)
      out[i] = a[i];
    else if (a[i] == 1)
      out[i] = b[i];
    else {
      k.error(loc, std::string(op) + ": cannot broadcast " + str(a) +
                       " with " + str(b) + " (dimension " + std::to_string(i) +
                       ")");
      return std::nullopt;
    }
  }
  return out;
}

/// Turns an Operand into a value; literals take `like`'s element type.
Value materialize(KernelBuilder &k, const Operand &op, Type like) {
  if (!op.literal)
    return op.tile.value();
  if (!isFloatType(like) && !isIntType(like) && !like.isInteger(1)) {
    k.error(op.loc, "a number cannot be combined with a value of type " +
                        str(like));
    return {};
  }
  if (isIntType(like) && !op.isIntLiteral) {
    k.error(op.loc, "a fractional constant cannot be combined with the "
                    "integer type " + str(like));
    return {};
  }
  return constant(k, op.loc, *op.literal, like);
}

enum class Kind { Arith, Compare, Bitwise, MinMax };

struct Prepared {
  Value a, b;
  Type elem;
  Shape shape;
};

/// Promotes and broadcasts two operands to one element type and shape.
std::optional<Prepared> prepare(KernelBuilder &k, Loc loc, const Operand &x,
                                const Operand &y, const char *op) {
  if ((!x.literal && !x.tile.valid()) || (!y.literal && !y.tile.valid()))
    return std::nullopt;
  if (x.literal && y.literal) {
    k.error(loc, std::string(op) + ": at least one operand must be a tile");
    return std::nullopt;
  }
  Type ea = x.literal ? Type() : x.tile.elementType();
  Type eb = y.literal ? Type() : y.tile.elementType();
  Value a = materialize(k, x, ea ? ea : eb);
  Value b = materialize(k, y, eb ? eb : ea);
  if (!a || !b)
    return std::nullopt;
  ea = tile::getElementTypeOrSelf(a.getType());
  eb = tile::getElementTypeOrSelf(b.getType());
  Type elem = promote(ea, eb);
  if (!elem) {
    k.error(loc, std::string(op) + ": incompatible element types " + str(ea) +
                     " and " + str(eb));
    return std::nullopt;
  }
  auto shape = broadcastShape(k, loc, Shape(tile::getShapeOrScalar(a.getType())),
                              Shape(tile::getShapeOrScalar(b.getType())), op);
  if (!shape)
    return std::nullopt;
  a = broadcastValue(k, loc, convertElem(k, loc, a, elem), *shape);
  b = broadcastValue(k, loc, convertElem(k, loc, b, elem), *shape);
  return Prepared{a, b, elem, *shape};
}

Tile addPointer(KernelBuilder &k, Loc loc, const Operand &ptr,
                const Operand &off, bool negate) {
  Value offset = materialize(k, off, IntegerType::get(&k.context(), 32));
  if (!offset)
    return Tile();
  Type offElem = tile::getElementTypeOrSelf(offset.getType());
  if (!isIntType(offElem))
    return k.error(loc, "pointer offsets must be i32 or i64, got " +
                            str(offElem));
  if (negate)
    offset = arith::SubIOp::create(
        k.builder(), k.location(loc),
        constant(k, loc, 0, offElem,
                 Shape(tile::getShapeOrScalar(offset.getType()))),
        offset);
  Value p = ptr.tile.value();
  auto shape = broadcastShape(k, loc, Shape(tile::getShapeOrScalar(p.getType())),
                              Shape(tile::getShapeOrScalar(offset.getType())),
                              "pointer arithmetic");
  if (!shape)
    return Tile();
  p = broadcastValue(k, loc, p, *shape);
  offset = broadcastValue(k, loc, offset, *shape);
  return Tile(tile::AddPtrOp::create(k.builder(), k.location(loc), p.getType(),
                                     p, offset));
}

bool isPtrTile(const Operand &op) {
  return !op.literal && op.tile.valid() &&
         isa<tile::PtrType>(op.tile.elementType());
}

Tile binary(const Operand &x, const Operand &y, Kind kind, const char *op,
            arith::CmpFPredicate fpred = arith::CmpFPredicate::OEQ,
            arith::CmpIPredicate ipred = arith::CmpIPredicate::eq) {
  Loc loc = x.literal ? y.loc : x.loc;
  KernelBuilder &k = kb(loc);
  std::string opName(op);
  if (isPtrTile(x) || isPtrTile(y)) {
    if ((opName == "+" || opName == "-") && isPtrTile(x) && !isPtrTile(y))
      return addPointer(k, loc, x, y, opName == "-");
    if (opName == "+" && isPtrTile(y) && !isPtrTile(x))
      return addPointer(k, loc, y, x, false);
    return k.error(loc, "operator " + opName +
                            " is not defined on pointers (only ptr + int)");
  }
  auto p = prepare(k, loc, x, y, op);
  if (!p)
    return Tile();
  OpBuilder &b = k.builder();
  Location l = k.location(loc);
  bool fl = isFloatType(p->elem);
  if (p->elem.isInteger(1) && kind != Kind::Bitwise && kind != Kind::Compare)
    return k.error(loc, "operator " + opName + " is not defined on i1 masks");
  switch (kind) {
  case Kind::Arith:
    if (opName == "+")
      return Tile(fl ? Value(arith::AddFOp::create(b, l, p->a, p->b))
                     : Value(arith::AddIOp::create(b, l, p->a, p->b)));
    if (opName == "-")
      return Tile(fl ? Value(arith::SubFOp::create(b, l, p->a, p->b))
                     : Value(arith::SubIOp::create(b, l, p->a, p->b)));
    if (opName == "*")
      return Tile(fl ? Value(arith::MulFOp::create(b, l, p->a, p->b))
                     : Value(arith::MulIOp::create(b, l, p->a, p->b)));
    if (opName == "/")
      return Tile(fl ? Value(arith::DivFOp::create(b, l, p->a, p->b))
                     : Value(arith::DivSIOp::create(b, l, p->a, p->b)));
    if (opName == "%") {
      if (fl)
        return k.error(loc, "operator % needs integers, got " + str(p->elem));
      return Tile(arith::RemSIOp::create(b, l, p->a, p->b));
    }
    if (opName == "cdiv") {
      if (fl)
        return k.error(loc, "cdiv needs integers, got " + str(p->elem));
      return Tile(arith::CeilDivSIOp::create(b, l, p->a, p->b));
    }
    break;
  case Kind::Compare:
    if (fl)
      return Tile(arith::CmpFOp::create(b, l, fpred, p->a, p->b));
    return Tile(arith::CmpIOp::create(b, l, ipred, p->a, p->b));
  case Kind::Bitwise:
    if (fl)
      return k.error(loc, "operator " + opName + " needs integers or masks, got " +
                              str(p->elem));
    if (opName == "&")
      return Tile(arith::AndIOp::create(b, l, p->a, p->b));
    return Tile(arith::OrIOp::create(b, l, p->a, p->b));
  case Kind::MinMax:
    if (opName == "maximum")
      return Tile(fl ? Value(arith::MaximumFOp::create(b, l, p->a, p->b))
                     : Value(arith::MaxSIOp::create(b, l, p->a, p->b)));
    return Tile(fl ? Value(arith::MinimumFOp::create(b, l, p->a, p->b))
                   : Value(arith::MinSIOp::create(b, l, p->a, p->b)));
  }
  return k.error(loc, "unknown operator " + opName);
}

template <typename OpTy>
Tile unaryMath(const Tile &x, Loc loc, const char *name) {
  if (!x.valid())
    return Tile();
  KernelBuilder &k = kb(loc);
  if (!isFloatType(x.elementType()))
    return k.error(loc, std::string(name) + " needs a float operand, got " +
                            str(x.elementType()));
  return Tile(OpTy::create(k.builder(), k.location(loc), x.value()));
}

} // namespace

//===----------------------------------------------------------------------===//
// Tile
//===----------------------------------------------------------------------===//

Type Tile::type() const { return value_ ? value_.getType() : Type(); }
Type Tile::elementType() const {
  return value_ ? tile::getElementTypeOrSelf(value_.getType()) : Type();
}
Shape Tile::shape() const {
  return value_ ? Shape(tile::getShapeOrScalar(value_.getType())) : Shape();
}
bool Tile::isScalar() const {
  return value_ && !isa<RankedTensorType>(value_.getType());
}
std::optional<DType> Tile::dtype() const {
  return value_ ? fromMlirType(elementType()) : std::nullopt;
}

Tile Tile::to(DType type, Loc loc) const {
  if (!valid())
    return Tile();
  KernelBuilder &k = kb(loc);
  if (isa<tile::PtrType>(elementType()))
    return k.error(loc, std::string("cannot convert pointers to ") +
                            dtypeName(type));
  return Tile(convertElem(k, loc, value_, toMlirType(type, k.context())));
}

//===----------------------------------------------------------------------===//
// Operators
//===----------------------------------------------------------------------===//

Tile operator+(Operand a, Operand b) { return binary(a, b, Kind::Arith, "+"); }
Tile operator-(Operand a, Operand b) { return binary(a, b, Kind::Arith, "-"); }
Tile operator*(Operand a, Operand b) { return binary(a, b, Kind::Arith, "*"); }
Tile operator/(Operand a, Operand b) { return binary(a, b, Kind::Arith, "/"); }
Tile operator%(Operand a, Operand b) { return binary(a, b, Kind::Arith, "%"); }
Tile cdiv(Operand a, Operand b) { return binary(a, b, Kind::Arith, "cdiv"); }
Tile operator-(Operand a) { return binary(Operand(0, a.loc), a, Kind::Arith, "-"); }
Tile operator<(Operand a, Operand b) {
  return binary(a, b, Kind::Compare, "<", arith::CmpFPredicate::OLT,
                arith::CmpIPredicate::slt);
}
Tile operator<=(Operand a, Operand b) {
  return binary(a, b, Kind::Compare, "<=", arith::CmpFPredicate::OLE,
                arith::CmpIPredicate::sle);
}
Tile operator>(Operand a, Operand b) {
  return binary(a, b, Kind::Compare, ">", arith::CmpFPredicate::OGT,
                arith::CmpIPredicate::sgt);
}
Tile operator>=(Operand a, Operand b) {
  return binary(a, b, Kind::Compare, ">=", arith::CmpFPredicate::OGE,
                arith::CmpIPredicate::sge);
}
Tile eq(Operand a, Operand b) {
  return binary(a, b, Kind::Compare, "eq", arith::CmpFPredicate::OEQ,
                arith::CmpIPredicate::eq);
}
Tile ne(Operand a, Operand b) {
  return binary(a, b, Kind::Compare, "ne", arith::CmpFPredicate::UNE,
                arith::CmpIPredicate::ne);
}
Tile operator&(Operand a, Operand b) { return binary(a, b, Kind::Bitwise, "&"); }
Tile operator|(Operand a, Operand b) { return binary(a, b, Kind::Bitwise, "|"); }
Tile maximum(Operand a, Operand b) { return binary(a, b, Kind::MinMax, "maximum"); }
Tile minimum(Operand a, Operand b) { return binary(a, b, Kind::MinMax, "minimum"); }

Tile exp(const Tile &x, Loc loc) { return unaryMath<math::ExpOp>(x, loc, "exp"); }
Tile exp2(const Tile &x, Loc loc) { return unaryMath<math::Exp2Op>(x, loc, "exp2"); }
Tile log(const Tile &x, Loc loc) { return unaryMath<math::LogOp>(x, loc, "log"); }
Tile sqrt(const Tile &x, Loc loc) { return unaryMath<math::SqrtOp>(x, loc, "sqrt"); }
Tile abs(const Tile &x, Loc loc) { return unaryMath<math::AbsFOp>(x, loc, "abs"); }

// Gates of linear-attention variants, written with exp and log so that
// every back end has them: softplus(x) = max(x, 0) + log(1 + e^−|x|) never
// overflows, sigmoid(x) = 1 / (1 + e^−x) saturates to 0 and 1.
Tile sigmoid(const Tile &x, Loc loc) {
  if (!x.valid())
    return Tile();
  return Operand(1.0, loc) / (Operand(1.0, loc) + exp(-Operand(x, loc), loc));
}
Tile softplus(const Tile &x, Loc loc) {
  if (!x.valid())
    return Tile();
  return maximum(Operand(x, loc), Operand(0.0, loc)) +
         log(Operand(1.0, loc) + exp(-abs(x, loc), loc), loc);
}
Tile logsigmoid(const Tile &x, Loc loc) {
  if (!x.valid())
    return Tile();
  return -softplus(-Operand(x, loc), loc);
}

Tile where(Operand cond, Operand a, Operand b) {
  Loc loc = cond.loc;
  KernelBuilder &k = kb(loc);
  if (cond.literal)
    return k.error(loc, "where: the condition must be an i1 tile");
  if (!cond.tile.valid())
    return Tile();
  if (!cond.tile.elementType().isInteger(1))
    return k.error(loc, "where: the condition must be i1 (a comparison), got " +
                            str(cond.tile.elementType()));
  // Two numbers: both take the type of their own kind (f32 for fractional
  // ones, i32 when both are integers), then the condition's shape.
  std::optional<Prepared> p;
  if (a.literal && b.literal) {
    Type t = a.isIntLiteral && b.isIntLiteral
                 ? Type(IntegerType::get(&k.context(), 32))
                 : Type(Float32Type::get(&k.context()));
    Value va = materialize(k, a, t), vb = materialize(k, b, t);
    if (!va || !vb)
      return Tile();
    p = Prepared{va, vb, t, Shape{}};
  } else {
    p = prepare(k, loc, a, b, "where");
  }
  if (!p)
    return Tile();
  auto shape = broadcastShape(k, loc, cond.tile.shape(), p->shape, "where");
  if (!shape)
    return Tile();
  Value c = broadcastValue(k, loc, cond.tile.value(), *shape);
  Value va = broadcastValue(k, loc, p->a, *shape);
  Value vb = broadcastValue(k, loc, p->b, *shape);
  return Tile(arith::SelectOp::create(k.builder(), k.location(loc), c, va, vb));
}

//===----------------------------------------------------------------------===//
// Creation and shapes
//===----------------------------------------------------------------------===//

Tile programId(int axis, Loc loc) {
  KernelBuilder &k = kb(loc);
  if (axis < 0 || axis > 2)
    return k.error(loc, "programId axis must be 0, 1 or 2, got " +
                            std::to_string(axis));
  return Tile(tile::ProgramIdOp::create(k.builder(), k.location(loc),
                                        k.builder().getI32Type(), axis));
}

Tile numPrograms(int axis, Loc loc) {
  KernelBuilder &k = kb(loc);
  if (axis < 0 || axis > 2)
    return k.error(loc, "numPrograms axis must be 0, 1 or 2, got " +
                            std::to_string(axis));
  return Tile(tile::NumProgramsOp::create(k.builder(), k.location(loc),
                                          k.builder().getI32Type(), axis));
}

Tile arange(int start, int end, Loc loc) {
  KernelBuilder &k = kb(loc);
  if (end <= start)
    return k.error(loc, "arange(" + std::to_string(start) + ", " +
                            std::to_string(end) + ") is empty");
  auto type = RankedTensorType::get({end - start}, k.builder().getI32Type());
  return Tile(tile::MakeRangeOp::create(k.builder(), k.location(loc), type,
                                        start, end));
}

static bool checkShape(KernelBuilder &k, Loc loc, const Shape &shape,
                       const char *what) {
  for (int64_t d : shape)
    if (d <= 0) {
      k.error(loc, std::string(what) + ": shape " + str(shape) +
                       " has a non-positive dimension");
      return false;
    }
  return true;
}

Tile full(const Shape &shape, double value, DType type, Loc loc) {
  KernelBuilder &k = kb(loc);
  if (!checkShape(k, loc, shape, "full"))
    return Tile();
  return Tile(constant(k, loc, value, toMlirType(type, k.context()), shape));
}

Tile zeros(const Shape &shape, DType type, Loc loc) {
  return full(shape, 0.0, type, loc);
}

Tile scalar(double value, DType type, Loc loc) {
  return full({}, value, type, loc);
}

Tile broadcastTo(const Tile &x, const Shape &shape, Loc loc) {
  if (!x.valid())
    return Tile();
  KernelBuilder &k = kb(loc);
  if (!checkShape(k, loc, shape, "broadcastTo"))
    return Tile();
  auto out = broadcastShape(k, loc, x.shape(), shape, "broadcastTo");
  if (!out)
    return Tile();
  if (*out != shape)
    return k.error(loc, "broadcastTo: cannot broadcast " + str(x.shape()) +
                            " to " + str(shape));
  return Tile(broadcastValue(k, loc, x.value(), shape));
}

Tile expandDims(const Tile &x, int axis, Loc loc) {
  if (!x.valid())
    return Tile();
  KernelBuilder &k = kb(loc);
  Shape shape = x.shape();
  if (x.isScalar())
    return k.error(loc, "expandDims needs a tensor, got a scalar");
  if (axis < 0 || axis > static_cast<int>(shape.size()))
    return k.error(loc, "expandDims axis " + std::to_string(axis) +
                            " is out of range for shape " + str(shape));
  shape.insert(shape.begin() + axis, 1);
  return Tile(tile::ExpandDimsOp::create(
      k.builder(), k.location(loc),
      RankedTensorType::get(shape, x.elementType()), x.value(), axis));
}

Tile column(const Tile &x, Loc loc) {
  if (x.valid() && x.shape().size() != 1)
    return kb(loc).error(loc, "column() needs a 1-D tile, got " +
                                  str(x.shape()));
  return expandDims(x, 1, loc);
}

Tile row(const Tile &x, Loc loc) {
  if (x.valid() && x.shape().size() != 1)
    return kb(loc).error(loc, "row() needs a 1-D tile, got " + str(x.shape()));
  return expandDims(x, 0, loc);
}

Tile reshape(const Tile &x, const Shape &shape, Loc loc) {
  if (!x.valid())
    return Tile();
  KernelBuilder &k = kb(loc);
  if (x.isScalar() || !checkShape(k, loc, shape, "reshape"))
    return x.isScalar() ? k.error(loc, "reshape needs a tensor") : Tile();
  int64_t a = 1, b = 1;
  for (int64_t d : x.shape())
    a *= d;
  for (int64_t d : shape)
    b *= d;
  if (a != b)
    return k.error(loc, "reshape from " + str(x.shape()) + " to " + str(shape) +
                            " changes the element count");
  return Tile(tile::ReshapeOp::create(
      k.builder(), k.location(loc),
      RankedTensorType::get(shape, x.elementType()), x.value()));
}

Tile trans(const Tile &x, Loc loc) {
  if (!x.valid())
    return Tile();
  KernelBuilder &k = kb(loc);
  Shape s = x.shape();
  if (s.size() != 2)
    return k.error(loc, "trans needs a 2-D tile, got " + str(s));
  return Tile(tile::TransOp::create(
      k.builder(), k.location(loc),
      RankedTensorType::get({s[1], s[0]}, x.elementType()), x.value()));
}

//===----------------------------------------------------------------------===//
// Memory
//===----------------------------------------------------------------------===//

static Value prepareMask(KernelBuilder &k, Loc loc, const Tile &ptr,
                         const Tile &mask, const char *op) {
  if (!mask.valid())
    return {};
  if (!mask.elementType().isInteger(1)) {
    k.error(loc, std::string(op) + ": mask must be i1 (a comparison), got " +
                     str(mask.elementType()));
    return {};
  }
  auto shape = broadcastShape(k, loc, ptr.shape(), mask.shape(), op);
  if (!shape)
    return {};
  if (*shape != ptr.shape()) {
    k.error(loc, std::string(op) + ": mask " + str(mask.shape()) +
                     " is larger than the pointer tile " + str(ptr.shape()));
    return {};
  }
  return broadcastValue(k, loc, mask.value(), *shape);
}

static bool checkPtr(KernelBuilder &k, Loc loc, const Tile &ptr,
                     const char *op) {
  if (!isa<tile::PtrType>(ptr.elementType())) {
    k.error(loc, std::string(op) + " needs pointers, got " + str(ptr.type()));
    return false;
  }
  return true;
}

static Tile loadImpl(const Tile &ptr, const Tile *mask, const Operand *other,
                     Loc loc) {
  if (!ptr.valid() || (mask && !mask->valid()) ||
      (other && !other->literal && !other->tile.valid()))
    return Tile();
  KernelBuilder &k = kb(loc);
  if (!checkPtr(k, loc, ptr, "load"))
    return Tile();
  Type elem = cast<tile::PtrType>(ptr.elementType()).getPointeeType();
  Type resultType = withShape(ptr.shape(), elem);
  Value m = mask ? prepareMask(k, loc, ptr, *mask, "load") : Value();
  if (mask && !m)
    return Tile();
  Value o;
  if (other) {
    if (other->literal) {
      o = constant(k, loc, *other->literal, elem, ptr.shape());
    } else {
      o = convertElem(k, loc, other->tile.value(), elem);
      auto shape = broadcastShape(k, loc, ptr.shape(), other->tile.shape(),
                                  "load other");
      if (!shape || *shape != ptr.shape())
        return shape ? k.error(loc, "load: `other` does not fit the pointer "
                                    "tile " + str(ptr.shape()))
                     : Tile();
      o = broadcastValue(k, loc, o, ptr.shape());
    }
  }
  return Tile(tile::LoadOp::create(k.builder(), k.location(loc), resultType,
                                   ptr.value(), m, o));
}

Tile load(const Tile &ptr, Loc loc) { return loadImpl(ptr, nullptr, nullptr, loc); }
Tile load(const Tile &ptr, const Tile &mask, Loc loc) {
  return loadImpl(ptr, &mask, nullptr, loc);
}
Tile load(const Tile &ptr, const Tile &mask, Operand other, Loc loc) {
  return loadImpl(ptr, &mask, &other, loc);
}
Tile loadPipelined(const Tile &ptr, const Tile &mask, Loc loc) {
  Tile t = loadImpl(ptr, &mask, nullptr, loc);
  if (t.valid())
    t.value().getDefiningOp()->setAttr(tile::kPipelineAttrName,
                                       UnitAttr::get(t.value().getContext()));
  return t;
}

static void storeImpl(const Tile &ptr, const Tile &value, const Tile *mask,
                      Loc loc) {
  if (!ptr.valid() || !value.valid() || (mask && !mask->valid()))
    return;
  KernelBuilder &k = kb(loc);
  if (!checkPtr(k, loc, ptr, "store"))
    return;
  Type elem = cast<tile::PtrType>(ptr.elementType()).getPointeeType();
  if (value.elementType() != elem) {
    k.error(loc, "store: value of type " + str(value.elementType()) +
                     " into pointers to " + str(elem) +
                     "; convert it with .to() first");
    return;
  }
  auto shape = broadcastShape(k, loc, ptr.shape(), value.shape(), "store");
  if (!shape)
    return;
  if (*shape != ptr.shape()) {
    k.error(loc, "store: value " + str(value.shape()) +
                     " does not fit the pointer tile " + str(ptr.shape()));
    return;
  }
  Value v = broadcastValue(k, loc, value.value(), ptr.shape());
  Value m = mask ? prepareMask(k, loc, ptr, *mask, "store") : Value();
  if (mask && !m)
    return;
  tile::StoreOp::create(k.builder(), k.location(loc), ptr.value(), v, m);
}

void store(const Tile &ptr, const Tile &value, Loc loc) {
  storeImpl(ptr, value, nullptr, loc);
}
void store(const Tile &ptr, const Tile &value, const Tile &mask, Loc loc) {
  storeImpl(ptr, value, &mask, loc);
}

//===----------------------------------------------------------------------===//
// Ordering between programs
//===----------------------------------------------------------------------===//

/// The flag pointer and the i64 value of waitFlag / signalFlag, checked.
static std::optional<std::pair<Value, Value>>
flagOperands(KernelBuilder &k, Loc loc, const Tile &flag, const Tile &value,
             const char *op) {
  if (!flag.valid() || !value.valid())
    return std::nullopt;
  if (!flag.isScalar() || !isa<tile::PtrType>(flag.elementType()) ||
      !cast<tile::PtrType>(flag.elementType()).getPointeeType().isInteger(64)) {
    k.error(loc, std::string(op) + ": the flag must be one pointer to an i64, "
                 "got " + str(flag.type()));
    return std::nullopt;
  }
  if (!value.isScalar() || (value.dtype() != DType::i64 &&
                            value.dtype() != DType::i32)) {
    k.error(loc, std::string(op) + ": the value must be an i32 or i64 scalar, "
                 "got " + str(value.type()));
    return std::nullopt;
  }
  Tile wide = value.dtype() == DType::i64 ? value : value.to(DType::i64, loc);
  return std::make_pair(flag.value(), wide.value());
}

void waitFlag(const Tile &flag, const Tile &target, Loc loc) {
  KernelBuilder &k = kb(loc);
  if (auto ops = flagOperands(k, loc, flag, target, "waitFlag"))
    tile::WaitFlagOp::create(k.builder(), k.location(loc), ops->first,
                             ops->second);
}

void signalFlag(const Tile &flag, const Tile &value, Loc loc) {
  KernelBuilder &k = kb(loc);
  if (auto ops = flagOperands(k, loc, flag, value, "signalFlag"))
    tile::SignalFlagOp::create(k.builder(), k.location(loc), ops->first,
                               ops->second);
}

//===----------------------------------------------------------------------===//
// Compute
//===----------------------------------------------------------------------===//

static Tile dotImpl(const Tile &a, const Tile &b, const Tile *acc, Loc loc) {
  if (!a.valid() || !b.valid() || (acc && !acc->valid()))
    return Tile();
  KernelBuilder &k = kb(loc);
  Shape sa = a.shape(), sb = b.shape();
  if (sa.size() != 2 || sb.size() != 2)
    return k.error(loc, "dot needs 2-D tiles, got " + str(sa) + " and " +
                            str(sb));
  if (!isFloatType(a.elementType()) || !isFloatType(b.elementType()))
    return k.error(loc, "dot needs float tiles, got " + str(a.elementType()) +
                            " and " + str(b.elementType()));
  if (a.elementType() != b.elementType())
    return k.error(loc, "dot operands have different types " +
                            str(a.elementType()) + " and " +
                            str(b.elementType()) + "; convert one with .to()");
  if (sa[1] != sb[0])
    return k.error(loc, "dot: inner dimensions differ, a is " + str(sa) +
                            " and b is " + str(sb));
  Shape out{sa[0], sb[1]};
  Value c;
  if (acc) {
    if (acc->shape() != out || !acc->elementType().isF32())
      return k.error(loc, "dot: accumulator must be an f32 tile of shape " +
                              str(out) + ", got " + str(acc->type()));
    c = acc->value();
  } else {
    c = constant(k, loc, 0.0, Float32Type::get(&k.context()), out);
  }
  return Tile(tile::DotOp::create(k.builder(), k.location(loc), c.getType(),
                                  a.value(), b.value(), c));
}

Tile dot(const Tile &a, const Tile &b, Loc loc) {
  return dotImpl(a, b, nullptr, loc);
}
Tile dot(const Tile &a, const Tile &b, const Tile &acc, Loc loc) {
  return dotImpl(a, b, &acc, loc);
}

/// The checks of an op `kind` along `axis` of a numeric tensor (reductions,
/// cumsum): the error message, or empty.
static std::string axisOpError(const Tile &x, int axis, const char *kind,
                               const char *verb) {
  Shape s = x.shape();
  if (s.empty())
    return std::string(kind) + " needs a tensor, got a scalar";
  if (axis < 0 || axis >= static_cast<int>(s.size()))
    return std::string(kind) + ": axis " + std::to_string(axis) +
           " is out of range for shape " + str(s);
  if (!isFloatType(x.elementType()) && !isIntType(x.elementType()))
    return std::string(kind) + " cannot " + verb + " " + str(x.elementType());
  return "";
}

static Tile reduceImpl(const Tile &x, int axis, const char *kind,
                       bool keepdims, Loc loc) {
  if (!x.valid())
    return Tile();
  KernelBuilder &k = kb(loc);
  if (std::string err = axisOpError(x, axis, kind, "reduce"); !err.empty())
    return k.error(loc, err);
  Shape s = x.shape();
  Shape kept = s;
  s.erase(s.begin() + axis);
  Value r = tile::ReduceOp::create(k.builder(), k.location(loc),
                                   withShape(s, x.elementType()), x.value(),
                                   kind, axis);
  if (keepdims) {
    kept[axis] = 1;
    r = s.empty() ? Value(tile::SplatOp::create(k.builder(), k.location(loc),
                                                withShape(kept, x.elementType()),
                                                r))
                  : Value(tile::ExpandDimsOp::create(
                        k.builder(), k.location(loc),
                        withShape(kept, x.elementType()), r, axis));
  }
  return Tile(r);
}

Tile sum(const Tile &x, int axis, bool keepdims, Loc loc) {
  return reduceImpl(x, axis, "sum", keepdims, loc);
}
Tile max(const Tile &x, int axis, bool keepdims, Loc loc) {
  return reduceImpl(x, axis, "max", keepdims, loc);
}
Tile min(const Tile &x, int axis, bool keepdims, Loc loc) {
  return reduceImpl(x, axis, "min", keepdims, loc);
}

Tile cumsum(const Tile &x, int axis, bool exclusive, bool reverse, Loc loc) {
  if (!x.valid())
    return Tile();
  KernelBuilder &k = kb(loc);
  if (std::string err = axisOpError(x, axis, "cumsum", "sum"); !err.empty())
    return k.error(loc, err);
  auto op = tile::CumsumOp::create(k.builder(), k.location(loc), x.value().getType(),
                                   x.value(), axis);
  if (exclusive)
    op.setExclusive(true);
  if (reverse)
    op.setReverse(true);
  return Tile(op.getResult());
}

} // namespace tessel::dsl
