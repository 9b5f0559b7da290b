// RUN: tessel-opt %s --tile-assign-layouts=num-warps=4 | FileCheck %s
// RUN: not tessel-opt %s --tile-assign-layouts=num-warps=3 2>&1 | FileCheck %s --check-prefix=WARPS

// WARPS: num-warps must be a power of two, got 3

// One blocked layout for 2-D tensors, vectorized 8 x bf16 along the rows;
// a 1-D range that is expanded along axis 1 gets the slice of that layout.
// CHECK-LABEL: func.func @copy
// CHECK-SAME: tile.num_warps = 4
// CHECK: tile.make_range 0, 64 : tensor<64xi32, #tile.slice<dim = 1, parent = #[[B:.*]]>>
// CHECK: tile.load {{.*}} -> tensor<64x64xbf16, #tile.blocked<spt = [1, 8], tpw = [4, 8], wpc = [4, 1], order = [1, 0]>>
func.func @copy(%p: !tile.ptr<bf16>) attributes {tile.kernel} {
  %r = tile.make_range 0, 64 : tensor<64xi32>
  %c = tile.expand_dims %r {axis = 1 : i32} : tensor<64xi32> -> tensor<64x1xi32>
  %cb = tile.broadcast %c : tensor<64x1xi32> -> tensor<64x64xi32>
  %ps = tile.splat %p : !tile.ptr<bf16> -> tensor<64x64x!tile.ptr<bf16>>
  %ptrs = tile.addptr %ps, %cb : tensor<64x64x!tile.ptr<bf16>>, tensor<64x64xi32>
  %x = tile.load %ptrs : (tensor<64x64x!tile.ptr<bf16>>) -> tensor<64x64xbf16>
  tile.store %ptrs, %x : (tensor<64x64x!tile.ptr<bf16>>, tensor<64x64xbf16>) -> ()
  return
}

// A tile.dot_wait written before layouts passes its dot's layout through.
// CHECK-LABEL: func.func @dot_wait
// CHECK: %[[D:.*]] = tile.dot {{.*}} -> tensor<64x64xf32, #tile.mma<wpc = [4, 1]>>
// CHECK: tile.dot_wait %[[D]] {pending = 0 : i32} : (tensor<64x64xf32, #tile.mma<wpc = [4, 1]>>) -> tensor<64x64xf32, #tile.mma<wpc = [4, 1]>>
func.func @dot_wait(%pa: !tile.ptr<bf16>, %pb: !tile.ptr<bf16>) attributes {tile.kernel} {
  %pas = tile.splat %pa : !tile.ptr<bf16> -> tensor<64x32x!tile.ptr<bf16>>
  %a = tile.load %pas : (tensor<64x32x!tile.ptr<bf16>>) -> tensor<64x32xbf16>
  %pbs = tile.splat %pb : !tile.ptr<bf16> -> tensor<32x64x!tile.ptr<bf16>>
  %b = tile.load %pbs : (tensor<32x64x!tile.ptr<bf16>>) -> tensor<32x64xbf16>
  %acc = arith.constant dense<0.0> : tensor<64x64xf32>
  %d = tile.dot %a, %b, %acc {tile.async} : tensor<64x32xbf16>, tensor<32x64xbf16> -> tensor<64x64xf32>
  %w = tile.dot_wait %d {pending = 0 : i32} : (tensor<64x64xf32>) -> tensor<64x64xf32>
  %h = tile.convert %w : tensor<64x64xf32> -> tensor<64x64xbf16>
  %po = tile.splat %pa : !tile.ptr<bf16> -> tensor<64x64x!tile.ptr<bf16>>
  tile.store %po, %h : (tensor<64x64x!tile.ptr<bf16>>, tensor<64x64xbf16>) -> ()
  return
}

// Dot operands move to the mma.sync operand layouts, the accumulator and the
// result to the mma layout; elementwise users of the result stay in it.
// CHECK-LABEL: func.func @dot
// CHECK: tile.convert_layout {{.*}} -> tensor<64x32xbf16, #tile.dot_operand<opIdx = 0, parent = #tile.mma<wpc = [4, 1]>, bitWidth = 16>>
// CHECK: tile.convert_layout {{.*}} -> tensor<32x64xbf16, #tile.dot_operand<opIdx = 1, parent = #tile.mma<wpc = [4, 1]>, bitWidth = 16>>
// CHECK: %[[D:.*]] = tile.dot {{.*}} -> tensor<64x64xf32, #tile.mma<wpc = [4, 1]>>
// CHECK: arith.mulf %[[D]], {{.*}} : tensor<64x64xf32, #tile.mma<wpc = [4, 1]>>
func.func @dot(%pa: !tile.ptr<bf16>, %pb: !tile.ptr<bf16>) attributes {tile.kernel} {
  %pas = tile.splat %pa : !tile.ptr<bf16> -> tensor<64x32x!tile.ptr<bf16>>
  %a = tile.load %pas : (tensor<64x32x!tile.ptr<bf16>>) -> tensor<64x32xbf16>
  %pbs = tile.splat %pb : !tile.ptr<bf16> -> tensor<32x64x!tile.ptr<bf16>>
  %b = tile.load %pbs : (tensor<32x64x!tile.ptr<bf16>>) -> tensor<32x64xbf16>
  %acc = arith.constant dense<0.0> : tensor<64x64xf32>
  %d = tile.dot %a, %b, %acc : tensor<64x32xbf16>, tensor<32x64xbf16> -> tensor<64x64xf32>
  %two = arith.constant dense<2.0> : tensor<64x64xf32>
  %m = arith.mulf %d, %two : tensor<64x64xf32>
  %h = tile.convert %m : tensor<64x64xf32> -> tensor<64x64xbf16>
  %po = tile.splat %pa : !tile.ptr<bf16> -> tensor<64x64x!tile.ptr<bf16>>
  tile.store %po, %h : (tensor<64x64x!tile.ptr<bf16>>, tensor<64x64xbf16>) -> ()
  return
}

// A loop-carried state updated by a dot lives in the accumulator layout: its
// zero init is converted once before the loop, and neither the decay
// multiply nor the yield converts it inside.
// CHECK-LABEL: func.func @carried_state
// CHECK: tile.convert_layout {{.*}} -> tensor<64x64xf32, #tile.mma<wpc = [4, 1]>>
// CHECK: scf.for {{.*}} -> (tensor<64x64xf32, #tile.mma<wpc = [4, 1]>>)
// CHECK-NOT: tile.convert_layout {{.*}} : tensor<64x64xf32, #tile.mma
// CHECK: arith.mulf {{.*}} : tensor<64x64xf32, #tile.mma<wpc = [4, 1]>>
// CHECK: tile.dot {{.*}} -> tensor<64x64xf32, #tile.mma<wpc = [4, 1]>>
// CHECK-NEXT: scf.yield
func.func @carried_state(%pa: !tile.ptr<bf16>, %n: i32) attributes {tile.kernel} {
  %pas = tile.splat %pa : !tile.ptr<bf16> -> tensor<64x64x!tile.ptr<bf16>>
  %zero = arith.constant dense<0.0> : tensor<64x64xf32>
  %decay = arith.constant dense<0.5> : tensor<64x64xf32>
  %c0 = arith.constant 0 : i32
  %c1 = arith.constant 1 : i32
  %r = scf.for %i = %c0 to %n step %c1 iter_args(%s = %zero) -> (tensor<64x64xf32>) : i32 {
    %a = tile.load %pas : (tensor<64x64x!tile.ptr<bf16>>) -> tensor<64x64xbf16>
    %d = arith.mulf %s, %decay : tensor<64x64xf32>
    %next = tile.dot %a, %a, %d : tensor<64x64xbf16>, tensor<64x64xbf16> -> tensor<64x64xf32>
    scf.yield %next : tensor<64x64xf32>
  }
  %h = tile.convert %r : tensor<64x64xf32> -> tensor<64x64xbf16>
  tile.store %pas, %h : (tensor<64x64x!tile.ptr<bf16>>, tensor<64x64xbf16>) -> ()
  return
}

// The transpose of an accumulator stays in registers: its layout is the
// #tile.trans of the accumulator's.
// CHECK-LABEL: func.func @trans_of_accumulator
// CHECK: %[[D:.*]] = tile.dot {{.*}} -> tensor<64x32xf32, #tile.mma<wpc = [4, 1]>>
// CHECK-NOT: tile.convert_layout %[[D]]
// CHECK: tile.trans %[[D]] : tensor<64x32xf32, #tile.mma<wpc = [4, 1]>> -> tensor<32x64xf32, #tile.trans<#tile.mma<wpc = [4, 1]>>>
func.func @trans_of_accumulator(%pa: !tile.ptr<bf16>) attributes {tile.kernel} {
  %pas = tile.splat %pa : !tile.ptr<bf16> -> tensor<64x32x!tile.ptr<bf16>>
  %a = tile.load %pas : (tensor<64x32x!tile.ptr<bf16>>) -> tensor<64x32xbf16>
  %pbs = tile.splat %pa : !tile.ptr<bf16> -> tensor<32x32x!tile.ptr<bf16>>
  %b = tile.load %pbs : (tensor<32x32x!tile.ptr<bf16>>) -> tensor<32x32xbf16>
  %acc = arith.constant dense<0.0> : tensor<64x32xf32>
  %d = tile.dot %a, %b, %acc : tensor<64x32xbf16>, tensor<32x32xbf16> -> tensor<64x32xf32>
  %t = tile.trans %d : tensor<64x32xf32> -> tensor<32x64xf32>
  %h = tile.convert %t : tensor<32x64xf32> -> tensor<32x64xbf16>
  %po = tile.splat %pa : !tile.ptr<bf16> -> tensor<32x64x!tile.ptr<bf16>>
  tile.store %po, %h : (tensor<32x64x!tile.ptr<bf16>>, tensor<32x64xbf16>) -> ()
  return
}
