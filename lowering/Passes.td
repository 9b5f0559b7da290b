// Every pass of tessel's lowering pipeline (DESIGN.md §2.4), in pipeline order.
#ifndef TESSEL_LOWERING_PASSES_TD
#define TESSEL_LOWERING_PASSES_TD

include "mlir/Pass/PassBase.td"

def TileAssignLayouts : Pass<"tile-assign-layouts", "mlir::ModuleOp"> {
  let summary = "Give every tensor a distributed layout and insert "
                "tile.convert_layout where producers and users disagree";
  let description = [{
    2-D tensors get one blocked layout per kernel (vectorized along the
    contiguous dimension), dot operands and results the mma.sync layouts,
    1-D tensors the slice of the layout their users expand them into.
    Tensor shapes must be powers of two.
  }];
  let options = [
    Option<"numWarps", "num-warps", "unsigned", "4", "warps per program">,
  ];
  let dependentDialects = ["::tessel::tile::TileDialect"];
}

def TileRemoveLayoutConversions
    : Pass<"tile-remove-layout-conversions", "mlir::ModuleOp"> {
  let summary = "Fold conversions that are not needed";
  let description = [{
    Folds chains of conversions, drops identity conversions and
    rematerializes cheap producers (constants, splats, ranges) directly in
    the layout their user wants instead of moving them through shared memory.
  }];
}

def TileAllocateShared : Pass<"tile-allocate-shared", "mlir::ModuleOp"> {
  let summary = "Assign shared-memory scratch to every op that needs it";
  let description = [{
    Layout conversions and cross-warp reductions use shared memory only
    between their own barriers, so their live ranges never overlap and all
    of them share one scratch region at offset 0; the kernel's requirement
    (`tile.shared_bytes`) is the largest of them.
  }];
}

def TileToLLVM : Pass<"tile-to-llvm", "mlir::ModuleOp"> {
  let summary = "Lower tile ops on distributed tensors to per-thread LLVM "
                "and NVVM ops";
  let options = [
    Option<"useLdmatrix", "ldmatrix", "bool", "true",
           "read 16-bit mma operands from shared memory with ldmatrix">,
  ];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect",
                           "::mlir::NVVM::NVVMDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::scf::SCFDialect"];
}

def TileMarkKernels : Pass<"tile-mark-kernels", "mlir::ModuleOp"> {
  let summary = "Mark llvm.func kernels for NVVM (nvvm.kernel, nvvm.maxntid, nvvm.maxnreg)";
  let description = [{
    Runs after func-to-llvm: the NVVM attributes are only valid on llvm.func.
    The block size is 32 · tile.num_warps; the register budget is
    min(255, 65536 / block size), stated because ptxas otherwise caps some
    128-thread kernels at 32 registers. Argument attributes
    tile.divisibility (launch-time facts the lowering has consumed) are
    removed, as LLVM IR translation cannot express them.
  }];
  let dependentDialects = ["::mlir::NVVM::NVVMDialect"];
}

#endif // TESSEL_LOWERING_PASSES_TD
