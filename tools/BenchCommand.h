// `tessel bench`: GPU timings of the Lightning kernels at the standard shapes
// and the JIT's cold and warm start times.
#ifndef TESSEL_TOOLS_BENCHCOMMAND_H
#define TESSEL_TOOLS_BENCHCOMMAND_H

#include "kernels/LightningKernels.h"

#include <optional>
#include <string>
#include <vector>

namespace tessel {

struct BenchOptions {
  /// Sequence lengths; the batch is tokens / N.
  std::vector<int64_t> seqs{2048, 8192, 32768, 131072};
  int64_t tokens = 131072;
  int64_t heads = 16, d = 128, e = 128;
  std::string dtype = "bf16";
  int warmup = 3, reps = 10;
  bool jitOnly = false;
  /// Simple GLA: per-token gates (g ≈ −0.09 everywhere) in place of the
  /// slopes (the backward also writes dg).
  bool gated = false;
  /// Non-causal (bidirectional) attention: the causal sweep and the
  /// anti-causal one that adds to its outputs.
  bool nonCausal = false;
  /// Each shape's B sequences of N packed into one variable-length batch
  /// (cu_seqlens = 0, N, 2N, ...): the same work as the fixed-length call.
  bool varlen = false;
  /// > 0: also time one decode step for this batch × heads states.
  int64_t decodeBatch = 0;
  std::string json;
  /// Block sizes of every shape; unset: each shape's heuristicConfig, as
  /// an untuned call gets.
  std::optional<kernels::LightningConfig> config;
  /// Use the tuning cache's winners per shape instead of `config`.
  bool tuned = false;
  /// Pipeline stages of the forward and of the backward kernels, replacing
  /// those of the tuned (or given) configurations.
  std::optional<int> stagesFwd, stagesBwd;
  /// The one launch of dk and dv (bwd_dkdv) at this configuration, for
  /// every shape, over whichever configuration the others run.
  std::optional<kernels::PassConfig> dkdv;
  /// Also time each launch of the forward and backward plans on its own
  /// (where a call's time goes; Nsight Compute without its overhead).
  bool launches = false;
};

int runBench(const BenchOptions &options);

} // namespace tessel

#endif // TESSEL_TOOLS_BENCHCOMMAND_H
