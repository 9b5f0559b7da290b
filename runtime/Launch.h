// One entry point that runs a kernel on the chosen backend: the GPU back end
// or the interpreter.
#ifndef TESSEL_RUNTIME_LAUNCH_H
#define TESSEL_RUNTIME_LAUNCH_H

#include "runtime/LaunchArgs.h"

namespace tessel {

enum class Backend {
  /// The GPU when one is usable and TESSEL_INTERPRET is unset, otherwise the
  /// interpreter.
  Auto,
  Interpreter,
  /// The GPU; an error when none is usable.
  Gpu,
};

/// Whether `backend` runs on the GPU on this machine (`Auto` resolved).
bool usesGpu(Backend backend);

/// The backend `Auto` resolves to on this machine, as a word for messages.
const char *resolvedBackendName(Backend backend);

/// Runs `kernel` over `grid` with `args` (all host buffers for the
/// interpreter) and `numWarps` warps per program on GPU `device`, queued on
/// `stream` there (a CUstream; null: the legacy default stream).
llvm::Error launch(const Kernel &kernel, const Grid &grid,
                   llvm::ArrayRef<LaunchArg> args, Backend backend,
                   unsigned numWarps = 4, int device = 0,
                   void *stream = nullptr);

} // namespace tessel

#endif // TESSEL_RUNTIME_LAUNCH_H
