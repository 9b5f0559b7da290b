// RUN: tessel-opt %s --tile-pipeline-loads | FileCheck %s
// RUN: tessel-opt %s --tile-pipeline-loads --tile-allocate-shared --tile-insert-barriers | FileCheck %s --check-prefix=ALLOC

#b = #tile.blocked<spt = [1, 8], tpw = [16, 2], wpc = [1, 1], order = [1, 0]>
#mma = #tile.mma<wpc = [1, 1]>
#opa = #tile.dot_operand<opIdx = 0, parent = #mma, bitWidth = 16>
#opb = #tile.dot_operand<opIdx = 1, parent = #mma, bitWidth = 16>

// Three stages: iterations 0 and 1 are copied before the loop into slots 0
// and 1; iteration i waits for its tile (one group may stay in flight),
// copies iteration i + 2 into slot (i + 2) % 3 and hands the dots the
// buffer; the register user reads it through a convert_layout.
// CHECK-LABEL: func.func @three_stages
// CHECK: %[[A0:.*]] = tile.async_load %{{.*}} mask %{{.*}} slot %c0_i32{{.*}} {buffers = 3 : i32}
// CHECK: %[[A1:.*]] = tile.async_load %{{.*}} mask %{{.*}} slot %c1_i32{{.*}} {buffers = 3 : i32}
// CHECK: scf.for %[[IV:.*]] = {{.*}} iter_args(%[[ACC:.*]] = %{{.*}}, %[[CUR:.*]] = %[[A0]], %[[NEXT:.*]] = %[[A1]])
// CHECK-NEXT: %[[W:.*]] = tile.async_wait %[[CUR]] {pending = 1 : i32}
// CHECK-NEXT: tile.convert_layout %[[W]] {{.*}} -> tensor<16x16xbf16, #tile.blocked
// CHECK: %[[AHEAD:.*]] = arith.addi %[[IV]], %{{.*}} : i32
// CHECK: %[[SLOT:.*]] = arith.remsi %{{.*}}, %{{.*}} : i32
// CHECK: arith.muli %[[AHEAD]], %{{.*}} : i32
// CHECK: %[[IN:.*]] = arith.cmpi slt, %[[AHEAD]], %arg1 : i32
// CHECK: %[[NEW:.*]] = tile.async_load %{{.*}} mask %{{.*}} slot %[[SLOT]] {buffers = 3 : i32}
// CHECK-NOT: tile.load
// CHECK-DAG: tile.convert_layout %[[W]] {{.*}} -> tensor<16x16xbf16, #tile.dot_operand<opIdx = 0
// CHECK-DAG: tile.convert_layout %[[W]] {{.*}} -> tensor<16x16xbf16, #tile.dot_operand<opIdx = 1
// CHECK: scf.yield %{{.*}}, %[[NEXT]], %[[NEW]]
// CHECK: tile.async_wait {pending = 0 : i32}
// CHECK-NEXT: return

// The ring takes the bottom of shared memory (3 × 16 rows × (16 + 8) bf16),
// the other scratch users above it; the wait is the barrier.
// ALLOC-LABEL: func.func @three_stages
// ALLOC: tile.async_load {{.*}}tile.smem_offset = 0 : i32
// ALLOC: tile.convert_layout {{.*}}tile.smem_offset = 2304 : i32
func.func @three_stages(%p: !tile.ptr<bf16> {tile.divisibility = 16 : i32},
                        %n: i32) -> tensor<16x16xf32, #mma>
    attributes {tile.num_stages = 3 : i32} {
  %c16s = arith.constant 16 : i32
  %c0 = arith.constant 0 : i32
  %c1 = arith.constant 1 : i32
  %c256 = arith.constant 256 : i32
  %zero = arith.constant dense<0.0> : tensor<16x16xf32, #mma>
  %base = tile.splat %p : !tile.ptr<bf16> -> tensor<16x16x!tile.ptr<bf16>, #b>
  %rows = tile.make_range 0, 16 : tensor<16xi32, #tile.slice<dim = 1, parent = #b>>
  %cols = tile.make_range 0, 16 : tensor<16xi32, #tile.slice<dim = 0, parent = #b>>
  %r1 = tile.expand_dims %rows {axis = 1 : i32} : tensor<16xi32, #tile.slice<dim = 1, parent = #b>> -> tensor<16x1xi32, #b>
  %c1_ = tile.expand_dims %cols {axis = 0 : i32} : tensor<16xi32, #tile.slice<dim = 0, parent = #b>> -> tensor<1x16xi32, #b>
  %rb = tile.broadcast %r1 : tensor<16x1xi32, #b> -> tensor<16x16xi32, #b>
  %cb = tile.broadcast %c1_ : tensor<1x16xi32, #b> -> tensor<16x16xi32, #b>
  %c16 = tile.splat %c16s : i32 -> tensor<16x16xi32, #b>
  %rs = arith.muli %rb, %c16 : tensor<16x16xi32, #b>
  %offs = arith.addi %rs, %cb : tensor<16x16xi32, #b>
  %r = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %zero) -> (tensor<16x16xf32, #mma>) : i32 {
    %start = arith.muli %i, %c256 : i32
    %s = tile.splat %start : i32 -> tensor<16x16xi32, #b>
    %off = arith.addi %s, %offs : tensor<16x16xi32, #b>
    %ptrs = tile.addptr %base, %off : tensor<16x16x!tile.ptr<bf16>, #b>, tensor<16x16xi32, #b>
    %row0 = arith.muli %i, %c16s : i32
    %row0s = tile.splat %row0 : i32 -> tensor<16x16xi32, #b>
    %row = arith.addi %row0s, %rb : tensor<16x16xi32, #b>
    %lim = tile.splat %n : i32 -> tensor<16x16xi32, #b>
    %m = arith.cmpi slt, %row, %lim : tensor<16x16xi32, #b>
    %x = tile.load %ptrs mask %m : (tensor<16x16x!tile.ptr<bf16>, #b>, tensor<16x16xi1, #b>) -> tensor<16x16xbf16, #b>
    %xa = tile.convert_layout %x : tensor<16x16xbf16, #b> -> tensor<16x16xbf16, #opa>
    %xb = tile.convert_layout %x : tensor<16x16xbf16, #b> -> tensor<16x16xbf16, #opb>
    %d = tile.dot %xa, %xb, %acc : tensor<16x16xbf16, #opa>, tensor<16x16xbf16, #opb> -> tensor<16x16xf32, #mma>
    %xf = tile.convert %x : tensor<16x16xbf16, #b> -> tensor<16x16xf32, #b>
    %xm = tile.convert_layout %xf : tensor<16x16xf32, #b> -> tensor<16x16xf32, #mma>
    %sum = arith.addf %d, %xm : tensor<16x16xf32, #mma>
    scf.yield %sum : tensor<16x16xf32, #mma>
  }
  return %r : tensor<16x16xf32, #mma>
}

// A load whose pointers depend on a loop-carried value, and a loop of one
// stage, keep their loads.
// CHECK-LABEL: func.func @not_pipelined
// CHECK-NOT: tile.async_load
// CHECK: tile.load
// CHECK-NOT: tile.async_load
// CHECK: tile.load
// CHECK-NOT: tile.async
func.func @not_pipelined(%p: !tile.ptr<bf16> {tile.divisibility = 16 : i32},
                         %offs: tensor<16x16xi32, #b>, %n: i32) -> tensor<16x16xf32, #mma>
    attributes {tile.num_stages = 2 : i32} {
  %c0 = arith.constant 0 : i32
  %c1 = arith.constant 1 : i32
  %zero = arith.constant dense<0.0> : tensor<16x16xf32, #mma>
  %base = tile.splat %p : !tile.ptr<bf16> -> tensor<16x16x!tile.ptr<bf16>, #b>
  %r:2 = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %zero, %o = %offs) -> (tensor<16x16xf32, #mma>, tensor<16x16xi32, #b>) : i32 {
    %ptrs = tile.addptr %base, %o : tensor<16x16x!tile.ptr<bf16>, #b>, tensor<16x16xi32, #b>
    %x = tile.load %ptrs : (tensor<16x16x!tile.ptr<bf16>, #b>) -> tensor<16x16xbf16, #b>
    %xa = tile.convert_layout %x : tensor<16x16xbf16, #b> -> tensor<16x16xbf16, #opa>
    %xb = tile.convert_layout %x : tensor<16x16xbf16, #b> -> tensor<16x16xbf16, #opb>
    %d = tile.dot %xa, %xb, %acc : tensor<16x16xbf16, #opa>, tensor<16x16xbf16, #opb> -> tensor<16x16xf32, #mma>
    %next = arith.addi %o, %offs : tensor<16x16xi32, #b>
    scf.yield %d, %next : tensor<16x16xf32, #mma>, tensor<16x16xi32, #b>
  }
  %s = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %zero) -> (tensor<16x16xf32, #mma>) : i32 {
    %ptrs = tile.addptr %base, %offs : tensor<16x16x!tile.ptr<bf16>, #b>, tensor<16x16xi32, #b>
    %x = tile.load %ptrs : (tensor<16x16x!tile.ptr<bf16>, #b>) -> tensor<16x16xbf16, #b>
    %xa = tile.convert_layout %x : tensor<16x16xbf16, #b> -> tensor<16x16xbf16, #opa>
    %xb = tile.convert_layout %x : tensor<16x16xbf16, #b> -> tensor<16x16xbf16, #opb>
    %d = tile.dot %xa, %xb, %acc : tensor<16x16xbf16, #opa>, tensor<16x16xbf16, #opb> -> tensor<16x16xf32, #mma>
    scf.yield %d : tensor<16x16xf32, #mma>
  } {tile.num_stages = 1 : i32}
  %t = arith.addf %r#0, %s : tensor<16x16xf32, #mma>
  return %t : tensor<16x16xf32, #mma>
}

// Two loads over three stages: the prologue issues iteration 0's copies of
// both before iteration 1's (commit groups complete in issue order), and
// each wait lets the (3 - 2) · 2 groups of the next iteration stay in
// flight.
// CHECK-LABEL: func.func @two_loads
// CHECK: tile.async_load {{.*}} slot %c0_i32
// CHECK: tile.async_load {{.*}} slot %c0_i32
// CHECK: tile.async_load {{.*}} slot %c1_i32
// CHECK: tile.async_load {{.*}} slot %c1_i32
// CHECK: scf.for
// CHECK-NEXT: tile.async_wait %{{.*}}, %{{.*}} {pending = 2 : i32}
func.func @two_loads(%p: !tile.ptr<f32> {tile.divisibility = 16 : i32},
                     %q: !tile.ptr<f32> {tile.divisibility = 16 : i32},
                     %n: i32) -> tensor<16x16xf32, #mma>
    attributes {tile.num_stages = 3 : i32} {
  %c16s = arith.constant 16 : i32
  %c0 = arith.constant 0 : i32
  %c1 = arith.constant 1 : i32
  %c256 = arith.constant 256 : i32
  %zero = arith.constant dense<0.0> : tensor<16x16xf32, #mma>
  %pb = tile.splat %p : !tile.ptr<f32> -> tensor<16x16x!tile.ptr<f32>, #b>
  %qb = tile.splat %q : !tile.ptr<f32> -> tensor<16x16x!tile.ptr<f32>, #b>
  %rows = tile.make_range 0, 16 : tensor<16xi32, #tile.slice<dim = 1, parent = #b>>
  %cols = tile.make_range 0, 16 : tensor<16xi32, #tile.slice<dim = 0, parent = #b>>
  %r1 = tile.expand_dims %rows {axis = 1 : i32} : tensor<16xi32, #tile.slice<dim = 1, parent = #b>> -> tensor<16x1xi32, #b>
  %c1_ = tile.expand_dims %cols {axis = 0 : i32} : tensor<16xi32, #tile.slice<dim = 0, parent = #b>> -> tensor<1x16xi32, #b>
  %rb = tile.broadcast %r1 : tensor<16x1xi32, #b> -> tensor<16x16xi32, #b>
  %cb = tile.broadcast %c1_ : tensor<1x16xi32, #b> -> tensor<16x16xi32, #b>
  %c16 = tile.splat %c16s : i32 -> tensor<16x16xi32, #b>
  %rs = arith.muli %rb, %c16 : tensor<16x16xi32, #b>
  %offs = arith.addi %rs, %cb : tensor<16x16xi32, #b>
  %r = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %zero) -> (tensor<16x16xf32, #mma>) : i32 {
    %start = arith.muli %i, %c256 : i32
    %s = tile.splat %start : i32 -> tensor<16x16xi32, #b>
    %off = arith.addi %s, %offs : tensor<16x16xi32, #b>
    %pp = tile.addptr %pb, %off : tensor<16x16x!tile.ptr<f32>, #b>, tensor<16x16xi32, #b>
    %qp = tile.addptr %qb, %off : tensor<16x16x!tile.ptr<f32>, #b>, tensor<16x16xi32, #b>
    %x = tile.load %pp : (tensor<16x16x!tile.ptr<f32>, #b>) -> tensor<16x16xf32, #b>
    %y = tile.load %qp : (tensor<16x16x!tile.ptr<f32>, #b>) -> tensor<16x16xf32, #b>
    %xa = tile.convert_layout %x : tensor<16x16xf32, #b> -> tensor<16x16xf32, #tile.dot_operand<opIdx = 0, parent = #mma, bitWidth = 32>>
    %yb = tile.convert_layout %y : tensor<16x16xf32, #b> -> tensor<16x16xf32, #tile.dot_operand<opIdx = 1, parent = #mma, bitWidth = 32>>
    %d = tile.dot %xa, %yb, %acc : tensor<16x16xf32, #tile.dot_operand<opIdx = 0, parent = #mma, bitWidth = 32>>, tensor<16x16xf32, #tile.dot_operand<opIdx = 1, parent = #mma, bitWidth = 32>> -> tensor<16x16xf32, #mma>
    scf.yield %d : tensor<16x16xf32, #mma>
  }
  return %r : tensor<16x16xf32, #mma>
}

// A masked load whose tail reads 0 (a gate vector: `other` = 0, what a
// cp.async copying no bytes leaves) reaches a dot through pure ops and is
// pipelined; one whose tail reads 1 keeps its load.
#b1 = #tile.blocked<spt = [1], tpw = [32], wpc = [1], order = [0]>
// CHECK-LABEL: func.func @zero_tail
// CHECK: tile.async_load {{.*}} -> tensor<16xf32, #tile.shared>
// CHECK: scf.for
// CHECK: tile.async_wait
// CHECK: tile.async_load {{.*}} -> tensor<16xf32, #tile.shared>
// CHECK: tile.load {{.*}} other
// CHECK: scf.yield
func.func @zero_tail(%g: !tile.ptr<f32> {tile.divisibility = 16 : i32}, %n: i32,
                     %a: tensor<16x16xbf16, #opa>, %bop: tensor<16x16xbf16, #opb>)
    -> tensor<16x16xf32, #mma> attributes {tile.num_stages = 2 : i32} {
  %c0 = arith.constant 0 : i32
  %c1 = arith.constant 1 : i32
  %c16 = arith.constant 16 : i32
  %zero = arith.constant dense<0.0> : tensor<16x16xf32, #mma>
  %z1 = arith.constant dense<0.0> : tensor<16xf32, #b1>
  %o1 = arith.constant dense<1.0> : tensor<16xf32, #b1>
  %base = tile.splat %g : !tile.ptr<f32> -> tensor<16x!tile.ptr<f32>, #b1>
  %rows = tile.make_range 0, 16 : tensor<16xi32, #b1>
  %r = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %zero) -> (tensor<16x16xf32, #mma>) : i32 {
    %start = arith.muli %i, %c16 : i32
    %s = tile.splat %start : i32 -> tensor<16xi32, #b1>
    %idx = arith.addi %s, %rows : tensor<16xi32, #b1>
    %lim = tile.splat %n : i32 -> tensor<16xi32, #b1>
    %m = arith.cmpi slt, %idx, %lim : tensor<16xi32, #b1>
    %ptrs = tile.addptr %base, %idx : tensor<16x!tile.ptr<f32>, #b1>, tensor<16xi32, #b1>
    %x = tile.load %ptrs mask %m other %z1 : (tensor<16x!tile.ptr<f32>, #b1>, tensor<16xi1, #b1>, tensor<16xf32, #b1>) -> tensor<16xf32, #b1>
    %y = tile.load %ptrs mask %m other %o1 : (tensor<16x!tile.ptr<f32>, #b1>, tensor<16xi1, #b1>, tensor<16xf32, #b1>) -> tensor<16xf32, #b1>
    %xy = arith.mulf %x, %y : tensor<16xf32, #b1>
    %xs = tile.convert_layout %xy : tensor<16xf32, #b1> -> tensor<16xf32, #tile.slice<dim = 1, parent = #mma>>
    %xe = tile.expand_dims %xs {axis = 1 : i32} : tensor<16xf32, #tile.slice<dim = 1, parent = #mma>> -> tensor<16x1xf32, #mma>
    %xb = tile.broadcast %xe : tensor<16x1xf32, #mma> -> tensor<16x16xf32, #mma>
    %d = tile.dot %a, %bop, %acc : tensor<16x16xbf16, #opa>, tensor<16x16xbf16, #opb> -> tensor<16x16xf32, #mma>
    %w = arith.mulf %d, %xb : tensor<16x16xf32, #mma>
    %wb = tile.convert %w : tensor<16x16xf32, #mma> -> tensor<16x16xbf16, #mma>
    %wa = tile.convert_layout %wb : tensor<16x16xbf16, #mma> -> tensor<16x16xbf16, #opa>
    %d2 = tile.dot %wa, %bop, %zero : tensor<16x16xbf16, #opa>, tensor<16x16xbf16, #opb> -> tensor<16x16xf32, #mma>
    scf.yield %d2 : tensor<16x16xf32, #mma>
  }
  return %r : tensor<16x16xf32, #mma>
}

// A read-modify-write of each iteration's own rows (an anti-causal sweep
// adding to the output): marked tile.pipeline, its load is issued a stage
// ahead although no dot reads it, and comes from the ring into registers
// where it is used (after the next copy is issued, not at the wait);
// unmarked, it stays a load.
// CHECK-LABEL: func.func @marked_accumulate
// CHECK: tile.async_load
// CHECK: scf.for
// CHECK: tile.async_wait
// CHECK: tile.async_load
// CHECK: tile.convert_layout {{.*}}#tile.shared> -> tensor<16x16xf32, #tile.blocked
// CHECK-NEXT: arith.addf
// CHECK: tile.store
// CHECK: scf.for
// CHECK-NOT: tile.async
// CHECK: tile.load
// CHECK: tile.store
func.func @marked_accumulate(%p: !tile.ptr<f32> {tile.divisibility = 16 : i32},
                             %x: tensor<16x16xf32, #b>, %n: i32)
    attributes {tile.num_stages = 2 : i32} {
  %c0 = arith.constant 0 : i32
  %c1 = arith.constant 1 : i32
  %c256 = arith.constant 256 : i32
  %c16 = arith.constant dense<16> : tensor<16x1xi32, #b>
  %r = tile.make_range 0, 16 : tensor<16xi32, #tile.slice<dim = 1, parent = #b>>
  %c = tile.make_range 0, 16 : tensor<16xi32, #tile.slice<dim = 0, parent = #b>>
  %re = tile.expand_dims %r {axis = 1 : i32} : tensor<16xi32, #tile.slice<dim = 1, parent = #b>> -> tensor<16x1xi32, #b>
  %ce = tile.expand_dims %c {axis = 0 : i32} : tensor<16xi32, #tile.slice<dim = 0, parent = #b>> -> tensor<1x16xi32, #b>
  %r16 = arith.muli %re, %c16 : tensor<16x1xi32, #b>
  %rb = tile.broadcast %r16 : tensor<16x1xi32, #b> -> tensor<16x16xi32, #b>
  %cb = tile.broadcast %ce : tensor<1x16xi32, #b> -> tensor<16x16xi32, #b>
  %offs = arith.addi %rb, %cb : tensor<16x16xi32, #b>
  %base = tile.splat %p : !tile.ptr<f32> -> tensor<16x16x!tile.ptr<f32>, #b>
  scf.for %i = %c0 to %n step %c1 : i32 {
    %start = arith.muli %i, %c256 : i32
    %s = tile.splat %start : i32 -> tensor<16x16xi32, #b>
    %o = arith.addi %offs, %s : tensor<16x16xi32, #b>
    %ptrs = tile.addptr %base, %o : tensor<16x16x!tile.ptr<f32>, #b>, tensor<16x16xi32, #b>
    %old = tile.load %ptrs {tile.pipeline} : (tensor<16x16x!tile.ptr<f32>, #b>) -> tensor<16x16xf32, #b>
    %new = arith.addf %old, %x : tensor<16x16xf32, #b>
    tile.store %ptrs, %new : (tensor<16x16x!tile.ptr<f32>, #b>, tensor<16x16xf32, #b>) -> ()
  }
  scf.for %i = %c0 to %n step %c1 : i32 {
    %start = arith.muli %i, %c256 : i32
    %s = tile.splat %start : i32 -> tensor<16x16xi32, #b>
    %o = arith.addi %offs, %s : tensor<16x16xi32, #b>
    %ptrs = tile.addptr %base, %o : tensor<16x16x!tile.ptr<f32>, #b>, tensor<16x16xi32, #b>
    %old = tile.load %ptrs : (tensor<16x16x!tile.ptr<f32>, #b>) -> tensor<16x16xf32, #b>
    %new = arith.addf %old, %x : tensor<16x16xf32, #b>
    tile.store %ptrs, %new : (tensor<16x16x!tile.ptr<f32>, #b>, tensor<16x16xf32, #b>) -> ()
  }
  return
}

// A marked 16-bit tile that is widened and moved into an accumulator's
// layout is read from the ring in that layout and widened there: no
// staging through a blocked layout.
// CHECK-LABEL: func.func @marked_widen
// CHECK: scf.for
// CHECK: tile.async_wait
// CHECK: tile.convert_layout {{.*}}#tile.shared> -> tensor<16x16xbf16, #tile.mma
// CHECK-NEXT: tile.convert {{.*}} -> tensor<16x16xf32, #tile.mma
// CHECK-NOT: tile.convert_layout
// CHECK: tile.store
func.func @marked_widen(%p: !tile.ptr<bf16> {tile.divisibility = 16 : i32},
                        %q: !tile.ptr<f32> {tile.divisibility = 16 : i32},
                        %x: tensor<16x16xf32, #mma>,
                        %outs: tensor<16x16xi32, #mma>, %n: i32)
    attributes {tile.num_stages = 2 : i32} {
  %c0 = arith.constant 0 : i32
  %c1 = arith.constant 1 : i32
  %c256 = arith.constant 256 : i32
  %c16 = arith.constant dense<16> : tensor<16x1xi32, #b>
  %r = tile.make_range 0, 16 : tensor<16xi32, #tile.slice<dim = 1, parent = #b>>
  %c = tile.make_range 0, 16 : tensor<16xi32, #tile.slice<dim = 0, parent = #b>>
  %re = tile.expand_dims %r {axis = 1 : i32} : tensor<16xi32, #tile.slice<dim = 1, parent = #b>> -> tensor<16x1xi32, #b>
  %ce = tile.expand_dims %c {axis = 0 : i32} : tensor<16xi32, #tile.slice<dim = 0, parent = #b>> -> tensor<1x16xi32, #b>
  %r16 = arith.muli %re, %c16 : tensor<16x1xi32, #b>
  %rb = tile.broadcast %r16 : tensor<16x1xi32, #b> -> tensor<16x16xi32, #b>
  %cb = tile.broadcast %ce : tensor<1x16xi32, #b> -> tensor<16x16xi32, #b>
  %offs = arith.addi %rb, %cb : tensor<16x16xi32, #b>
  %base = tile.splat %p : !tile.ptr<bf16> -> tensor<16x16x!tile.ptr<bf16>, #b>
  %obase = tile.splat %q : !tile.ptr<f32> -> tensor<16x16x!tile.ptr<f32>, #mma>
  scf.for %i = %c0 to %n step %c1 : i32 {
    %start = arith.muli %i, %c256 : i32
    %s = tile.splat %start : i32 -> tensor<16x16xi32, #b>
    %o = arith.addi %offs, %s : tensor<16x16xi32, #b>
    %ptrs = tile.addptr %base, %o : tensor<16x16x!tile.ptr<bf16>, #b>, tensor<16x16xi32, #b>
    %old = tile.load %ptrs {tile.pipeline} : (tensor<16x16x!tile.ptr<bf16>, #b>) -> tensor<16x16xbf16, #b>
    %wide = tile.convert %old : tensor<16x16xbf16, #b> -> tensor<16x16xf32, #b>
    %moved = tile.convert_layout %wide : tensor<16x16xf32, #b> -> tensor<16x16xf32, #mma>
    %new = arith.addf %moved, %x : tensor<16x16xf32, #mma>
    %sm = tile.splat %start : i32 -> tensor<16x16xi32, #mma>
    %om = arith.addi %outs, %sm : tensor<16x16xi32, #mma>
    %optrs = tile.addptr %obase, %om : tensor<16x16x!tile.ptr<f32>, #mma>, tensor<16x16xi32, #mma>
    tile.store %optrs, %new : (tensor<16x16x!tile.ptr<f32>, #mma>, tensor<16x16xf32, #mma>) -> ()
  }
  return
}
