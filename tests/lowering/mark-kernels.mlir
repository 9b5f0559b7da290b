// RUN: tessel-opt %s --tile-mark-kernels | FileCheck %s

// CHECK-LABEL: llvm.func @k
// CHECK-SAME: nvvm.kernel
// CHECK-SAME: nvvm.maxnreg = 255 : i32
// CHECK-SAME: nvvm.maxntid = array<i32: 256, 1, 1>
llvm.func @k() attributes {tile.kernel, tile.num_warps = 8 : i32} {
  llvm.return
}

// 16 warps: 512 threads share the 64 Ki registers of a block.
// CHECK-LABEL: llvm.func @wide
// CHECK-SAME: nvvm.maxnreg = 128 : i32
// CHECK-SAME: nvvm.maxntid = array<i32: 512, 1, 1>
llvm.func @wide() attributes {tile.kernel, tile.num_warps = 16 : i32} {
  llvm.return
}

// CHECK-LABEL: llvm.func @helper
// CHECK-NOT: nvvm.kernel
llvm.func @helper() {
  llvm.return
}

// Divisibility facts are dropped; other argument attributes stay.
// CHECK-LABEL: llvm.func @facts
// CHECK-SAME: (%{{.+}}: !llvm.ptr<1> {llvm.noalias}, %{{.+}}: i32)
// CHECK-NOT: tile.divisibility
llvm.func @facts(%p: !llvm.ptr<1> {tile.divisibility = 16 : i32, llvm.noalias},
                 %n: i32 {tile.divisibility = 16 : i32}) attributes {tile.kernel} {
  llvm.return
}
