// Lightning Attention-2 (Qin et al., arXiv 2401.04658) and simple GLA written
// in the tessel DSL: the forward, the backward (dq, dk + dS0, dv, dk and dv in
// one launch), their sequence-split segment kernels and scan, the decode
// step and simple GLA's gate gradient; their specs and block configurations.
// The pieces they are written with: kernels/ChunkedAttention.h.
#ifndef TESSEL_KERNELS_LIGHTNINGKERNELS_H
#define TESSEL_KERNELS_LIGHTNINGKERNELS_H

#include "dsl/Kernel.h"
#include "llvm/Support/Error.h"

#include <string>

namespace tessel::kernels {

/// Block sizes and warps of one Lightning kernel; the autotuner searches
/// these per kernel (kernels/LightningTuning.h). Every size is a power of two
/// in [16, 256]; a width larger than the head dimension is clamped to it
/// (padded to a power of two, the tail masked).
struct PassConfig {
  /// C: sequence rows per block (intra-block attention is C×C).
  int blockC = 64;
  /// Columns per program: of E for the forward and dv kernels, of D for dq
  /// and dk. The grid's second dimension is ceil(width / blockW).
  int blockW = 64;
  /// GPU: warps per program. 8 measured 1.9x faster than 4 on the H100 at
  /// the standard shape (bench/RESULTS.md, run 2).
  int numWarps = 8;
  /// The sequence-split strategy's segment count S (1: one sweep per (b, h)
  /// over the whole sequence). The segment length is ceil(N / S) rounded up
  /// to a multiple of blockC.
  int splits = 1;
  /// GPU: software-pipeline stages of the sweep's loads (1: each chunk's
  /// tiles are loaded when the chunk starts; S: S − 1 chunks ahead, through
  /// cp.async into S shared-memory buffers per tile; tile-pipeline-loads).
  int stages = 1;

  std::string str() const;
  bool operator==(const PassConfig &) const = default;
};

/// The four kernels of Lightning Attention-2.
enum class LightningPass { Forward, BackwardDq, BackwardDk, BackwardDv };
/// "fwd", "bwd_dq", "bwd_dk", "bwd_dv".
const char *passName(LightningPass pass);
inline constexpr LightningPass kLightningPasses[] = {
    LightningPass::Forward, LightningPass::BackwardDq, LightningPass::BackwardDk,
    LightningPass::BackwardDv};

/// One PassConfig per kernel.
struct LightningConfig {
  PassConfig fwd, dq, dk, dv;

  PassConfig &operator[](LightningPass pass);
  const PassConfig &operator[](LightningPass pass) const;
  /// The same blocks and warps for all four kernels.
  static LightningConfig uniform(int blockC, int blockW, int numWarps = 8);
  std::string str() const;
  bool operator==(const LightningConfig &) const = default;
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
  /// Simple GLA: a (b, h, n) log-decay g_t ≤ 0 per token in place of the
  /// per-head slope (the `slopes` argument becomes `gates`, with its (batch,
  /// head, row) strides after `scale`). Forward and backward, whole
  /// sequences for now (no segment scan by gates).
  bool gated = false;
  /// Variable-length batches (fla's cu_seqlens): the batch holds one packed
  /// row sequence (B = 1) cut into S sequences at the S + 1 offsets of an
  /// i32 `cu_seqlens` argument (after the gate strides); program b sweeps
  /// rows [cu_seqlens[b], cu_seqlens[b + 1]) with its own states (slot
  /// b·H + h of (S, H, D, E) tensors). Whole sequences, for now.
  bool varlen = false;
  /// The anti-causal half of non-causal (bidirectional) attention: every
  /// row takes the rows after it (decay λ^(j−i), or the gates between), and
  /// the kernel adds its outputs to those the causal kernel wrote. Whole
  /// sequences, no states.
  bool anticausal = false;

  std::string str() const;
};

/// Checks that block sizes are powers of two in [16, 256] and warps 1–16;
/// errors name the field ("LightningConfig.dq.blockC ...").
llvm::Error validateConfig(const LightningConfig &config);
llvm::Error validateConfig(const PassConfig &config, llvm::StringRef where);

/// Grid of the forward kernel: (B·H, ceil(E / blockW)).
/// Arguments: q k v o slopes [initial_state] [final_state] n heads scale,
/// then (batch, head, row) strides in elements of q, k, v, o.
llvm::Expected<Kernel> buildLightningForward(const LightningSpec &spec,
                                             const PassConfig &config);

/// The sequence-split strategy of the forward pass (PassConfig::splits > 1),
/// for when B·H programs cannot fill the GPU. The sequence is cut into S
/// segments of `segment_len` rows (a multiple of blockC):
///  1. segment states, grid (B·H·ceil(E / blockW), 1, S): each program sweeps
///     its segment from a zero state and writes the segment's contribution
///     U = Σ_t λ^(end−1−t) k_tᵀ v_t to slot (b·H + h)·S + seg of the fp32
///     `segment_states` buffer (B·H·S, D, E). Arguments: k v slopes
///     segment_states n heads scale segment_len, strides of k v.
///  2. state scan, grid (B·H, ceil(D·E / 1024)): in place, turns each slot
///     into that segment's incoming state, S_0 = initial state (or 0),
///     S_{s+1} = λ^len_s S_s + U_s, and writes the final state. Arguments:
///     segment_states slopes [initial_state] [final_state] n heads
///     segment_len segments.
///  3. segment outputs, grid (B·H·ceil(E / blockW), 1, S): each program sweeps
///     its segment from its incoming state and writes o. Arguments: q k v o
///     slopes segment_states n heads scale segment_len, strides of q k v o.
llvm::Expected<Kernel> buildLightningSegmentStates(const LightningSpec &spec,
                                                   const PassConfig &config);
/// The same split in one launch, the scan chained through the segments
/// (PassConfig::splits > 1 on a GPU, TESSEL_SPLIT=chained): grid (B·H·ceil(E
/// / blockW), 1, S); program (chain c, segment s) sweeps its segment's k and
/// v for U_s, waits until segment s − 1 has handed it S_s (flag c of the i64
/// `segment_flags` reaching flag_base + s; S_0 = initial state or 0), hands
/// S_(s+1) = λ^len S_s + U_s to segment s + 1 (slot (s + 1) mod 2 of its
/// (b, h)'s two fp32 d×e slots in `segment_states`, (B·H·2, D, E)), writes
/// the final state if it is the last, then sweeps its segment again for o
/// — reading k and v a second time while they are still in L2, where the
/// three-launch split reads them from DRAM. Arguments: q k v o slopes
/// [initial_state] [final_state] segment_states segment_flags n heads
/// scale segment_len flag_base, strides of q k v o.
llvm::Expected<Kernel> buildLightningSegmentChained(const LightningSpec &spec,
                                                    const PassConfig &config);
/// `reverse`: the backward's scan of state gradients, from the last segment
/// to the first: dS_N in (spec.finalState), dS0 out (spec.initialState).
llvm::Expected<Kernel> buildLightningStateScan(const LightningSpec &spec,
                                               bool reverse = false);
llvm::Expected<Kernel> buildLightningSegmentOutputs(const LightningSpec &spec,
                                                    const PassConfig &config);

/// The backward's sequence split (PassConfig::splits > 1 for dq, dk or dv),
/// each pass on its own, segments of `segment_len` rows:
///  - dq: the forward's segment-state kernel and scan (S0 in), then dq
///    segment outputs, grid (B·H·ceil(D / blockW), 1, S). Arguments: k v do dq
///    slopes segment_states n heads scale segment_len, strides of k v do dq.
///  - dk, dv: segment state gradients, grid (B·H·ceil(D / blockW), 1, S), each
///    segment swept backwards from zero: U = Σ_t λ^(t−first) scale·q_tᵀ dO_t.
///    Arguments: q do slopes segment_states n heads scale segment_len,
///    strides of q do. Then the reverse scan (dS_N in, dS0 out for dk), then
///    segment outputs from each segment's incoming gradient: dk as dq's
///    (q v do dk ...), dv grid (B·H·ceil(E / blockW), 1, S) (q k do dv ...).
llvm::Expected<Kernel> buildLightningDqSegmentOutputs(const LightningSpec &spec,
                                                      const PassConfig &config);
llvm::Expected<Kernel> buildLightningSegmentGradStates(const LightningSpec &spec,
                                                       const PassConfig &config);
llvm::Expected<Kernel> buildLightningDkSegmentOutputs(const LightningSpec &spec,
                                                      const PassConfig &config);
llvm::Expected<Kernel> buildLightningDvSegmentOutputs(const LightningSpec &spec,
                                                      const PassConfig &config);

/// Grid (B·H·ceil(D / blockW)). Arguments: k v do dq slopes
/// [initial_state] n heads scale, strides of k v do dq. Gated with dS_N
/// (spec.finalState): `final_state` (B, H, D, E) f32 after initial_state,
/// written with S_N for the gate gradient. Gated (simple GLA): `q` after dq
/// and its strides after dq's, then GateRows (gate_rows, its (b, h, n)
/// strides, part stride and offset), written with q·dq per row.
llvm::Expected<Kernel> buildLightningBackwardDq(const LightningSpec &spec,
                                                const PassConfig &config);

/// Grid (B·H·ceil(D / blockW)). Arguments: q v do dk slopes
/// [d_final_state] [d_initial_state] n heads scale, strides of q v do dk.
/// Gated: `k` after dk and its strides after dk's, then GateRows, written
/// with −k·dk per row (as buildLightningBackwardDkDv).
llvm::Expected<Kernel> buildLightningBackwardDk(const LightningSpec &spec,
                                                const PassConfig &config);

/// Grid (B·H·ceil(E / blockW)). Arguments: q k do dv slopes
/// [d_final_state] n heads scale, strides of q k do dv.
llvm::Expected<Kernel> buildLightningBackwardDv(const LightningSpec &spec,
                                                const PassConfig &config);

/// dk and dv in one launch, for one PassConfig shared by both. When blockW
/// covers D and E (dkdvFused), one program per (b, h) holds all of G and
/// sweeps once for both: each block's tiles loaded once, its two score
/// tiles computed once. Otherwise each (b, h) has ceil(D / blockW) dk
/// programs followed by ceil(E / blockW) dv programs, adjacent, so that the
/// q and dO tiles both sweeps read come from DRAM once. Grid (B·H·
/// dkdvPrograms). Arguments:
/// q k v do dk dv slopes [d_final_state] [d_initial_state] n heads scale,
/// strides of q k v do dk dv [GateRows, gated]. The segment-output form replaces the state
/// arguments with segment_states and adds segment_len after scale (grid z =
/// segments).
llvm::Expected<Kernel> buildLightningBackwardDkDv(const LightningSpec &spec,
                                                  const PassConfig &config);
llvm::Expected<Kernel> buildLightningDkDvSegmentOutputs(const LightningSpec &spec,
                                                        const PassConfig &config);

/// Simple GLA's gate gradient from the dq and dk sweeps: with b_t the
/// cumulative log-decay, ∂L/∂b_t = q_t·dq_t − k_t·dk_t (every term of L
/// that holds e^(b_t) is linear in q_t, every one that holds e^(−b_t) in
/// k_t), and dg_t = Σ_{s ≥ t} ∂L/∂b_s, a reverse running sum along the
/// sequence. The per-row terms come from the dq and dk sweeps, in fp32
/// (GateRows: one part per column block, q·dq or −k·dk): `causal_parts`
/// parts of the causal sweeps, then `anti_parts` of a non-causal call's
/// anti-causal ones, whose decays e^(b_j − b_i) carry b with the other
/// sign: ∂L/∂b = r_causal − r_anti. One program per (b, h) sweeps blocks of
/// rows from the end. With dS_N (spec.finalState) every dg_t also gains
/// ⟨S_N, dS_N⟩, from the final state the gated dq sweep writes. Arguments:
/// gate_rows(f32) d_gates(f32) [final_state d_final_state] n heads
/// [cu_seqlens] causal_parts anti_parts, then the (batch, head, row)
/// strides and part stride of gate_rows, the strides of d_gates. Whole
/// sequences.
llvm::Expected<Kernel> buildSimpleGlaGateGradient(const LightningSpec &spec,
                                                  const PassConfig &cfg);

/// One decode step per (b, h): S ← λ S + kᵀ v in place, then o = scale · q S,
/// for one new token. Grid (B·H·ceil(E / blockW)); blockC is unused.
/// Arguments: q k v o slopes state heads scale, the (b, h, n) strides of q k
/// v o (n unused: one token). Gated: `gates` in place of slopes and their
/// (b, h, n) strides after scale (n unused).
llvm::Expected<Kernel> buildLightningDecode(const LightningSpec &spec,
                                            const PassConfig &config);

/// The builder of `pass`.
llvm::Expected<Kernel> buildLightningKernel(LightningPass pass,
                                            const LightningSpec &spec,
                                            const PassConfig &config);

/// A Lightning kernel's name: lightning_<pass>_<spec>_<config>, what the
/// cache and the tuner key on.
std::string kernelName(const char *pass, const LightningSpec &spec,
                       const PassConfig &cfg);

/// Whether the kernels are built for the spec's head dimensions (multiples
/// of 16 in [16, 256]) and dtype (bf16, f16, f32); the error names the one
/// that is not.
llvm::Error validateSpec(const LightningSpec &spec);

/// `dim` rounded up to a power of two (at least 16): the tile width that
/// covers a whole head dimension.
int padToPow2(int dim);

/// Whether bwd_dkdv at `cfg` is the single fused sweep: blockW covers both
/// D and E, so one program holds the whole state gradient G.
bool dkdvFused(const LightningSpec &spec, const PassConfig &cfg);
/// Programs per (b, h) of bwd_dkdv: 1 when fused, else the dk column blocks
/// plus the dv column blocks.
int dkdvPrograms(const LightningSpec &spec, const PassConfig &cfg);

/// Effective tile width: `block` clamped to padToPow2(dim).
int clampBlock(int block, int dim);

/// Programs per (b, h) that split `dim` columns in blocks of `block`
/// (clamped). The sweep kernels read programId(0) as bh · columnBlocks +
/// block: the blocks of one head are adjacent in launch order.
int columnBlocks(int block, int dim);

} // namespace tessel::kernels

#endif // TESSEL_KERNELS_LIGHTNINGKERNELS_H
