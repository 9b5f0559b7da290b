// RUN: tessel-opt %s --tile-to-llvm | FileCheck %s

#b1 = #tile.blocked<spt = [1], tpw = [32], wpc = [1], order = [0]>
#m = #tile.mma<wpc = [1, 1]>
#a = #tile.dot_operand<opIdx = 0, parent = #m, bitWidth = 16>
#bo = #tile.dot_operand<opIdx = 1, parent = #m, bitWidth = 16>

// A 64-element tensor over one warp is two registers per thread; masked
// loads are predicated, the dynamic shared memory symbol is declared.
// CHECK: llvm.mlir.global external @tessel_smem() {addr_space = 3 : i32, alignment = 16 : i64} : !llvm.array<0 x i8>
// CHECK-LABEL: func.func @masked_copy
// CHECK-COUNT-2: llvm.inline_asm has_side_effects {{.*}}"mov.b32 $0, $3;\0A\09@$2 ld.global.b32 $0, [$1];"
// CHECK-COUNT-2: llvm.inline_asm has_side_effects {{.*}}"@$2 st.global.b32 [$0], $1;"
func.func @masked_copy(%p: !tile.ptr<f32>, %n: i32) attributes {tile.kernel} {
  %r = tile.make_range 0, 64 : tensor<64xi32, #b1>
  %nb = tile.splat %n : i32 -> tensor<64xi32, #b1>
  %mask = arith.cmpi slt, %r, %nb : tensor<64xi32, #b1>
  %ps = tile.splat %p : !tile.ptr<f32> -> tensor<64x!tile.ptr<f32>, #b1>
  %ptrs = tile.addptr %ps, %r : tensor<64x!tile.ptr<f32>, #b1>, tensor<64xi32, #b1>
  %x = tile.load %ptrs mask %mask : (tensor<64x!tile.ptr<f32>, #b1>, tensor<64xi1, #b1>) -> tensor<64xf32, #b1>
  tile.store %ptrs, %x mask %mask : (tensor<64x!tile.ptr<f32>, #b1>, tensor<64xf32, #b1>, tensor<64xi1, #b1>) -> ()
  return
}

// A 16x16x16 bf16 dot on one warp is two mma.sync m16n8k16.
// CHECK-LABEL: func.func @dot16
// CHECK-COUNT-2: nvvm.mma.sync {{.*}}shape = #nvvm.shape<m = 16, n = 8, k = 16>
func.func @dot16(%p: !tile.ptr<f32>, %x: bf16) attributes {tile.kernel} {
  %a = tile.splat %x : bf16 -> tensor<16x16xbf16, #a>
  %b = tile.splat %x : bf16 -> tensor<16x16xbf16, #bo>
  %c = arith.constant dense<0.0> : tensor<16x16xf32, #m>
  %d = tile.dot %a, %b, %c : tensor<16x16xbf16, #a>, tensor<16x16xbf16, #bo> -> tensor<16x16xf32, #m>
  %ps = tile.splat %p : !tile.ptr<f32> -> tensor<16x16x!tile.ptr<f32>, #m>
  tile.store %ps, %d : (tensor<16x16x!tile.ptr<f32>, #m>, tensor<16x16xf32, #m>) -> ()
  return
}

// A row sum over a 1-D tensor spread across the lanes: butterfly shuffles.
// CHECK-LABEL: func.func @sum
// CHECK-COUNT-5: nvvm.shfl.sync bfly
func.func @sum(%p: !tile.ptr<f32>) attributes {tile.kernel} {
  %ps = tile.splat %p : !tile.ptr<f32> -> tensor<32x!tile.ptr<f32>, #b1>
  %x = tile.load %ps : (tensor<32x!tile.ptr<f32>, #b1>) -> tensor<32xf32, #b1>
  %s = tile.reduce "sum" %x {axis = 0 : i32} : tensor<32xf32, #b1> -> f32
  tile.store %p, %s : (!tile.ptr<f32>, f32) -> ()
  return
}

// Operands staged for a dot are read by the dot one k-step at a time: the
// stagings store 16-byte vectors into padded rows and synchronize once;
// then each k-step's ldmatrix sits right before its mma (A from the
// row-major staging, B from its transpose, so no .trans).
#bl = #tile.blocked<spt = [1, 8], tpw = [8, 4], wpc = [1, 1], order = [1, 0]>
// CHECK-LABEL: func.func @staged_dot
// CHECK-COUNT-3: llvm.store {{.*}} {alignment = 16 : i64} : vector<8xbf16>, !llvm.ptr<3>
// CHECK: nvvm.barrier0
// CHECK-NOT: nvvm.barrier0
// CHECK: nvvm.ldmatrix {{.*}} {eltType = #nvvm.ld_st_matrix_elt_type<b16>, layout = #nvvm.mma_layout<row>, num = 4
// CHECK: nvvm.ldmatrix {{.*}} layout = #nvvm.mma_layout<row>, num = 2
// CHECK: nvvm.mma.sync
// CHECK: nvvm.ldmatrix {{.*}} num = 4
// CHECK: nvvm.ldmatrix {{.*}} num = 2
// CHECK: nvvm.mma.sync
func.func @staged_dot(%x: tensor<16x32xbf16, #bl>, %k: tensor<8x32xbf16, #bl>,
                      %acc: tensor<16x8xf32, #m>) attributes {tile.kernel} {
  %xa = tile.convert_layout %x {tile.barrier_after = false, tile.barrier_before = false, tile.smem_offset = 0 : i32} : tensor<16x32xbf16, #bl> -> tensor<16x32xbf16, #a>
  %kt = tile.convert_layout %k {tile.barrier_after = true, tile.barrier_before = false, tile.smem_offset = 1280 : i32} : tensor<8x32xbf16, #bl> -> tensor<8x32xbf16, #tile.trans<#bo>>
  %kb = tile.trans %kt : tensor<8x32xbf16, #tile.trans<#bo>> -> tensor<32x8xbf16, #bo>
  %d = tile.dot %xa, %kb, %acc : tensor<16x32xbf16, #a>, tensor<32x8xbf16, #bo> -> tensor<16x8xf32, #m>
  return
}
