// Every pass of tessel's lowering pipeline (docs/design.md §2.4), in pipeline order.
#ifndef TESSEL_LOWERING_PASSES_TD
#define TESSEL_LOWERING_PASSES_TD

include "mlir/Pass/PassBase.td"

def TileLowerSmallDots : Pass<"tile-lower-small-dots", "mlir::ModuleOp"> {
  let summary = "Turn dots too small for the tensor cores into fp32 "
                "multiplies and sums";
  let description = [{
    A dot with M < 16, N < 8 or K under the mma instruction's k (16 for
    16-bit inputs, 8 for f32) becomes elementwise products and sums in fp32,
    unrolled over its smallest dimension, so that every dot the verifier
    accepts lowers. Runs before layout assignment.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def TileCombineDotAdd : Pass<"tile-combine-dot-add", "mlir::ModuleOp"> {
  let summary = "Fold `dot(a, b, 0) + x` into `dot(a, b, x)`";
  let description = [{
    The tensor cores add the accumulator for free; a loop-carried state
    updated as `state * decay + dot(...)` then accumulates in place in the
    mma layout. Only single-use dots with a zero accumulator are folded.
  }];
}

def TileAssignLayouts : Pass<"tile-assign-layouts", "mlir::ModuleOp"> {
  let summary = "Give every tensor a distributed layout and insert "
                "tile.convert_layout where producers and users disagree";
  let description = [{
    2-D tensors get one blocked layout per kernel (vectorized along the
    contiguous dimension of the hot loop's accesses), dot operands and
    results the mma.sync layouts of one warp split shared by every dot of
    the kernel, 1-D tensors the slice of the layout their users expand them
    into. Loop-carried tensors take the accumulator layout of the dot that
    updates them; a transpose of a non-blocked tensor is #tile.trans of its
    layout (registers relabelled, no data moved). Tensor shapes must be
    powers of two.
  }];
  let options = [
    Option<"numWarps", "num-warps", "unsigned", "4", "warps per program">,
    Option<"wgmma", "wgmma", "bool", "false",
           "mark the mma layout for wgmma (sm_90a) when warps split M only, "
           "in warpgroups">,
  ];
  let dependentDialects = ["::tessel::tile::TileDialect"];
}

def TileRemoveLayoutConversions
    : Pass<"tile-remove-layout-conversions", "mlir::ModuleOp"> {
  let summary = "Fold conversions that are not needed";
  let description = [{
    Folds chains of conversions, drops identity conversions and
    rematerializes cheap producers (constants, splats, ranges) directly in
    the layout their user wants instead of moving them through shared memory.
    A transposed (possibly rounded) tensor converted into a dot-operand
    layout is converted before the transpose, into #tile.trans of that
    layout: its source is staged as it is and read transposed by ldmatrix.
  }];
}

def TileSinkPastLoops : Pass<"tile-sink-past-loops", "mlir::ModuleOp"> {
  let summary = "Move pure ops used only after a loop to after it";
  let description = [{
    A tile built before a loop and used only after it (a final-state store's
    mask) would be held in registers through every iteration; it is rebuilt
    right before its first use instead.
  }];
}

def TilePipelineLoads : Pass<"tile-pipeline-loads", "mlir::ModuleOp"> {
  let summary = "Software-pipeline the loads that feed dots: copy each tile "
                "stages - 1 loop iterations ahead with tile.async_load";
  let description = [{
    For an scf.for whose stage count (tile.num_stages on the loop, else on
    its kernel, else the `stages` option) is S >= 2: every tile.load in its
    body whose pointers and mask depend only on the induction variable and
    loop-invariant values, and whose tile reaches a dot through pure ops
    (a staging convert_layout, a scaling, a dtype conversion), becomes a
    ring of S shared-memory buffers. The loads of
    iterations 0 .. S-2 are issued before the loop; iteration i waits for
    its own tiles (tile.async_wait: at most S-2 groups pending, then one CTA
    barrier), issues the loads of iteration i+S-1 into the buffer iteration
    i-1 read, and computes. Dots read the buffers directly; other users
    read them into registers. Loads past the end are masked off. The loop's
    stores are assumed not to alias its loads (as in Triton).
  }];
  let options = [
    Option<"stages", "stages", "int", "1",
           "stages for loops whose kernel does not set tile.num_stages">,
  ];
}

def TileScheduleStagings : Pass<"tile-schedule-stagings", "mlir::ModuleOp"> {
  let summary = "Move dot-operand stagings up their block, next to each other";
  let description = [{
    A conversion whose dots read its operand fragments from shared memory
    moves, with the pure producers that only feed it, to right after the
    last op it depends on. One iteration's stagings then sit together and
    share one barrier (tile-insert-barriers).
  }];
}

def TileOverlapDots : Pass<"tile-overlap-dots", "mlir::ModuleOp"> {
  let summary = "Leave wgmma dots running until their results are needed";
  let description = [{
    Every dot whose mma layout is marked for wgmma is marked `tile.async`,
    and a tile.dot_wait goes right before the first op of its block that
    uses its result (or the block's terminator), with `pending` the number
    of asynchronous dots issued in between: what runs in between overlaps
    the tensor cores (the scores' mask under Q·S, the output's epilogue
    under the state update).
  }];
}

def TileAllocateShared : Pass<"tile-allocate-shared", "mlir::ModuleOp"> {
  let summary = "Assign shared-memory scratch to every op that needs it";
  let description = [{
    Layout conversions through memory and cross-warp reductions write
    their scratch, synchronize, and read it back; a dot-operand staging is
    read later, by its dots, and lives until the last of them. Scratch is
    placed by liveness, and each user apart from the regions that may still
    be read when it starts writing (the previous user's, those read by dots
    since, and over a loop's back edge the tail's against the leading
    users'), so that tile-insert-barriers can drop the barrier in front of
    it. Each user gets `tile.smem_offset`; the function gets its total
    (`tile.shared_bytes`). Conversions that only relabel registers get none.
    When keeping users apart needs more than `max-bytes`, only scratch that
    is still live is kept apart (more barriers, less memory).
  }];
  let options = [
    Option<"maxBytes", "max-bytes", "int64_t", "232448",
           "shared memory per program to stay within (the H100/H200 opt-in "
           "maximum by default)">,
  ];
}

def TileInsertBarriers : Pass<"tile-insert-barriers", "mlir::ModuleOp"> {
  let summary = "Mark the shared-memory users that need a barrier before "
                "they write their scratch";
  let description = [{
    A forward analysis of the shared-memory regions that other threads may
    still be reading (those read since the last barrier), through straight
    code, scf.if and scf.for (to a fixed point over the back edge). A user
    whose scratch overlaps such a region gets `tile.barrier_before`; the
    lowering emits `bar.sync` there and nowhere else before a write. A
    dot-operand staging followed (before any reader) by another staging gets
    `tile.barrier_after = false`: the later one's barrier publishes both.
  }];
}

def TileToLLVM : Pass<"tile-to-llvm", "mlir::ModuleOp"> {
  let summary = "Lower tile ops on distributed tensors to per-thread LLVM "
                "and NVVM ops";
  let options = [
    Option<"useLdmatrix", "ldmatrix", "bool", "true",
           "read 16-bit mma operands from shared memory with ldmatrix">,
  ];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect",
                           "::mlir::NVVM::NVVMDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::scf::SCFDialect"];
}

def TileMarkKernels : Pass<"tile-mark-kernels", "mlir::ModuleOp"> {
  let summary = "Mark llvm.func kernels for NVVM (nvvm.kernel, nvvm.maxntid, nvvm.maxnreg)";
  let description = [{
    Runs after func-to-llvm: the NVVM attributes are only valid on llvm.func.
    The block size is 32 · tile.num_warps; the register budget is
    min(255, 65536 / block size), stated because ptxas otherwise caps some
    128-thread kernels at 32 registers. Argument attributes
    tile.divisibility (launch-time facts the lowering has consumed) are
    removed, as LLVM IR translation cannot express them.
  }];
  let dependentDialects = ["::mlir::NVVM::NVVMDialect"];
}

#endif // TESSEL_LOWERING_PASSES_TD
