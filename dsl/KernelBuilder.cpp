// KernelBuilder: argument creation, structured control flow, error collection
// and final verification of a DSL kernel.
#include "dsl/KernelBuilder.h"

#include <atomic>

#include "dialect/Registration.h"
#include "dialect/TileOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

namespace tessel {

func::FuncOp Kernel::func() const {
  for (auto fn : module_.get().getOps<func::FuncOp>())
    return fn;
  return {};
}

uint64_t Kernel::nextId() {
  static std::atomic<uint64_t> counter{0};
  return ++counter;
}

std::string Kernel::ir() const {
  std::string text;
  llvm::raw_string_ostream os(text);
  module_.get()->print(os);
  return text;
}

} // namespace tessel

namespace tessel::dsl {

static thread_local KernelBuilder *currentBuilder = nullptr;

static std::string formatLoc(Loc loc) {
  return std::string(loc.file_name()) + ":" + std::to_string(loc.line()) +
         ":" + std::to_string(loc.column());
}

KernelBuilder::KernelBuilder(std::string name, Loc loc)
    : name_(std::move(name)), builder_(&getGlobalContext()),
      previous_(currentBuilder) {
  currentBuilder = this;
  auto mlirLoc = location(loc);
  module_ = ModuleOp::create(mlirLoc);
  builder_.setInsertionPointToEnd(module_->getBody());
  func_ = func::FuncOp::create(builder_, mlirLoc, name_,
                               builder_.getFunctionType({}, {}));
  func_->setAttr(tile::kKernelAttrName, builder_.getUnitAttr());
  Block *entry = func_.addEntryBlock();
  builder_.setInsertionPointToEnd(entry);
}

KernelBuilder::~KernelBuilder() {
  if (currentBuilder == this)
    currentBuilder = previous_;
}

MLIRContext &KernelBuilder::context() { return *builder_.getContext(); }

Location KernelBuilder::location(Loc loc) {
  return FileLineColLoc::get(builder_.getStringAttr(loc.file_name()),
                             loc.line(), loc.column());
}

KernelBuilder &KernelBuilder::current(Loc loc) {
  if (!currentBuilder) {
    // Building IR needs a kernel to build into; this is a programming error in
    // the caller, reported with its line before stopping.
    llvm::errs() << formatLoc(loc)
                 << ": error: tile op used outside of a KernelBuilder\n";
    std::abort();
  }
  return *currentBuilder;
}

bool KernelBuilder::hasCurrent() { return currentBuilder != nullptr; }

Tile KernelBuilder::error(Loc loc, const std::string &message) {
  errors_.push_back(formatLoc(loc) + ": error: " + message + " (in kernel '" +
                    name_ + "')");
  return Tile();
}

Tile KernelBuilder::addArg(const std::string &name, Type type, KernelArg arg,
                           Loc loc) {
  if (finished_)
    return error(loc, "argument '" + name + "' added after finish()");
  for (const KernelArg &existing : args_)
    if (existing.name == name)
      return error(loc, "duplicate argument name '" + name + "'");
  Block &entry = func_.getBody().front();
  if (builder_.getInsertionBlock() != &entry)
    return error(loc, "argument '" + name +
                          "' must be declared at the top level of the kernel");
  args_.push_back(std::move(arg));
  return Tile(entry.addArgument(type, location(loc)));
}

Tile KernelBuilder::ptrArg(const std::string &name, DType elem, Loc loc) {
  return addArg(name, tile::PtrType::get(&context(), toMlirType(elem, context())),
                {name, KernelArg::Kind::Pointer, elem}, loc);
}

Tile KernelBuilder::scalarArg(const std::string &name, DType type, Loc loc) {
  if (type != DType::i32 && type != DType::i64 && type != DType::f32)
    return error(loc, std::string("scalar argument '") + name +
                          "' must be i32, i64 or f32, got " + dtypeName(type));
  return addArg(name, toMlirType(type, context()),
                {name, KernelArg::Kind::Scalar, type}, loc);
}

/// Brings a loop bound to an i32 scalar.
static Tile toI32Bound(KernelBuilder &kb, const Operand &op, const char *what) {
  if (op.literal) {
    if (!op.isIntLiteral)
      return kb.error(op.loc, std::string("loop ") + what +
                                  " must be an integer");
    return scalar(*op.literal, DType::i32, op.loc);
  }
  if (!op.tile.valid())
    return Tile();
  if (!op.tile.isScalar() || !op.tile.dtype() ||
      (*op.tile.dtype() != DType::i32 && *op.tile.dtype() != DType::i64))
    return kb.error(op.loc, std::string("loop ") + what +
                                " must be an i32 or i64 scalar");
  return op.tile.to(DType::i32, op.loc);
}

std::vector<Tile> KernelBuilder::forRange(Operand lo, Operand hi, Operand step,
                                          std::vector<Tile> inits,
                                          const LoopBody &body, Loc loc) {
  Tile l = toI32Bound(*this, lo, "lower bound");
  Tile h = toI32Bound(*this, hi, "upper bound");
  Tile s = toI32Bound(*this, step, "step");
  bool ok = l.valid() && h.valid() && s.valid();
  SmallVector<Value> initValues;
  for (const Tile &t : inits) {
    ok = ok && t.valid();
    initValues.push_back(t.value());
  }
  if (!ok)
    return std::vector<Tile>(inits.size());

  auto forOp = scf::ForOp::create(builder_, location(loc), l.value(), h.value(),
                                  s.value(), initValues);
  OpBuilder::InsertionGuard guard(builder_);
  Block *bodyBlock = forOp.getBody();
  // Without carried values the builder adds an empty yield; the body's own
  // comes last instead.
  if (!bodyBlock->empty() && isa<scf::YieldOp>(bodyBlock->back()))
    bodyBlock->back().erase();
  builder_.setInsertionPointToEnd(bodyBlock);
  std::vector<Tile> carried;
  for (Value arg : forOp.getRegionIterArgs())
    carried.emplace_back(arg);
  std::vector<Tile> yields =
      body(Tile(forOp.getInductionVar()), std::vector<Tile>(carried));

  // A well-formed yield is emitted even after an error so the module stays
  // printable; the error itself has been recorded.
  SmallVector<Value> yieldValues;
  if (yields.size() != carried.size()) {
    error(loc, "loop body returned " + std::to_string(yields.size()) +
                   " values for " + std::to_string(carried.size()) +
                   " carried values");
    yields = carried;
  }
  for (size_t i = 0; i < yields.size(); ++i) {
    Tile y = yields[i];
    if (y.valid() && y.type() != carried[i].type()) {
      std::string want, got;
      llvm::raw_string_ostream(want) << carried[i].type();
      llvm::raw_string_ostream(got) << y.type();
      error(loc, "loop-carried value " + std::to_string(i) + " enters as " +
                     want + " but the body returns " + got);
      y = Tile();
    }
    yieldValues.push_back(y.valid() ? y.value() : carried[i].value());
  }
  scf::YieldOp::create(builder_, location(loc), yieldValues);

  std::vector<Tile> results;
  for (Value r : forOp.getResults())
    results.emplace_back(r);
  return results;
}

void KernelBuilder::ifThen(const Tile &cond, const std::function<void()> &body,
                           Loc loc) {
  if (!cond.valid())
    return;
  if (!cond.isScalar() || cond.dtype() != DType::i1) {
    error(loc, "ifThen condition must be an i1 scalar (a comparison)");
    return;
  }
  auto ifOp = scf::IfOp::create(builder_, location(loc), cond.value(),
                                /*withElseRegion=*/false);
  OpBuilder::InsertionGuard guard(builder_);
  builder_.setInsertionPoint(ifOp.thenBlock()->getTerminator());
  body();
}

void KernelBuilder::setNumStages(int stages, Loc loc) {
  if (stages < 1 || stages > 8) {
    error(loc, "setNumStages: stages must be in [1, 8], got " +
                   std::to_string(stages));
    return;
  }
  func_->setAttr(tile::kNumStagesAttrName, builder_.getI32IntegerAttr(stages));
}

llvm::Expected<Kernel> KernelBuilder::finish() {
  if (finished_)
    return llvm::createStringError("kernel '" + name_ +
                                   "' was already finished");
  finished_ = true;
  if (currentBuilder == this)
    currentBuilder = previous_;
  builder_.setInsertionPointToEnd(&func_.getBody().front());
  func::ReturnOp::create(builder_, func_.getLoc());
  SmallVector<Type> argTypes(func_.getBody().front().getArgumentTypes());
  func_.setType(builder_.getFunctionType(argTypes, {}));

  if (errors_.empty()) {
    // Anything the DSL's own checks let through is caught by the verifiers,
    // reported at the op's (the author's) location.
    ScopedDiagnosticHandler handler(&context(), [&](Diagnostic &diag) {
      std::string text;
      llvm::raw_string_ostream os(text);
      os << diag.getLocation() << ": error: " << diag.str();
      errors_.push_back(text);
      return success();
    });
    (void)verify(*module_);
  }
  if (!errors_.empty()) {
    std::string all;
    for (const std::string &e : errors_)
      all += (all.empty() ? "" : "\n") + e;
    return llvm::createStringError(all);
  }
  return Kernel(name_, std::move(args_), std::move(module_));
}

} // namespace tessel::dsl
