// tessel-opt: mlir-opt with the tile dialect and tessel's passes registered,
// for lit tests and for debugging any stage of the pipeline by hand.
#include "dialect/Registration.h"
#include "lowering/Pipeline.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"
#include "mlir/Support/LogicalResult.h"

int main(int argc, char **argv) {
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  tessel::lowering::registerTesselPassesAndPipelines();
  mlir::DialectRegistry registry;
  tessel::registerTesselDialects(registry);
  registry.insert<mlir::LLVM::LLVMDialect, mlir::NVVM::NVVMDialect,
                  mlir::cf::ControlFlowDialect>();
  return mlir::failed(
      mlir::MlirOptMain(argc, argv, "tessel optimizer driver\n", registry));
}
