// The float64 ground truth of docs/design.md §1, computed token by token from the
// recurrence S_t = λ S_{t−1} + k_tᵀ v_t, o_t = scale · q_t S_t — never from the
// block form the kernels use. Tensors are dense (B, H, N, ·) in double.
#ifndef TESSEL_KERNELS_REFERENCE_H
#define TESSEL_KERNELS_REFERENCE_H

#include <cstdint>
#include <vector>

namespace tessel::reference {

struct Problem {
  int64_t batch = 1, heads = 1, seq = 1, d = 16, e = 16;
  double scale = 1.0;
  std::vector<double> q, k, v;   // (B, H, N, D|E)
  std::vector<double> slopes;    // (H), λ_h = exp(−s_h)
  std::vector<double> initial;   // (B, H, D, E) or empty
  /// (B, H, N) log-decays g ≤ 0 of a gated variant (simple GLA): token t
  /// decays the state by λ_t = exp(g_t) instead of its head's λ_h. Empty:
  /// the slopes' constant decay.
  std::vector<double> gates;
  /// A variable-length batch (batch 1): S + 1 offsets, sequence i is rows
  /// [c_i, c_{i+1}) with its own initial and final state, (S, H, D, E).
  /// Empty: every batch is one sequence.
  std::vector<int64_t> cuSeqlens;
  /// false: non-causal attention, o_i = scale Σ_j w_ij (q_i·k_j) v_j over
  /// the whole sequence with w_ij = e^(−|b_i − b_j|), b_t = Σ_{u ≤ t} log λ_u
  /// (λ^|i−j| for a slope), summed pair by pair — no recurrence; no states.
  bool causal = true;

  /// λ of token t of (b, h) slice bh.
  double decay(int64_t bh, int64_t t) const;
};

struct Forward {
  std::vector<double> o;         // (B, H, N, E)
  std::vector<double> final;     // (B, H, D, E)
};

struct Backward {
  std::vector<double> dq, dk, dv; // like q, k, v
  std::vector<double> dInitial;   // (B, H, D, E), empty when no initial state
  /// (B, H, N): ∂L/∂g_t = λ_t ⟨S_{t−1}, ∂L/∂S_t⟩, for gated problems only.
  std::vector<double> dGates;
};

Forward forward(const Problem &p);

/// Gradients for output gradient `dO` (B, H, N, E) and, optionally, the
/// gradient of the final state `dFinal` (B, H, D, E; empty = 0).
Backward backward(const Problem &p, const std::vector<double> &dO,
                  const std::vector<double> &dFinal);

/// ‖a − b‖ / ‖b‖ (the absolute norm when ‖b‖ = 0).
double relativeError(const std::vector<double> &a, const std::vector<double> &b);

} // namespace tessel::reference

#endif // TESSEL_KERNELS_REFERENCE_H
