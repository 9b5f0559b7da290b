// Backend dispatch. Without the GPU back end every launch is interpreted.
#include "runtime/Launch.h"

#include "runtime/Interpreter.h"

namespace tessel {

const char *resolvedBackendName(Backend) { return "interpreter"; }

llvm::Error launch(const Kernel &kernel, const Grid &grid,
                   llvm::ArrayRef<LaunchArg> args, Backend) {
  return interpret(kernel, grid, args);
}

} // namespace tessel
