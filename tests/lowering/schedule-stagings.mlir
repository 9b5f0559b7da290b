// RUN: tessel-opt %s --tile-schedule-stagings | FileCheck %s

#b = #tile.blocked<spt = [1, 8], tpw = [4, 8], wpc = [4, 1], order = [1, 0]>
#m = #tile.mma<wpc = [4, 1]>
#a = #tile.dot_operand<opIdx = 0, parent = #m, bitWidth = 16>
#opb = #tile.dot_operand<opIdx = 1, parent = #m, bitWidth = 16>

// The staging of %y (and the scaling that only feeds it) moves up next to
// the stagings of %x, above the first dot; stagings keep their order.
// CHECK-LABEL: func.func @together
// CHECK: tile.convert_layout %arg0 {{.*}} -> tensor<64x64xbf16, #tile.dot_operand<opIdx = 0
// CHECK-NEXT: tile.convert_layout %arg0 {{.*}} -> tensor<64x64xbf16, #tile.dot_operand<opIdx = 1
// CHECK-NEXT: arith.mulf %arg1
// CHECK-NEXT: tile.convert_layout {{.*}} -> tensor<64x64xbf16, #tile.dot_operand<opIdx = 1
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
