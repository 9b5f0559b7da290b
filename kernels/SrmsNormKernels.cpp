// SRMSNorm (kernels/SrmsNorm.h) in the DSL: R rows per program, swept in
// chunks of W columns twice — the sums of squares (and, backward, of dy·x)
// in fp32, then the outputs — so that registers do not grow with d.
#include "kernels/SrmsNorm.h"

#include "dsl/KernelBuilder.h"

#include <algorithm>

namespace tessel::kernels {

using namespace dsl;

SrmsNormProgram srmsNormProgram(int d) {
  // Rows of up to 512 columns at a time: R × W ≈ 2048 elements, 16 a
  // thread in 4 warps, and at least 4 rows so that no warp holds a copy.
  const int W = std::min(padToPow2(d), 512);
  int rows = 1;
  while (rows < 32 && rows * 2 * W <= 2048)
    rows *= 2;
  return {rows, 4, W};
}

llvm::Expected<Kernel> buildSrmsNorm(int d, DType T, bool backward,
                                     int rowsPerProgram, int numWarps) {
  if (d < 1 || d > 65536)
    return llvm::createStringError("SRMSNorm: d must be in [1, 65536], got " +
                                   std::to_string(d));
  if (!isFloat(T))
    return llvm::createStringError(
        std::string("SRMSNorm: dtype must be bf16, f16 or f32, got ") +
        dtypeName(T));
  const int R = rowsPerProgram, W = srmsNormProgram(d).width;
  const int chunks = (d + W - 1) / W;
  KernelBuilder kb(std::string("srms_norm_") + (backward ? "bwd_" : "fwd_") +
                   "d" + std::to_string(d) + "_" + dtypeName(T) + "_R" +
                   std::to_string(R) + "_w" + std::to_string(numWarps));
  Tile x = kb.ptrArg("x", T);
  Tile dy = backward ? kb.ptrArg("dy", T) : Tile();
  Tile out = kb.ptrArg(backward ? "dx" : "y", T);
  Tile rows = kb.scalarArg("rows", DType::i32);
  Tile eps = kb.scalarArg("eps", DType::f32);
  Tile sx = kb.scalarArg("x_row_stride", DType::i64);
  Tile sdy = backward ? kb.scalarArg("dy_row_stride", DType::i64) : Tile();
  Tile so = kb.scalarArg(backward ? "dx_row_stride" : "y_row_stride", DType::i64);

  Tile r = programId(0) * R + arange(0, R);
  Tile live = r < rows;
  Tile r64 = column(r.to(DType::i64));
  // Columns [c·W, c·W + W) of the program's rows; rows and columns past the
  // end read zeros (finite).
  auto cols = [&](const Tile &c) { return c * W + arange(0, W); };
  auto mask = [&](const Tile &cs) { return column(live) & row(cs < d); };
  auto at = [&](const Tile &ptr, const Tile &stride, const Tile &cs) {
    return ptr + r64 * stride + row(cs);
  };
  auto loadF32 = [&](const Tile &ptr, const Tile &stride, const Tile &cs) {
    return load(at(ptr, stride, cs), mask(cs), 0.0).to(DType::f32);
  };
  // Pass 1: Σ x² (and for the backward Σ dy·x) over the row, chunk by chunk.
  auto sums = kb.forRange(
      0, chunks, {zeros({R}, DType::f32), zeros({R}, DType::f32)},
      [&](Tile c, auto carried) {
        Tile cs = cols(c);
        Tile xv = loadF32(x, sx, cs);
        std::vector<Tile> next{carried[0] + sum(xv * xv, 1), carried[1]};
        if (backward)
          next[1] = carried[1] + sum(loadF32(dy, sdy, cs) * xv, 1);
        return next;
      });
  // r = 1 / sqrt(mean(x²) + eps), y = x r.
  Tile inv = 1.0 / sqrt(sums[0] * (1.0 / d) + eps);
  // Backward: mean(dy · y) = r · mean(dy · x).
  Tile proj = backward ? sums[1] * (1.0 / d) * inv : Tile();
  // Pass 2: the outputs, chunk by chunk.
  kb.forRange(0, chunks, {}, [&](Tile c, auto) {
    Tile cs = cols(c);
    Tile y = loadF32(x, sx, cs) * column(inv);
    Tile value = backward
                     ? (loadF32(dy, sdy, cs) - y * column(proj)) * column(inv)
                     : y;
    store(at(out, so, cs), value.to(T), mask(cs));
    return std::vector<Tile>{};
  });
  return kb.finish();
}

} // namespace tessel::kernels
