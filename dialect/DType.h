// Element types a tessel kernel can touch, as one enum shared by the DSL, the
// interpreter, the host entry points and the CLI.
#ifndef TESSEL_DIALECT_DTYPE_H
#define TESSEL_DIALECT_DTYPE_H

#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Types.h"
#include "llvm/ADT/StringRef.h"

#include <cstddef>
#include <optional>

namespace tessel {

enum class DType { f32, f16, bf16, i1, i32, i64 };

/// "f32", "bf16", ...
const char *dtypeName(DType type);
/// Parses the names dtypeName prints.
std::optional<DType> parseDType(llvm::StringRef name);
/// Bytes per element in global memory.
size_t dtypeSize(DType type);
bool isFloat(DType type);

mlir::Type toMlirType(DType type, mlir::MLIRContext &ctx);
std::optional<DType> fromMlirType(mlir::Type type);

} // namespace tessel

#endif // TESSEL_DIALECT_DTYPE_H
