// One registration point for every dialect tessel uses, shared by tessel-opt,
// the JIT, the DSL and the tests.
#ifndef TESSEL_DIALECT_REGISTRATION_H
#define TESSEL_DIALECT_REGISTRATION_H

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"

namespace tessel {

/// Adds the tile dialect and the upstream dialects kernels are built from.
void registerTesselDialects(mlir::DialectRegistry &registry);

/// A process-wide context with every tessel dialect loaded; kernels built by
/// the DSL live in it.
mlir::MLIRContext &getGlobalContext();

} // namespace tessel

#endif // TESSEL_DIALECT_REGISTRATION_H
