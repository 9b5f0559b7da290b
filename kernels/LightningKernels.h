// Lightning Attention-2 (Qin et al., arXiv 2401.04658) written in the tessel
// DSL: one forward kernel and three backward kernels (dq, dk + dS0, dv).
#ifndef TESSEL_KERNELS_LIGHTNINGKERNELS_H
#define TESSEL_KERNELS_LIGHTNINGKERNELS_H

#include "dsl/Kernel.h"
#include "llvm/Support/Error.h"

#include <string>

namespace tessel::kernels {

/// Block sizes of the Lightning kernels; the autotuner searches these.
/// Every size is a power of two in [16, 256]; widths larger than the head
/// dimension are clamped to it (padded to a power of two, the tail masked).
struct LightningConfig {
  /// C: sequence rows per block (intra-block attention is C×C).
  int blockC = 64;
  /// Forward: output columns of E per program.
  int blockE = 64;
  /// Backward dq and dk: columns of D per program.
  int blockD = 64;
  /// Backward dv: columns of E per program.
  int blockEBwd = 64;
  /// GPU: warps per program. 8 measured 1.9x faster than 4 on the H100 at
  /// the standard shape (bench/RESULTS.md, run 2).
  int numWarps = 8;

  std::string str() const;
};

/// What a kernel is specialized on besides block sizes.
struct LightningSpec {
  int d = 64;
  int e = 64;
  DType dtype = DType::bf16;
  /// Forward: read S0; backward: read S0 and write dS0.
  bool initialState = false;
  /// Forward: write the final state; backward: read its gradient dS_N.
  bool finalState = false;

  std::string str() const;
};

/// Checks that block sizes are usable (multiples of 16, positive, ≤ 256).
llvm::Error validateConfig(const LightningConfig &config);

/// Grid of the forward kernel: (B·H, ceil(E / blockE)).
/// Arguments: q k v o slopes [initial_state] [final_state] n heads scale,
/// then (batch, head, row) strides in elements of q, k, v, o.
llvm::Expected<Kernel> buildLightningForward(const LightningSpec &spec,
                                             const LightningConfig &config);

/// Grid (B·H, ceil(D / blockD)). Arguments: k v do dq slopes
/// [initial_state] n heads scale, strides of k v do dq.
llvm::Expected<Kernel> buildLightningBackwardDq(const LightningSpec &spec,
                                                const LightningConfig &config);

/// Grid (B·H, ceil(D / blockD)). Arguments: q v do dk slopes
/// [d_final_state] [d_initial_state] n heads scale, strides of q v do dk.
llvm::Expected<Kernel> buildLightningBackwardDk(const LightningSpec &spec,
                                                const LightningConfig &config);

/// Grid (B·H, ceil(E / blockEBwd)). Arguments: q k do dv slopes
/// [d_final_state] n heads scale, strides of q k do dv.
llvm::Expected<Kernel> buildLightningBackwardDv(const LightningSpec &spec,
                                                const LightningConfig &config);

/// `dim` rounded up to a power of two (at least 16): the tile width that
/// covers a whole head dimension.
int padToPow2(int dim);

/// Effective tile width: `block` clamped to padToPow2(dim).
int clampBlock(int block, int dim);

} // namespace tessel::kernels

#endif // TESSEL_KERNELS_LIGHTNINGKERNELS_H
