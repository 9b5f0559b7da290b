// libFuzzer target (issue 15): arbitrary text parsed as tile IR. A module
// that parses and verifies goes through the whole lowering pipeline to PTX,
// for sm_90a (wgmma) and sm_80 (mma.sync), in the warp count its first byte
// picks. Every diagnostic is an acceptable outcome — bad input must get a
// clear error — while a crash, a sanitizer report, a hang or unbounded
// memory is a bug; each one found becomes a lit test beside the pass it hit.
// Built by scripts/fuzz.sh (clang, -fsanitize=fuzzer; the libraries with
// fuzzer-no-link, address and undefined), never by the default build.
#include "dialect/Registration.h"
#include "lowering/Pipeline.h"

#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace {

const mlir::DialectRegistry &registry() {
  static const mlir::DialectRegistry r = [] {
    mlir::DialectRegistry reg;
    tessel::registerTesselDialects(reg);
    reg.insert<mlir::LLVM::LLVMDialect, mlir::NVVM::NVVMDialect,
               mlir::cf::ControlFlowDialect>();
    return reg;
  }();
  return r;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // One context per input: nothing one input uniques or loads reaches the
  // next, so a crash replays from its input alone.
  mlir::MLIRContext ctx(registry(), mlir::MLIRContext::Threading::DISABLED);
  ctx.loadAllAvailableDialects();
  mlir::ScopedDiagnosticHandler quiet(
      &ctx, [](mlir::Diagnostic &) { return mlir::success(); });
  // MLIR's lexer reads up to a terminating NUL, which libFuzzer's bytes do
  // not have (the first CI run read past them in the op-name lexer): the
  // input goes through a std::string, whose data() is NUL-terminated.
  const std::string text(reinterpret_cast<const char *>(data), size);
  auto module = mlir::parseSourceString<mlir::ModuleOp>(text, &ctx);
  if (!module || mlir::failed(mlir::verify(*module)))
    return 0;
  unsigned warps = size ? 1u << (data[0] % 4) : 4; // 1, 2, 4 or 8
  for (const char *arch : {"sm_90a", "sm_80"}) {
    tessel::lowering::TargetOptions target;
    target.arch = arch;
    target.numWarps = warps;
    auto compiled = tessel::lowering::compileToPTX(*module, target);
    if (!compiled)
      llvm::consumeError(compiled.takeError());
  }
  return 0;
}
