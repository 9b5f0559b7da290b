// tile-mark-kernels: turns the tile.kernel marker of a lowered llvm.func into
// the NVVM kernel attributes (entry point and its block size), and drops the
// tile-level argument facts (tile.divisibility) that func-to-llvm carried
// over: they were consumed by the lowering, and LLVM IR translation has no
// meaning for them.
#include "lowering/Passes.h"
#include "lowering/ToLLVM/AxisInfo.h"

namespace tessel::lowering {
#define GEN_PASS_DEF_TILEMARKKERNELS
#include "lowering/Passes.h.inc"
} // namespace tessel::lowering

using namespace mlir;

namespace {

struct TileMarkKernels
    : tessel::lowering::impl::TileMarkKernelsBase<TileMarkKernels> {
  void runOnOperation() override {
    OpBuilder b(&getContext());
    for (auto fn : getOperation().getOps<LLVM::LLVMFuncOp>()) {
      if (!fn->hasAttr(tessel::tile::kKernelAttrName))
        continue;
      auto warps = fn->getAttrOfType<IntegerAttr>(tessel::lowering::kNumWarpsAttr);
      int32_t threads = 32 * (warps ? warps.getInt() : 4);
      fn->setAttr(NVVM::NVVMDialect::getKernelFuncAttrName(), b.getUnitAttr());
      fn->setAttr(NVVM::NVVMDialect::getMaxntidAttrName(),
                  b.getDenseI32ArrayAttr({threads, 1, 1}));
    }
    for (auto fn : getOperation().getOps<LLVM::LLVMFuncOp>())
      for (unsigned i = 0, e = fn.getNumArguments(); i < e; ++i)
        fn.removeArgAttr(i, tessel::lowering::kDivisibilityAttr);
  }
};

} // namespace
