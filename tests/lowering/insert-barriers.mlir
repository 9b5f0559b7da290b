// RUN: tessel-opt %s --tile-insert-barriers | FileCheck %s

#b = #tile.blocked<spt = [1, 8], tpw = [4, 8], wpc = [4, 1], order = [1, 0]>
#m = #tile.mma<wpc = [4, 1]>
#a = #tile.dot_operand<opIdx = 0, parent = #m, bitWidth = 16>

// The first user has nothing before it; each next one writes a region the
// previous one's readers are not in.
// CHECK-LABEL: func.func @straight
// CHECK: tile.convert_layout {{.*}}tile.barrier_before = false
// CHECK: tile.convert_layout {{.*}}tile.barrier_before = false
// CHECK: tile.convert_layout {{.*}}tile.barrier_before = false
func.func @straight(%y: tensor<32x32xbf16, #b>) attributes {tile.kernel} {
  %a = tile.convert_layout %y {tile.smem_offset = 0 : i32} : tensor<32x32xbf16, #b> -> tensor<32x32xbf16, #m>
  %c = tile.convert_layout %y {tile.smem_offset = 2560 : i32} : tensor<32x32xbf16, #b> -> tensor<32x32xbf16, #a>
  %d = tile.convert_layout %a {tile.smem_offset = 0 : i32} : tensor<32x32xbf16, #m> -> tensor<32x32xbf16, #b>
  return
}

// Two users in one region (offsets set by hand): the second must wait for
// the readers of the first.
// CHECK-LABEL: func.func @hazard
// CHECK: tile.convert_layout {{.*}}tile.barrier_before = false
// CHECK: tile.convert_layout {{.*}}tile.barrier_before = true
func.func @hazard(%y: tensor<32x32xbf16, #b>) attributes {tile.kernel} {
  %a = tile.convert_layout %y {tile.smem_offset = 0 : i32} : tensor<32x32xbf16, #b> -> tensor<32x32xbf16, #m>
  %c = tile.convert_layout %y {tile.smem_offset = 0 : i32} : tensor<32x32xbf16, #b> -> tensor<32x32xbf16, #a>
  return
}

// One user alone in a loop body meets its own readers over the back edge;
// a user after the loop overlapping it waits too, one apart does not.
// CHECK-LABEL: func.func @loop_back_edge
// CHECK: scf.for
// CHECK: tile.convert_layout {{.*}}tile.barrier_before = true
// CHECK: tile.convert_layout {{.*}}tile.barrier_before = false
// CHECK: tile.convert_layout {{.*}}tile.barrier_before = true
func.func @loop_back_edge(%y: tensor<32x32xbf16, #b>, %n: index) attributes {tile.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.for %i = %c0 to %n step %c1 {
    %a = tile.convert_layout %y {tile.smem_offset = 0 : i32} : tensor<32x32xbf16, #b> -> tensor<32x32xbf16, #m>
  }
  %c = tile.convert_layout %y {tile.smem_offset = 2560 : i32} : tensor<32x32xbf16, #b> -> tensor<32x32xbf16, #a>
  %d = tile.convert_layout %y {tile.smem_offset = 2048 : i32} : tensor<32x32xbf16, #b> -> tensor<32x32xbf16, #a>
  return
}

// After an scf.if, the readers of either arm may be in flight.
// CHECK-LABEL: func.func @if_arms
// CHECK: scf.if
// CHECK: tile.convert_layout {{.*}}tile.barrier_before = false
// CHECK: tile.convert_layout {{.*}}tile.barrier_before = true
func.func @if_arms(%y: tensor<32x32xbf16, #b>, %p: i1) attributes {tile.kernel} {
  scf.if %p {
    %a = tile.convert_layout %y {tile.smem_offset = 0 : i32} : tensor<32x32xbf16, #b> -> tensor<32x32xbf16, #m>
  }
  %c = tile.convert_layout %y {tile.smem_offset = 0 : i32} : tensor<32x32xbf16, #b> -> tensor<32x32xbf16, #a>
  return
}

// Operands staged for a dot: the first staging leaves its writes to the
// second's barrier; the dot reads both, so a later user of the first one's
// region waits.
// CHECK-LABEL: func.func @staged_operands
// CHECK: tile.convert_layout {{.*}}tile.barrier_after = false, tile.barrier_before = false
// CHECK: tile.convert_layout {{.*}}tile.barrier_after = true, tile.barrier_before = false
// CHECK: tile.dot
// CHECK: tile.convert_layout {{.*}}tile.barrier_before = true
#opb = #tile.dot_operand<opIdx = 1, parent = #m, bitWidth = 16>
func.func @staged_operands(%x: tensor<64x64xbf16, #b>, %acc: tensor<64x64xf32, #m>) attributes {tile.kernel} {
  %a = tile.convert_layout %x {tile.smem_offset = 0 : i32} : tensor<64x64xbf16, #b> -> tensor<64x64xbf16, #a>
  %bb = tile.convert_layout %x {tile.smem_offset = 9216 : i32} : tensor<64x64xbf16, #b> -> tensor<64x64xbf16, #opb>
  %d = tile.dot %a, %bb, %acc : tensor<64x64xbf16, #a>, tensor<64x64xbf16, #opb> -> tensor<64x64xf32, #m>
  %o = tile.convert_layout %d {tile.smem_offset = 0 : i32} : tensor<64x64xf32, #m> -> tensor<64x64xf32, #b>
  return
}
