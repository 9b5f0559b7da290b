// tile-sink-past-loops: moves pure ops defined before a loop and used only
// after it (masks and pointers of a final-state store, say) down to just
// before their first use. CSE merges the kernel's identical tiles wherever
// they were written, so a tile built before a loop for one use there and
// rebuilt after it for another ends up computed once, before the loop, and
// held in registers through every iteration; rebuilding it after the loop
// costs a few instructions once.
#include "lowering/Passes.h"

#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace tessel::lowering {
#define GEN_PASS_DEF_TILESINKPASTLOOPS
#include "lowering/Passes.h.inc"
} // namespace tessel::lowering

using namespace mlir;

namespace {

/// The first op of `block`, after `loop`, that uses `op`; null when a use
/// sits before the loop, inside it or in another block.
Operation *firstUseAfter(Operation *op, Operation *loop) {
  Operation *first = nullptr;
  for (Operation *user : op->getUsers()) {
    Operation *anc = loop->getBlock()->findAncestorOpInBlock(*user);
    if (!anc || anc == loop || anc->isBeforeInBlock(loop))
      return nullptr;
    if (!first || anc->isBeforeInBlock(first))
      first = anc;
  }
  return first;
}

void sinkBefore(scf::ForOp loop) {
  // Walk backwards so that a chain (a mask and the compares that build it)
  // moves together: users move first, then their operands follow.
  for (Operation *op = loop->getPrevNode(); op;) {
    Operation *prev = op->getPrevNode();
    if (op->getNumRegions() == 0 && isMemoryEffectFree(op) &&
        op->getNumResults() > 0 && !op->use_empty())
      if (Operation *first = firstUseAfter(op, loop))
        op->moveBefore(first);
    op = prev;
  }
}

struct TileSinkPastLoops
    : tessel::lowering::impl::TileSinkPastLoopsBase<TileSinkPastLoops> {
  void runOnOperation() override {
    SmallVector<scf::ForOp> loops;
    getOperation().walk([&](scf::ForOp loop) { loops.push_back(loop); });
    for (scf::ForOp loop : loops)
      sinkBefore(loop);
  }
};

} // namespace
