// RUN: tessel-opt %s --tile-remove-layout-conversions | FileCheck %s

#b = #tile.blocked<spt = [1, 8], tpw = [4, 8], wpc = [4, 1], order = [1, 0]>
#m = #tile.mma<wpc = [4, 1]>

// A conversion of a splat constant becomes the constant in the new layout.
// CHECK-LABEL: func.func @rematerialize
// CHECK-NOT: tile.convert_layout
// CHECK: arith.constant dense<1.000000e+00> : tensor<64x64xf32, #tile.mma<wpc = [4, 1]>>
func.func @rematerialize() -> tensor<64x64xf32, #m> {
  %c = arith.constant dense<1.0> : tensor<64x64xf32, #b>
  %r = tile.convert_layout %c : tensor<64x64xf32, #b> -> tensor<64x64xf32, #m>
  return %r : tensor<64x64xf32, #m>
}

// Chains fold; a round trip disappears.
// CHECK-LABEL: func.func @round_trip
// CHECK-NOT: tile.convert_layout
// CHECK: return %arg0
func.func @round_trip(%x: tensor<64x64xf32, #b>) -> tensor<64x64xf32, #b> {
  %a = tile.convert_layout %x : tensor<64x64xf32, #b> -> tensor<64x64xf32, #m>
  %r = tile.convert_layout %a : tensor<64x64xf32, #m> -> tensor<64x64xf32, #b>
  return %r : tensor<64x64xf32, #b>
}

// Converting a broadcast converts its smaller operand instead.
// CHECK-LABEL: func.func @before_broadcast
// CHECK: tile.convert_layout %arg0 : tensor<64x1xf32, #{{.*}}> -> tensor<64x1xf32, #tile.mma<wpc = [4, 1]>>
// CHECK: tile.broadcast {{.*}} -> tensor<64x64xf32, #tile.mma<wpc = [4, 1]>>
func.func @before_broadcast(%x: tensor<64x1xf32, #b>) -> tensor<64x64xf32, #m> {
  %bc = tile.broadcast %x : tensor<64x1xf32, #b> -> tensor<64x64xf32, #b>
  %r = tile.convert_layout %bc : tensor<64x64xf32, #b> -> tensor<64x64xf32, #m>
  return %r : tensor<64x64xf32, #m>
}

// A transposed dot operand is read transposed from its source's staging:
// the conversion moves to the source, into #tile.trans of the operand
// layout, and the trans relabels registers.
// CHECK-LABEL: func.func @trans_into_operand
// CHECK: %[[C:.*]] = tile.convert_layout %arg0 : tensor<64x128xbf16, #{{.*}}> -> tensor<64x128xbf16, #tile.trans<#tile.dot_operand<opIdx = 1, parent = #tile.mma<wpc = [4, 1]>, bitWidth = 16>>>
// CHECK: tile.trans %[[C]] : tensor<64x128xbf16, #tile.trans<{{.*}}>> -> tensor<128x64xbf16, #tile.dot_operand<opIdx = 1
#bt = #tile.blocked<spt = [8, 1], tpw = [8, 4], wpc = [1, 4], order = [0, 1]>
#opb = #tile.dot_operand<opIdx = 1, parent = #m, bitWidth = 16>
func.func @trans_into_operand(%k: tensor<64x128xbf16, #b>) -> tensor<128x64xbf16, #opb> {
  %t = tile.trans %k : tensor<64x128xbf16, #b> -> tensor<128x64xbf16, #bt>
  %r = tile.convert_layout %t : tensor<128x64xbf16, #bt> -> tensor<128x64xbf16, #opb>
  return %r : tensor<128x64xbf16, #opb>
}

// A transposed accumulator rounded to bf16 for a dot: the rounding moves
// before the transpose, and the rounded accumulator is staged as it is.
// CHECK-LABEL: func.func @rounded_trans_into_operand
// CHECK: %[[R:.*]] = tile.convert %arg0 : tensor<64x128xf32, #tile.mma<wpc = [4, 1]>> -> tensor<64x128xbf16, #tile.mma<wpc = [4, 1]>>
// CHECK: %[[C:.*]] = tile.convert_layout %[[R]] : {{.*}} -> tensor<64x128xbf16, #tile.trans<#tile.dot_operand<opIdx = 1
// CHECK: tile.trans %[[C]]
func.func @rounded_trans_into_operand(%g: tensor<64x128xf32, #m>) -> tensor<128x64xbf16, #opb> {
  %t = tile.trans %g : tensor<64x128xf32, #m> -> tensor<128x64xf32, #tile.trans<#m>>
  %r = tile.convert %t : tensor<128x64xf32, #tile.trans<#m>> -> tensor<128x64xbf16, #tile.trans<#m>>
  %c = tile.convert_layout %r : tensor<128x64xbf16, #tile.trans<#m>> -> tensor<128x64xbf16, #opb>
  return %c : tensor<128x64xbf16, #opb>
}

// A C×C decay mask computed from two C-vectors in the blocked layout and
// converted for the accumulator: it is computed again in the mma layout
// from the vectors, each converted into a slice of it, and no C×C tile goes
// through shared memory. The causal compare (outside the loop there, its
// value used elsewhere too) is built again beside the original.
#s0 = #tile.slice<dim = 0, parent = #b>
#s1 = #tile.slice<dim = 1, parent = #b>
// CHECK-LABEL: func.func @decay_mask
// CHECK-DAG: tile.convert_layout %arg0 : tensor<64xf32, #tile.slice<dim = 1, parent = #tile.blocked{{.*}}>> -> tensor<64xf32, #tile.slice<dim = 1, parent = #tile.mma<wpc = [4, 1]>>>
// CHECK-DAG: tile.convert_layout %arg1 : tensor<64xf32, #tile.slice<dim = 0, parent = #tile.blocked{{.*}}>> -> tensor<64xf32, #tile.slice<dim = 0, parent = #tile.mma<wpc = [4, 1]>>>
// CHECK-DAG: tile.make_range 0, 64 : tensor<64xi32, #tile.slice<dim = 1, parent = #tile.mma<wpc = [4, 1]>>>
// CHECK-DAG: arith.cmpi sge, {{.*}} : tensor<64x64xi32, #tile.mma<wpc = [4, 1]>>
// CHECK: math.exp {{.*}} : tensor<64x64xf32, #tile.mma<wpc = [4, 1]>>
// CHECK: arith.select {{.*}} : tensor<64x64xi1, #tile.mma<wpc = [4, 1]>>, tensor<64x64xf32, #tile.mma<wpc = [4, 1]>>
// CHECK-NOT: tile.convert_layout {{.*}} -> tensor<64x64xf32
// CHECK: return
func.func @decay_mask(%rows: tensor<64xf32, #s1>, %cols: tensor<64xf32, #s0>,
                      %acc: tensor<64x64xf32, #m>) -> (tensor<64x64xf32, #m>, tensor<64x64xi1, #b>) {
  %i = tile.make_range 0, 64 : tensor<64xi32, #s1>
  %j = tile.make_range 0, 64 : tensor<64xi32, #s0>
  %ie = tile.expand_dims %i {axis = 1 : i32} : tensor<64xi32, #s1> -> tensor<64x1xi32, #b>
  %je = tile.expand_dims %j {axis = 0 : i32} : tensor<64xi32, #s0> -> tensor<1x64xi32, #b>
  %ib = tile.broadcast %ie : tensor<64x1xi32, #b> -> tensor<64x64xi32, #b>
  %jb = tile.broadcast %je : tensor<1x64xi32, #b> -> tensor<64x64xi32, #b>
  %causal = arith.cmpi sge, %ib, %jb : tensor<64x64xi32, #b>
  %re = tile.expand_dims %rows {axis = 1 : i32} : tensor<64xf32, #s1> -> tensor<64x1xf32, #b>
  %ce = tile.expand_dims %cols {axis = 0 : i32} : tensor<64xf32, #s0> -> tensor<1x64xf32, #b>
  %rb = tile.broadcast %re : tensor<64x1xf32, #b> -> tensor<64x64xf32, #b>
  %cb = tile.broadcast %ce : tensor<1x64xf32, #b> -> tensor<64x64xf32, #b>
  %d = arith.subf %rb, %cb : tensor<64x64xf32, #b>
  %e = math.exp %d : tensor<64x64xf32, #b>
  %zero = arith.constant dense<0.0> : tensor<64x64xf32, #b>
  %mask = arith.select %causal, %e, %zero : tensor<64x64xi1, #b>, tensor<64x64xf32, #b>
  %cm = tile.convert_layout %mask : tensor<64x64xf32, #b> -> tensor<64x64xf32, #m>
  %r = arith.mulf %acc, %cm : tensor<64x64xf32, #m>
  return %r, %causal : tensor<64x64xf32, #m>, tensor<64x64xi1, #b>
}

// Inside a loop, an exp whose value is also used elsewhere is not computed
// twice: the conversion stays.
// CHECK-LABEL: func.func @shared_exp_in_loop
// CHECK: scf.for
// CHECK: math.exp
// CHECK-NOT: math.exp
// CHECK: tile.convert_layout {{.*}} : tensor<64x64xf32, #tile.blocked{{.*}}> -> tensor<64x64xf32, #tile.mma<wpc = [4, 1]>>
func.func @shared_exp_in_loop(%rows: tensor<64xf32, #s1>, %acc: tensor<64x64xf32, #m>,
                              %n: index) -> (tensor<64x64xf32, #m>, tensor<64x64xf32, #b>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zb = arith.constant dense<0.0> : tensor<64x64xf32, #b>
  %r:2 = scf.for %it = %c0 to %n step %c1 iter_args(%a = %acc, %other = %zb)
      -> (tensor<64x64xf32, #m>, tensor<64x64xf32, #b>) {
    %re = tile.expand_dims %rows {axis = 1 : i32} : tensor<64xf32, #s1> -> tensor<64x1xf32, #b>
    %rb = tile.broadcast %re : tensor<64x1xf32, #b> -> tensor<64x64xf32, #b>
    %e = math.exp %rb : tensor<64x64xf32, #b>
    %cm = tile.convert_layout %e : tensor<64x64xf32, #b> -> tensor<64x64xf32, #m>
    %next = arith.mulf %a, %cm : tensor<64x64xf32, #m>
    %o = arith.addf %other, %e : tensor<64x64xf32, #b>
    scf.yield %next, %o : tensor<64x64xf32, #m>, tensor<64x64xf32, #b>
  }
  return %r#0, %r#1 : tensor<64x64xf32, #m>, tensor<64x64xf32, #b>
}

// Leaves as large as the converted tile: converting them would not be
// cheaper, so the conversion stays where it is.
// CHECK-LABEL: func.func @large_leaves
// CHECK: arith.addf %arg0, %arg1 : tensor<64x64xf32, #tile.blocked
// CHECK: tile.convert_layout
func.func @large_leaves(%x: tensor<64x64xf32, #b>, %y: tensor<64x64xf32, #b>) -> tensor<64x64xf32, #m> {
  %s = arith.addf %x, %y : tensor<64x64xf32, #b>
  %r = tile.convert_layout %s : tensor<64x64xf32, #b> -> tensor<64x64xf32, #m>
  return %r : tensor<64x64xf32, #m>
}

// Inside a loop, an exp used elsewhere too is not computed twice, but the
// chain above it still is rebuilt: the exp's (64-element) value becomes a
// leaf and converts, the 64×64 product is computed in the mma layout.
// CHECK-LABEL: func.func @math_leaf_in_loop
// CHECK: scf.for
// CHECK: %[[E:.*]] = math.exp %{{.*}} : tensor<64xf32, #tile.slice<dim = 1, parent = #tile.blocked
// CHECK-NOT: math.exp
// CHECK: tile.convert_layout %[[E]] : {{.*}} -> tensor<64xf32, #tile.slice<dim = 1, parent = #tile.mma<wpc = [4, 1]>>>
// CHECK: arith.mulf {{.*}} : tensor<64x64xf32, #tile.mma<wpc = [4, 1]>>
// CHECK-NOT: tile.convert_layout {{.*}} -> tensor<64x64xf32
func.func @math_leaf_in_loop(%rows: tensor<64xf32, #s1>, %cols: tensor<64xf32, #s0>,
                             %acc: tensor<64x64xf32, #m>, %n: index)
    -> (tensor<64x64xf32, #m>, tensor<64xf32, #s1>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %z = arith.constant dense<0.0> : tensor<64xf32, #s1>
  %r:2 = scf.for %it = %c0 to %n step %c1 iter_args(%a = %acc, %other = %z)
      -> (tensor<64x64xf32, #m>, tensor<64xf32, #s1>) {
    %e = math.exp %rows : tensor<64xf32, #s1>
    %ee = tile.expand_dims %e {axis = 1 : i32} : tensor<64xf32, #s1> -> tensor<64x1xf32, #b>
    %ce = tile.expand_dims %cols {axis = 0 : i32} : tensor<64xf32, #s0> -> tensor<1x64xf32, #b>
    %eb = tile.broadcast %ee : tensor<64x1xf32, #b> -> tensor<64x64xf32, #b>
    %cb = tile.broadcast %ce : tensor<1x64xf32, #b> -> tensor<64x64xf32, #b>
    %p = arith.mulf %eb, %cb : tensor<64x64xf32, #b>
    %cm = tile.convert_layout %p : tensor<64x64xf32, #b> -> tensor<64x64xf32, #m>
    %next = arith.mulf %a, %cm : tensor<64x64xf32, #m>
    %o = arith.addf %other, %e : tensor<64xf32, #s1>
    scf.yield %next, %o : tensor<64x64xf32, #m>, tensor<64xf32, #s1>
  }
  return %r#0, %r#1 : tensor<64x64xf32, #m>, tensor<64xf32, #s1>
}
