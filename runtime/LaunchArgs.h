// The actual arguments of one kernel launch and the launch grid, shared by
// the interpreter and (later) the GPU launcher.
#ifndef TESSEL_RUNTIME_LAUNCHARGS_H
#define TESSEL_RUNTIME_LAUNCHARGS_H

#include "dialect/DType.h"
#include "dsl/Kernel.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>

namespace tessel {

struct Grid {
  int64_t x = 1, y = 1, z = 1;
  int64_t size() const { return x * y * z; }
};

/// One actual argument: a buffer (address and extent, so the interpreter can
/// bounds-check every access) or a scalar.
struct LaunchArg {
  KernelArg::Kind kind = KernelArg::Kind::Scalar;
  DType dtype = DType::i32;
  void *pointer = nullptr;
  size_t bytes = 0;
  /// The pointer is a device address (CUdeviceptr), not host memory.
  bool onDevice = false;
  int64_t intValue = 0;
  double floatValue = 0;

  static LaunchArg buffer(void *ptr, size_t bytes, DType elem) {
    LaunchArg a;
    a.kind = KernelArg::Kind::Pointer;
    a.dtype = elem;
    a.pointer = ptr;
    a.bytes = bytes;
    return a;
  }
  static LaunchArg deviceBuffer(uint64_t address, size_t bytes, DType elem) {
    LaunchArg a = buffer(reinterpret_cast<void *>(address), bytes, elem);
    a.onDevice = true;
    return a;
  }
  static LaunchArg i32(int32_t v) { return scalarInt(v, DType::i32); }
  static LaunchArg i64(int64_t v) { return scalarInt(v, DType::i64); }
  static LaunchArg f32(float v) {
    LaunchArg a;
    a.dtype = DType::f32;
    a.floatValue = v;
    return a;
  }

private:
  static LaunchArg scalarInt(int64_t v, DType t) {
    LaunchArg a;
    a.dtype = t;
    a.intValue = v;
    return a;
  }
};

/// Checks `args` against the kernel's signature: count, kinds and dtypes.
llvm::Error checkLaunchArgs(const Kernel &kernel, llvm::ArrayRef<LaunchArg> args,
                            const Grid &grid);

} // namespace tessel

#endif // TESSEL_RUNTIME_LAUNCHARGS_H
