// tile-to-llvm: the 1:N conversion of distributed tensors to per-thread
// registers. A tensor of layout L becomes L.numRegs() scalars (one in
// #tile.shared: its buffer's address); scf.for/if and
// the function signature are converted structurally; the op families live in
// ToLLVM/. The module gets the dynamic shared-memory symbol the conversions
// address.
#include "lowering/Passes.h"

#include "lowering/SharedMemory.h"
#include "lowering/ToLLVM/AxisInfo.h"
#include "lowering/ToLLVM/Patterns.h"
#include "lowering/ToLLVM/Utility.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Func/Transforms/FuncConversions.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/Transforms/Patterns.h"
#include "mlir/Transforms/DialectConversion.h"

namespace tessel::lowering {
#define GEN_PASS_DEF_TILETOLLVM
#include "lowering/Passes.h.inc"
} // namespace tessel::lowering

using namespace mlir;
using namespace tessel;
using namespace tessel::lowering;

namespace {

class TileTypeConverter : public TypeConverter {
public:
  TileTypeConverter() {
    addConversion([](Type t) -> std::optional<Type> {
      if (isa<RankedTensorType, tile::PtrType>(t))
        return std::nullopt;
      return t;
    });
    addConversion([](tile::PtrType t) -> Type { return lowerScalarType(t); });
    addConversion([](RankedTensorType t, SmallVectorImpl<Type> &results)
                      -> std::optional<LogicalResult> {
      // A tile in shared memory is the address of its buffer.
      if (isSharedTensor(t)) {
        results.push_back(LLVM::LLVMPointerType::get(t.getContext(), 3));
        return success();
      }
      auto ll = getLinearLayout(t);
      if (failed(ll))
        return failure();
      results.append(ll->numRegs(), lowerScalarType(t.getElementType()));
      return success();
    });
  }
};

struct TileToLLVM : tessel::lowering::impl::TileToLLVMBase<TileToLLVM> {
  using TileToLLVMBase::TileToLLVMBase;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();

    // The dynamic shared memory every scratch user addresses, aligned for
    // the swizzle atoms wgmma reads (SharedMemory.h).
    OpBuilder b(ctx);
    b.setInsertionPointToStart(module.getBody());
    if (!module.lookupSymbol(kSmemSymbol)) {
      auto arrayTy = LLVM::LLVMArrayType::get(IntegerType::get(ctx, 8), 0);
      LLVM::GlobalOp::create(b, module.getLoc(), arrayTy, /*isConstant=*/false,
                             LLVM::Linkage::External, kSmemSymbol, Attribute(),
                             /*alignment=*/1024, /*addrSpace=*/3);
    }

    TileTypeConverter converter;
    ConversionTarget target(*ctx);
    target.addLegalDialect<LLVM::LLVMDialect, NVVM::NVVMDialect>();
    target.addIllegalDialect<tile::TileDialect>();
    target.addIllegalOp<math::ExpOp, math::Exp2Op, math::LogOp>();
    target.markUnknownOpDynamicallyLegal(
        [&](Operation *op) { return converter.isLegal(op); });
    target.addDynamicallyLegalOp<func::FuncOp>([&](func::FuncOp fn) {
      return converter.isSignatureLegal(fn.getFunctionType());
    });

    // Facts about every address and mask, gathered while the tile IR is
    // still intact (the conversion rewrites it as it goes).
    AxisInfoAnalysis axisInfo(module);
    module.walk([&](Operation *op) {
      if (isa<tile::LoadOp, tile::StoreOp, tile::AsyncLoadOp>(op)) {
        axisInfo.get(op->getOperand(0));
        if (auto load = dyn_cast<tile::LoadOp>(op); load && load.getMask())
          axisInfo.get(load.getMask());
        if (auto copy = dyn_cast<tile::AsyncLoadOp>(op); copy && copy.getMask())
          axisInfo.get(copy.getMask());
        if (auto store = dyn_cast<tile::StoreOp>(op); store && store.getMask())
          axisInfo.get(store.getMask());
      }
    });

    StagedOperands staged;
    if (useLdmatrix)
      staged = StagedOperands::collect(module);

    RewritePatternSet patterns(ctx);
    populateElementwiseToLLVMPatterns(converter, patterns);
    populateMemoryToLLVMPatterns(converter, patterns, axisInfo);
    populateAsyncToLLVMPatterns(converter, patterns, axisInfo);
    populateFlagToLLVMPatterns(converter, patterns);
    populateLayoutToLLVMPatterns(converter, patterns, useLdmatrix, staged);
    populateReduceToLLVMPatterns(converter, patterns);
    populateScanToLLVMPatterns(converter, patterns);
    populateDotToLLVMPatterns(converter, patterns, staged);
    scf::populateSCFStructuralTypeConversionsAndLegality(converter, patterns,
                                                         target);
    populateFunctionOpInterfaceTypeConversionPattern<func::FuncOp>(patterns,
                                                                   converter);
    if (failed(applyPartialConversion(module, target, std::move(patterns))))
      return signalPassFailure();

  }
};

} // namespace
