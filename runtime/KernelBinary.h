// A compiled kernel image as the runtime passes it around: cubin bytes from
// ptxas, or PTX text for the driver's JIT when no ptxas is present. Shared by
// the module loader and the kernel cache so neither depends on the other.
#ifndef TESSEL_RUNTIME_KERNELBINARY_H
#define TESSEL_RUNTIME_KERNELBINARY_H

#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <string>

namespace tessel {

/// What a KernelBinary's bytes are. The values are stored in cache entries on
/// disk, so they never change.
enum class BinaryKind : uint32_t { Cubin = 1, Ptx = 2 };

/// "cubin" or "ptx".
inline const char *binaryKindName(BinaryKind kind) {
  return kind == BinaryKind::Cubin ? "cubin" : "ptx";
}

/// One compiled kernel image.
struct KernelBinary {
  BinaryKind kind = BinaryKind::Cubin;
  /// The ELF image (cubin) or the PTX text, without a trailing NUL.
  std::string bytes;

  static KernelBinary cubin(std::string bytes) {
    return {BinaryKind::Cubin, std::move(bytes)};
  }
  static KernelBinary ptx(std::string text) {
    return {BinaryKind::Ptx, std::move(text)};
  }
  bool operator==(const KernelBinary &) const = default;
};

} // namespace tessel

#endif // TESSEL_RUNTIME_KERNELBINARY_H
