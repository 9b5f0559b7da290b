// End-to-end numerics check of the Lightning kernels against the float64
// reference: fresh random inputs in the requested dtype and layout, poisoned
// outputs, one call, relative error of every output. Used by `tessel demo`,
// `tessel run --check` and the tests.
#ifndef TESSEL_KERNELS_LIGHTNINGCHECK_H
#define TESSEL_KERNELS_LIGHTNINGCHECK_H

#include "kernels/Lightning.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tessel {

struct LightningProblem {
  int64_t batch = 1, heads = 2, seq = 100, d = 32, e = 32;
  Layout layout = Layout::BHND;
  DType dtype = DType::bf16;
  /// One decay rate per head (size `heads`).
  std::vector<float> slopes;
  /// Simple GLA: random per-token log-decays drawn uniformly from [lo, hi]
  /// (≤ 0) in place of the slopes (LightningForwardArgs::gates); the
  /// backward also checks d_gates, decode steps take each token's gates.
  std::optional<std::pair<float, float>> gateRange;
  float scale = 1.0f;
  bool initialState = false;
  bool finalState = false;
  bool backward = false;
  /// Forward only: the last `decodeSteps` tokens go through lightningDecode,
  /// one step each, after a forward over the others (the prefill, which
  /// hands its final state on); o and the final state are checked against
  /// the reference over the whole sequence. 0: one forward call.
  int64_t decodeSteps = 0;
  /// A variable-length batch: the lengths of the sequences packed into the
  /// one batch (batch must be 1, seq their sum; LightningForwardArgs::
  /// cuSeqlens), each with its own states. Empty: B sequences of N.
  std::vector<int64_t> seqLens;
  /// false: non-causal attention (LightningForwardArgs::causal); the
  /// reference sums every pair.
  bool causal = true;
  uint64_t seed = 0;

  std::string str() const;
};

/// ALiBi-style slopes 2^(−8(h+1)/H), as Lightning Attention uses.
std::vector<float> alibiSlopes(int64_t heads);

/// The relative-error bound of docs/design.md §1 for inputs of `dtype`.
double toleranceFor(DType dtype);

struct LightningCheckResult {
  /// (output name, ‖out − ref‖ / ‖ref‖) for every output that was produced.
  std::vector<std::pair<std::string, double>> errors;
  double tolerance = 0;
  /// d_gates of a simple GLA call: 5 × `tolerance` (0: `tolerance`). The
  /// gate gradient is a running sum of q·dq − k·dk, which cancels: it
  /// carries dq's and dk's own error several times over (bf16: 1.4–2.3e-2
  /// where dq is at 2.3e-3, interpreter and H200; f32 on the H200, tf32
  /// dots: 2.0e-3 where dq is at 4e-4; exact f32 in the interpreter: 7e-7).
  double gateTolerance = 0;
  /// The bound `output` is held to.
  double toleranceOf(const std::string &output) const {
    return output == "d_gates" && gateTolerance > 0 ? gateTolerance : tolerance;
  }
  /// Wall time of the tessel calls (kernel build on first use included).
  double seconds = 0;
  bool ok() const;
  double worst() const;
};

llvm::Expected<LightningCheckResult>
checkLightning(const LightningProblem &problem,
               const LightningOptions &options = {});

} // namespace tessel

#endif // TESSEL_KERNELS_LIGHTNINGCHECK_H
