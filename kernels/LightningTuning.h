// Autotuning declarations of the Lightning kernels (docs/design.md §2.6), beside
// the kernels as @triton.autotune sits beside a Triton kernel: the shape a
// tuning applies to, the configuration space of each of the four kernels
// (forward: intra- and inter-block fused; backward: dq, dk, dv, each fused),
// and the Tunable the sweep drives.
#ifndef TESSEL_KERNELS_LIGHTNINGTUNING_H
#define TESSEL_KERNELS_LIGHTNINGTUNING_H

#include "autotune/Tunable.h"
#include "kernels/Lightning.h"

#include <functional>
#include <mutex>
#include <optional>

namespace tessel {

/// A Lightning problem as far as tuning is concerned.
struct LightningShape {
  int64_t batch = 4, heads = 16, seq = 8192;
  int d = 128, e = 128;
  DType dtype = DType::bf16;
  Layout layout = Layout::BNHD;
  bool initialState = false, finalState = false;

  /// "B4 N8192 H16 D128 E128 bf16 bnhd".
  std::string str() const;
  /// "B,N,H,D" or "B,N,H,D,E" (the sizes only; dtype and layout stay).
  static llvm::Expected<LightningShape> parse(const std::string &text);
  /// The shape of validated call arguments.
  static LightningShape of(const LightningDims &dims, DType dtype,
                           Layout layout, bool initialState, bool finalState);
  /// What winners are shared across: dtype, D, E, layout, states exactly;
  /// B·H and N rounded up to powers of two.
  std::string bucket() const;
};

/// One tensor of a call, by role ("q", "k", "v", "o", "do", "dq", "dk", "dv",
/// "slopes", "initial_state", "final_state", "d_initial_state",
/// "d_final_state"), dtype and dimensions.
using TensorSource = std::function<TensorRef(llvm::StringRef role, DType dtype,
                                             std::vector<int64_t> dims)>;

/// The arguments of a call at `shape` (in its layout, with its states),
/// every tensor taken from `tensor`: the tuner's timing inputs and the
/// start-up call's stand-in tensors are both built this way.
LightningForwardArgs lightningForwardArgs(const LightningShape &shape,
                                          const TensorSource &tensor);
LightningBackwardArgs lightningBackwardArgs(const LightningShape &shape,
                                            const TensorSource &tensor);

/// The space of one kernel at head dimensions (d, e). Version 3.
///   C      rows per block: 32, 64, 128
///   W      columns per program over E (fwd, dv) or D (dq, dk): 32, 64, 128,
///          capped at the padded head dimension
///   warps  4, 8
///   stages 1, 2, 3: software-pipeline stages of the chunk loop's loads
///          (tile-pipeline-loads; 1 = off)
///   split  the strategy: 1 (one sweep per (b, h)), 4 or 16 segments swept
///          in parallel and joined by a (reverse, for dk and dv) state scan
/// Default: C=64 W=64 warps=8 stages=1 split=1, the untuned
/// LightningConfig. Version 3 (2 had stages fixed at 1, 1 had no split).
autotune::ConfigSpace lightningSpace(kernels::LightningPass pass, int d, int e);

/// A configuration for `pass` at `shape` without tuning, for a GPU with
/// `smCount` SMs, read off the H200 runs of 2026-12-02 (bench/RESULTS.md;
/// a sweep still beats it elsewhere): 3 stages; the forward C = 64 with
/// W = E up to 128 in 8 warps (C = 32 above D, E = 128), or, where `wgmma`
/// (the target lowers one-warpgroup dots to wgmma:
/// lowering::TargetOptions::wgmma(), sm_90a), W = 64 in 4 warps; the
/// backward C = 64, W = 64 in 4 warps (8 and 2 stages above 128); the
/// fewest segments that give three quarters of the SMs a program.
kernels::PassConfig heuristicConfig(kernels::LightningPass pass,
                                    const LightningShape &shape, int smCount,
                                    bool wgmma);

/// heuristicConfig for every pass of `shape`: what an untuned call runs.
kernels::LightningConfig heuristicLightningConfig(const LightningShape &shape,
                                                  int smCount, bool wgmma);

/// How many fine segments each segment's state pass is cut into (k ≥ 1): a
/// split pass's state launch has `programs` programs per segment and
/// sweeps `activeSegments` of them (the forward skips its last), so at
/// small B·H it leaves most SMs idle (run 36: 96 programs on 132 SMs, 2.6
/// TB/s). The largest k dividing `chunksPerSegment`, at most 16, that
/// brings the active programs to about three per SM (each is a few warps
/// at ~150 registers). The scan then runs over k times the segments and
/// the output pass reads every k-th state. Measured on the H200 (run 39, B1
/// N131072 H16): k = 4 made the forward 2 % and forward+backward 4.5 %
/// slower than k = 1, k = 8 16 % slower — the scan's serial chain over k·S
/// segments costs more than the fuller state launch saves — so calls use
/// k = 1 until the scan is parallel; TESSEL_STATE_REFINE=auto asks for this
/// k, TESSEL_STATE_REFINE=k for a given one.
int stateRefinement(int64_t programs, int64_t activeSegments,
                    int64_t chunksPerSegment, int smCount);

/// Whether kernels compiled for `arch` lower one-warpgroup dots to wgmma
/// (heuristicConfig's `wgmma`).
bool wgmmaTarget(const std::string &arch);

kernels::PassConfig toPassConfig(const autotune::Config &config);
autotune::Config toConfig(const kernels::PassConfig &config);

/// One Lightning kernel at one shape, for the sweep. Timing inputs are
/// random, in the shape's layout, replicated into as many sets as it takes
/// to exceed twice the device's L2; validation runs the full pass (with
/// the other kernels at their defaults) on B=1, N=2C+16 (a partial last
/// block) fresh random inputs against the float64 reference.
class LightningTunable : public autotune::Tunable {
public:
  LightningTunable(kernels::LightningPass pass, LightningShape shape);

  std::string name() const override;
  const autotune::ConfigSpace &space() const override { return space_; }
  std::string problemKey() const override { return shape_.bucket(); }
  llvm::Expected<std::string> sourceHash() const override;
  double bytesPerRun() const override;

  llvm::Expected<std::unique_ptr<autotune::Workspace>>
  prepare(autotune::TuneDevice &device) override;
  llvm::Expected<autotune::Resources>
  compile(const autotune::Config &config, autotune::TuneDevice &device,
          autotune::Workspace &workspace) override;
  llvm::Expected<autotune::Validation>
  validate(const autotune::Config &config,
           autotune::TuneDevice &device) override;
  llvm::Error run(const autotune::Config &config, autotune::TuneDevice &device,
                  autotune::Workspace &workspace, int rep) override;

private:
  /// The launches of this pass (several under the split strategy) on input
  /// set `set` of `workspace`.
  llvm::Expected<std::vector<LightningLaunch>> plan(const autotune::Config &config,
                                       autotune::TuneDevice &device,
                                       autotune::Workspace &workspace,
                                       int set) const;

  kernels::LightningPass pass_;
  LightningShape shape_;
  autotune::ConfigSpace space_;
  mutable std::mutex hashMutex_;
  mutable std::optional<std::string> hash_;
};

} // namespace tessel

#endif // TESSEL_KERNELS_LIGHTNINGTUNING_H
