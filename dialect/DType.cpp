// DType names, sizes and the mapping to MLIR types.
#include "dialect/DType.h"

#include "mlir/IR/BuiltinTypes.h"

namespace tessel {

const char *dtypeName(DType type) {
  switch (type) {
  case DType::f32: return "f32";
  case DType::f16: return "f16";
  case DType::bf16: return "bf16";
  case DType::i1: return "i1";
  case DType::i32: return "i32";
  case DType::i64: return "i64";
  }
  return "?";
}

std::optional<DType> parseDType(llvm::StringRef name) {
  for (DType t : {DType::f32, DType::f16, DType::bf16, DType::i1, DType::i32,
                  DType::i64})
    if (name == dtypeName(t))
      return t;
  return std::nullopt;
}

size_t dtypeSize(DType type) {
  switch (type) {
  case DType::f32: case DType::i32: return 4;
  case DType::f16: case DType::bf16: return 2;
  case DType::i1: return 1;
  case DType::i64: return 8;
  }
  return 0;
}

bool isFloat(DType type) {
  return type == DType::f32 || type == DType::f16 || type == DType::bf16;
}

mlir::Type toMlirType(DType type, mlir::MLIRContext &ctx) {
  switch (type) {
  case DType::f32: return mlir::Float32Type::get(&ctx);
  case DType::f16: return mlir::Float16Type::get(&ctx);
  case DType::bf16: return mlir::BFloat16Type::get(&ctx);
  case DType::i1: return mlir::IntegerType::get(&ctx, 1);
  case DType::i32: return mlir::IntegerType::get(&ctx, 32);
  case DType::i64: return mlir::IntegerType::get(&ctx, 64);
  }
  return {};
}

std::optional<DType> fromMlirType(mlir::Type type) {
  if (type.isF32()) return DType::f32;
  if (type.isF16()) return DType::f16;
  if (type.isBF16()) return DType::bf16;
  if (type.isInteger(1)) return DType::i1;
  if (type.isInteger(32)) return DType::i32;
  if (type.isInteger(64)) return DType::i64;
  return std::nullopt;
}

} // namespace tessel
