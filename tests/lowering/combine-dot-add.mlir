// RUN: tessel-opt %s --tile-combine-dot-add | FileCheck %s

// x + dot(a, b, 0) accumulates into the dot, on either side of the add.
// CHECK-LABEL: func.func @fold_both_sides
// CHECK-SAME: (%[[A:.*]]: tensor<64x32xbf16>, %[[B:.*]]: tensor<32x64xbf16>, %[[X:.*]]: tensor<64x64xf32>)
// CHECK: %[[D1:.*]] = tile.dot %[[A]], %[[B]], %[[X]]
// CHECK: %[[D2:.*]] = tile.dot %[[A]], %[[B]], %[[D1]]
// CHECK-NOT: arith.addf
// CHECK: return %[[D2]]
func.func @fold_both_sides(%a: tensor<64x32xbf16>, %b: tensor<32x64xbf16>,
                           %x: tensor<64x64xf32>) -> tensor<64x64xf32> {
  %z = arith.constant dense<0.0> : tensor<64x64xf32>
  %d = tile.dot %a, %b, %z : tensor<64x32xbf16>, tensor<32x64xbf16> -> tensor<64x64xf32>
  %s = arith.addf %x, %d : tensor<64x64xf32>
  %d2 = tile.dot %a, %b, %z : tensor<64x32xbf16>, tensor<32x64xbf16> -> tensor<64x64xf32>
  %s2 = arith.addf %d2, %s : tensor<64x64xf32>
  return %s2 : tensor<64x64xf32>
}

// A dot whose result is also used elsewhere is left alone (folding would
// compute it twice), and so is a dot with a non-zero accumulator.
// CHECK-LABEL: func.func @keep
// CHECK-COUNT-2: arith.addf
func.func @keep(%a: tensor<64x32xbf16>, %b: tensor<32x64xbf16>,
                %x: tensor<64x64xf32>) -> (tensor<64x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>) {
  %z = arith.constant dense<0.0> : tensor<64x64xf32>
  %d = tile.dot %a, %b, %z : tensor<64x32xbf16>, tensor<32x64xbf16> -> tensor<64x64xf32>
  %s = arith.addf %x, %d : tensor<64x64xf32>
  %d2 = tile.dot %a, %b, %x : tensor<64x32xbf16>, tensor<32x64xbf16> -> tensor<64x64xf32>
  %s2 = arith.addf %d2, %x : tensor<64x64xf32>
  return %s, %d, %s2 : tensor<64x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>
}
