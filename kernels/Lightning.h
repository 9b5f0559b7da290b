// Host entry points of Lightning Attention-2: validate every argument, pick
// (and cache) the specialized kernels, and launch them. Tensors are strided
// views, so (b, h, n, d) and (b, n, h, d) inputs both work without copies.
#ifndef TESSEL_KERNELS_LIGHTNING_H
#define TESSEL_KERNELS_LIGHTNING_H

#include "kernels/LightningKernels.h"
#include "runtime/Launch.h"
#include "llvm/Support/Error.h"

#include <array>
#include <memory>
#include <cstdint>
#include <optional>

namespace tessel {

/// A strided view of host memory (or, with onDevice, of GPU memory). `strides` are in elements; all zero means
/// contiguous (row-major).
struct TensorRef {
  void *data = nullptr;
  DType dtype = DType::bf16;
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;
  /// `data` is a device address (CUdeviceptr) for the GPU backend.
  bool onDevice = false;

  bool present() const { return data != nullptr; }
  /// The strides, filling in row-major ones when none were given.
  std::vector<int64_t> effectiveStrides() const;
  /// Bytes from the first to one past the last element.
  size_t extentBytes() const;
};

/// `t` as a kernel's pointer argument: a device address, or host memory
/// the launcher stages (its extent bounds the interpreter's accesses).
LaunchArg bufferArg(const TensorRef &t);

/// How the four dimensions of q, k, v, o (and their gradients) are ordered.
enum class Layout { BHND, BNHD };
const char *layoutName(Layout layout);

struct LightningOptions {
  Backend backend = Backend::Auto;
  /// Block sizes, warps and splits of the four kernels. Unset: the shape's
  /// heuristicConfig (LightningTuning.h) for the GPU's SM count (132 on the
  /// interpreter), near the tuned configurations where they were measured.
  std::optional<kernels::LightningConfig> config;
  /// GPU ordinal the kernels run on (the GPU backend).
  int device = 0;
  /// The CUstream the GPU kernels are queued on (null: the legacy default
  /// stream), PyTorch's current stream from Python. A call returns once its
  /// kernels are queued, without waiting for them, except that reading a
  /// device cu_seqlens first waits for this stream (the offsets may be
  /// computed by work queued there). Scratch (segment states, gate rows) is
  /// kept per thread and stream, so calls on two streams never share it.
  void *stream = nullptr;
  /// The backward runs dk and dv as one launch (bwd_dkdv) when their
  /// configurations are equal, so that the q and dO they both read come
  /// from DRAM once. The tuner turns it off to time each pass on its own;
  /// TESSEL_FUSE_DKDV=0 turns it off by default (for A/B measurements).
  bool fuseDkDv = fuseDkDvEnabled();
  static bool fuseDkDvEnabled();
  /// Columns per program (blockW) and warps of lightningDecode; unset: 64
  /// and 4 (blockC and the rest do not apply).
  std::optional<kernels::PassConfig> decodeConfig;
};

struct LightningForwardArgs {
  TensorRef q, k, v; ///< (B,H,N,D), (B,H,N,D), (B,H,N,E) in `layout` order
  TensorRef o;       ///< output, shaped like v
  Layout layout = Layout::BHND;
  TensorRef slopes;  ///< (H) f32: λ_h = exp(−s_h), s_h ≥ 0; 0 = no decay
  float scale = 1.0f;
  TensorRef initialState; ///< optional input (B,H,D,E) f32, contiguous
  TensorRef finalState;   ///< optional output (B,H,D,E) f32, contiguous
  /// Simple GLA (fla's chunk_simple_gla with g): optional (B,H,N) f32 per-
  /// token log-decays g ≤ 0 in `layout` order ((B,N,H) for bnhd), any
  /// strides; token t then decays the state by exp(g_t) and `slopes` must be
  /// left empty. The sequence is not split for it yet.
  TensorRef gates;
  /// Variable-length batch (fla's cu_seqlens): optional (S + 1) i32 offsets
  /// 0 = c_0 ≤ c_1 ≤ … ≤ c_S = N into the one batch (B = 1) of q, k, v, o and
  /// gates; sequence i is rows [c_i, c_{i+1}), attends only to itself and
  /// has its own states, which are then (S, H, D, E). On the device or the
  /// host like q; the offsets are read back and checked before any launch.
  /// Each sequence is swept whole (no sequence split).
  TensorRef cuSeqlens;
  /// false: non-causal (bidirectional) attention, o_i = scale · Σ_j
  /// λ^|i−j| (q_i · k_j) v_j over the whole sequence (with gates, the decay
  /// between i and j: e^(−|b_i − b_j|)), as a causal sweep and an
  /// anti-causal one that adds to it. No states; whole sequences.
  bool causal = true;
};

struct LightningBackwardArgs {
  TensorRef q, k, v, dO;  ///< inputs of the forward pass and dL/dO
  TensorRef dq, dk, dv;   ///< outputs, shaped like q, k, v
  Layout layout = Layout::BHND;
  TensorRef slopes;
  float scale = 1.0f;
  TensorRef initialState;  ///< the forward's S0, if it had one
  TensorRef dInitialState; ///< output dL/dS0; required iff initialState is
  TensorRef dFinalState;   ///< optional input dL/dS_N
  /// Simple GLA: the forward's gates (as LightningForwardArgs::gates, with
  /// `slopes` empty) and the output dL/dg, f32, shaped like them (with
  /// dFinalState, dq's sweep writes S_N to scratch for dg's ⟨S_N, dS_N⟩
  /// term). dL/dg is a reverse running sum of
  /// q·dq − k·dk, per row from the sweeps' fp32 dq and dk (the two cancel):
  /// in bf16 its error still grows with N (interpreter, gates in [−1, 0]:
  /// 0.6–1.6e-2 relative at N = 1000, 3.7e-2 at 4096, where dq is at
  /// 2.4e-3); f32 is exact to ~1e-6 (2e-3 on tf32 dots).
  TensorRef gates, dGates;
  /// Variable-length batch, as for the forward: states and their gradients
  /// are (S, H, D, E).
  TensorRef cuSeqlens;
  /// false: the gradients of non-causal attention (as for the forward),
  /// with gates too (their gradient in a causal and an anti-causal half).
  bool causal = true;
};

/// One decode step: a new token per (b, h) against the running state.
struct LightningDecodeArgs {
  TensorRef q, k, v; ///< (B,H,1,D), (B,H,1,D), (B,H,1,E) in `layout` order
  TensorRef o;       ///< output, shaped like v
  Layout layout = Layout::BHND;
  TensorRef slopes;  ///< (H) f32, as for the forward
  float scale = 1.0f;
  /// (B,H,D,E) f32, contiguous, updated in place: S ← λS + kᵀv; then
  /// o = scale · q S. A forward's final state continues here, and T steps
  /// give what a forward over those T tokens from the same state gives.
  TensorRef state;
  /// Simple GLA: this token's log-decays g ≤ 0, (B,H,1) in bhnd order or
  /// (B,1,H) in bnhd, in place of `slopes`: S ← exp(g) S + kᵀv.
  TensorRef gates;
};

llvm::Error lightningForward(const LightningForwardArgs &args,
                             const LightningOptions &options = {});
llvm::Error lightningBackward(const LightningBackwardArgs &args,
                              const LightningOptions &options = {});

/// Runs one decode step (kernels::buildLightningDecode) at
/// `options.decodeConfig`; `options.config` does not apply.
llvm::Error lightningDecode(const LightningDecodeArgs &args,
                            const LightningOptions &options = {});

/// One kernel launch of a Lightning call, validated and ready to go.
struct LightningLaunch {
  kernels::LightningPass pass;
  std::shared_ptr<const Kernel> kernel;
  Grid grid;
  std::vector<LaunchArg> args;
  unsigned numWarps;
};

/// The launches lightningForward / lightningBackward make (one, or dq, dk
/// and dv), after the same validation, without running them: the tuner
/// times a single pass and compiles with the launch's divisibility hints.
/// A forward plan of the chained split (TESSEL_SPLIT=chained) is for one
/// launch: its flag_base counts past what the launch before left, so plan
/// again for each launch (as lightningForward and the tuner do).
llvm::Expected<std::vector<LightningLaunch>>
planLightningForward(const LightningForwardArgs &args,
                     const LightningOptions &options = {});
llvm::Expected<std::vector<LightningLaunch>>
planLightningBackward(const LightningBackwardArgs &args,
                      const LightningOptions &options = {});
/// Runs `plan` in order.
llvm::Error launchPlan(llvm::ArrayRef<LightningLaunch> plan,
                       const LightningOptions &options);

/// The problem sizes read off validated arguments.
struct LightningDims {
  int64_t batch, heads, seq, d, e;
};

} // namespace tessel

#endif // TESSEL_KERNELS_LIGHTNING_H
