// RUN: tessel-opt %s -split-input-file -verify-diagnostics
// One section per verifier error of the tile dialect (dialect/TileOps.cpp):
// every emitOpError branch of every op and the !tile.ptr pointee check.

//===----------------------------------------------------------------------===//
// !tile.ptr
//===----------------------------------------------------------------------===//

// expected-error @+1 {{pointee must be f32, f16, bf16, i1, i32 or i64, got 'f64'}}
func.func @ptr_bad_pointee(%p: !tile.ptr<f64>) {
  return
}

// -----

// expected-error @+1 {{pointee must be f32, f16, bf16, i1, i32 or i64, got 'i8'}}
func.func @ptr_bad_int_pointee(%p: !tile.ptr<i8>) {
  return
}

//===----------------------------------------------------------------------===//
// program_id, num_programs
//===----------------------------------------------------------------------===//

// -----

func.func @program_id_axis() {
  // expected-error @+1 {{'tile.program_id' op axis must be 0, 1 or 2, got 3}}
  %0 = tile.program_id 3
  return
}

// -----

func.func @num_programs_axis() {
  // expected-error @+1 {{'tile.num_programs' op axis must be 0, 1 or 2, got 7}}
  %0 = tile.num_programs 7
  return
}

//===----------------------------------------------------------------------===//
// make_range
//===----------------------------------------------------------------------===//

// -----

func.func @make_range_empty() {
  // expected-error @+1 {{'tile.make_range' op end (4) must exceed start (4)}}
  %0 = tile.make_range 4, 4 : tensor<1xi32>
  return
}

// -----

func.func @make_range_wrong_size() {
  // expected-error @+1 {{'tile.make_range' op result must be a 1-D tensor of 16 elements, got 'tensor<8xi32>'}}
  %0 = tile.make_range 0, 16 : tensor<8xi32>
  return
}

// -----

func.func @make_range_wrong_rank() {
  // expected-error @+1 {{'tile.make_range' op result must be a 1-D tensor of 16 elements, got 'tensor<4x4xi32>'}}
  %0 = tile.make_range 0, 16 : tensor<4x4xi32>
  return
}

//===----------------------------------------------------------------------===//
// splat
//===----------------------------------------------------------------------===//

// -----

func.func @splat_element_type(%x: f32) {
  // expected-error @+1 {{'tile.splat' op result element type 'bf16' differs from the scalar's type 'f32'}}
  %0 = tile.splat %x : f32 -> tensor<16xbf16>
  return
}

//===----------------------------------------------------------------------===//
// broadcast
//===----------------------------------------------------------------------===//

// -----

func.func @broadcast_element_type(%x: tensor<16x1xf32>) {
  // expected-error @+1 {{'tile.broadcast' op element type changes from 'f32' to 'f16'}}
  %0 = tile.broadcast %x : tensor<16x1xf32> -> tensor<16x8xf16>
  return
}

// -----

func.func @broadcast_rank(%x: tensor<16xf32>) {
  // expected-error @+1 {{'tile.broadcast' op rank changes from 1 to 2; use expand_dims first}}
  %0 = tile.broadcast %x : tensor<16xf32> -> tensor<16x16xf32>
  return
}

// -----

func.func @broadcast_non_unit(%x: tensor<16x2xf32>) {
  // expected-error @+1 {{'tile.broadcast' op dimension 1 of size 2 can only broadcast from size 1 (to 8)}}
  %0 = tile.broadcast %x : tensor<16x2xf32> -> tensor<16x8xf32>
  return
}

//===----------------------------------------------------------------------===//
// expand_dims
//===----------------------------------------------------------------------===//

// -----

func.func @expand_dims_axis(%x: tensor<16xf32>) {
  // expected-error @+1 {{'tile.expand_dims' op axis 2 is out of range [0, 1]}}
  %0 = tile.expand_dims %x {axis = 2 : i32} : tensor<16xf32> -> tensor<16x1xf32>
  return
}

// -----

func.func @expand_dims_shape(%x: tensor<16xf32>) {
  // expected-error @+1 {{'tile.expand_dims' op result shape must be [1x16] of 'f32', got 'tensor<16x1xf32>'}}
  %0 = tile.expand_dims %x {axis = 0 : i32} : tensor<16xf32> -> tensor<16x1xf32>
  return
}

// -----

func.func @expand_dims_element_type(%x: tensor<16xf32>) {
  // expected-error @+1 {{'tile.expand_dims' op result shape must be [16x1] of 'f32', got 'tensor<16x1xbf16>'}}
  %0 = tile.expand_dims %x {axis = 1 : i32} : tensor<16xf32> -> tensor<16x1xbf16>
  return
}

//===----------------------------------------------------------------------===//
// reshape
//===----------------------------------------------------------------------===//

// -----

func.func @reshape_count(%x: tensor<16x16xf32>) {
  // expected-error @+1 {{'tile.reshape' op element count changes from 256 to 128}}
  %0 = tile.reshape %x : tensor<16x16xf32> -> tensor<128xf32>
  return
}

// -----

func.func @reshape_element_type(%x: tensor<16x16xf32>) {
  // expected-error @+1 {{'tile.reshape' op element type changes from 'f32' to 'i32'}}
  %0 = tile.reshape %x : tensor<16x16xf32> -> tensor<256xi32>
  return
}

//===----------------------------------------------------------------------===//
// trans
//===----------------------------------------------------------------------===//

// -----

func.func @trans_rank(%x: tensor<16xf32>) {
  // expected-error @+1 {{'tile.trans' op operand must be 2-D, got rank 1}}
  %0 = tile.trans %x : tensor<16xf32> -> tensor<16xf32>
  return
}

// -----

func.func @trans_shape(%x: tensor<16x32xf32>) {
  // expected-error @+1 {{'tile.trans' op result must be the transpose [32x16] of 'f32', got 'tensor<16x32xf32>'}}
  %0 = tile.trans %x : tensor<16x32xf32> -> tensor<16x32xf32>
  return
}

// -----

func.func @trans_element_type(%x: tensor<16x32xf32>) {
  // expected-error @+1 {{'tile.trans' op result must be the transpose [32x16] of 'f32', got 'tensor<32x16xf16>'}}
  %0 = tile.trans %x : tensor<16x32xf32> -> tensor<32x16xf16>
  return
}

//===----------------------------------------------------------------------===//
// addptr
//===----------------------------------------------------------------------===//

// -----

func.func @addptr_shape(%p: tensor<16x!tile.ptr<f32>>, %off: tensor<8xi32>) {
  // expected-error @+1 {{'tile.addptr' op offset shape [8] differs from pointer shape [16]}}
  %0 = tile.addptr %p, %off : tensor<16x!tile.ptr<f32>>, tensor<8xi32>
  return
}

// -----

func.func @addptr_scalar_offset(%p: tensor<16x!tile.ptr<f32>>, %off: i32) {
  // expected-error @+1 {{'tile.addptr' op offset shape [] differs from pointer shape [16]}}
  %0 = tile.addptr %p, %off : tensor<16x!tile.ptr<f32>>, i32
  return
}

//===----------------------------------------------------------------------===//
// load
//===----------------------------------------------------------------------===//

// -----

func.func @load_result_shape(%p: tensor<16x!tile.ptr<f32>>) {
  // expected-error @+1 {{'tile.load' op result shape [8] differs from pointer shape [16]}}
  %0 = tile.load %p : (tensor<16x!tile.ptr<f32>>) -> tensor<8xf32>
  return
}

// -----

func.func @load_scalar_vs_rank0(%p: !tile.ptr<f32>) {
  // A rank-0 tensor is not a scalar.
  // expected-error @+1 {{'tile.load' op result shape [] differs from pointer shape []}}
  %0 = tile.load %p : (!tile.ptr<f32>) -> tensor<f32>
  return
}

// -----

func.func @load_result_element_type(%p: tensor<16x!tile.ptr<bf16>>) {
  // expected-error @+1 {{'tile.load' op result element type 'f32' differs from the pointee type 'bf16'}}
  %0 = tile.load %p : (tensor<16x!tile.ptr<bf16>>) -> tensor<16xf32>
  return
}

// -----

func.func @load_mask_shape(%p: tensor<16x!tile.ptr<f32>>, %m: tensor<8xi1>) {
  // expected-error @+1 {{'tile.load' op mask shape [8] differs from pointer shape [16]}}
  %0 = tile.load %p mask %m : (tensor<16x!tile.ptr<f32>>, tensor<8xi1>) -> tensor<16xf32>
  return
}

// -----

func.func @load_scalar_mask_on_tensor(%p: tensor<16x!tile.ptr<f32>>, %m: i1) {
  // expected-error @+1 {{'tile.load' op mask shape [] differs from pointer shape [16]}}
  %0 = tile.load %p mask %m : (tensor<16x!tile.ptr<f32>>, i1) -> tensor<16xf32>
  return
}

// -----

func.func @load_other_type(%p: tensor<16x!tile.ptr<f32>>, %m: tensor<16xi1>, %o: tensor<16xf16>) {
  // expected-error @+1 {{'tile.load' op `other` type 'tensor<16xf16>' differs from result type 'tensor<16xf32>'}}
  %0 = tile.load %p mask %m other %o : (tensor<16x!tile.ptr<f32>>, tensor<16xi1>, tensor<16xf16>) -> tensor<16xf32>
  return
}

// -----

func.func @load_other_without_mask(%p: tensor<16x!tile.ptr<f32>>, %o: tensor<16xf32>) {
  // expected-error @+1 {{'tile.load' op `other` needs a mask}}
  %0 = tile.load %p other %o : (tensor<16x!tile.ptr<f32>>, tensor<16xf32>) -> tensor<16xf32>
  return
}

//===----------------------------------------------------------------------===//
// store
//===----------------------------------------------------------------------===//

// -----

func.func @store_value_shape(%p: tensor<16x!tile.ptr<f32>>, %v: tensor<32xf32>) {
  // expected-error @+1 {{'tile.store' op value shape [32] differs from pointer shape [16]}}
  tile.store %p, %v : (tensor<16x!tile.ptr<f32>>, tensor<32xf32>) -> ()
  return
}

// -----

func.func @store_value_element_type(%p: tensor<16x!tile.ptr<bf16>>, %v: tensor<16xf32>) {
  // expected-error @+1 {{'tile.store' op value element type 'f32' differs from the pointee type 'bf16'}}
  tile.store %p, %v : (tensor<16x!tile.ptr<bf16>>, tensor<16xf32>) -> ()
  return
}

// -----

func.func @store_mask_shape(%p: tensor<16x!tile.ptr<f32>>, %v: tensor<16xf32>, %m: tensor<16x1xi1>) {
  // expected-error @+1 {{'tile.store' op mask shape [16x1] differs from pointer shape [16]}}
  tile.store %p, %v mask %m : (tensor<16x!tile.ptr<f32>>, tensor<16xf32>, tensor<16x1xi1>) -> ()
  return
}

//===----------------------------------------------------------------------===//
// dot
//===----------------------------------------------------------------------===//

// -----

func.func @dot_rank(%a: tensor<16xbf16>, %b: tensor<16x16xbf16>, %c: tensor<16x16xf32>) {
  // expected-error @+1 {{'tile.dot' op operands must be 2-D}}
  %0 = tile.dot %a, %b, %c : tensor<16xbf16>, tensor<16x16xbf16> -> tensor<16x16xf32>
  return
}

// -----

func.func @dot_element_types(%a: tensor<16x16xbf16>, %b: tensor<16x16xf16>, %c: tensor<16x16xf32>) {
  // expected-error @+1 {{'tile.dot' op a and b element types differ: 'bf16' vs 'f16'}}
  %0 = tile.dot %a, %b, %c : tensor<16x16xbf16>, tensor<16x16xf16> -> tensor<16x16xf32>
  return
}

// -----

func.func @dot_inner(%a: tensor<16x32xbf16>, %b: tensor<16x16xbf16>, %c: tensor<16x16xf32>) {
  // expected-error @+1 {{'tile.dot' op inner dimensions differ: a is [16x32], b is [16x16]}}
  %0 = tile.dot %a, %b, %c : tensor<16x32xbf16>, tensor<16x16xbf16> -> tensor<16x16xf32>
  return
}

// -----

func.func @dot_accumulator(%a: tensor<16x32xbf16>, %b: tensor<32x64xbf16>, %c: tensor<16x32xf32>) {
  // expected-error @+1 {{'tile.dot' op accumulator must be [16x64], got [16x32]}}
  %0 = tile.dot %a, %b, %c : tensor<16x32xbf16>, tensor<32x64xbf16> -> tensor<16x32xf32>
  return
}

//===----------------------------------------------------------------------===//
// cumsum
//===----------------------------------------------------------------------===//

// -----

func.func @cumsum_axis(%x: tensor<16x8xf32>) {
  // expected-error @+1 {{'tile.cumsum' op axis -1 is out of range [0, 2)}}
  %0 = tile.cumsum %x {axis = -1 : i32} : tensor<16x8xf32> -> tensor<16x8xf32>
  return
}

// -----

func.func @cumsum_mask(%x: tensor<16xi1>) {
  // expected-error @+1 {{'tile.cumsum' op cannot sum elements of type 'i1'}}
  %0 = tile.cumsum %x {axis = 0 : i32} : tensor<16xi1> -> tensor<16xi1>
  return
}

// -----

func.func @cumsum_shape(%x: tensor<16x8xf32>) {
  // expected-error @+1 {{'tile.cumsum' op result must have the shape and element type of its operand, [16x8] 'f32', got [8x16] 'f32'}}
  %0 = tile.cumsum %x {axis = 0 : i32} : tensor<16x8xf32> -> tensor<8x16xf32>
  return
}

//===----------------------------------------------------------------------===//
// reduce
//===----------------------------------------------------------------------===//

// -----

func.func @reduce_kind(%x: tensor<16x16xf32>) {
  // expected-error @+1 {{'tile.reduce' op kind must be "sum", "max" or "min", got "prod"}}
  %0 = tile.reduce "prod" %x {axis = 0 : i32} : tensor<16x16xf32> -> tensor<16xf32>
  return
}

// -----

func.func @reduce_axis(%x: tensor<16x16xf32>) {
  // expected-error @+1 {{'tile.reduce' op axis 2 is out of range [0, 2)}}
  %0 = tile.reduce "sum" %x {axis = 2 : i32} : tensor<16x16xf32> -> tensor<16xf32>
  return
}

// -----

func.func @reduce_mask(%x: tensor<16xi1>) {
  // expected-error @+1 {{'tile.reduce' op cannot reduce elements of type 'i1'}}
  %0 = tile.reduce "sum" %x {axis = 0 : i32} : tensor<16xi1> -> i1
  return
}

// -----

func.func @reduce_pointers(%x: tensor<16x!tile.ptr<f32>>) {
  // expected-error @+1 {{'tile.reduce' op cannot reduce elements of type '!tile.ptr<f32>'}}
  %0 = tile.reduce "max" %x {axis = 0 : i32} : tensor<16x!tile.ptr<f32>> -> !tile.ptr<f32>
  return
}

// -----

func.func @reduce_result_shape(%x: tensor<16x32xf32>) {
  // expected-error @+1 {{'tile.reduce' op result must be 'tensor<32xf32>', got 'tensor<16xf32>'}}
  %0 = tile.reduce "sum" %x {axis = 0 : i32} : tensor<16x32xf32> -> tensor<16xf32>
  return
}

// -----

func.func @reduce_result_scalar(%x: tensor<16xf32>) {
  // expected-error @+1 {{'tile.reduce' op result must be 'f32', got 'tensor<1xf32>'}}
  %0 = tile.reduce "sum" %x {axis = 0 : i32} : tensor<16xf32> -> tensor<1xf32>
  return
}

//===----------------------------------------------------------------------===//
// convert
//===----------------------------------------------------------------------===//

// -----

func.func @convert_shape(%x: tensor<16x16xf32>) {
  // expected-error @+1 {{'tile.convert' op shape changes from [16x16] to [256]}}
  %0 = tile.convert %x : tensor<16x16xf32> -> tensor<256xbf16>
  return
}

// -----

func.func @convert_scalar_to_tensor(%x: f32) {
  // expected-error @+1 {{'tile.convert' op shape changes from [] to []}}
  %0 = tile.convert %x : f32 -> tensor<bf16>
  return
}

// -----

func.func @convert_pointers(%x: tensor<16x!tile.ptr<f32>>) {
  // expected-error @+1 {{'tile.convert' op cannot convert pointers}}
  %0 = tile.convert %x : tensor<16x!tile.ptr<f32>> -> tensor<16xi64>
  return
}

//===----------------------------------------------------------------------===//
// convert_layout and the layout attributes
//===----------------------------------------------------------------------===//

// -----

func.func @convert_layout_shape(%x: tensor<16x16xf32>) {
  // expected-error @+1 {{'tile.convert_layout' op may only change the layout, got 'tensor<16x16xf32>' -> 'tensor<16x8xf32>'}}
  %0 = tile.convert_layout %x : tensor<16x16xf32> -> tensor<16x8xf32>
  return
}

// -----

func.func @convert_layout_element_type(%x: tensor<16x16xf32>) {
  // expected-error @+1 {{'tile.convert_layout' op may only change the layout, got 'tensor<16x16xf32>' -> 'tensor<16x16xbf16>'}}
  %0 = tile.convert_layout %x : tensor<16x16xf32> -> tensor<16x16xbf16>
  return
}

// -----

// expected-error @+1 {{sizePerThread, threadsPerWarp, warpsPerCTA and order must all have the tensor's rank}}
func.func @blocked_rank(%x: tensor<16x16xf32, #tile.blocked<spt = [1, 1], tpw = [32], wpc = [4, 1], order = [1, 0]>>) {
  return
}

// -----

// expected-error @+1 {{layout sizes must be powers of two}}
func.func @blocked_pow2(%x: tensor<16x16xf32, #tile.blocked<spt = [1, 3], tpw = [8, 4], wpc = [4, 1], order = [1, 0]>>) {
  return
}

// -----

// expected-error @+1 {{threadsPerWarp must multiply to 32, got 16}}
func.func @blocked_lanes(%x: tensor<16x16xf32, #tile.blocked<spt = [1, 4], tpw = [4, 4], wpc = [4, 1], order = [1, 0]>>) {
  return
}

// -----

// expected-error @+1 {{order must be a permutation of [0, 2)}}
func.func @blocked_order(%x: tensor<16x16xf32, #tile.blocked<spt = [1, 4], tpw = [8, 4], wpc = [4, 1], order = [1, 1]>>) {
  return
}

// -----

// expected-error @+1 {{warpsPerCTA must be two powers of two}}
func.func @mma_warps(%x: tensor<16x16xf32, #tile.mma<wpc = [3, 1]>>) {
  return
}

// -----

// expected-error @+1 {{a wgmma layout needs warps along M only, in warpgroups of 4, got wpc = [4, 2]}}
func.func @mma_wgmma_split_n(%x: tensor<64x64xf32, #tile.mma<wpc = [4, 2], wgmma = true>>) {
  return
}

// -----

// expected-error @+1 {{a wgmma layout needs warps along M only, in warpgroups of 4, got wpc = [2, 1]}}
func.func @mma_wgmma_partial_group(%x: tensor<64x64xf32, #tile.mma<wpc = [2, 1], wgmma = true>>) {
  return
}

// -----

// expected-error @+1 {{opIdx must be 0 (A) or 1 (B), got 2}}
func.func @dot_operand_index(%x: tensor<16x16xbf16, #tile.dot_operand<opIdx = 2, parent = #tile.mma<wpc = [2, 2]>, bitWidth = 16>>) {
  return
}

// -----

// expected-error @+1 {{the parent of a dot operand must be #tile.mma}}
func.func @dot_operand_parent(%x: tensor<16x16xbf16, #tile.dot_operand<opIdx = 0, parent = #tile.blocked<spt = [1, 4], tpw = [8, 4], wpc = [4, 1], order = [1, 0]>, bitWidth = 16>>) {
  return
}

// -----

// expected-error @+1 {{bitWidth must be 16 or 32, got 8}}
func.func @dot_operand_bit_width(%x: tensor<16x16xbf16, #tile.dot_operand<opIdx = 0, parent = #tile.mma<wpc = [2, 2]>, bitWidth = 8>>) {
  return
}

// -----

//===----------------------------------------------------------------------===//
// tile.async_load, tile.async_wait, convert_layout into #tile.shared
//===----------------------------------------------------------------------===//

#blk = #tile.blocked<spt = [1, 8], tpw = [16, 2], wpc = [1, 1], order = [1, 0]>
func.func @async_load_not_shared(%p: tensor<16x16x!tile.ptr<bf16>, #blk>, %s: i32) {
  // expected-error @+1 {{result must be in #tile.shared}}
  %x = tile.async_load %p slot %s {buffers = 2 : i32} : (tensor<16x16x!tile.ptr<bf16>, #blk>, i32) -> tensor<16x16xbf16, #blk>
  return
}

// -----

#blk = #tile.blocked<spt = [1, 8], tpw = [16, 2], wpc = [1, 1], order = [1, 0]>
func.func @async_load_no_buffers(%p: tensor<16x16x!tile.ptr<bf16>, #blk>, %s: i32) {
  // expected-error @+1 {{needs at least one buffer, got 0}}
  %x = tile.async_load %p slot %s {buffers = 0 : i32} : (tensor<16x16x!tile.ptr<bf16>, #blk>, i32) -> tensor<16x16xbf16, #tile.shared>
  return
}

// -----

#blk = #tile.blocked<spt = [1, 8], tpw = [16, 2], wpc = [1, 1], order = [1, 0]>
func.func @async_load_pointee(%p: tensor<16x16x!tile.ptr<bf16>, #blk>, %s: i32) {
  // expected-error @+1 {{result element type 'f16' differs from the pointee type 'bf16'}}
  %x = tile.async_load %p slot %s {buffers = 2 : i32} : (tensor<16x16x!tile.ptr<bf16>, #blk>, i32) -> tensor<16x16xf16, #tile.shared>
  return
}

// -----

#blk = #tile.blocked<spt = [1, 8], tpw = [16, 2], wpc = [1, 1], order = [1, 0]>
func.func @async_wait_registers(%x: tensor<16x16xbf16, #blk>) {
  // expected-error @+1 {{waits on #tile.shared tensors only}}
  %y = tile.async_wait %x {pending = 0 : i32} : (tensor<16x16xbf16, #blk>) -> tensor<16x16xbf16, #blk>
  return
}

// -----

func.func @async_wait_types(%x: tensor<16x16xbf16, #tile.shared>) {
  // expected-error @+1 {{result types must be the operand types}}
  %y = tile.async_wait %x {pending = 0 : i32} : (tensor<16x16xbf16, #tile.shared>) -> tensor<16x8xbf16, #tile.shared>
  return
}

// -----

func.func @async_wait_pending(%x: tensor<16x16xbf16, #tile.shared>) {
  // expected-error @+1 {{pending must be >= 0, got -1}}
  %y = tile.async_wait %x {pending = -1 : i32} : (tensor<16x16xbf16, #tile.shared>) -> tensor<16x16xbf16, #tile.shared>
  return
}

// -----

#blk = #tile.blocked<spt = [1, 8], tpw = [16, 2], wpc = [1, 1], order = [1, 0]>
func.func @convert_into_shared(%x: tensor<16x16xbf16, #blk>) {
  // expected-error @+1 {{cannot produce a #tile.shared tensor}}
  %y = tile.convert_layout %x : tensor<16x16xbf16, #blk> -> tensor<16x16xbf16, #tile.shared>
  return
}

//===----------------------------------------------------------------------===//
// tile.dot_wait
//===----------------------------------------------------------------------===//

// -----

func.func @dot_wait_types(%a: tensor<16x16xbf16>, %c: tensor<16x16xf32>) {
  %d = tile.dot %a, %a, %c {tile.async} : tensor<16x16xbf16>, tensor<16x16xbf16> -> tensor<16x16xf32>
  // expected-error @+1 {{result types must be the operand types}}
  %w:2 = tile.dot_wait %d {pending = 0 : i32} : (tensor<16x16xf32>) -> (tensor<16x16xf32>, tensor<16x16xf32>)
  return
}

// -----

func.func @dot_wait_pending(%a: tensor<16x16xbf16>, %c: tensor<16x16xf32>) {
  %d = tile.dot %a, %a, %c {tile.async} : tensor<16x16xbf16>, tensor<16x16xbf16> -> tensor<16x16xf32>
  // expected-error @+1 {{pending must be >= 0, got -2}}
  %w = tile.dot_wait %d {pending = -2 : i32} : (tensor<16x16xf32>) -> tensor<16x16xf32>
  return
}

// -----

func.func @dot_wait_not_a_dot(%c: tensor<16x16xf32>) {
  // expected-error @+1 {{waits on the results of tile.dot only}}
  %w = tile.dot_wait %c {pending = 0 : i32} : (tensor<16x16xf32>) -> tensor<16x16xf32>
  return
}

//===----------------------------------------------------------------------===//
// tile.wait_flag, tile.signal_flag
//===----------------------------------------------------------------------===//

// -----

func.func @wait_flag_not_i64(%f: !tile.ptr<i32>, %t: i64) {
  // expected-error @+1 {{flag must point to an i64, got a pointer to 'i32'}}
  tile.wait_flag %f, %t : !tile.ptr<i32>
  return
}

// -----

func.func @signal_flag_not_i64(%f: !tile.ptr<f32>, %t: i64) {
  // expected-error @+1 {{flag must point to an i64, got a pointer to 'f32'}}
  tile.signal_flag %f, %t : !tile.ptr<f32>
  return
}
