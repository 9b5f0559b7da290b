// Signature checks shared by every launcher.
#include "runtime/LaunchArgs.h"

#include <string>

namespace tessel {

llvm::Error checkLaunchArgs(const Kernel &kernel, llvm::ArrayRef<LaunchArg> args,
                            const Grid &grid) {
  const auto &formal = kernel.args();
  if (grid.x < 1 || grid.y < 1 || grid.z < 1)
    return llvm::createStringError(
        "kernel '" + kernel.name() + "': grid (" + std::to_string(grid.x) +
        ", " + std::to_string(grid.y) + ", " + std::to_string(grid.z) +
        ") has an empty dimension");
  if (args.size() != formal.size())
    return llvm::createStringError(
        "kernel '" + kernel.name() + "' takes " +
        std::to_string(formal.size()) + " arguments, got " +
        std::to_string(args.size()));
  for (size_t i = 0; i < args.size(); ++i) {
    const KernelArg &f = formal[i];
    const LaunchArg &a = args[i];
    std::string where = "kernel '" + kernel.name() + "' argument " +
                        std::to_string(i) + " ('" + f.name + "')";
    if (a.kind != f.kind)
      return llvm::createStringError(
          where + ": expected a " +
          (f.kind == KernelArg::Kind::Pointer ? "pointer" : "scalar") +
          ", got a " +
          (a.kind == KernelArg::Kind::Pointer ? "pointer" : "scalar"));
    if (a.dtype != f.dtype)
      return llvm::createStringError(where + ": expected dtype " +
                                     dtypeName(f.dtype) + ", got " +
                                     dtypeName(a.dtype));
    if (a.kind == KernelArg::Kind::Pointer && !a.pointer)
      return llvm::createStringError(where + ": null pointer");
  }
  return llvm::Error::success();
}

} // namespace tessel
