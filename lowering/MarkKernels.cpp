// tile-mark-kernels: turns the tile.kernel marker of a lowered llvm.func into
// the NVVM kernel attributes (entry point, block size, register budget), and
// drops the
// tile-level argument facts (tile.divisibility) that func-to-llvm carried
// over: they were consumed by the lowering, and LLVM IR translation has no
// meaning for them.
#include "lowering/Passes.h"
#include "lowering/ToLLVM/AxisInfo.h"

#include <algorithm>

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
      // The register budget, stated: given .maxntid alone, ptxas 13.0 caps
      // a 128-thread Lightning kernel at 32 registers and spills ~16 KB per
      // thread (measured: 52 ms instead of ~5 ms on the H100). One block may
      // use the whole 64 Ki register file, at most 255 per thread.
      fn->setAttr(NVVM::NVVMDialect::getMaxnregAttrName(),
                  b.getI32IntegerAttr(std::min(255, 65536 / threads)));
    }
    for (auto fn : getOperation().getOps<LLVM::LLVMFuncOp>())
      for (unsigned i = 0, e = fn.getNumArguments(); i < e; ++i)
        fn.removeArgAttr(i, tessel::lowering::kDivisibilityAttr);
  }
};

} // namespace
