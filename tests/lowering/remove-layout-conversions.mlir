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
