// Dialect registration and the shared context.
#include "dialect/Registration.h"

#include "dialect/TileOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

namespace tessel {

void registerTesselDialects(mlir::DialectRegistry &registry) {
  registry.insert<tile::TileDialect, mlir::func::FuncDialect,
                  mlir::arith::ArithDialect, mlir::math::MathDialect,
                  mlir::scf::SCFDialect>();
}

mlir::MLIRContext &getGlobalContext() {
  static mlir::MLIRContext *context = [] {
    mlir::DialectRegistry registry;
    registerTesselDialects(registry);
    auto *ctx = new mlir::MLIRContext(registry);
    ctx->loadAllAvailableDialects();
    return ctx;
  }();
  return *context;
}

} // namespace tessel
