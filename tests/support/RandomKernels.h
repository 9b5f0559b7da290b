// Random valid tile kernels in the shape of linear-attention chunk loops, for
// the compiler fuzz tests: the unit test lowers them (and interprets the
// layout stage's IR), the GPU test runs them on the device against the
// interpreter.
#ifndef TESSEL_TESTS_SUPPORT_RANDOMKERNELS_H
#define TESSEL_TESTS_SUPPORT_RANDOMKERNELS_H

#include "dsl/Kernel.h"
#include "runtime/LaunchArgs.h"

#include "llvm/Support/Error.h"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace tessel::test {

/// A random chunk-loop kernel's sizes: C rows per iteration, q/k of width
/// D, v/o of width E, all powers of two in [16, 128]; its element type.
struct Dims {
  int C = 0, D = 0, E = 0;
  DType T = DType::f32;
};

/// A random kernel (q, k, v, o pointers and the row count n; one program)
/// of dots chained through P = QKᵀ ⊙ mask, transposed operands, a state
/// carried across iterations and updated by a dot, decays, masks,
/// reductions and tails. `what` lists the choices made; `dims` its sizes.
llvm::Expected<Kernel> randomKernel(std::mt19937_64 &rng, std::string &what,
                                    Dims &dims);

/// o's elements for `n` rows (the per-row outputs, or the final state when
/// that is larger).
size_t outputElems(const Dims &dims, int64_t n);

/// One host buffer of `elems` elements of `t`, filled from `rng`.
struct HostBuffer {
  DType t;
  std::vector<uint16_t> half;
  std::vector<float> full;
  HostBuffer(DType t, size_t elems, std::mt19937_64 &rng);
  LaunchArg arg();
  float at(size_t i) const;
  size_t size() const { return t == DType::f32 ? full.size() : half.size(); }
};

} // namespace tessel::test

#endif // TESSEL_TESTS_SUPPORT_RANDOMKERNELS_H
