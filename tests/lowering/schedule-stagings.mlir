// RUN: tessel-opt %s --tile-schedule-stagings | FileCheck %s

#b = #tile.blocked<spt = [1, 8], tpw = [4, 8], wpc = [4, 1], order = [1, 0]>
#m = #tile.mma<wpc = [4, 1]>
#a = #tile.dot_operand<opIdx = 0, parent = #m, bitWidth = 16>
#opb = #tile.dot_operand<opIdx = 1, parent = #m, bitWidth = 16>

// The staging of %y (and the scaling that only feeds it) moves up next to
// the stagings of %x, above the first dot. Stagings that depend only on
// the block's arguments go to its top, each in front of the ones before.
// CHECK-LABEL: func.func @together
// CHECK: arith.mulf %arg1
// CHECK-NEXT: tile.convert_layout {{.*}} -> tensor<64x64xbf16, #tile.dot_operand<opIdx = 1
// CHECK-NEXT: tile.convert_layout %arg0 {{.*}} -> tensor<64x64xbf16, #tile.dot_operand<opIdx = 1
// CHECK-NEXT: tile.convert_layout %arg0 {{.*}} -> tensor<64x64xbf16, #tile.dot_operand<opIdx = 0
// CHECK-NEXT: tile.dot %
// CHECK-NEXT: tile.dot %
func.func @together(%x: tensor<64x64xbf16, #b>, %y: tensor<64x64xbf16, #b>,
                    %s: tensor<64x64xbf16, #b>, %acc: tensor<64x64xf32, #m>)
    -> (tensor<64x64xf32, #m>, tensor<64x64xf32, #m>) {
  %xa = tile.convert_layout %x : tensor<64x64xbf16, #b> -> tensor<64x64xbf16, #a>
  %xb = tile.convert_layout %x : tensor<64x64xbf16, #b> -> tensor<64x64xbf16, #opb>
  %d1 = tile.dot %xa, %xb, %acc : tensor<64x64xbf16, #a>, tensor<64x64xbf16, #opb> -> tensor<64x64xf32, #m>
  %ys = arith.mulf %y, %s : tensor<64x64xbf16, #b>
  %yb = tile.convert_layout %ys : tensor<64x64xbf16, #b> -> tensor<64x64xbf16, #opb>
  %d2 = tile.dot %xa, %yb, %d1 : tensor<64x64xbf16, #a>, tensor<64x64xbf16, #opb> -> tensor<64x64xf32, #m>
  return %d1, %d2 : tensor<64x64xf32, #m>, tensor<64x64xf32, #m>
}

// A dot moves up to right after what it needs: the state update reads its
// staged operands before the output conversion synchronizes.
// CHECK-LABEL: func.func @hoist_dot
// CHECK: scf.for
// CHECK-NEXT: %[[D:.*]] = tile.dot
// CHECK-NEXT: tile.convert_layout
// CHECK-NEXT: tile.store
// CHECK-NEXT: scf.yield %[[D]]
func.func @hoist_dot(%p: tensor<64x64x!tile.ptr<f32>, #b>, %x: tensor<64x64xbf16, #a>,
                     %y: tensor<64x64xbf16, #opb>, %acc: tensor<64x64xf32, #m>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %r = scf.for %i = %c0 to %n step %c1 iter_args(%s = %acc) -> (tensor<64x64xf32, #m>) {
    %o = tile.convert_layout %s : tensor<64x64xf32, #m> -> tensor<64x64xf32, #b>
    tile.store %p, %o : (tensor<64x64x!tile.ptr<f32>, #b>, tensor<64x64xf32, #b>) -> ()
    %d = tile.dot %x, %y, %s : tensor<64x64xbf16, #a>, tensor<64x64xbf16, #opb> -> tensor<64x64xf32, #m>
    scf.yield %d : tensor<64x64xf32, #m>
  }
  return
}
