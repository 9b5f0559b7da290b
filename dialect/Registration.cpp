// Dialect registration and the shared context.
#include "dialect/Registration.h"

#include "dialect/TileOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <cassert>
#include <vector>

namespace tessel {

void registerTesselDialects(mlir::DialectRegistry &registry) {
  registry.insert<tile::TileDialect, mlir::func::FuncDialect,
                  mlir::arith::ArithDialect, mlir::math::MathDialect,
                  mlir::scf::SCFDialect>();
}

namespace {

std::vector<void (*)(mlir::DialectRegistry &)> &extensions() {
  static std::vector<void (*)(mlir::DialectRegistry &)> list;
  return list;
}
bool contextCreated = false;

} // namespace

void addGlobalContextExtension(void (*extension)(mlir::DialectRegistry &)) {
  assert(!contextCreated && "extension added after the global context exists");
  extensions().push_back(extension);
}

mlir::MLIRContext &getGlobalContext() {
  static mlir::MLIRContext *context = [] {
    contextCreated = true;
    mlir::DialectRegistry registry;
    registerTesselDialects(registry);
    for (auto extension : extensions())
      extension(registry);
    auto *ctx = new mlir::MLIRContext(registry);
    ctx->loadAllAvailableDialects();
    return ctx;
  }();
  return *context;
}

} // namespace tessel
