// RUN: tessel-opt %s --tile-to-llvm -split-input-file -verify-diagnostics
// The dot lowering's diagnostics for asynchronous dots written by hand:
// only wgmma has groups to wait on. (The conversion then reports the op
// it could not lower.)

#m = #tile.mma<wpc = [1, 1]>
#a = #tile.dot_operand<opIdx = 0, parent = #m, bitWidth = 16>
#bo = #tile.dot_operand<opIdx = 1, parent = #m, bitWidth = 16>
func.func @async_mma_sync(%x: bf16) attributes {tile.kernel} {
  %a = tile.splat %x : bf16 -> tensor<16x16xbf16, #a>
  %b = tile.splat %x : bf16 -> tensor<16x16xbf16, #bo>
  %c = arith.constant dense<0.0> : tensor<16x16xf32, #m>
  // expected-error @+2 {{an asynchronous dot (tile.async) needs a wgmma mma layout (sm_90a), got #tile.mma<wpc = [1, 1]>}}
  // expected-error @+1 {{failed to legalize operation 'tile.dot'}}
  %d = tile.dot %a, %b, %c {tile.async} : tensor<16x16xbf16, #a>, tensor<16x16xbf16, #bo> -> tensor<16x16xf32, #m>
  %w = tile.dot_wait %d {pending = 0 : i32} : (tensor<16x16xf32, #m>) -> tensor<16x16xf32, #m>
  return
}

// -----

#m = #tile.mma<wpc = [1, 1]>
#a = #tile.dot_operand<opIdx = 0, parent = #m, bitWidth = 16>
#bo = #tile.dot_operand<opIdx = 1, parent = #m, bitWidth = 16>
func.func @wait_on_sync_dot(%x: bf16) attributes {tile.kernel} {
  %a = tile.splat %x : bf16 -> tensor<16x16xbf16, #a>
  %b = tile.splat %x : bf16 -> tensor<16x16xbf16, #bo>
  %c = arith.constant dense<0.0> : tensor<16x16xf32, #m>
  %d = tile.dot %a, %b, %c : tensor<16x16xbf16, #a>, tensor<16x16xbf16, #bo> -> tensor<16x16xf32, #m>
  // expected-error @+2 {{tile.dot_wait waits on asynchronous dots (tile.async) only}}
  // expected-error @+1 {{failed to legalize operation 'tile.dot_wait'}}
  %w = tile.dot_wait %d {pending = 0 : i32} : (tensor<16x16xf32, #m>) -> tensor<16x16xf32, #m>
  return
}

// -----

// A running sum longer than the lowering unrolls is refused with the sizes.
#b1 = #tile.blocked<spt = [1], tpw = [32], wpc = [1], order = [0]>
func.func @cumsum_too_long(%x: f32) attributes {tile.kernel} {
  %a = tile.splat %x : f32 -> tensor<512xf32, #b1>
  // expected-error @+2 {{cumsum over 512 elements along axis 0 in 1 lines: the GPU back end sums at most 256 along the axis and 4 lines per thread (32 threads)}}
  // expected-error @+1 {{failed to legalize operation 'tile.cumsum'}}
  %s = tile.cumsum %a {axis = 0 : i32} : tensor<512xf32, #b1> -> tensor<512xf32, #b1>
  return
}
