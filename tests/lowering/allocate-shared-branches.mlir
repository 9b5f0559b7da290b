// RUN: tessel-opt %s --tile-allocate-shared | FileCheck %s

// A kernel of two sweeps chosen by program (bwd_dkdv): the rings inside
// the two top-level scf.if ops share offsets above the ring outside them
// (2 buffers of 16 rows × (16 + 8) bf16 = 1536 bytes each), and a wait with nothing
// pending (a CTA barrier after every copy) goes in front of the second if.
#b = #tile.blocked<spt = [1, 8], tpw = [16, 2], wpc = [1, 1], order = [1, 0]>
// CHECK-LABEL: func.func @two_sweeps{{.*}}tile.shared_bytes = 3072 : i32
// CHECK: tile.async_load {{.*}}tile.smem_offset = 0 : i32
// CHECK: scf.if
// CHECK: tile.async_load {{.*}}tile.smem_offset = 1536 : i32
// CHECK: tile.async_wait {pending = 0 : i32} : () -> ()
// CHECK-NEXT: scf.if
// CHECK: tile.async_load {{.*}}tile.smem_offset = 1536 : i32
func.func @two_sweeps(%ptrs: tensor<16x16x!tile.ptr<bf16>, #b>, %c: i1) {
  %c0 = arith.constant 0 : i32
  %r = tile.async_load %ptrs slot %c0 {buffers = 2 : i32} : (tensor<16x16x!tile.ptr<bf16>, #b>, i32) -> tensor<16x16xbf16, #tile.shared>
  %rw = tile.async_wait %r {pending = 0 : i32} : (tensor<16x16xbf16, #tile.shared>) -> tensor<16x16xbf16, #tile.shared>
  scf.if %c {
    %a = tile.async_load %ptrs slot %c0 {buffers = 2 : i32} : (tensor<16x16x!tile.ptr<bf16>, #b>, i32) -> tensor<16x16xbf16, #tile.shared>
    %aw = tile.async_wait %a {pending = 0 : i32} : (tensor<16x16xbf16, #tile.shared>) -> tensor<16x16xbf16, #tile.shared>
  }
  scf.if %c {
    %d = tile.async_load %ptrs slot %c0 {buffers = 2 : i32} : (tensor<16x16x!tile.ptr<bf16>, #b>, i32) -> tensor<16x16xbf16, #tile.shared>
    %dw = tile.async_wait %d {pending = 0 : i32} : (tensor<16x16xbf16, #tile.shared>) -> tensor<16x16xbf16, #tile.shared>
  }
  return
}
