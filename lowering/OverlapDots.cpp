// tile-overlap-dots: lets wgmma dots run while the ops after them execute.
// A wgmma is asynchronous: it is issued, committed as a group, and its
// accumulators are written some time later; wgmma.wait_group N waits until
// at most the N most recent groups are still running (they complete in
// order). Each dot marked for wgmma (its mma layout says so) becomes
// `tile.async` and gets a tile.dot_wait right before the first op of its
// block that reads its result (or before the terminator, when only the
// terminator or ops outside the block do), with N = the asynchronous dots
// issued between the two. tile-schedule-stagings has already put each dot
// as early as its operands allow (in program order), so in the Lightning
// forward Q·S runs under the scores' mask and the state update under the
// output's epilogue.
//
// A wait never leaves its dot's block, so none crosses a loop's back edge:
// tile-pipeline-loads refills a ring slot at the top of the next iteration,
// after its tile.async_wait's barrier, and relies on every dot of the
// previous iteration having completed by then.
//
// Runs before tile-allocate-shared: a dot reads its staged operands until
// its wait (SharedMemory.h, fragmentReaders), so their scratch stays live
// and barriers order the next write after the wait. A dot that the lowering
// cannot issue as wgmma still commits an (empty) group, so the counts hold.
#include "lowering/Passes.h"

#include "dialect/TileOps.h"
#include "mlir/IR/Builders.h"

namespace tessel::lowering {
#define GEN_PASS_DEF_TILEOVERLAPDOTS
#include "lowering/Passes.h.inc"
} // namespace tessel::lowering

using namespace mlir;
using namespace tessel::tile;
using namespace tessel::lowering;

namespace {

bool isWgmmaDot(DotOp dot) {
  auto mma = dyn_cast<MmaAttr>(dot.getType().getEncoding());
  return mma && mma.getWgmma();
}

/// The first op of `dot`'s block after it that uses its result (an op whose
/// regions do counts), or the block's terminator.
Operation *firstUse(DotOp dot) {
  Block *block = dot->getBlock();
  Operation *first = block->getTerminator();
  for (Operation *user : dot->getUsers()) {
    Operation *inBlock = block->findAncestorOpInBlock(*user);
    if (inBlock && inBlock->isBeforeInBlock(first))
      first = inBlock;
  }
  return first;
}

void overlap(Block &block) {
  SmallVector<DotOp> dots;
  for (Operation &op : block)
    if (auto dot = dyn_cast<DotOp>(op); dot && isWgmmaDot(dot))
      dots.push_back(dot);
  if (dots.empty())
    return;
  MLIRContext *ctx = block.getParentOp()->getContext();
  for (DotOp dot : dots) {
    dot->setAttr(kAsyncDotAttr, UnitAttr::get(ctx));
    Operation *at = firstUse(dot);
    // Dots issued after this one and before its wait keep running.
    int64_t later = 0;
    for (DotOp other : dots)
      if (dot->isBeforeInBlock(other) && other->isBeforeInBlock(at))
        ++later;
    OpBuilder b(at);
    auto wait = DotWaitOp::create(b, dot.getLoc(), TypeRange{dot.getType()},
                                  ValueRange{dot.getResult()},
                                  b.getI32IntegerAttr(later));
    dot.getResult().replaceAllUsesExcept(wait.getResult(0), wait);
  }
}

struct TileOverlapDots
    : tessel::lowering::impl::TileOverlapDotsBase<TileOverlapDots> {
  void runOnOperation() override {
    getOperation().walk([](Block *block) { overlap(*block); });
  }
};

} // namespace
