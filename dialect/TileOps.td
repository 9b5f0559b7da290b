// The tile dialect: block-level ops on statically shaped tensors, one program
// instance per tile, as in Triton's `tt` dialect (docs/design.md §2.1). Every op
// has a verifier; verifier-valid IR must never crash a pass.
#ifndef TESSEL_DIALECT_TILEOPS_TD
#define TESSEL_DIALECT_TILEOPS_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/BuiltinTypes.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Tile_Dialect : Dialect {
  let name = "tile";
  let summary = "Block-level tensor ops for tessel kernels";
  let cppNamespace = "::tessel::tile";
  let useDefaultTypePrinterParser = 1;
  let useDefaultAttributePrinterParser = 1;
}

//===----------------------------------------------------------------------===//
// Layouts: how a tensor's elements are distributed over the registers, lanes
// and warps of a CTA (docs/design.md §2.4). Each maps to a LinearLayout
// (dialect/LinearLayout.h); shapes must be powers of two.
//===----------------------------------------------------------------------===//

class Tile_Layout<string name, string mnemonic_>
    : AttrDef<Tile_Dialect, name> {
  let mnemonic = mnemonic_;
}

def Tile_BlockedLayout : Tile_Layout<"Blocked", "blocked"> {
  let summary = "each thread holds sizePerThread contiguous elements; lanes "
                "and warps tile the rest, fastest dimension first in `order`";
  let parameters = (ins ArrayRefParameter<"unsigned">:$sizePerThread,
                        ArrayRefParameter<"unsigned">:$threadsPerWarp,
                        ArrayRefParameter<"unsigned">:$warpsPerCTA,
                        ArrayRefParameter<"unsigned">:$order);
  let assemblyFormat = [{
    `<` `spt` `=` `[` $sizePerThread `]` `,` `tpw` `=` `[` $threadsPerWarp `]`
    `,` `wpc` `=` `[` $warpsPerCTA `]` `,` `order` `=` `[` $order `]` `>`
  }];
  let genVerifyDecl = 1;
}

def Tile_MmaLayout : Tile_Layout<"Mma", "mma"> {
  let summary = "accumulator of mma.sync m16n8k16: warps tile M then N";
  let description = [{
    With `wgmma = true` (sm_90a, warps along M only, a multiple of 4) the
    dots of this layout are lowered to Hopper's warpgroup MMA where their
    operands allow: the accumulator layout is the same (warpgroup g holds
    rows 64g..64g+63 of every 16·wm-row repetition, each warp 16 of them in
    mma.sync's C fragments), and operands staged for these dots take
    wgmma's 128-byte-swizzled shared layout (lowering/SharedMemory.h).
  }];
  let parameters = (ins ArrayRefParameter<"unsigned">:$warpsPerCTA,
                        DefaultValuedParameter<"bool", "false">:$wgmma);
  let assemblyFormat =
      "`<` `wpc` `=` `[` $warpsPerCTA `]` (`,` `wgmma` `=` $wgmma^)? `>`";
  let genVerifyDecl = 1;
}

def Tile_DotOperandLayout : Tile_Layout<"DotOperand", "dot_operand"> {
  let summary = "operand A (0) or B (1) of mma.sync into a `parent` accumulator; "
                "bitWidth 16 (bf16/f16, m16n8k16) or 32 (tf32, m16n8k8)";
  let parameters = (ins "unsigned":$opIdx, "::mlir::Attribute":$parent,
                        "unsigned":$bitWidth);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def Tile_SliceLayout : Tile_Layout<"Slice", "slice"> {
  let summary = "`parent` with dimension `dim` removed (results of reduce, "
                "operands of expand_dims)";
  let parameters = (ins "unsigned":$dim, "::mlir::Attribute":$parent);
  let assemblyFormat = "`<` struct(params) `>`";
}

def Tile_TransLayout : Tile_Layout<"Trans", "trans"> {
  let summary = "the layout whose transpose is `parent`: element (i, j) sits "
                "where `parent` puts (j, i)";
  let description = [{
    Lets a transpose stay in registers: `trans(x)` with x in #tile.trans<L>
    has layout L without moving data. Converting into #tile.trans of a
    dot-operand layout stages x row-major in shared memory and reads the
    operand fragments transposed (ldmatrix with the .trans flag flipped).
  }];
  let parameters = (ins "::mlir::Attribute":$parent);
  let assemblyFormat = "`<` $parent `>`";
}

def Tile_SharedLayout : Tile_Layout<"Shared", "shared"> {
  let summary = "the tensor sits in shared memory, row-major with rows padded "
                "by 16 bytes or, `swizzled`, in wgmma's 128-byte-swizzled "
                "layout (lowering/SharedMemory.h, stagingPlacement)";
  let parameters = (ins DefaultValuedParameter<"bool", "false">:$swizzled);
  let assemblyFormat = "(`<` `swizzled` `=` $swizzled^ `>`)?";
  let description = [{
    Not a distribution over threads: a tensor in #tile.shared is one buffer
    in shared memory (its value lowers to the buffer's address), written by
    tile.async_load and readable once a tile.async_wait has taken it. A
    convert_layout from #tile.shared into a register layout reads it (into a
    dot-operand layout: fragment by fragment, with ldmatrix, at the dots).
  }];
}

//===----------------------------------------------------------------------===//
// Types
//===----------------------------------------------------------------------===//

def Tile_PtrType : TypeDef<Tile_Dialect, "Ptr"> {
  let mnemonic = "ptr";
  let summary = "pointer to global memory holding elements of one scalar type";
  let parameters = (ins "::mlir::Type":$pointeeType);
  let assemblyFormat = "`<` $pointeeType `>`";
  let genVerifyDecl = 1;
}

def Tile_Float : AnyTypeOf<[F32, F16, BF16]>;
def Tile_Int : AnyTypeOf<[I1, I32, I64]>;
def Tile_Elem : AnyTypeOf<[F32, F16, BF16, I1, I32, I64, Tile_PtrType]>;
def Tile_Tensor : RankedTensorOf<[F32, F16, BF16, I1, I32, I64, Tile_PtrType]>;
def Tile_Value : AnyTypeOf<[Tile_Elem, Tile_Tensor]>;
def Tile_PtrLike : AnyTypeOf<[Tile_PtrType, RankedTensorOf<[Tile_PtrType]>]>;
def Tile_IntLike : AnyTypeOf<[I32, I64, RankedTensorOf<[I32, I64]>]>;
def Tile_MaskLike : AnyTypeOf<[I1, RankedTensorOf<[I1]>]>;
def Tile_FloatTensor : RankedTensorOf<[F32, F16, BF16]>;

class Tile_Op<string mnemonic, list<Trait> traits = []>
    : Op<Tile_Dialect, mnemonic, traits> {
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Program geometry
//===----------------------------------------------------------------------===//

def Tile_ProgramIdOp : Tile_Op<"program_id", [Pure]> {
  let summary = "index of this program instance along a grid axis (0, 1 or 2)";
  let arguments = (ins I32Attr:$axis);
  let results = (outs I32:$result);
  let assemblyFormat = "$axis attr-dict";
}

def Tile_NumProgramsOp : Tile_Op<"num_programs", [Pure]> {
  let summary = "number of program instances along a grid axis (0, 1 or 2)";
  let arguments = (ins I32Attr:$axis);
  let results = (outs I32:$result);
  let assemblyFormat = "$axis attr-dict";
}

def Tile_MakeRangeOp : Tile_Op<"make_range", [Pure]> {
  let summary = "the 1-D i32 tensor [start, start+1, ..., end-1]";
  let arguments = (ins I32Attr:$start, I32Attr:$end);
  let results = (outs RankedTensorOf<[I32]>:$result);
  let assemblyFormat = "$start `,` $end attr-dict `:` type($result)";
}

//===----------------------------------------------------------------------===//
// Shape manipulation
//===----------------------------------------------------------------------===//

def Tile_SplatOp : Tile_Op<"splat", [Pure]> {
  let summary = "fill a tensor with one scalar";
  let arguments = (ins Tile_Elem:$src);
  let results = (outs Tile_Tensor:$result);
  let assemblyFormat = "$src attr-dict `:` type($src) `->` type($result)";
}

def Tile_BroadcastOp : Tile_Op<"broadcast", [Pure]> {
  let summary = "stretch size-1 dimensions to the result shape";
  let arguments = (ins Tile_Tensor:$src);
  let results = (outs Tile_Tensor:$result);
  let assemblyFormat = "$src attr-dict `:` type($src) `->` type($result)";
}

def Tile_ExpandDimsOp : Tile_Op<"expand_dims", [Pure]> {
  let summary = "insert a size-1 dimension at `axis`";
  let arguments = (ins Tile_Tensor:$src, I32Attr:$axis);
  let results = (outs Tile_Tensor:$result);
  let assemblyFormat = "$src attr-dict `:` type($src) `->` type($result)";
}

def Tile_ReshapeOp : Tile_Op<"reshape", [Pure]> {
  let summary = "reinterpret a tensor with another shape of equal size (row-major)";
  let arguments = (ins Tile_Tensor:$src);
  let results = (outs Tile_Tensor:$result);
  let assemblyFormat = "$src attr-dict `:` type($src) `->` type($result)";
}

def Tile_TransOp : Tile_Op<"trans", [Pure]> {
  let summary = "transpose a 2-D tensor";
  let arguments = (ins Tile_Tensor:$src);
  let results = (outs Tile_Tensor:$result);
  let assemblyFormat = "$src attr-dict `:` type($src) `->` type($result)";
}

//===----------------------------------------------------------------------===//
// Memory
//===----------------------------------------------------------------------===//

def Tile_AddPtrOp : Tile_Op<"addptr", [Pure, AllTypesMatch<["ptr", "result"]>]> {
  let summary = "advance pointers by an element offset (not bytes)";
  let arguments = (ins Tile_PtrLike:$ptr, Tile_IntLike:$offset);
  let results = (outs Tile_PtrLike:$result);
  let assemblyFormat = "$ptr `,` $offset attr-dict `:` type($ptr) `,` type($offset)";
}

def Tile_LoadOp : Tile_Op<"load", [AttrSizedOperandSegments,
                                   MemoryEffects<[MemRead]>]> {
  let summary = "gather from global memory; masked-off lanes take `other` (0 if absent)";
  let arguments = (ins Tile_PtrLike:$ptr, Optional<Tile_MaskLike>:$mask,
                       Optional<Tile_Value>:$other);
  let results = (outs Tile_Value:$result);
  let assemblyFormat = [{
    $ptr (`mask` $mask^)? (`other` $other^)? attr-dict `:` functional-type(operands, results)
  }];
}

def Tile_AsyncLoadOp : Tile_Op<"async_load", [MemoryEffects<[MemRead, MemWrite]>]> {
  let summary = "start copying a tile from global memory into slot `slot` of "
                "a ring of `buffers` shared-memory tiles; masked-off elements "
                "are 0";
  let description = [{
    Made by tile-pipeline-loads out of a tile.load in a software-pipelined
    loop: the copy (cp.async, 16 bytes per thread where the pointers allow)
    runs while the loop computes, and each op's copies form one commit
    group. The #tile.shared result may only be read through a
    tile.async_wait that takes it. Its value is the load's: the interpreter
    runs it as a load.
  }];
  let arguments = (ins RankedTensorOf<[Tile_PtrType]>:$ptr,
                       Optional<RankedTensorOf<[I1]>>:$mask, I32:$slot,
                       I32Attr:$buffers);
  let results = (outs Tile_Tensor:$result);
  let assemblyFormat = [{
    $ptr (`mask` $mask^)? `slot` $slot attr-dict `:` functional-type(operands, results)
  }];
}

def Tile_AsyncWaitOp : Tile_Op<"async_wait", [MemoryEffects<[MemRead, MemWrite]>]> {
  let summary = "wait until at most `pending` async_loads (one commit group "
                "each) are in flight, then synchronize the CTA; the results "
                "are the operands, now readable";
  let arguments = (ins Variadic<Tile_Tensor>:$srcs, I32Attr:$pending);
  let results = (outs Variadic<Tile_Tensor>:$results);
  let assemblyFormat = "$srcs attr-dict `:` functional-type($srcs, $results)";
}

def Tile_StoreOp : Tile_Op<"store", [MemoryEffects<[MemWrite]>]> {
  let summary = "scatter to global memory; masked-off lanes are not written";
  let arguments = (ins Tile_PtrLike:$ptr, Tile_Value:$value,
                       Optional<Tile_MaskLike>:$mask);
  let assemblyFormat = [{
    $ptr `,` $value (`mask` $mask^)? attr-dict `:` functional-type(operands, results)
  }];
}

//===----------------------------------------------------------------------===//
// Ordering between programs
//===----------------------------------------------------------------------===//

def Tile_WaitFlagOp : Tile_Op<"wait_flag", [MemoryEffects<[MemRead, MemWrite]>]> {
  let summary = "wait until the i64 at `flag` is at least `target`; every "
                "later read sees what the program that set it wrote before";
  let description = [{
    With tile.signal_flag, a chained scan between the programs of one
    launch (the sequence split's segment states, handed from each segment to
    the next). Programs start in launch order (x fastest, then y, then z)
    on the GPU and in the interpreter, so a program may wait only on flags
    that lower-numbered programs set: those have started and will finish.
    GPU: one thread polls with acquire loads at GPU scope, then the CTA
    synchronizes. The interpreter polls the same way and reports a wait
    that makes no progress for a minute as a deadlock.
  }];
  let arguments = (ins Tile_PtrType:$flag, I64:$target);
  let assemblyFormat = "$flag `,` $target attr-dict `:` type($flag)";
}

def Tile_SignalFlagOp : Tile_Op<"signal_flag", [MemoryEffects<[MemRead, MemWrite]>]> {
  let summary = "set the i64 at `flag` to `value` once every thread's "
                "earlier writes are visible to the whole GPU";
  let description = [{
    GPU: the CTA synchronizes, then one thread fences at GPU scope and
    stores the value with release semantics — a waiter that sees it also
    sees every write the CTA made before the signal (tile.wait_flag).
  }];
  let arguments = (ins Tile_PtrType:$flag, I64:$value);
  let assemblyFormat = "$flag `,` $value attr-dict `:` type($flag)";
}

//===----------------------------------------------------------------------===//
// Compute
//===----------------------------------------------------------------------===//

def Tile_DotOp : Tile_Op<"dot", [Pure, AllTypesMatch<["acc", "result"]>]> {
  let summary = "result = a·b + acc, (M×K)·(K×N), accumulated in fp32";
  let arguments = (ins Tile_FloatTensor:$a, Tile_FloatTensor:$b,
                       RankedTensorOf<[F32]>:$acc);
  let results = (outs RankedTensorOf<[F32]>:$result);
  let assemblyFormat = [{
    $a `,` $b `,` $acc attr-dict `:` type($a) `,` type($b) `->` type($result)
  }];
}

def Tile_DotWaitOp : Tile_Op<"dot_wait", [MemoryEffects<[MemRead, MemWrite]>]> {
  let summary = "wait until at most `pending` asynchronous dots are in "
                "flight; the results are the operands, now readable";
  let description = [{
    A dot marked `tile.async` (tile-overlap-dots: one that lowers to wgmma)
    is issued and left running on the tensor cores; its result is read only
    through the tile.dot_wait that completes it. Dots complete in issue
    order, so a wait with `pending` = the number of asynchronous dots issued
    after the one it waits for lets those keep running. Until that wait the
    dot still reads its shared-memory operands: their scratch stays live and
    a barrier follows before it is written again.
  }];
  let arguments = (ins Variadic<RankedTensorOf<[F32]>>:$accs, I32Attr:$pending);
  let results = (outs Variadic<RankedTensorOf<[F32]>>:$results);
  let assemblyFormat = "$accs attr-dict `:` functional-type($accs, $results)";
}

def Tile_ReduceOp : Tile_Op<"reduce", [Pure]> {
  let summary = "sum, max or min along one axis; a rank-1 input reduces to a "
                "scalar";
  let arguments = (ins Tile_Tensor:$src, StrAttr:$kind, I32Attr:$axis);
  let results = (outs Tile_Value:$result);
  let assemblyFormat = "$kind $src attr-dict `:` type($src) `->` type($result)";
}

def Tile_CumsumOp : Tile_Op<"cumsum", [Pure]> {
  let summary = "running sum along one axis";
  let description = [{
    result[..., i, ...] = Σ src[..., j, ...] over j ≤ i along `axis` (j < i
    when `exclusive`; j ≥ i, resp. j > i, when `reverse`). Floats accumulate
    in f32 and round once to the element type; integers wrap. The gates of
    gated linear attention take it along a chunk: the cumulative log-decay.
  }];
  let arguments = (ins Tile_Tensor:$src, I32Attr:$axis, UnitAttr:$exclusive,
                       UnitAttr:$reverse);
  let results = (outs Tile_Tensor:$result);
  let assemblyFormat = "$src attr-dict `:` type($src) `->` type($result)";
}

def Tile_ConvertOp : Tile_Op<"convert", [Pure]> {
  let summary = "elementwise dtype conversion (round to nearest even)";
  let arguments = (ins Tile_Value:$src);
  let results = (outs Tile_Value:$result);
  let assemblyFormat = "$src attr-dict `:` type($src) `->` type($result)";
}

def Tile_ConvertLayoutOp : Tile_Op<"convert_layout", [Pure]> {
  let summary = "redistribute a tensor to another layout (same shape and "
                "element type)";
  let arguments = (ins Tile_Tensor:$src);
  let results = (outs Tile_Tensor:$result);
  let assemblyFormat = "$src attr-dict `:` type($src) `->` type($result)";
  let hasFolder = 1;
}

#endif // TESSEL_DIALECT_TILEOPS_TD
