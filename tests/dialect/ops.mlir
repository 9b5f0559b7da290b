// RUN: tessel-opt %s | tessel-opt | FileCheck %s
// Round-trip of every tile op.

// CHECK-LABEL: func.func @all_ops
func.func @all_ops(%p: !tile.ptr<bf16>, %n: i32) attributes {tile.kernel} {
  // CHECK: tile.program_id 0
  %pid = tile.program_id 0
  // CHECK: tile.num_programs 1
  %np = tile.num_programs 1
  // CHECK: tile.make_range 0, 16 : tensor<16xi32>
  %r = tile.make_range 0, 16 : tensor<16xi32>
  // CHECK: tile.expand_dims %{{.*}} {axis = 1 : i32} : tensor<16xi32> -> tensor<16x1xi32>
  %c = tile.expand_dims %r {axis = 1 : i32} : tensor<16xi32> -> tensor<16x1xi32>
  // CHECK: tile.broadcast %{{.*}} : tensor<16x1xi32> -> tensor<16x16xi32>
  %b = tile.broadcast %c : tensor<16x1xi32> -> tensor<16x16xi32>
  // CHECK: tile.splat %{{.*}} : !tile.ptr<bf16> -> tensor<16x16x!tile.ptr<bf16>>
  %ps = tile.splat %p : !tile.ptr<bf16> -> tensor<16x16x!tile.ptr<bf16>>
  // CHECK: tile.addptr %{{.*}}, %{{.*}} : tensor<16x16x!tile.ptr<bf16>>, tensor<16x16xi32>
  %ptrs = tile.addptr %ps, %b : tensor<16x16x!tile.ptr<bf16>>, tensor<16x16xi32>
  %nb = tile.splat %n : i32 -> tensor<16x16xi32>
  %mask = arith.cmpi slt, %b, %nb : tensor<16x16xi32>
  %zero = arith.constant dense<0.0> : tensor<16x16xbf16>
  // CHECK: tile.load %{{.*}} mask %{{.*}} other %{{.*}} : (tensor<16x16x!tile.ptr<bf16>>, tensor<16x16xi1>, tensor<16x16xbf16>) -> tensor<16x16xbf16>
  %x = tile.load %ptrs mask %mask other %zero : (tensor<16x16x!tile.ptr<bf16>>, tensor<16x16xi1>, tensor<16x16xbf16>) -> tensor<16x16xbf16>
  // CHECK: tile.load %{{.*}} : (tensor<16x16x!tile.ptr<bf16>>) -> tensor<16x16xbf16>
  %y = tile.load %ptrs : (tensor<16x16x!tile.ptr<bf16>>) -> tensor<16x16xbf16>
  // CHECK: tile.trans %{{.*}} : tensor<16x16xbf16> -> tensor<16x16xbf16>
  %yt = tile.trans %y : tensor<16x16xbf16> -> tensor<16x16xbf16>
  %acc = arith.constant dense<0.0> : tensor<16x16xf32>
  // CHECK: tile.dot %{{.*}}, %{{.*}}, %{{.*}} : tensor<16x16xbf16>, tensor<16x16xbf16> -> tensor<16x16xf32>
  %d0 = tile.dot %x, %yt, %acc {tile.async} : tensor<16x16xbf16>, tensor<16x16xbf16> -> tensor<16x16xf32>
  // CHECK: tile.dot_wait %{{.*}} {pending = 0 : i32} : (tensor<16x16xf32>) -> tensor<16x16xf32>
  %d = tile.dot_wait %d0 {pending = 0 : i32} : (tensor<16x16xf32>) -> tensor<16x16xf32>
  // CHECK: tile.reduce "sum" %{{.*}} {axis = 1 : i32} : tensor<16x16xf32> -> tensor<16xf32>
  %s = tile.reduce "sum" %d {axis = 1 : i32} : tensor<16x16xf32> -> tensor<16xf32>
  // CHECK: tile.reduce "max" %{{.*}} {axis = 0 : i32} : tensor<16xf32> -> f32
  %m = tile.reduce "max" %s {axis = 0 : i32} : tensor<16xf32> -> f32
  // CHECK: tile.cumsum %{{.*}} {axis = 0 : i32} : tensor<16x16xf32> -> tensor<16x16xf32>
  %cs = tile.cumsum %d {axis = 0 : i32} : tensor<16x16xf32> -> tensor<16x16xf32>
  // CHECK: tile.cumsum %{{.*}} {axis = 0 : i32, exclusive, reverse} : tensor<16xf32> -> tensor<16xf32>
  %cr = tile.cumsum %s {axis = 0 : i32, exclusive, reverse} : tensor<16xf32> -> tensor<16xf32>
  // CHECK: tile.reshape %{{.*}} : tensor<16x16xf32> -> tensor<256xf32>
  %flat = tile.reshape %d : tensor<16x16xf32> -> tensor<256xf32>
  // CHECK: tile.convert %{{.*}} : tensor<16x16xf32> -> tensor<16x16xbf16>
  %h = tile.convert %d : tensor<16x16xf32> -> tensor<16x16xbf16>
  // CHECK: tile.store %{{.*}}, %{{.*}} mask %{{.*}} : (tensor<16x16x!tile.ptr<bf16>>, tensor<16x16xbf16>, tensor<16x16xi1>) -> ()
  tile.store %ptrs, %h mask %mask : (tensor<16x16x!tile.ptr<bf16>>, tensor<16x16xbf16>, tensor<16x16xi1>) -> ()
  // CHECK: tile.store %{{.*}}, %{{.*}} : (tensor<16x16x!tile.ptr<bf16>>, tensor<16x16xbf16>) -> ()
  tile.store %ptrs, %h : (tensor<16x16x!tile.ptr<bf16>>, tensor<16x16xbf16>) -> ()
  return
}

// The layout attributes, #tile.trans among them (the transpose of another
// layout), round-trip on tensor types.
// CHECK-LABEL: func.func @layouts
// CHECK-SAME: tensor<64x32xf32, #tile.mma<wpc = [4, 1]>>
// CHECK-SAME: tensor<32x64xf32, #tile.trans<#tile.mma<wpc = [4, 1]>>>
// CHECK-SAME: tensor<64x128xbf16, #tile.trans<#tile.dot_operand<opIdx = 1, parent = #tile.mma<wpc = [4, 2]>, bitWidth = 16>>>
// CHECK-SAME: tensor<128x64xf32, #tile.mma<wpc = [8, 1], wgmma = true>>
// CHECK-SAME: tensor<64x128xbf16, #tile.shared<swizzled = true>>
// CHECK-SAME: tensor<64x128xbf16, #tile.shared>
func.func @layouts(%a: tensor<64x32xf32, #tile.mma<wpc = [4, 1]>>,
                   %b: tensor<32x64xf32, #tile.trans<#tile.mma<wpc = [4, 1]>>>,
                   %c: tensor<64x128xbf16, #tile.trans<#tile.dot_operand<opIdx = 1, parent = #tile.mma<wpc = [4, 2]>, bitWidth = 16>>>,
                   %d: tensor<128x64xf32, #tile.mma<wpc = [8, 1], wgmma = true>>,
                   %e: tensor<64x128xbf16, #tile.shared<swizzled = true>>,
                   %f: tensor<64x128xbf16, #tile.shared>) {
  return
}

// The hand-off between programs of a chained scan round-trips.
// CHECK-LABEL: func.func @flags
// CHECK: tile.wait_flag %{{.*}}, %{{.*}} : <i64>
// CHECK: tile.signal_flag %{{.*}}, %{{.*}} : <i64>
func.func @flags(%f: !tile.ptr<i64>, %t: i64) {
  tile.wait_flag %f, %t : !tile.ptr<i64>
  tile.signal_flag %f, %t : !tile.ptr<i64>
  return
}
