// tile-pipeline-loads: software pipelining of the loads that feed dots
// (through any pure ops: a simple GLA's gate vector reaches the dots as the
// decays made from its running sum), and of loads marked tile.pipeline (an
// anti-causal sweep's read of the output it adds to: its tile comes from
// the ring into registers).
//
// A chunk loop (Lightning's sweep) loads its q, k, v tiles at the top of
// each iteration and waits for them right away: every iteration pays the
// DRAM latency. With S stages the tiles of iteration i + S − 1 are copied
// (cp.async, no registers) into a ring of S shared-memory buffers while
// iteration i computes (n pipelined loads, one commit group each):
//
//   prologue:  a_j = async_load(ptrs(lb + j·step), slot j)      j < S − 1
//   body(i):   cur = async_wait(a_0) {pending = (S − 2)·n}  (then a barrier)
//              a'  = async_load(ptrs(i + (S−1)·step), slot (k + S − 1) % S)
//              ... the dots read cur; yield a_1 .. a_{S−2}, a'
//
// The buffer iteration i writes is the one iteration i − 1 read; the
// barrier of iteration i's wait orders those reads before the writes. The
// pointers and mask of a later iteration are the same pure ops cloned with
// the induction variable advanced; loads past the upper bound are masked
// off (their buffers are zero-filled, never read).
#include "lowering/Passes.h"

#include "dialect/TileOps.h"
#include "lowering/SharedMemory.h"
#include "lowering/ToLLVM/AxisInfo.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/SmallPtrSet.h"

namespace tessel::lowering {
#define GEN_PASS_DEF_TILEPIPELINELOADS
#include "lowering/Passes.h.inc"
} // namespace tessel::lowering

using namespace mlir;
using namespace tessel;
using namespace tessel::lowering;

namespace {

int stagesFor(scf::ForOp loop, int fallback) {
  if (auto a = loop->getAttrOfType<IntegerAttr>(tile::kNumStagesAttrName))
    return a.getInt();
  if (auto fn = loop->getParentOfType<func::FuncOp>())
    if (auto a = fn->getAttrOfType<IntegerAttr>(tile::kNumStagesAttrName))
      return a.getInt();
  return fallback;
}

/// Whether `load`'s tile reaches a dot in its block through pure ops
/// (a staging conversion, a scaling by a decay, a dtype conversion): a
/// tile the tensor cores read goes to shared memory anyway.
bool feedsDot(tile::LoadOp load) {
  SmallVector<Operation *> worklist{load};
  llvm::SmallPtrSet<Operation *, 16> seen;
  while (!worklist.empty()) {
    Operation *op = worklist.pop_back_val();
    for (Operation *user : op->getUsers()) {
      if (user->getBlock() != load->getBlock() || !seen.insert(user).second)
        continue;
      if (isa<tile::DotOp>(user))
        return true;
      if (!user->getNumRegions() && isMemoryEffectFree(user))
        worklist.push_back(user);
    }
  }
  return false;
}

/// Whether masked-off elements of `load` read 0, as a cp.async that copies
/// no source bytes leaves them (no `other`, or a zero constant: a gate
/// vector's tail, which must add nothing to its running sum).
bool zeroFilled(tile::LoadOp load) {
  Value other = load.getOther();
  return !other || matchPattern(other, m_AnyZeroFloat()) ||
         matchPattern(other, m_Zero());
}

/// The ops of `loop`'s body that `roots` are computed from, in block order:
/// pure, region-free, reading no loop-carried value but the induction
/// variable. Fails when one is not.
FailureOr<SmallVector<Operation *>> addressSlice(scf::ForOp loop,
                                                 ArrayRef<Value> roots) {
  Block *body = loop.getBody();
  llvm::SetVector<Operation *> slice;
  SmallVector<Value> worklist(roots.begin(), roots.end());
  while (!worklist.empty()) {
    Value v = worklist.pop_back_val();
    if (auto arg = dyn_cast<BlockArgument>(v)) {
      if (arg.getOwner() == body && arg != loop.getInductionVar())
        return failure();
      continue;
    }
    Operation *def = v.getDefiningOp();
    if (def->getBlock() != body || slice.contains(def))
      continue;
    if (def->getNumRegions() || !isMemoryEffectFree(def))
      return failure();
    slice.insert(def);
    for (Value operand : def->getOperands())
      worklist.push_back(operand);
  }
  SmallVector<Operation *> ordered(slice.begin(), slice.end());
  llvm::sort(ordered,
             [](Operation *a, Operation *b) { return a->isBeforeInBlock(b); });
  return ordered;
}

/// Whether a dot lowered with wgmma reads `load`'s tile straight from its
/// buffer (a convert_layout into its operand layout): the buffer then takes
/// wgmma's swizzled layout, where the dot's descriptors can address it.
bool stagedForWgmma(tile::LoadOp load) {
  auto type = cast<RankedTensorType>(load.getType());
  return swizzleFits(type) &&
         llvm::any_of(load->getUsers(), [](Operation *user) {
           auto cvt = dyn_cast<tile::ConvertLayoutOp>(user);
           return cvt && isWgmmaOperandLayout(cvt.getType().getEncoding());
         });
}

struct Candidate {
  tile::LoadOp load;
  SmallVector<Operation *> slice;
  bool swizzled = false;
};

class LoopPipeliner {
public:
  LoopPipeliner(scf::ForOp loop, int stages)
      : loop_(loop), stages_(stages), b_(loop) {}

  void run() {
    SmallVector<Candidate> candidates;
    AxisInfoAnalysis info(loop_->getParentOfType<ModuleOp>());
    for (auto load : loop_.getBody()->getOps<tile::LoadOp>()) {
      if (!zeroFilled(load) || !isa<RankedTensorType>(load.getType()) ||
          !(feedsDot(load) || load->hasAttr(tile::kPipelineAttrName)))
        continue;
      // cp.async moves words of 4, 8 or 16 bytes.
      Type elem = getElementTypeOrSelf(load.getType());
      if (accessWidth(info, load.getPtr(), load.getMask()) *
              tile::getElementByteSize(elem) < 4)
        continue;
      SmallVector<Value> roots{load.getPtr()};
      if (load.getMask())
        roots.push_back(load.getMask());
      auto slice = addressSlice(loop_, roots);
      if (failed(slice))
        continue;
      candidates.push_back({load, *slice, stagedForWgmma(load)});
    }
    if (candidates.empty())
      return;

    // Prologue: iterations 0 .. S-2.
    Location loc = loop_.getLoc();
    b_.setInsertionPoint(loop_);
    iv_ = loop_.getInductionVar();
    // Iteration by iteration: the commit groups complete in issue order,
    // and a wait that lets (S−2)·n groups stay in flight must find the
    // groups of the iteration it waits for all older than those.
    int inFlight = stages_ - 1;
    SmallVector<Value> inits(candidates.size() * inFlight);
    for (int j = 0; j < inFlight; ++j)
      for (size_t c = 0; c < candidates.size(); ++c)
        inits[c * inFlight + j] = issue(
            candidates[c], ivAt(loop_.getLowerBound(), j), i32(j));

    IRRewriter rewriter(loop_.getContext());
    SmallVector<Value> waited;
    auto yields = [&](OpBuilder &, Location,
                      ArrayRef<BlockArgument> args) -> SmallVector<Value> {
      // Called before the body moves into the new loop: build in the old
      // body, whose induction variable the move replaces.
      b_.setInsertionPointToStart(loop_.getBody());
      SmallVector<Value> current;
      for (size_t c = 0; c < candidates.size(); ++c)
        current.push_back(args[c * inFlight]);
      auto wait = tile::AsyncWaitOp::create(
          b_, loc, TypeRange(ValueRange(current)), current,
          b_.getI32IntegerAttr((stages_ - 2) * candidates.size()));
      waited.assign(wait.getResults().begin(), wait.getResults().end());
      // The tiles of iteration i + S - 1 into the buffer i - 1 read.
      Value ahead = ivAt(iv_, stages_ - 1);
      Value slot = slotOf(iv_, stages_ - 1);
      SmallVector<Value> next;
      for (Candidate &c : candidates)
        next.push_back(issue(c, ahead, slot));
      SmallVector<Value> out;
      for (size_t c = 0; c < candidates.size(); ++c) {
        for (int j = 1; j < inFlight; ++j)
          out.push_back(args[c * inFlight + j]);
        out.push_back(next[c]);
      }
      return out;
    };
    auto replaced = cast<LoopLikeOpInterface>(loop_.getOperation())
                        .replaceWithAdditionalYields(rewriter, inits, false,
                                                     yields);
    if (failed(replaced))
      return;
    auto newLoop = cast<scf::ForOp>(replaced->getOperation());

    // The loop's users read the waited buffers: conversions straight from
    // the ring, register users through one read of it right after the
    // wait. A tile.pipeline load's tile (no dot reads it: an output added
    // to) is read where it is used — in the layout of its use when that is
    // a widening and a layout change, else before its first user (the
    // buffer holds until the next iteration's wait) — so that its
    // registers are not live across the dots before it.
    for (auto [c, buffer] : llvm::zip_equal(candidates, waited)) {
      tile::LoadOp load = c.load;
      const bool late = load->hasAttr(tile::kPipelineAttrName);
      if (late && readInUseLayout(load, buffer))
        continue;
      // The first register user, as the op of the loop body it is in (a
      // user may sit in a nested region).
      Operation *first = nullptr;
      for (Operation *user : load->getUsers()) {
        if (isa<tile::ConvertLayoutOp>(user))
          continue;
        Operation *inBody = load->getBlock()->findAncestorOpInBlock(*user);
        if (!first || inBody->isBeforeInBlock(first))
          first = inBody;
      }
      Value inRegisters;
      if (first) {
        if (late)
          b_.setInsertionPoint(first);
        else
          b_.setInsertionPointAfter(buffer.getDefiningOp());
        inRegisters = tile::ConvertLayoutOp::create(b_, load.getLoc(),
                                                    load.getType(), buffer);
      }
      for (OpOperand &use : llvm::make_early_inc_range(load->getUses())) {
        if (auto cvt = dyn_cast<tile::ConvertLayoutOp>(use.getOwner()))
          cvt.getSrcMutable().assign(buffer);
        else
          use.set(inRegisters);
      }
      load->erase();
    }
    eraseDeadCode(newLoop.getBody());

    // Copies still in flight after the last iteration (masked off) finish
    // before anything after the loop.
    b_.setInsertionPointAfter(newLoop);
    tile::AsyncWaitOp::create(b_, loc, TypeRange{}, ValueRange{},
                              b_.getI32IntegerAttr(0));
  }

private:
  Value i32(int64_t v) {
    return arith::ConstantOp::create(
        b_, loop_.getLoc(),
        b_.getIntegerAttr(loop_.getStep().getType(), v));
  }

  /// base + j·step.
  Value ivAt(Value base, int64_t j) {
    if (j == 0)
      return base;
    Location loc = loop_.getLoc();
    Value offset = arith::MulIOp::create(b_, loc, loop_.getStep(), i32(j));
    return arith::AddIOp::create(b_, loc, base, offset);
  }

  /// The ring slot of iteration ((iv − lb) / step + j).
  Value slotOf(Value iv, int64_t j) {
    Location loc = loop_.getLoc();
    Value k = iv;
    if (!matchPattern(loop_.getLowerBound(), m_Zero()))
      k = arith::SubIOp::create(b_, loc, k, loop_.getLowerBound());
    if (!matchPattern(loop_.getStep(), m_One()))
      k = arith::DivSIOp::create(b_, loc, k, loop_.getStep());
    k = arith::AddIOp::create(b_, loc, k, i32(j));
    return arith::RemSIOp::create(b_, loc, k, i32(stages_));
  }

  /// The async copy of `c`'s tile for the iteration whose induction
  /// variable is `iv`, into `slot`; off when `iv` is past the upper bound.
  Value issue(Candidate &c, Value iv, Value slot) {
    Location loc = c.load.getLoc();
    IRMapping map;
    map.map(iv_, iv);
    for (Operation *op : c.slice)
      b_.clone(*op, map);
    Value ptr = map.lookupOrDefault(c.load.getPtr());
    auto ptrType = cast<RankedTensorType>(ptr.getType());
    Value inRange = arith::CmpIOp::create(
        b_, loc,
        loop_.getUnsignedCmp() ? arith::CmpIPredicate::ult
                               : arith::CmpIPredicate::slt,
        iv, loop_.getUpperBound());
    auto maskType = RankedTensorType::get(ptrType.getShape(), b_.getI1Type(),
                                          ptrType.getEncoding());
    Value mask = tile::SplatOp::create(b_, loc, maskType, inRange);
    if (Value m = c.load.getMask())
      mask = arith::AndIOp::create(b_, loc, map.lookupOrDefault(m), mask);
    auto loaded = cast<RankedTensorType>(c.load.getType());
    auto sharedType =
        RankedTensorType::get(loaded.getShape(), loaded.getElementType(),
                              tile::SharedAttr::get(b_.getContext(), c.swizzled));
    return tile::AsyncLoadOp::create(b_, loc, sharedType, ptr, mask, slot,
                                     b_.getI32IntegerAttr(stages_));
  }

  /// A tile used only as `convert_layout(convert(load))` — 16-bit data
  /// widened, then moved into another layout (an output added to an
  /// accumulator) — is read from the ring in that final layout and widened
  /// there: one read of shared memory instead of a read and a staging.
  bool readInUseLayout(tile::LoadOp load, Value buffer) {
    if (!load->hasOneUse())
      return false;
    auto widen = dyn_cast<tile::ConvertOp>(*load->getUsers().begin());
    if (!widen || !widen->hasOneUse() ||
        widen->getBlock() != load->getBlock())
      return false;
    auto move = dyn_cast<tile::ConvertLayoutOp>(*widen->getUsers().begin());
    if (!move || isa<tile::SharedAttr>(move.getType().getEncoding()))
      return false;
    Attribute layout = move.getType().getEncoding();
    auto loaded = cast<RankedTensorType>(load.getType());
    b_.setInsertionPoint(widen);
    Value read = tile::ConvertLayoutOp::create(
        b_, load.getLoc(),
        RankedTensorType::get(loaded.getShape(), loaded.getElementType(),
                              layout),
        buffer);
    Value wide = tile::ConvertOp::create(b_, widen.getLoc(), move.getType(),
                                         read);
    move.getResult().replaceAllUsesWith(wide);
    move->erase();
    widen->erase();
    load->erase();
    return true;
  }

  static void eraseDeadCode(Block *body) {
    bool changed = true;
    while (changed) {
      changed = false;
      for (Operation &op : llvm::make_early_inc_range(llvm::reverse(*body)))
        if (isOpTriviallyDead(&op)) {
          op.erase();
          changed = true;
        }
    }
  }

  scf::ForOp loop_;
  /// The induction variable the address slices read.
  Value iv_;
  int stages_;
  OpBuilder b_;
};

struct TilePipelineLoads
    : tessel::lowering::impl::TilePipelineLoadsBase<TilePipelineLoads> {
  using TilePipelineLoadsBase::TilePipelineLoadsBase;
  void runOnOperation() override {
    SmallVector<scf::ForOp> loops;
    getOperation().walk([&](scf::ForOp loop) { loops.push_back(loop); });
    for (scf::ForOp loop : loops) {
      int s = stagesFor(loop, stages);
      if (s >= 2)
        LoopPipeliner(loop, s).run();
    }
  }
};

} // namespace
