// RUN: tessel-opt %s --tile-allocate-shared | FileCheck %s

#b = #tile.blocked<spt = [1, 8], tpw = [4, 8], wpc = [4, 1], order = [1, 0]>
#m = #tile.mma<wpc = [4, 1]>
#a = #tile.dot_operand<opIdx = 0, parent = #m, bitWidth = 16>

// Consecutive users sit apart (ping-pong); rows are padded by 16 bytes
// (64x64 f32: 64 rows of 68 floats = 17408 bytes; 32x32 bf16: 32 rows of
// 40 = 2560 bytes). The third user may reuse the first one's region.
// CHECK-LABEL: func.func @ping_pong
// CHECK-SAME: tile.shared_bytes = 19968
// CHECK: tile.convert_layout {{.*}} {tile.smem_offset = 0 : i32}
// CHECK: tile.convert_layout {{.*}} {tile.smem_offset = 17408 : i32}
// CHECK: tile.convert_layout {{.*}} {tile.smem_offset = 0 : i32}
func.func @ping_pong(%x: tensor<64x64xf32, #b>, %y: tensor<32x32xbf16, #b>) attributes {tile.kernel} {
  %a = tile.convert_layout %x : tensor<64x64xf32, #b> -> tensor<64x64xf32, #m>
  %c = tile.convert_layout %y : tensor<32x32xbf16, #b> -> tensor<32x32xbf16, #m>
  %d = tile.convert_layout %y : tensor<32x32xbf16, #b> -> tensor<32x32xbf16, #a>
  return
}

// A conversion that only renumbers registers (accumulator to A operand,
// warps along M) needs no scratch.
// CHECK-LABEL: func.func @in_registers
// CHECK-SAME: tile.shared_bytes = 0
// CHECK-NOT: tile.smem_offset
func.func @in_registers(%x: tensor<64x64xbf16, #m>) attributes {tile.kernel} {
  %a = tile.convert_layout %x : tensor<64x64xbf16, #m> -> tensor<64x64xbf16, #a>
  return
}

// In a loop, the last user is also kept apart from the first over the back
// edge: three users take three regions.
// CHECK-LABEL: func.func @loop
// CHECK: scf.for
// CHECK: tile.convert_layout {{.*}} {tile.smem_offset = 0 : i32}
// CHECK: tile.convert_layout {{.*}} {tile.smem_offset = 2560 : i32}
// CHECK: tile.convert_layout {{.*}} {tile.smem_offset = 5120 : i32}
func.func @loop(%y: tensor<32x32xbf16, #b>, %n: index) attributes {tile.kernel} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.for %i = %c0 to %n step %c1 {
    %a = tile.convert_layout %y : tensor<32x32xbf16, #b> -> tensor<32x32xbf16, #m>
    %c = tile.convert_layout %y : tensor<32x32xbf16, #b> -> tensor<32x32xbf16, #a>
    %d = tile.convert_layout %a : tensor<32x32xbf16, #m> -> tensor<32x32xbf16, #b>
  }
  return
}

// Over budget, only live scratch is kept apart: the same three users in
// one loop share offset 0 (tile-insert-barriers then synchronizes).
// RUN: tessel-opt %s --tile-allocate-shared=max-bytes=4096 | FileCheck %s --check-prefix=TIGHT
// TIGHT-LABEL: func.func @loop
// TIGHT-SAME: tile.shared_bytes = 2560
// TIGHT-COUNT-3: tile.smem_offset = 0 : i32

// A cumsum's sums are read where it leaves them by the conversions of its
// result and the sum of its operand (SharedMemory.h, scanSumsSource,
// scanTotalSource): those take no scratch, and the scan's region (64
// elements and their 64 sums: 512 bytes) stays live until the last of them,
// so the second user in between (which could otherwise reuse offset 0)
// sits above it.
#v = #tile.blocked<spt = [1], tpw = [32], wpc = [4], order = [0]>
#vm = #tile.slice<dim = 1, parent = #m>
// CHECK-LABEL: func.func @scan_readers
// CHECK: tile.cumsum {{.*}}tile.smem_offset = 0 : i32
// CHECK: tile.reduce
// CHECK-NOT: tile.smem_offset
// CHECK: tile.convert_layout {{.*}} {tile.smem_offset = 512 : i32}
// CHECK: tile.convert_layout {{.*}} {tile.smem_offset = {{[1-9][0-9]+}} : i32}
// CHECK: tile.convert_layout %[[S:.*]] : tensor<64xf32, #{{.*}}> -> tensor<64xf32, #tile.slice
// CHECK-NOT: tile.smem_offset
// CHECK: return
func.func @scan_readers(%g: tensor<64xf32, #v>, %y: tensor<32x32xbf16, #b>) attributes {tile.kernel} {
  %s = tile.cumsum %g {axis = 0 : i32} : tensor<64xf32, #v> -> tensor<64xf32, #v>
  %t = tile.reduce "sum" %g {axis = 0 : i32} : tensor<64xf32, #v> -> f32
  %c = tile.convert_layout %y : tensor<32x32xbf16, #b> -> tensor<32x32xbf16, #m>
  %d = tile.convert_layout %y : tensor<32x32xbf16, #b> -> tensor<32x32xbf16, #a>
  %r = tile.convert_layout %s : tensor<64xf32, #v> -> tensor<64xf32, #vm>
  return
}
