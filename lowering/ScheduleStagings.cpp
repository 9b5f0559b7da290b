// tile-schedule-stagings: moves every conversion that stages a dot operand
// in shared memory (SharedMemory.h, readsFragmentsAtUse) — with the pure
// producers that only feed it — up its block, to right after the last op
// that defines what it needs. The stagings of one loop iteration then sit
// together, so tile-insert-barriers can let one barrier after the last of
// them publish all (instead of one per staged operand), and the dots that
// read them find their operands ready. Allocation runs after this, on the
// new order.
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

void schedule(Block &block) {
  SmallVector<ConvertLayoutOp> stagers;
  for (Operation &op : block)
    if (auto c = dyn_cast<ConvertLayoutOp>(op); c && readsFragmentsAtUse(c))
      stagers.push_back(c);
  for (ConvertLayoutOp stager : stagers) {
    llvm::SetVector<Operation *> group = movableGroup(stager);
    // The latest op of the block, above the stager, that the group depends
    // on, or the stager before it (stagings keep their order); the group
    // goes right after it (or to the top of the block).
    Operation *after = nullptr;
    for (Operation *op = stager->getPrevNode(); op && !after;
         op = op->getPrevNode()) {
      if (group.contains(op))
        continue;
      if (auto c = dyn_cast<ConvertLayoutOp>(op); c && readsFragmentsAtUse(c)) {
        after = op;
        break;
      }
      for (Value r : op->getResults())
        for (Operation *u : r.getUsers())
          if (group.contains(u))
            after = op;
    }
    // Program order of the group is kept.
    SmallVector<Operation *> ordered(group.begin(), group.end());
    llvm::sort(ordered, [](Operation *a, Operation *b) {
      return a->isBeforeInBlock(b);
    });
    for (Operation *op : ordered) {
      if (after)
        op->moveAfter(after);
      else
        op->moveBefore(&block, block.begin());
      after = op;
    }
  }
}

struct TileScheduleStagings
    : tessel::lowering::impl::TileScheduleStagingsBase<TileScheduleStagings> {
  void runOnOperation() override {
    getOperation().walk([](Block *block) { schedule(*block); });
  }
};

} // namespace
