// RUN: tessel-opt %s --tile-mark-kernels | FileCheck %s

// CHECK-LABEL: llvm.func @k
// CHECK-SAME: nvvm.kernel
// CHECK-SAME: nvvm.maxntid = array<i32: 256, 1, 1>
llvm.func @k() attributes {tile.kernel, tile.num_warps = 8 : i32} {
  llvm.return
}

// CHECK-LABEL: llvm.func @helper
// CHECK-NOT: nvvm.kernel
llvm.func @helper() {
  llvm.return
}
