// RUN: tessel-opt %s --tile-lower-small-dots | FileCheck %s

// N = 1: one column, b's column picked by a mask and summed, then a's rows
// times it, summed over K, added into the accumulator's only column.
// CHECK-LABEL: func.func @n_one
// CHECK-NOT: tile.dot
// CHECK: tile.convert %arg0 : tensor<16x32xbf16> -> tensor<16x32xf32>
// CHECK: tile.convert %arg1 : tensor<32x1xbf16> -> tensor<32x1xf32>
// CHECK: tile.reduce "sum" {{.*}} {axis = 1 : i32} : tensor<32x1xf32> -> tensor<32xf32>
// CHECK: arith.mulf {{.*}} : tensor<16x32xf32>
// CHECK: tile.reduce "sum" {{.*}} {axis = 1 : i32} : tensor<16x32xf32> -> tensor<16xf32>
// CHECK: arith.addf %arg2, {{.*}} : tensor<16x1xf32>
// CHECK-NOT: tile.dot
func.func @n_one(%a: tensor<16x32xbf16>, %b: tensor<32x1xbf16>,
                 %acc: tensor<16x1xf32>) -> tensor<16x1xf32> {
  %r = tile.dot %a, %b, %acc : tensor<16x32xbf16>, tensor<32x1xbf16> -> tensor<16x1xf32>
  return %r : tensor<16x1xf32>
}

// K = 2 (f32, under the tf32 k of 8): two outer products.
// CHECK-LABEL: func.func @k_two
// CHECK-COUNT-2: arith.mulf {{.*}} : tensor<16x16xf32>
// CHECK-NOT: tile.dot
func.func @k_two(%a: tensor<16x2xf32>, %b: tensor<2x16xf32>,
                 %acc: tensor<16x16xf32>) -> tensor<16x16xf32> {
  %r = tile.dot %a, %b, %acc : tensor<16x2xf32>, tensor<2x16xf32> -> tensor<16x16xf32>
  return %r : tensor<16x16xf32>
}

// Big enough for the tensor cores: unchanged.
// CHECK-LABEL: func.func @mma_sized
// CHECK: tile.dot
func.func @mma_sized(%a: tensor<16x16xbf16>, %b: tensor<16x8xbf16>,
                     %acc: tensor<16x8xf32>) -> tensor<16x8xf32> {
  %r = tile.dot %a, %b, %acc : tensor<16x16xbf16>, tensor<16x8xbf16> -> tensor<16x8xf32>
  return %r : tensor<16x8xf32>
}
