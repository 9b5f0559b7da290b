// KernelBuilder: owns the IR of one kernel under construction, its arguments,
// its control flow and the errors reported so far. The free functions of
// Tile.h build into the innermost live KernelBuilder of the thread.
#ifndef TESSEL_DSL_KERNELBUILDER_H
#define TESSEL_DSL_KERNELBUILDER_H

#include "dsl/Kernel.h"
#include "dsl/Tile.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/Support/Error.h"

#include <functional>
#include <string>

namespace tessel::dsl {

class KernelBuilder {
public:
  using LoopBody =
      std::function<std::vector<Tile>(Tile iv, std::vector<Tile> carried)>;

  explicit KernelBuilder(std::string name, Loc loc = Loc::current());
  ~KernelBuilder();
  KernelBuilder(const KernelBuilder &) = delete;
  KernelBuilder &operator=(const KernelBuilder &) = delete;

  /// A pointer argument to global memory of `elem`.
  Tile ptrArg(const std::string &name, DType elem, Loc loc = Loc::current());
  /// A scalar argument of type i32, i64 or f32.
  Tile scalarArg(const std::string &name, DType type, Loc loc = Loc::current());

  /// for iv in [lo, hi) step `step`: carried = body(iv, carried). Returns the
  /// carried values after the last iteration. Bounds are i32 scalars.
  std::vector<Tile> forRange(Operand lo, Operand hi, Operand step,
                             std::vector<Tile> inits, const LoopBody &body,
                             Loc loc = Loc::current());
  std::vector<Tile> forRange(Operand lo, Operand hi, std::vector<Tile> inits,
                             const LoopBody &body, Loc loc = Loc::current()) {
    return forRange(lo, hi, Operand(1, loc), std::move(inits), body, loc);
  }
  /// Software-pipeline the loads of this kernel's loops over `stages`
  /// iterations: the GPU lowering (tile-pipeline-loads) copies the tiles
  /// each iteration's dots read `stages` − 1 iterations ahead, into as many
  /// shared-memory buffers. 1 (the default) turns it off; at most 8. The
  /// values computed do not change.
  void setNumStages(int stages, Loc loc = Loc::current());
  /// if (cond) body(); cond is an i1 scalar.
  void ifThen(const Tile &cond, const std::function<void()> &body,
              Loc loc = Loc::current());

  /// Verifies the kernel and hands it over; every error reported while
  /// building comes back here as one llvm::Error with file:line prefixes.
  llvm::Expected<Kernel> finish();

  // Used by the op builders of Tile.cpp.
  static KernelBuilder &current(Loc loc);
  static bool hasCurrent();
  mlir::OpBuilder &builder() { return builder_; }
  mlir::MLIRContext &context();
  mlir::Location location(Loc loc);
  /// Records an error at the kernel author's line. Returns a poisoned Tile so
  /// callers can `return kb.error(...)`.
  Tile error(Loc loc, const std::string &message);
  bool failed() const { return !errors_.empty(); }

private:
  Tile addArg(const std::string &name, mlir::Type type, KernelArg arg, Loc loc);

  std::string name_;
  mlir::OwningOpRef<mlir::ModuleOp> module_;
  mlir::func::FuncOp func_;
  mlir::OpBuilder builder_;
  std::vector<KernelArg> args_;
  std::vector<std::string> errors_;
  KernelBuilder *previous_;
  bool finished_ = false;
};

} // namespace tessel::dsl

#endif // TESSEL_DSL_KERNELBUILDER_H
