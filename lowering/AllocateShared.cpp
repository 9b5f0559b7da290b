// tile-allocate-shared: places the scratch of every shared-memory user
// (SharedMemory.h) by liveness. A user's scratch is live from the user to
// its last reader: the user itself, or the last dot that reads operand
// fragments from it. Each user synchronizes once after writing, so when a
// user starts writing, the regions other threads may still read are those
// of the user before it and of every user read since; placing the new one
// apart from those (and, for the users read at the end of a loop body,
// apart from the body's leading users, those before its first barrier)
// lets tile-insert-barriers drop the barrier in front of them. Users further
// apart share offsets. The rings of tile.async_load (tile-pipeline-loads)
// are live throughout and come first, apart from all; the copies of one
// load before and inside its loop share a ring. Rings inside different
// top-level scf.if ops (one kernel running either of two sweeps by
// program, as bwd_dkdv does) share offsets: a tile.async_wait with nothing
// pending, a CTA barrier after every copy, goes in front of each such
// scf.if after the first, so no thread writes a ring another may still read.
#include "lowering/Passes.h"

#include "lowering/SharedMemory.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "llvm/ADT/EquivalenceClasses.h"

namespace tessel::lowering {
#define GEN_PASS_DEF_TILEALLOCATESHARED
#include "lowering/Passes.h.inc"
} // namespace tessel::lowering

using namespace mlir;
using namespace tessel::lowering;

namespace {

/// The lowest `align`ed offset at which `bytes` overlap none of `avoid`.
int64_t placeApart(int64_t bytes, int64_t align, ArrayRef<ScratchSpan> avoid) {
  SmallVector<int64_t> candidates{0};
  for (const ScratchSpan &r : avoid)
    candidates.push_back(alignTo(r.offset + r.bytes, align));
  llvm::sort(candidates);
  for (int64_t off : candidates)
    if (llvm::none_of(avoid, [&](const ScratchSpan &r) {
          return r.overlaps({off, bytes});
        }))
      return off;
  return candidates.back();
}

struct User {
  Operation *op;
  int64_t bytes, align;
  /// The dots that read its fragments later (empty: read by the op itself).
  SmallVector<Operation *> readers;
  int64_t start = 0, end = 0; ///< live from op (start) to its last reader
  ScratchSpan region;
};

struct TileAllocateShared
    : tessel::lowering::impl::TileAllocateSharedBase<TileAllocateShared> {
  using TileAllocateSharedBase::TileAllocateSharedBase;
  void runOnOperation() override {
    for (auto fn : getOperation().getOps<func::FuncOp>())
      allocate(fn);
  }

  void allocate(func::FuncOp fn) {
    llvm::DenseMap<Operation *, int64_t> position;
    SmallVector<User> users;
    // The rings of async copies are written while the loop computes and
    // read an iteration later: they stay live through the whole kernel and
    // take the bottom of shared memory, apart from everything else.
    // The copies whose tiles flow into the same loop-carried value (one
    // load's copies before and inside its loop) share one ring.
    llvm::EquivalenceClasses<Value> flow;
    fn.walk([&](scf::ForOp loop) {
      auto yield = cast<scf::YieldOp>(loop.getBody()->getTerminator());
      for (auto [arg, init, next] :
           llvm::zip_equal(loop.getRegionIterArgs(), loop.getInitArgs(),
                           yield.getOperands())) {
        if (!isSharedTensor(arg.getType()))
          continue;
        flow.unionSets(arg, init);
        flow.unionSets(arg, next);
      }
    });
    // Rings are placed in two passes: those outside any top-level scf.if
    // first, then each top-level scf.if's from the same base above them.
    llvm::DenseMap<Value, int64_t> ringOffset;
    int64_t pinnedEnd = 0;
    auto placeRing = [&](Operation *op, int64_t &end) {
      Value ring = flow.getOrInsertLeaderValue(op->getResult(0));
      int64_t align = scratchAlignment(op);
      auto [it, fresh] = ringOffset.try_emplace(ring, alignTo(end, align));
      if (fresh)
        end = it->second + alignTo(scratchBytes(op), align);
      op->setAttr(kSmemOffsetAttr,
                  IntegerAttr::get(IntegerType::get(op->getContext(), 32),
                                   it->second));
    };
    auto branchOf = [&](Operation *op) -> scf::IfOp {
      Operation *top = fn.getBody().front().findAncestorOpInBlock(*op);
      return dyn_cast_or_null<scf::IfOp>(top);
    };
    SmallVector<std::pair<scf::IfOp, SmallVector<Operation *>>> branches;
    fn.walk<WalkOrder::PreOrder>([&](Operation *op) {
      position[op] = position.size();
      int64_t bytes = scratchBytes(op);
      if (!bytes)
        return;
      if (isa<tessel::tile::AsyncLoadOp>(op)) {
        scf::IfOp branch = branchOf(op);
        if (!branch) {
          placeRing(op, pinnedEnd);
          return;
        }
        if (branches.empty() || branches.back().first != branch)
          branches.push_back({branch, {}});
        branches.back().second.push_back(op);
        return;
      }
      int64_t align = scratchAlignment(op);
      users.push_back({op, alignTo(bytes, align), align, fragmentReaders(op)});
    });
    int64_t branchBase = pinnedEnd;
    for (auto &[branch, loads] : branches) {
      int64_t end = branchBase;
      for (Operation *op : loads)
        placeRing(op, end);
      pinnedEnd = std::max(pinnedEnd, end);
      if (&branch != &branches.front().first) {
        OpBuilder b(branch);
        tessel::tile::AsyncWaitOp::create(b, branch.getLoc(), TypeRange{},
                                          ValueRange{}, 0);
      }
    }
    const ScratchSpan pinned{0, pinnedEnd};
    llvm::DenseMap<Operation *, size_t> index;
    for (size_t i = 0; i < users.size(); ++i) {
      User &u = users[i];
      index[u.op] = i;
      u.start = u.end = position[u.op];
      for (Operation *reader : u.readers)
        u.end = std::max(u.end, position[reader]);
    }
    // Over a loop's back edge, the users read last in the body precede the
    // body's first user.
    // user -> the leading users of its loop body
    llvm::DenseMap<size_t, SmallVector<size_t>> backEdge;
    fn.walk([&](scf::ForOp loop) {
      SmallVector<size_t> inBody;
      loop.getBody()->walk<WalkOrder::PreOrder>([&](Operation *op) {
        if (index.count(op))
          inBody.push_back(index[op]);
      });
      if (inBody.size() < 2)
        return;
      // The body's leading users: those before its first barrier, i.e.
      // up to the first user read right away or the first dot reading a
      // staged operand. Users read at the tail of the body stay apart from
      // all of them.
      int64_t firstBarrier = users[inBody.back()].start;
      for (size_t i : inBody) {
        if (users[i].readers.empty()) {
          firstBarrier = std::min(firstBarrier, users[i].start);
          break;
        }
      }
      for (size_t i : inBody)
        for (Operation *r : users[i].readers)
          firstBarrier = std::min(firstBarrier, position[r]);
      int64_t lastStart = users[inBody.back()].start;
      for (size_t i : inBody)
        if (users[i].end >= lastStart)
          for (size_t j : inBody)
            if (j != i && users[j].start <= firstBarrier &&
                users[j].start < users[i].start)
              backEdge[i].push_back(j);
    });

    // Apart, when that fits the budget; otherwise only what is still live
    // is avoided (tile-insert-barriers then synchronizes where regions
    // meet).
    int64_t total = 0;
    for (bool apart : {true, false}) {
      total = pinnedEnd;
      for (size_t i = 0; i < users.size(); ++i) {
        User &u = users[i];
        SmallVector<ScratchSpan> avoid;
        if (pinnedEnd)
          avoid.push_back(pinned);
        int64_t since = apart && i ? users[i - 1].start : u.start;
        for (size_t j = 0; j < i; ++j)
          if (users[j].end >= since)
            avoid.push_back(users[j].region);
        if (auto it = backEdge.find(i); apart && it != backEdge.end())
          for (size_t j : it->second)
            avoid.push_back(users[j].region);
        u.region = {placeApart(u.bytes, u.align, avoid), u.bytes};
        total = std::max(total, u.region.offset + u.bytes);
      }
      if (total <= maxBytes)
        break;
    }
    for (User &u : users)
      u.op->setAttr(kSmemOffsetAttr,
                    IntegerAttr::get(IntegerType::get(u.op->getContext(), 32),
                                     u.region.offset));
    fn->setAttr(kSharedBytesAttr,
                IntegerAttr::get(IntegerType::get(fn.getContext(), 32), total));
  }
};

} // namespace
