// RUN: tessel-opt %s --tile-assign-layouts -verify-diagnostics

func.func @odd_shape(%p: !tile.ptr<f32>) attributes {tile.kernel} {
  // expected-error @+1 {{the GPU back end needs tensors of rank 1 or 2 with power-of-two dimensions, got 'tensor<48xi32>'; pad the tile and mask the tail}}
  %r = tile.make_range 0, 48 : tensor<48xi32>
  return
}
