// tile-insert-barriers: decides which shared-memory users need a barrier
// before they write their scratch. Every user synchronizes once inside
// (between its writes and its reads), so at any point the regions other
// threads may still be reading are those read since the last barrier: the
// scratch of the user after it, and of every staged dot operand a dot has
// read fragments from since. A user whose scratch overlaps one of them
// must synchronize first (a write-after-read hazard); the others need not.
// The analysis runs forward through straight code, both arms of scf.if and
// scf.for bodies to a fixed point over the back edge. A tile.async_wait is
// a barrier; async copies write rings no other user shares.
#include "lowering/Passes.h"

#include "lowering/SharedMemory.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseSet.h"

namespace tessel::lowering {
#define GEN_PASS_DEF_TILEINSERTBARRIERS
#include "lowering/Passes.h.inc"
} // namespace tessel::lowering

using namespace mlir;
using namespace tessel;
using namespace tessel::lowering;

namespace {

using Span = ScratchSpan;

/// Regions that may still be read by some thread: a small set.
using Pending = SmallVector<Span, 4>;

void join(Pending &into, const Pending &from) {
  for (const Span &r : from)
    if (!llvm::is_contained(into, r))
      into.push_back(r);
}

bool sameSet(const Pending &a, const Pending &b) {
  return a.size() == b.size() &&
         llvm::all_of(a, [&](const Span &r) { return llvm::is_contained(b, r); });
}

class BarrierAnalysis {
  /// Regions that dots read operand fragments from, by dot.
  llvm::DenseMap<Operation *, Pending> readsAt_;
  /// Every dot that reads staged fragments.
  llvm::DenseSet<Operation *> readers_;

  /// Whether the first op after `op` in its block that reads staged
  /// fragments, touches shared memory or holds regions is a shared-memory
  /// user. Every user synchronizes after its writes (the stagings that drop
  /// their barrier by this very rule hand it on to the next one, and the
  /// chain ends in one that keeps it), before any reader: `op` may then
  /// leave its writes to that barrier.
  bool nextEventIsSharedUser(Operation *op) const {
    for (Operation *n = op->getNextNode(); n; n = n->getNextNode()) {
      // An async copy neither synchronizes nor reads a staging; a wait is
      // a barrier.
      if (isa<tile::AsyncLoadOp>(n))
        continue;
      if (isa<tile::AsyncWaitOp>(n) || scratchBytes(n) > 0)
        return true;
      if (readers_.contains(n) || n->getNumRegions() ||
          n->hasTrait<OpTrait::IsTerminator>())
        return false;
    }
    return false;
  }

public:
  explicit BarrierAnalysis(func::FuncOp fn) {
    fn.walk([&](Operation *op) {
      for (Operation *r : fragmentReaders(op))
        readers_.insert(r);
    });
  }

  /// Visits `block` with `pending` on entry; returns what is pending at its
  /// end. Marks only ever turn on, so re-visiting converges.
  Pending visit(Block &block, Pending pending) {
    for (Operation &op : block) {
      // An async copy's ring is apart from every other region, and the
      // wait in front of its readers is a barrier: nothing to add, and
      // after a wait nothing is pending.
      if (isa<tile::AsyncLoadOp>(op))
        continue;
      if (isa<tile::AsyncWaitOp>(op)) {
        pending.clear();
        continue;
      }
      if (int64_t bytes = scratchBytes(&op)) {
        int64_t off = scratchOffset(&op);
        Span mine{off, bytes};
        bool hazard = llvm::any_of(
            pending, [&](const Span &r) { return r.overlaps(mine); });
        auto mark = op.getAttrOfType<BoolAttr>(kBarrierBeforeAttr);
        bool needed = hazard || (mark && mark.getValue());
        op.setAttr(kBarrierBeforeAttr, BoolAttr::get(op.getContext(), needed));
        if (needed)
          pending.clear();
        auto readers = fragmentReaders(&op);
        if (readers.empty()) {
          // Its own barrier orders everything before it; its reads follow.
          pending.assign({mine});
          continue;
        }
        // A staging read later by dots: its barrier (if it keeps one)
        // orders everything before it.
        bool after = !nextEventIsSharedUser(&op);
        op.setAttr(kBarrierAfterAttr, BoolAttr::get(op.getContext(), after));
        if (after)
          pending.clear();
        for (Operation *reader : readers)
          join(readsAt_[reader], Pending{mine});
        // A cumsum also reads its sums back itself, after its barrier.
        if (isa<tile::CumsumOp>(op))
          join(pending, Pending{mine});
        continue;
      }
      if (auto it = readsAt_.find(&op); it != readsAt_.end()) {
        join(pending, it->second);
        continue;
      }
      if (op.getNumRegions() == 0)
        continue;
      if (isa<scf::IfOp>(op)) {
        Pending out;
        for (Region &region : op.getRegions())
          if (!region.empty())
            join(out, visit(region.front(), pending));
        if (op.getRegion(1).empty())
          join(out, pending);
        pending = out;
        continue;
      }
      // scf.for and any other region op: the body may run any number of
      // times, so iterate until what reaches the top of the body is stable.
      Pending entry = pending, atTop = pending;
      while (true) {
        Pending out;
        for (Region &region : op.getRegions())
          if (!region.empty())
            join(out, visit(region.front(), atTop));
        Pending next = entry;
        join(next, out);
        if (sameSet(next, atTop)) {
          pending = next;
          break;
        }
        atTop = next;
      }
    }
    return pending;
  }
};

struct TileInsertBarriers
    : tessel::lowering::impl::TileInsertBarriersBase<TileInsertBarriers> {
  void runOnOperation() override {
    for (auto fn : getOperation().getOps<func::FuncOp>())
      if (!fn.isExternal())
        BarrierAnalysis(fn).visit(fn.getBody().front(), {});
  }
};

} // namespace
