// RUN: tessel-opt %s --tile-overlap-dots | FileCheck %s

#m = #tile.mma<wpc = [4, 1], wgmma = true>
#a = #tile.dot_operand<opIdx = 0, parent = #m, bitWidth = 16>
#b = #tile.dot_operand<opIdx = 1, parent = #m, bitWidth = 16>
#s = #tile.mma<wpc = [2, 2]>
#sa = #tile.dot_operand<opIdx = 0, parent = #s, bitWidth = 16>
#sb = #tile.dot_operand<opIdx = 1, parent = #s, bitWidth = 16>

// Two wgmma dots issued back to back: the first one's wait lets the second
// keep running (pending 1), the second's comes at its own first use.
// CHECK-LABEL: func.func @two
// CHECK: %[[S:.*]] = tile.dot {{.*}} {tile.async}
// CHECK-NEXT: %[[T:.*]] = tile.dot {{.*}} {tile.async}
// CHECK-NEXT: %[[SW:.*]] = tile.dot_wait %[[S]] {pending = 1 : i32}
// CHECK-NEXT: %[[M:.*]] = arith.mulf %[[SW]], %arg2
// CHECK-NEXT: %[[TW:.*]] = tile.dot_wait %[[T]] {pending = 0 : i32}
// CHECK-NEXT: arith.addf %[[M]], %[[TW]]
func.func @two(%x: tensor<64x64xbf16, #a>, %y: tensor<64x64xbf16, #b>,
               %c: tensor<64x64xf32, #m>) -> tensor<64x64xf32, #m> {
  %s = tile.dot %x, %y, %c : tensor<64x64xbf16, #a>, tensor<64x64xbf16, #b> -> tensor<64x64xf32, #m>
  %t = tile.dot %x, %y, %c : tensor<64x64xbf16, #a>, tensor<64x64xbf16, #b> -> tensor<64x64xf32, #m>
  %m = arith.mulf %s, %c : tensor<64x64xf32, #m>
  %r = arith.addf %m, %t : tensor<64x64xf32, #m>
  return %r : tensor<64x64xf32, #m>
}

// A state update whose result only the yield reads is waited for right
// before the yield; the loop's result is not touched.
// CHECK-LABEL: func.func @carried
// CHECK: scf.for
// CHECK: %[[D:.*]] = tile.dot {{.*}} {tile.async}
// CHECK-NEXT: %[[W:.*]] = tile.dot_wait %[[D]] {pending = 0 : i32}
// CHECK-NEXT: scf.yield %[[W]]
func.func @carried(%x: tensor<64x64xbf16, #a>, %y: tensor<64x64xbf16, #b>,
                   %c: tensor<64x64xf32, #m>, %n: index) -> tensor<64x64xf32, #m> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %r = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %c) -> (tensor<64x64xf32, #m>) {
    %d = tile.dot %x, %y, %acc : tensor<64x64xbf16, #a>, tensor<64x64xbf16, #b> -> tensor<64x64xf32, #m>
    scf.yield %d : tensor<64x64xf32, #m>
  }
  return %r : tensor<64x64xf32, #m>
}

// mma.sync dots are synchronous: nothing changes.
// CHECK-LABEL: func.func @sync
// CHECK-NOT: tile.async
// CHECK-NOT: tile.dot_wait
// CHECK: return
func.func @sync(%x: tensor<64x64xbf16, #sa>, %y: tensor<64x64xbf16, #sb>,
                %c: tensor<64x64xf32, #s>) -> tensor<64x64xf32, #s> {
  %d = tile.dot %x, %y, %c : tensor<64x64xbf16, #sa>, tensor<64x64xbf16, #sb> -> tensor<64x64xf32, #s>
  return %d : tensor<64x64xf32, #s>
}
