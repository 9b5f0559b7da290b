// RUN: tessel-opt %s --tile-allocate-shared | FileCheck %s

#b = #tile.blocked<spt = [1, 8], tpw = [4, 8], wpc = [4, 1], order = [1, 0]>
#m = #tile.mma<wpc = [4, 1]>

// Scratch users share offset 0; the kernel needs the largest (64x64 f32).
// CHECK-LABEL: func.func @scratch
// CHECK-SAME: tile.shared_bytes = 16384
// CHECK: tile.convert_layout {{.*}} {tile.smem_offset = 0 : i32}
// CHECK: tile.convert_layout {{.*}} {tile.smem_offset = 0 : i32}
func.func @scratch(%x: tensor<64x64xf32, #b>, %y: tensor<32x32xbf16, #b>) attributes {tile.kernel} {
  %a = tile.convert_layout %x : tensor<64x64xf32, #b> -> tensor<64x64xf32, #m>
  %c = tile.convert_layout %y : tensor<32x32xbf16, #b> -> tensor<32x32xbf16, #m>
  return
}
