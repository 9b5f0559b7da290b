// tile-schedule-stagings: moves every conversion that stages a dot operand
// in shared memory (SharedMemory.h, readsFragmentsAtUse) — with the pure
// producers that only feed it — up its block, to right after the last op
// that defines what it needs. The stagings of one loop iteration then sit
// together, so tile-insert-barriers can let one barrier after the last of
// them publish all (instead of one per staged operand), and the dots that
// read them find their operands ready; each dot then moves up next to what
// it needs, never above the dot before it: dots keep the author's order,
// each as early as its operands allow (so a wgmma issued early can run under
// what follows, tile-overlap-dots, and an accumulator is not made live
// before the values it waits on). Allocation runs after this, on the new
// order.
#include "lowering/Passes.h"

#include "lowering/SharedMemory.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/SetVector.h"

namespace tessel::lowering {
#define GEN_PASS_DEF_TILESCHEDULESTAGINGS
#include "lowering/Passes.h.inc"
} // namespace tessel::lowering

using namespace mlir;
using namespace tessel::tile;
using namespace tessel::lowering;

namespace {

/// `stager` and the pure, region-free producers in its block whose results
/// only feed the group: they move together.
llvm::SetVector<Operation *> movableGroup(Operation *stager) {
  llvm::SetVector<Operation *> group;
  group.insert(stager);
  SmallVector<Operation *> worklist{stager};
  while (!worklist.empty()) {
    Operation *op = worklist.pop_back_val();
    for (Value operand : op->getOperands()) {
      Operation *def = operand.getDefiningOp();
      if (!def || def->getBlock() != stager->getBlock() || group.contains(def) ||
          def->getNumRegions() || !isMemoryEffectFree(def) ||
          scratchBytes(def) > 0)
        continue;
      if (!llvm::all_of(def->getUsers(),
                        [&](Operation *u) { return group.contains(u); }))
        continue;
      group.insert(def);
      worklist.push_back(def);
    }
  }
  return group;
}

/// Moves `root` and its movable producers up to right after the latest op
/// of the block, above it, that they depend on, or `floor` if that comes
/// later (or to the top).
void hoistWithProducers(Operation *root, Operation *floor = nullptr) {
  Block &block = *root->getBlock();
  llvm::SetVector<Operation *> group = movableGroup(root);
  Operation *after = nullptr;
  for (Operation *op = root->getPrevNode(); op && !after;
       op = op->getPrevNode()) {
    if (op == floor) {
      after = op;
      break;
    }
    if (group.contains(op))
      continue;
    for (Value r : op->getResults())
      for (Operation *u : r.getUsers())
        if (group.contains(u))
          after = op;
  }
  // Program order within the group is kept.
  SmallVector<Operation *> ordered(group.begin(), group.end());
  llvm::sort(ordered,
             [](Operation *a, Operation *b) { return a->isBeforeInBlock(b); });
  for (Operation *op : ordered) {
    if (after)
      op->moveAfter(after);
    else
      op->moveBefore(&block, block.begin());
    after = op;
  }
}

/// Stagings first, in block order: each may pass the ones before it (their
/// order does not matter, only that none is held back behind a dot that
/// another one feeds).
void schedule(Block &block) {
  SmallVector<Operation *> stagers;
  for (Operation &op : block)
    if (auto c = dyn_cast<ConvertLayoutOp>(op); c && readsFragmentsAtUse(c))
      stagers.push_back(c);
  for (Operation *stager : stagers)
    hoistWithProducers(stager);
}

/// Moves each dot after the stagings up to right after the last op it
/// depends on, but not above a staging or the dot before it. Program order
/// among the dots keeps the register pressure of the author's order: each
/// moved to the top (state update, Q·S, then QKᵀ), the one-warpgroup wgmma
/// forward held Q·S's accumulator under QKᵀ and spilled 56 bytes; in
/// program order, 4 (0 with the kernel's own fixes).
void hoistDots(Block &block) {
  SmallVector<Operation *> dots;
  Operation *lastStaging = nullptr;
  for (Operation &op : block) {
    if (isa<DotOp>(op))
      dots.push_back(&op);
    if (auto c = dyn_cast<ConvertLayoutOp>(op); c && readsFragmentsAtUse(c))
      lastStaging = &op;
  }
  // Never above a staging: one barrier after the last staging publishes
  // them all.
  Operation *floor = lastStaging;
  for (Operation *dot : dots)
    if (!lastStaging || lastStaging->isBeforeInBlock(dot)) {
      hoistWithProducers(dot, floor);
      floor = dot;
    }
}

struct TileScheduleStagings
    : tessel::lowering::impl::TileScheduleStagingsBase<TileScheduleStagings> {
  void runOnOperation() override {
    getOperation().walk([](Block *block) {
      schedule(*block);
      hoistDots(*block);
    });
  }
};

} // namespace
