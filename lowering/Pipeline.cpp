// The lowering pipeline and PTX emission through LLVM's NVPTX back end.
#include "lowering/Pipeline.h"

#include <cstdlib>

#include "dialect/Registration.h"
#include "dialect/TileOps.h"

#include "lowering/Passes.h"
#include "lowering/ToLLVM/AxisInfo.h"
#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVMPass.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "mlir/Transforms/Passes.h"

#include "llvm/IR/LegacyPassManager.h"

#include <thread>
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Triple.h"

#include <mutex>

extern "C" {
void LLVMInitializeNVPTXTargetInfo();
void LLVMInitializeNVPTXTarget();
void LLVMInitializeNVPTXTargetMC();
void LLVMInitializeNVPTXAsmPrinter();
}

using namespace mlir;

namespace tessel::lowering {

int64_t TargetOptions::maxSharedBytes() const {
  // Dynamic shared memory a block may opt into: 227 KB on Hopper (and
  // later), 163 KB on the A100, 99 KB on the other Ampere and Ada parts.
  llvm::StringRef a(arch);
  if (a.starts_with("sm_9") || a.starts_with("sm_10"))
    return 232448;
  if (a.starts_with("sm_80"))
    return 166912;
  return 101376;
}

bool TargetOptions::wgmmaEnabled() {
  const char *v = std::getenv("TESSEL_WGMMA");
  return !v || std::string(v) != "0";
}

bool TargetOptions::overlapDotsEnabled() {
  const char *v = std::getenv("TESSEL_OVERLAP_DOTS");
  return !v || std::string(v) != "0";
}

std::string TargetOptions::str() const {
  return arch + "_w" + std::to_string(numWarps) + "_ptx" +
         std::to_string(ptxVersion) + (useLdmatrix ? "" : "_noldmatrix") +
         (wgmma() ? (overlapDots ? "_wgmma" : "_wgmma_sync") : "");
}

/// Stage 1: canonicalization, layouts, shared memory and barriers.
static void addLayoutPasses(OpPassManager &pm, const TargetOptions &options) {
  pm.addPass(createTileLowerSmallDots());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addPass(createTileCombineDotAdd());
  TileAssignLayoutsOptions layoutOptions;
  layoutOptions.numWarps = options.numWarps;
  layoutOptions.wgmma = options.wgmma();
  pm.addPass(createTileAssignLayouts(layoutOptions));
  pm.addPass(createTileRemoveLayoutConversions());
  pm.addPass(createCSEPass());
  // Conversions of loop-invariant tiles (decay masks) run once, not per
  // iteration.
  pm.addPass(createLoopInvariantCodeMotionPass());
  pm.addPass(createTileSinkPastLoops());
  // Loads a later iteration's dots read are copied ahead (the kernel's
  // tile.num_stages), before the stagings are scheduled around them.
  pm.addPass(createTilePipelineLoads());
  pm.addPass(createTileScheduleStagings());
  // wgmma dots keep running up to their results' first use.
  if (options.overlapDots)
    pm.addPass(createTileOverlapDots());
  TileAllocateSharedOptions sharedOptions;
  sharedOptions.maxBytes = options.maxSharedBytes();
  pm.addPass(createTileAllocateShared(sharedOptions));
  pm.addPass(createTileInsertBarriers());
}

/// Stage 2: per-thread LLVM/NVVM ops, then upstream conversions to the LLVM
/// dialect.
static void addLLVMPasses(OpPassManager &pm, const TargetOptions &options) {
  TileToLLVMOptions llvmOptions;
  llvmOptions.useLdmatrix = options.useLdmatrix;
  pm.addPass(createTileToLLVM(llvmOptions));
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createTileMarkKernels());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void buildTileToLLVMPipeline(OpPassManager &pm, const TargetOptions &options) {
  addLayoutPasses(pm, options);
  addLLVMPasses(pm, options);
}

void registerTesselPassesAndPipelines() {
  registerTesselPasses();
  PassPipelineRegistration<>(
      "tessel-to-llvm", "tile IR to the LLVM dialect (sm_90a, 4 warps)",
      [](OpPassManager &pm) { buildTileToLLVMPipeline(pm, TargetOptions{}); });
}

namespace {

std::string print(Operation *op) {
  std::string s;
  llvm::raw_string_ostream os(s);
  op->print(os);
  return s;
}

/// Runs `pm` and turns diagnostics into an llvm::Error.
llvm::Error runPasses(PassManager &pm, ModuleOp module, const char *stage) {
  std::string diagnostics;
  // The context is shared by every thread (the tuner compiles on one thread
  // per device); a diagnostic raised on another thread belongs to that
  // thread's handler further down the stack.
  auto self = std::this_thread::get_id();
  ScopedDiagnosticHandler handler(module.getContext(), [&](Diagnostic &diag) {
    if (std::this_thread::get_id() != self)
      return failure();
    llvm::raw_string_ostream os(diagnostics);
    os << diag.getLocation() << ": " << diag.str() << "\n";
    return success();
  });
  if (failed(pm.run(module)))
    return llvm::createStringError(std::string(stage) + " failed:\n" +
                                   diagnostics);
  return llvm::Error::success();
}

void dump(const std::string &dir, const std::string &name,
          const std::string &stage, const std::string &text) {
  if (dir.empty())
    return;
  llvm::sys::fs::create_directories(dir);
  llvm::SmallString<256> path(dir);
  llvm::sys::path::append(path, name + "." + stage);
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  if (!ec)
    os << text;
}

/// The dialects and translations the pipeline touches, for the global
/// context to load up front (see getGlobalContext): passes would otherwise
/// load the LLVM and NVVM dialects lazily, on whichever thread compiles
/// first, racing with the others.
void registerPipelineDialects(DialectRegistry &registry) {
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerNVVMDialectTranslation(registry);
  registry.insert<cf::ControlFlowDialect>();
  // The pipeline's own declaration of what it depends on, read off a pass
  // manager built in a scratch context.
  MLIRContext scratch(registry);
  PassManager pm(&scratch, ModuleOp::getOperationName());
  buildTileToLLVMPipeline(pm, TargetOptions{});
  pm.getDependentDialects(registry);
}

[[maybe_unused]] const bool pipelineDialectsRegistered =
    (addGlobalContextExtension(registerPipelineDialects), true);

/// LLVM's NVPTX back end, once per process.
void initializeNVPTX() {
  static std::once_flag once;
  std::call_once(once, [] {
    LLVMInitializeNVPTXTargetInfo();
    LLVMInitializeNVPTXTarget();
    LLVMInitializeNVPTXTargetMC();
    LLVMInitializeNVPTXAsmPrinter();
  });
}

unsigned sharedBytesOf(ModuleOp module) {
  for (auto fn : module.getOps<func::FuncOp>())
    if (auto bytes = fn->getAttrOfType<IntegerAttr>(kSharedBytesAttr))
      return bytes.getInt();
  return 0;
}

/// The kernel's software-pipeline stages (tile.num_stages), 1 when unset.
int kernelStages(ModuleOp module) {
  for (auto fn : module.getOps<func::FuncOp>())
    if (auto s = fn->getAttrOfType<IntegerAttr>(tile::kNumStagesAttrName))
      return s.getInt();
  return 1;
}

/// Canonicalization, layouts and shared-memory allocation, in place. A
/// kernel whose pipeline rings would not fit the target's shared memory is
/// laid out again with one stage fewer (one buffer less per pipelined
/// load), down to 1: asking for stages never makes a kernel unlaunchable.
llvm::Error runLayoutStage(ModuleOp module, const TargetOptions &options) {
  auto layOut = [&](ModuleOp m) {
    PassManager pm(module.getContext(), ModuleOp::getOperationName());
    addLayoutPasses(pm, options);
    return runPasses(pm, m, "layout assignment");
  };
  // Unpipelined: nothing to retry, no copy to keep.
  if (kernelStages(module) <= 1)
    return layOut(module);
  OwningOpRef<ModuleOp> original(cast<ModuleOp>(module->clone()));
  for (int stages = kernelStages(module);; --stages) {
    OwningOpRef<ModuleOp> attempt(cast<ModuleOp>(original->clone()));
    if (stages != kernelStages(*original))
      for (auto fn : attempt->getOps<func::FuncOp>())
        fn->setAttr(tile::kNumStagesAttrName,
                    IntegerAttr::get(IntegerType::get(module.getContext(), 32),
                                     stages));
    if (auto err = layOut(*attempt))
      return err;
    if (stages > 1 && sharedBytesOf(*attempt) > options.maxSharedBytes())
      continue;
    module.getBody()->getOperations().clear();
    module.getBody()->getOperations().splice(
        module.getBody()->end(), attempt->getBody()->getOperations());
    return llvm::Error::success();
  }
}

} // namespace

OwningOpRef<ModuleOp> specializeDivisibility(ModuleOp source,
                                             ArrayRef<bool> divisible) {
  OwningOpRef<ModuleOp> module(cast<ModuleOp>(source->clone()));
  for (auto fn : module->getOps<func::FuncOp>()) {
    OpBuilder b(fn);
    for (size_t i = 0; i < divisible.size() && i < fn.getNumArguments(); ++i)
      if (divisible[i])
        fn.setArgAttr(i, kDivisibilityAttr, b.getI32IntegerAttr(16));
  }
  return module;
}

llvm::Expected<unsigned> sharedMemoryBytes(ModuleOp source,
                                           const TargetOptions &options) {
  OwningOpRef<ModuleOp> module(cast<ModuleOp>(source->clone()));
  if (auto err = runLayoutStage(*module, options))
    return std::move(err);
  return sharedBytesOf(*module);
}

llvm::Expected<CompiledKernel> compileToPTX(ModuleOp source,
                                            const TargetOptions &options,
                                            const std::string &dumpDir) {
  MLIRContext *ctx = source.getContext();
  initializeNVPTX();
  if (ctx != &getGlobalContext()) {
    // A caller's own context (tessel-opt, tests) is used from one thread.
    DialectRegistry registry;
    registerPipelineDialects(registry);
    ctx->appendDialectRegistry(registry);
  }
  OwningOpRef<ModuleOp> module(cast<ModuleOp>(source->clone()));
  CompiledKernel out;
  out.numWarps = options.numWarps;
  for (auto fn : module->getOps<func::FuncOp>())
    out.name = fn.getName().str();
  dump(dumpDir, out.name, "tile.mlir", print(*module));

  if (auto err = runLayoutStage(*module, options))
    return std::move(err);
  out.layoutIR = print(*module);
  out.sharedBytes = sharedBytesOf(*module);
  dump(dumpDir, out.name, "layouts.mlir", out.layoutIR);

  {
    PassManager pm(ctx, ModuleOp::getOperationName());
    addLLVMPasses(pm, options);
    if (auto err = runPasses(pm, *module, "lowering to LLVM"))
      return std::move(err);
  }
  out.llvmDialectIR = print(*module);
  dump(dumpDir, out.name, "llvm.mlir", out.llvmDialectIR);

  llvm::LLVMContext llvmCtx;
  auto llvmModule = translateModuleToLLVMIR(*module, llvmCtx, out.name);
  if (!llvmModule)
    return llvm::createStringError("translation to LLVM IR failed for " +
                                   out.name);
  llvm::Triple triple("nvptx64-nvidia-cuda");
  std::string error;
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return llvm::createStringError("NVPTX target unavailable: " + error);
  std::string features = "+ptx" + std::to_string(options.ptxVersion);
  std::unique_ptr<llvm::TargetMachine> tm(target->createTargetMachine(
      triple, options.arch, features, llvm::TargetOptions(), llvm::Reloc::Static,
      std::nullopt, llvm::CodeGenOptLevel::Aggressive));
  if (!tm)
    return llvm::createStringError("cannot create an NVPTX target machine for " +
                                   options.arch);
  llvmModule->setTargetTriple(triple);
  llvmModule->setDataLayout(tm->createDataLayout());

  {
    llvm::LoopAnalysisManager lam;
    llvm::FunctionAnalysisManager fam;
    llvm::CGSCCAnalysisManager cgam;
    llvm::ModuleAnalysisManager mam;
    llvm::PassBuilder pb(tm.get());
    pb.registerModuleAnalyses(mam);
    pb.registerCGSCCAnalyses(cgam);
    pb.registerFunctionAnalyses(fam);
    pb.registerLoopAnalyses(lam);
    pb.crossRegisterProxies(lam, fam, cgam, mam);
    llvm::ModulePassManager mpm =
        pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O3);
    mpm.run(*llvmModule, mam);
  }
  {
    llvm::raw_string_ostream os(out.llvmIR);
    llvmModule->print(os, nullptr);
  }
  dump(dumpDir, out.name, "ll", out.llvmIR);

  llvm::SmallString<0> ptx;
  {
    llvm::raw_svector_ostream os(ptx);
    llvm::legacy::PassManager pm;
    if (tm->addPassesToEmitFile(pm, os, nullptr,
                                llvm::CodeGenFileType::AssemblyFile))
      return llvm::createStringError("NVPTX cannot emit assembly");
    pm.run(*llvmModule);
  }
  out.ptx = std::string(ptx.str());
  dump(dumpDir, out.name, "ptx", out.ptx);
  return out;
}

} // namespace tessel::lowering
