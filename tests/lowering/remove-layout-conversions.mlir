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
