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
/// the DSL live in it. Everything it will ever need is loaded when it is
/// created: threads share it (the tuner compiles on one per device), and MLIR
/// forbids loading a dialect while other threads use the context.
mlir::MLIRContext &getGlobalContext();

/// Adds `extension`'s dialects and interfaces to the global context when it
/// is created. Libraries call this from a static initializer (the lowering
/// pipeline registers its dialects and translations); calling it after the
/// context exists is a programming error (asserts).
void addGlobalContextExtension(void (*extension)(mlir::DialectRegistry &));

} // namespace tessel

#endif // TESSEL_DIALECT_REGISTRATION_H
