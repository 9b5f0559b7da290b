// The tile-IR interpreter (docs/design.md §2.3): runs a kernel on host memory,
// program instance by program instance, with the semantics the GPU lowering
// must match: masked lanes read `other` and touch no memory, dot accumulates
// in (at least) fp32, values are rounded to their element type after every op
// and on store. Every access is bounds-checked against the argument buffers.
#ifndef TESSEL_RUNTIME_INTERPRETER_H
#define TESSEL_RUNTIME_INTERPRETER_H

#include "runtime/LaunchArgs.h"

#include <chrono>

namespace tessel {

struct InterpretOptions {
  /// Host threads running program instances; 0 = hardware concurrency.
  unsigned threads = 0;
  /// How long a tile.wait_flag may see its flag stay below the target
  /// before the launch fails as a deadlock.
  std::chrono::milliseconds flagTimeout{60000};
};

/// Runs `kernel` over `grid`. Errors (bad arguments, an out-of-bounds access,
/// integer division by zero) name the kernel and the source line of the op.
llvm::Error interpret(const Kernel &kernel, const Grid &grid,
                      llvm::ArrayRef<LaunchArg> args,
                      const InterpretOptions &options = {});

/// True when TESSEL_INTERPRET=1 asks for the interpreter even with a GPU.
bool interpreterRequested();

} // namespace tessel

#endif // TESSEL_RUNTIME_INTERPRETER_H
