// RUN: tessel-opt %s --tile-to-llvm | FileCheck %s

#b1 = #tile.blocked<spt = [1], tpw = [32], wpc = [1], order = [0]>
#m = #tile.mma<wpc = [1, 1]>
#a = #tile.dot_operand<opIdx = 0, parent = #m, bitWidth = 16>
#bo = #tile.dot_operand<opIdx = 1, parent = #m, bitWidth = 16>

// A 64-element tensor over one warp is two registers per thread; masked
// loads are predicated, the dynamic shared memory symbol is declared.
// CHECK: llvm.mlir.global external @tessel_smem() {addr_space = 3 : i32, alignment = 1024 : i64} : !llvm.array<0 x i8>
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

// A running sum: the operand into shared memory, a barrier; the one line
// of 32 goes to the warp's 32 lanes, one element each: a shuffle scan of 5
// steps (shfl.up, add, keep the lane's own below the offset), then one more
// shfl.up for the exclusive sum (the lane below's inclusive one, no add);
// a barrier, the thread's element read back.
// CHECK-LABEL: func.func @cumsum
// CHECK: llvm.store {{.*}} : f32, !llvm.ptr<3>
// CHECK: nvvm.barrier0
// CHECK: llvm.load {{.*}} : !llvm.ptr<3> -> f32
// CHECK-COUNT-5: nvvm.shfl.sync up
// CHECK: nvvm.shfl.sync up
// CHECK-NOT: arith.addf
// CHECK: llvm.store {{.*}} : f32, !llvm.ptr<3>
// CHECK: nvvm.barrier0
// CHECK: llvm.load {{.*}} : !llvm.ptr<3> -> f32
func.func @cumsum(%p: !tile.ptr<f32>) attributes {tile.kernel} {
  %ps = tile.splat %p : !tile.ptr<f32> -> tensor<32x!tile.ptr<f32>, #b1>
  %x = tile.load %ps : (tensor<32x!tile.ptr<f32>, #b1>) -> tensor<32xf32, #b1>
  %s = tile.cumsum %x {axis = 0 : i32, exclusive} : tensor<32xf32, #b1> -> tensor<32xf32, #b1>
  tile.store %ps, %s : (tensor<32x!tile.ptr<f32>, #b1>, tensor<32xf32, #b1>) -> ()
  return
}

// A gate vector's running sum, read in two more layouts and summed: the
// vector comes from an async copy's buffer, so the scan reads it there (no
// store, no barrier before the scan), writes its sums, synchronizes once;
// both conversions and the total read the sums where the scan left them —
// no staging, no barrier, no butterfly.
#b2 = #tile.blocked<spt = [2], tpw = [32], wpc = [1], order = [0]>
#b4 = #tile.blocked<spt = [4], tpw = [32], wpc = [1], order = [0]>
// CHECK-LABEL: func.func @cumsum_readers
// CHECK: nvvm.cp.async.wait.group 0
// CHECK-NEXT: nvvm.barrier0
// CHECK-NOT: llvm.store
// CHECK: nvvm.shfl.sync up
// CHECK: llvm.store {{.*}} : f32, !llvm.ptr<3>
// CHECK: nvvm.barrier0
// CHECK-NOT: nvvm.barrier0
// CHECK-NOT: nvvm.shfl.sync bfly
// CHECK: return
func.func @cumsum_readers(%p: !tile.ptr<f32> {tile.divisibility = 16 : i32}, %slot: i32, %out: !tile.ptr<f32>) attributes {tile.kernel} {
  %offs = tile.make_range 0, 32 : tensor<32xi32, #b1>
  %base = tile.splat %p : !tile.ptr<f32> -> tensor<32x!tile.ptr<f32>, #b1>
  %ptrs = tile.addptr %base, %offs : tensor<32x!tile.ptr<f32>, #b1>, tensor<32xi32, #b1>
  %a = tile.async_load %ptrs slot %slot {buffers = 2 : i32, tile.smem_offset = 0 : i32} : (tensor<32x!tile.ptr<f32>, #b1>, i32) -> tensor<32xf32, #tile.shared>
  %w = tile.async_wait %a {pending = 0 : i32} : (tensor<32xf32, #tile.shared>) -> tensor<32xf32, #tile.shared>
  %g = tile.convert_layout %w : tensor<32xf32, #tile.shared> -> tensor<32xf32, #b1>
  %s = tile.cumsum %g {axis = 0 : i32, tile.barrier_before = false, tile.smem_offset = 256 : i32} : tensor<32xf32, #b1> -> tensor<32xf32, #b1>
  %t = tile.reduce "sum" %g {axis = 0 : i32} : tensor<32xf32, #b1> -> f32
  %s2 = tile.convert_layout %s : tensor<32xf32, #b1> -> tensor<32xf32, #b2>
  %s4 = tile.convert_layout %s : tensor<32xf32, #b1> -> tensor<32xf32, #b4>
  %o2 = tile.splat %out : !tile.ptr<f32> -> tensor<32x!tile.ptr<f32>, #b2>
  %r2 = tile.make_range 0, 32 : tensor<32xi32, #b2>
  %q2 = tile.addptr %o2, %r2 : tensor<32x!tile.ptr<f32>, #b2>, tensor<32xi32, #b2>
  tile.store %q2, %s2 : (tensor<32x!tile.ptr<f32>, #b2>, tensor<32xf32, #b2>) -> ()
  %ts = tile.splat %t : f32 -> tensor<32xf32, #b4>
  %u = arith.addf %s4, %ts : tensor<32xf32, #b4>
  %o4 = tile.splat %out : !tile.ptr<f32> -> tensor<32x!tile.ptr<f32>, #b4>
  %r4 = tile.make_range 0, 32 : tensor<32xi32, #b4>
  %q4 = tile.addptr %o4, %r4 : tensor<32x!tile.ptr<f32>, #b4>, tensor<32xi32, #b4>
  tile.store %q4, %u : (tensor<32x!tile.ptr<f32>, #b4>, tensor<32xf32, #b4>) -> ()
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

// An async copy of a 16x16 bf16 tile on one warp: each thread's 8
// contiguous elements go as one 16-byte cp.async (zero source bytes where
// masked off) into the ring slot, one commit group; the wait is
// cp.async.wait_group then a barrier, and the dot operand is read from the
// buffer with ldmatrix.
#bk = #tile.blocked<spt = [1, 8], tpw = [16, 2], wpc = [1, 1], order = [1, 0]>
// CHECK-LABEL: func.func @async_copy
// CHECK: arith.muli %arg2, %{{.*}} : i32
// CHECK: llvm.getelementptr %{{.*}}[%{{.*}}] : (!llvm.ptr<3>, i32) -> !llvm.ptr<3>, i8
// CHECK: %[[SZ:.*]] = arith.select %{{.*}}, %{{.*}}, %{{.*}} : i32
// CHECK: nvvm.cp.async.shared.global %{{.*}}, %{{.*}}, 16, cache = cg, %[[SZ]]
// CHECK-NOT: nvvm.cp.async.shared.global
// CHECK: nvvm.cp.async.commit.group
// CHECK: nvvm.cp.async.wait.group 0
// CHECK-NEXT: nvvm.barrier0
// CHECK: nvvm.ldmatrix
func.func @async_copy(%p: !tile.ptr<bf16> {tile.divisibility = 16 : i32}, %n: i32, %slot: i32, %out: !tile.ptr<f32>) attributes {tile.kernel} {
  %rows = tile.make_range 0, 16 : tensor<16xi32, #tile.slice<dim = 1, parent = #bk>>
  %cols = tile.make_range 0, 16 : tensor<16xi32, #tile.slice<dim = 0, parent = #bk>>
  %r1 = tile.expand_dims %rows {axis = 1 : i32} : tensor<16xi32, #tile.slice<dim = 1, parent = #bk>> -> tensor<16x1xi32, #bk>
  %c1 = tile.expand_dims %cols {axis = 0 : i32} : tensor<16xi32, #tile.slice<dim = 0, parent = #bk>> -> tensor<1x16xi32, #bk>
  %rb = tile.broadcast %r1 : tensor<16x1xi32, #bk> -> tensor<16x16xi32, #bk>
  %cb = tile.broadcast %c1 : tensor<1x16xi32, #bk> -> tensor<16x16xi32, #bk>
  %c16 = arith.constant 16 : i32
  %s16 = tile.splat %c16 : i32 -> tensor<16x16xi32, #bk>
  %rs = arith.muli %rb, %s16 : tensor<16x16xi32, #bk>
  %offs = arith.addi %rs, %cb : tensor<16x16xi32, #bk>
  %base = tile.splat %p : !tile.ptr<bf16> -> tensor<16x16x!tile.ptr<bf16>, #bk>
  %ptrs = tile.addptr %base, %offs : tensor<16x16x!tile.ptr<bf16>, #bk>, tensor<16x16xi32, #bk>
  %lim = tile.splat %n : i32 -> tensor<16x16xi32, #bk>
  %m = arith.cmpi slt, %rb, %lim : tensor<16x16xi32, #bk>
  %a = tile.async_load %ptrs mask %m slot %slot {buffers = 2 : i32, tile.smem_offset = 0 : i32} : (tensor<16x16x!tile.ptr<bf16>, #bk>, tensor<16x16xi1, #bk>, i32) -> tensor<16x16xbf16, #tile.shared>
  %w = tile.async_wait %a {pending = 0 : i32} : (tensor<16x16xbf16, #tile.shared>) -> tensor<16x16xbf16, #tile.shared>
  %x = tile.convert_layout %w : tensor<16x16xbf16, #tile.shared> -> tensor<16x16xbf16, #a>
  %y = tile.convert_layout %w : tensor<16x16xbf16, #tile.shared> -> tensor<16x16xbf16, #bo>
  %z = arith.constant dense<0.0> : tensor<16x16xf32, #m>
  %d = tile.dot %x, %y, %z : tensor<16x16xbf16, #a>, tensor<16x16xbf16, #bo> -> tensor<16x16xf32, #m>
  %e = tile.reduce "sum" %d {axis = 0 : i32} : tensor<16x16xf32, #m> -> tensor<16xf32, #tile.slice<dim = 0, parent = #m>>
  %f = tile.reduce "sum" %e {axis = 0 : i32} : tensor<16xf32, #tile.slice<dim = 0, parent = #m>> -> f32
  tile.store %out, %f : (!tile.ptr<f32>, f32) -> ()
  return
}

// A wait is thread 0 polling with GPU-scope acquire loads, then a barrier;
// a signal is a barrier, then thread 0's GPU-scope fence and release store.
// CHECK-LABEL: func.func @flags
// CHECK: nvvm.read.ptx.sreg.tid.x
// CHECK: scf.if
// CHECK: scf.while
// CHECK: llvm.load %{{.*}} atomic syncscope("device") acquire {alignment = 8 : i64} : !llvm.ptr<1> -> i64
// CHECK: arith.cmpi slt
// CHECK: nvvm.barrier0
// CHECK: nvvm.barrier0
// CHECK: scf.if
// CHECK: llvm.fence syncscope("device") release
// CHECK: llvm.store %{{.*}}, %{{.*}} atomic syncscope("device") release {alignment = 8 : i64} : i64, !llvm.ptr<1>
func.func @flags(%f: !tile.ptr<i64>, %t: i64) attributes {tile.kernel} {
  tile.wait_flag %f, %t : !tile.ptr<i64>
  tile.signal_flag %f, %t : !tile.ptr<i64>
  return
}
