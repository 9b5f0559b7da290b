// RUN: tessel-opt %s --tile-sink-past-loops | FileCheck %s

// A mask built before the loop and used only after it is rebuilt after it;
// what the loop uses stays.
// CHECK-LABEL: func.func @sink
// CHECK: %[[A:.*]] = arith.addi %arg0, %arg0
// CHECK: scf.for
// CHECK: arith.muli %[[A]]
// CHECK: }
// CHECK: %[[M:.*]] = arith.cmpi slt, %arg0, %arg1
// CHECK-NEXT: return %[[M]]
func.func @sink(%x: i32, %y: i32, %n: index) -> i1 {
  %a = arith.addi %x, %x : i32
  %m = arith.cmpi slt, %x, %y : i32
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %r = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %x) -> (i32) {
    %p = arith.muli %a, %acc : i32
    scf.yield %p : i32
  }
  return %m : i1
}
