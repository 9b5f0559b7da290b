// The C++ tile DSL (docs/design.md §2.2): value types with operator overloading and
// numpy-style broadcasting that build tile-dialect IR. Every op records the
// caller's std::source_location as its MLIR location, so a shape or dtype
// mistake is reported at the kernel author's file and line.
#ifndef TESSEL_DSL_TILE_H
#define TESSEL_DSL_TILE_H

#include "dialect/DType.h"
#include "mlir/IR/Value.h"

#include <cstdint>
#include <optional>
#include <source_location>
#include <vector>

namespace tessel::dsl {

using Loc = std::source_location;
using Shape = std::vector<int64_t>;

/// A tile-level value: a scalar or a statically shaped tensor. A default
/// constructed (or poisoned) Tile stands for a value whose construction failed;
/// ops on it produce more poisoned values and report nothing new, so a kernel
/// author sees the first error, not a cascade.
class Tile {
public:
  Tile() = default;
  explicit Tile(mlir::Value value) : value_(value) {}

  mlir::Value value() const { return value_; }
  bool valid() const { return static_cast<bool>(value_); }
  mlir::Type type() const;
  mlir::Type elementType() const;
  /// Empty for a scalar.
  Shape shape() const;
  bool isScalar() const;
  /// The DType of the elements, if they are numbers (not pointers).
  std::optional<DType> dtype() const;

  /// Elementwise conversion; a no-op when the dtype already matches.
  Tile to(DType type, Loc loc = Loc::current()) const;

private:
  mlir::Value value_;
};

/// One side of a binary op: a Tile or a C++ number whose dtype is taken from
/// the other side. Constructing it captures the source location of the
/// expression, which is how `a + b` knows its line.
struct Operand {
  Operand(const Tile &tile, Loc loc = Loc::current()) : tile(tile), loc(loc) {}
  Operand(double v, Loc loc = Loc::current()) : literal(v), loc(loc) {}
  Operand(float v, Loc loc = Loc::current()) : literal(v), loc(loc) {}
  Operand(int v, Loc loc = Loc::current())
      : literal(v), isIntLiteral(true), loc(loc) {}
  Operand(int64_t v, Loc loc = Loc::current())
      : literal(static_cast<double>(v)), isIntLiteral(true), loc(loc) {}

  Tile tile;
  std::optional<double> literal;
  bool isIntLiteral = false;
  Loc loc;
};

// Arithmetic and comparison, elementwise with broadcasting and type promotion
// (f16/bf16 -> f32, i32 -> i64, int -> float). `ptr + int` advances pointers
// by elements.
Tile operator+(Operand a, Operand b);
Tile operator-(Operand a, Operand b);
Tile operator*(Operand a, Operand b);
Tile operator/(Operand a, Operand b);
Tile operator%(Operand a, Operand b);
Tile operator-(Operand a);
Tile operator<(Operand a, Operand b);
Tile operator<=(Operand a, Operand b);
Tile operator>(Operand a, Operand b);
Tile operator>=(Operand a, Operand b);
Tile operator&(Operand a, Operand b);
Tile operator|(Operand a, Operand b);
Tile eq(Operand a, Operand b);
Tile ne(Operand a, Operand b);
Tile maximum(Operand a, Operand b);
Tile minimum(Operand a, Operand b);
/// ceil(a / b) for integers.
Tile cdiv(Operand a, Operand b);

// Math on floats.
Tile exp(const Tile &x, Loc loc = Loc::current());
Tile exp2(const Tile &x, Loc loc = Loc::current());
Tile log(const Tile &x, Loc loc = Loc::current());
Tile sqrt(const Tile &x, Loc loc = Loc::current());
Tile abs(const Tile &x, Loc loc = Loc::current());
/// 1 / (1 + e^−x); log(1 + e^x) without overflow; log(sigmoid(x)) =
/// −softplus(−x): the gates of gated linear-attention variants.
Tile sigmoid(const Tile &x, Loc loc = Loc::current());
Tile softplus(const Tile &x, Loc loc = Loc::current());
Tile logsigmoid(const Tile &x, Loc loc = Loc::current());

/// cond ? a : b, elementwise with broadcasting.
Tile where(Operand cond, Operand a, Operand b);

// Creation.
Tile programId(int axis, Loc loc = Loc::current());
Tile numPrograms(int axis, Loc loc = Loc::current());
/// [start, end) as a 1-D i32 tensor.
Tile arange(int start, int end, Loc loc = Loc::current());
Tile full(const Shape &shape, double value, DType type,
          Loc loc = Loc::current());
Tile zeros(const Shape &shape, DType type, Loc loc = Loc::current());
/// A scalar constant.
Tile scalar(double value, DType type, Loc loc = Loc::current());

// Shapes.
Tile broadcastTo(const Tile &x, const Shape &shape, Loc loc = Loc::current());
Tile expandDims(const Tile &x, int axis, Loc loc = Loc::current());
/// x[:, None] for a 1-D x.
Tile column(const Tile &x, Loc loc = Loc::current());
/// x[None, :] for a 1-D x.
Tile row(const Tile &x, Loc loc = Loc::current());
Tile reshape(const Tile &x, const Shape &shape, Loc loc = Loc::current());
Tile trans(const Tile &x, Loc loc = Loc::current());

// Memory. Masked-off lanes of a load read `other` (0 when absent) and never
// touch memory; masked-off lanes of a store are not written.
Tile load(const Tile &ptr, Loc loc = Loc::current());
Tile load(const Tile &ptr, const Tile &mask, Loc loc = Loc::current());
Tile load(const Tile &ptr, const Tile &mask, Operand other,
          Loc loc = Loc::current());
/// A masked load (0 under the mask) that the software pipeliner may issue
/// stages ahead although no dot reads it: for a loop that reads and
/// rewrites each iteration's own rows (adding to an output), where no
/// iteration's store touches what a later one loads.
Tile loadPipelined(const Tile &ptr, const Tile &mask, Loc loc = Loc::current());
void store(const Tile &ptr, const Tile &value, Loc loc = Loc::current());
void store(const Tile &ptr, const Tile &value, const Tile &mask,
           Loc loc = Loc::current());

// Ordering between the programs of one launch (a chained scan): a program
// waits until the i64 at `flag` (a scalar pointer) reaches `target`, after
// which it sees everything the program that signalled wrote before its
// signal. Programs start in launch order, so wait only on what
// lower-numbered programs signal. Both take i64 scalars (i32 widens).
void waitFlag(const Tile &flag, const Tile &target, Loc loc = Loc::current());
void signalFlag(const Tile &flag, const Tile &value, Loc loc = Loc::current());

// Compute.
/// a·b with fp32 accumulation; a is M×K, b is K×N, both f32, f16 or bf16.
Tile dot(const Tile &a, const Tile &b, Loc loc = Loc::current());
/// a·b + acc, acc an M×N f32 tile.
Tile dot(const Tile &a, const Tile &b, const Tile &acc,
         Loc loc = Loc::current());
/// Reductions along `axis`: the axis is dropped (a rank-1 tile gives a
/// scalar), or kept with size 1 when `keepdims`, ready to broadcast back.
Tile sum(const Tile &x, int axis, bool keepdims = false,
         Loc loc = Loc::current());
Tile max(const Tile &x, int axis, bool keepdims = false,
         Loc loc = Loc::current());
Tile min(const Tile &x, int axis, bool keepdims = false,
         Loc loc = Loc::current());
/// Running sum along `axis`, same shape: out[i] = Σ x[j] over j ≤ i (j < i
/// when `exclusive`; from the end, j ≥ i or j > i, when `reverse`). Floats
/// accumulate in f32. E.g. a chunk's cumulative log-decay from its gates.
Tile cumsum(const Tile &x, int axis, bool exclusive = false,
            bool reverse = false, Loc loc = Loc::current());

} // namespace tessel::dsl

#endif // TESSEL_DSL_TILE_H
