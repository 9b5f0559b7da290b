// A finished kernel: its verified tile-dialect module and the signature the
// launchers check arguments against.
#ifndef TESSEL_DSL_KERNEL_H
#define TESSEL_DSL_KERNEL_H

#include "dialect/DType.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <cstdint>
#include <string>
#include <vector>

namespace tessel {

/// One formal parameter of a kernel.
struct KernelArg {
  enum class Kind { Pointer, Scalar };
  std::string name;
  Kind kind;
  /// The pointee type of a pointer, or the scalar's type.
  DType dtype;
};

class Kernel {
public:
  Kernel(std::string name, std::vector<KernelArg> args,
         mlir::OwningOpRef<mlir::ModuleOp> module)
      : name_(std::move(name)), args_(std::move(args)),
        module_(std::move(module)), id_(nextId()) {}

  const std::string &name() const { return name_; }
  const std::vector<KernelArg> &args() const { return args_; }
  mlir::ModuleOp module() const { return module_.get(); }
  mlir::func::FuncOp func() const;
  /// The tile IR as text.
  std::string ir() const;
  /// Unique per built kernel in this process (moves keep it): launchers key
  /// their per-launch fast path on it instead of re-hashing the IR.
  uint64_t id() const { return id_; }

private:
  static uint64_t nextId();

  std::string name_;
  std::vector<KernelArg> args_;
  mlir::OwningOpRef<mlir::ModuleOp> module_;
  uint64_t id_;
};

} // namespace tessel

#endif // TESSEL_DSL_KERNEL_H
