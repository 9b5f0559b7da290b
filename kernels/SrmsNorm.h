// SRMSNorm of TransNormerLLM (Qin et al., arXiv 2307.14995, §3.3): the
// simple RMS norm without gain or bias over the last dimension,
//   y = x / sqrt(mean(x²) + eps),
// forward and backward as DSL kernels: one program per block of rows, in
// fp32 whatever the tensors' dtype.
#ifndef TESSEL_KERNELS_SRMSNORM_H
#define TESSEL_KERNELS_SRMSNORM_H

#include "kernels/Lightning.h"

namespace tessel {

namespace kernels {

/// The kernel over rows of `d` (≤ 65536) elements of `dtype`,
/// `rowsPerProgram` (a power of two ≤ 256) a program, in column chunks of
/// srmsNormProgram(d).width. Forward arguments: x y rows eps,
/// x_row_stride y_row_stride; backward (dx = r (dy − y · mean(dy · y)),
/// r = 1 / sqrt(mean(x²) + eps), y = x r): x dy dx rows eps, the row
/// strides of x dy dx. Grid: ceil(rows / rowsPerProgram).
llvm::Expected<Kernel> buildSrmsNorm(int d, DType dtype, bool backward,
                                     int rowsPerProgram, int numWarps);

/// The program shape the entry points use for rows of `d`: `rows` rows a
/// program in `warps` warps, swept in chunks of `width` columns (about 2048
/// elements at a time, 16 a thread), so registers do not grow with d.
struct SrmsNormProgram {
  int rows, warps, width;
};
SrmsNormProgram srmsNormProgram(int d);

} // namespace kernels

/// x and y (or dy and dx) are tensors of one shape, 1 to 4 dimensions, the
/// last (d ≤ 65536) contiguous and the leading ones collapsible into rows of
/// one stride (any view of contiguous rows); bf16, f16 or f32, all of one
/// dtype. eps > 0 and finite.
struct SrmsNormArgs {
  TensorRef x, y;
  float eps = 1e-6f;
};
struct SrmsNormBackwardArgs {
  TensorRef x, dy, dx;
  float eps = 1e-6f;
};

llvm::Error srmsNormForward(const SrmsNormArgs &args,
                            const LightningOptions &options = {});
llvm::Error srmsNormBackward(const SrmsNormBackwardArgs &args,
                             const LightningOptions &options = {});

} // namespace tessel

#endif // TESSEL_KERNELS_SRMSNORM_H
