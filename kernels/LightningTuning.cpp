// The Lightning kernels' tuning spaces and their Tunable: timing inputs on
// the device, compilation with the launch's own specialization (so the
// binary measured is the binary later run), validation via LightningCheck.
#include "kernels/LightningTuning.h"

#include "lowering/Pipeline.h"

#include "autotune/TunedKernel.h"

#include "kernels/LightningCheck.h"
#include "runtime/GpuLauncher.h"
#include "runtime/Half.h"

#include "fmt/format.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/SHA256.h"

#include <algorithm>
#include <cstring>
#include <random>

namespace tessel {

using autotune::Config;
using autotune::ConfigSpace;
using kernels::LightningPass;
using kernels::PassConfig;

namespace {

int64_t pow2AtLeast(int64_t x) {
  int64_t p = 1;
  while (p < x)
    p *= 2;
  return p;
}

/// The head dimension a pass's W splits: E for fwd and dv, D for dq and dk.
int widthOf(LightningPass pass, int d, int e) {
  return pass == LightningPass::BackwardDq || pass == LightningPass::BackwardDk
             ? d
             : e;
}

/// The W candidates of `pass`: 32, 64, 128 up to the padded head dimension
/// (the padded dimension itself for a 16-wide head).
std::vector<int> widthsOf(LightningPass pass, int d, int e) {
  int padded = kernels::padToPow2(widthOf(pass, d, e));
  std::vector<int> widths;
  for (int w : {32, 64, 128})
    if (w <= padded)
      widths.push_back(w);
  if (widths.empty())
    widths.push_back(padded);
  return widths;
}

} // namespace

std::string LightningShape::str() const {
  return fmt::format("B{} N{} H{} D{} E{} {} {}{}{}", batch, seq, heads, d, e,
                     dtypeName(dtype), layoutName(layout),
                     initialState ? " s0" : "", finalState ? " sN" : "");
}

llvm::Expected<LightningShape> LightningShape::parse(const std::string &text) {
  llvm::SmallVector<llvm::StringRef> parts;
  llvm::StringRef(text).split(parts, ',');
  if (parts.size() != 4 && parts.size() != 5)
    return llvm::createStringError(fmt::format(
        "--shape '{}': expected B,N,H,D or B,N,H,D,E (e.g. 4,8192,16,128)",
        text));
  int64_t v[5];
  const char *names[] = {"B", "N", "H", "D", "E"};
  for (size_t i = 0; i < parts.size(); ++i)
    if (parts[i].trim().getAsInteger(10, v[i]) || v[i] < 1)
      return llvm::createStringError(fmt::format(
          "--shape '{}': {} = '{}' is not a positive integer", text, names[i],
          parts[i].str()));
  LightningShape s;
  s.batch = v[0], s.seq = v[1], s.heads = v[2], s.d = static_cast<int>(v[3]);
  s.e = parts.size() == 5 ? static_cast<int>(v[4]) : s.d;
  for (auto [dim, name] : {std::pair{s.d, 'D'}, std::pair{s.e, 'E'}})
    if (dim % 16 != 0 || dim > 256)
      return llvm::createStringError(fmt::format(
          "--shape '{}': head dimension {} = {} must be a multiple of 16 in "
          "[16, 256]",
          text, name, dim));
  return s;
}

LightningShape LightningShape::of(const LightningDims &dims, DType dtype,
                                  Layout layout, bool initialState,
                                  bool finalState) {
  LightningShape s;
  s.batch = dims.batch, s.heads = dims.heads, s.seq = dims.seq;
  s.d = static_cast<int>(dims.d), s.e = static_cast<int>(dims.e);
  s.dtype = dtype, s.layout = layout;
  s.initialState = initialState, s.finalState = finalState;
  return s;
}

std::string LightningShape::bucket() const {
  return fmt::format("{} d{} e{} {} bh<={} n<={}{}{}", dtypeName(dtype), d, e,
                     layoutName(layout), pow2AtLeast(batch * heads),
                     pow2AtLeast(seq), initialState ? " s0" : "",
                     finalState ? " sN" : "");
}

namespace {

std::vector<int64_t> activation(const LightningShape &s, int64_t last) {
  return s.layout == Layout::BHND
             ? std::vector<int64_t>{s.batch, s.heads, s.seq, last}
             : std::vector<int64_t>{s.batch, s.seq, s.heads, last};
}

} // namespace

LightningForwardArgs lightningForwardArgs(const LightningShape &s,
                                          const TensorSource &tensor) {
  LightningForwardArgs a;
  a.q = tensor("q", s.dtype, activation(s, s.d));
  a.k = tensor("k", s.dtype, activation(s, s.d));
  a.v = tensor("v", s.dtype, activation(s, s.e));
  a.o = tensor("o", s.dtype, activation(s, s.e));
  a.layout = s.layout;
  a.slopes = tensor("slopes", DType::f32, {s.heads});
  std::vector<int64_t> state{s.batch, s.heads, s.d, s.e};
  if (s.initialState) a.initialState = tensor("initial_state", DType::f32, state);
  if (s.finalState) a.finalState = tensor("final_state", DType::f32, state);
  return a;
}

LightningBackwardArgs lightningBackwardArgs(const LightningShape &s,
                                            const TensorSource &tensor) {
  LightningBackwardArgs a;
  a.q = tensor("q", s.dtype, activation(s, s.d));
  a.k = tensor("k", s.dtype, activation(s, s.d));
  a.v = tensor("v", s.dtype, activation(s, s.e));
  a.dO = tensor("do", s.dtype, activation(s, s.e));
  a.dq = tensor("dq", s.dtype, activation(s, s.d));
  a.dk = tensor("dk", s.dtype, activation(s, s.d));
  a.dv = tensor("dv", s.dtype, activation(s, s.e));
  a.layout = s.layout;
  a.slopes = tensor("slopes", DType::f32, {s.heads});
  std::vector<int64_t> state{s.batch, s.heads, s.d, s.e};
  if (s.initialState) {
    a.initialState = tensor("initial_state", DType::f32, state);
    a.dInitialState = tensor("d_initial_state", DType::f32, state);
  }
  if (s.finalState) a.dFinalState = tensor("d_final_state", DType::f32, state);
  return a;
}

ConfigSpace lightningSpace(LightningPass pass, int d, int e) {
  std::vector<int> widths = widthsOf(pass, d, e);
  // Version 3: software-pipeline stages (version 2: the split strategy).
  ConfigSpace space(std::string("lightning_") + kernels::passName(pass), 3);
  space.param("C", {32, 64, 128}, "sequence rows per block")
      .param("W", widths,
             widthOf(pass, /*d=*/0, /*e=*/1) == 1 ? "E columns per program"
                                                  : "D columns per program")
      .param("warps", {4, 8}, "warps per program")
      .param("stages", {1, 2, 3},
             "software-pipeline stages of the chunk loop's loads (1: off)");
  space.param("split", {1, 4, 16},
              "strategy: 1 = one sweep per (b, h); S > 1 = S segments swept "
              "in parallel, their states combined by a scan");
  int defaultW = std::min(64, widths.back());
  space.defaults(Config{
      {{"C", 64}, {"W", defaultW}, {"warps", 8}, {"stages", 1}, {"split", 1}}});
  return space;
}

PassConfig heuristicConfig(LightningPass pass, const LightningShape &shape,
                           int smCount, bool wgmma) {
  // Called on every untuned launch: computed directly, not via the space.
  // Measured on the H200 (bench/RESULTS.md, runs 19-29, 2026-12-02).
  PassConfig p;
  int widest = widthsOf(pass, shape.d, shape.e).back();
  int64_t width = widthOf(pass, shape.d, shape.e);
  int64_t heads = shape.batch * shape.heads;
  int64_t busy = smCount * 3 / 4;
  auto programsAt = [&](int w) { return heads * ((width + w - 1) / w); };
  bool wideHeads = std::max(shape.d, shape.e) > 128;
  if (pass == LightningPass::Forward) {
    // 128 columns of E per program, 8 warps (at D or E above 128 in
    // blocks of 32 rows, within 255 registers); loads 3 stages ahead.
    p.blockW = std::min(128, widest);
    p.stages = 3;
    if (wideHeads)
      p.blockC = 32;
    // On wgmma, one warpgroup per program and 64 columns: the two programs
    // of a head run side by side and share its q and k through L2, and the
    // forward beat 8 warps on mma.sync at every N (H200, bench/RESULTS.md,
    // run 28: 0.764 against 0.880 ms at N = 8192 in one call).
    else if (wgmma) {
      p.blockW = std::min(64, widest);
      p.numWarps = 4;
    }
    // Too few heads to fill the GPU at 128 columns but enough at 64: two
    // programs of 4 warps per head sweep the whole sequence, which beats
    // splitting it (B4 N32768: 1.08 ms against 1.34 with 4 segments).
    else if (widest > 64 && programsAt(128) < busy && programsAt(64) >= busy) {
      p.blockW = 64;
      p.numWarps = 4;
    }
  } else {
    // 64 columns per program (two states' worth of operands), 3 stages, in
    // one warpgroup: 4 warps split the rows, so on sm_90a every dot is a
    // wgmma (H200, 4 warps on wgmma against dk and dv in 8 warps on
    // mma.sync: bench/RESULTS.md, run 24). At D or E above 128, 8 warps
    // and 2 stages (registers, shared memory).
    p.blockW = std::min(64, widest);
    p.numWarps = wideHeads ? 8 : 4;
    p.stages = wideHeads ? 2 : 3;
  }
  // The wgmma forward over more than a wave of programs: 2 stages (H200,
  // bench/RESULTS.md run 31: B16 N8192, 512 programs, 0.610 ms against 0.672
  // at 3 stages in one sweep; at B1 N131072, 128 programs, 3 stages).
  if (pass == LightningPass::Forward && wgmma && !wideHeads &&
      programsAt(p.blockW) > smCount)
    p.stages = 2;
  // Still too few programs: segments swept in parallel, the fewest that
  // give three quarters of the SMs one (B1 N131072: 8 segments 1.28 ms,
  // 16 segments 1.39 ms).
  // A segment keeps at least 4 blocks of rows.
  int64_t programs = programsAt(p.blockW);
  int64_t maxSplits = std::min<int64_t>(64, shape.seq / (4 * p.blockC));
  while (programs * p.splits < busy && p.splits * 2 <= maxSplits)
    p.splits *= 2;
  // The lowering takes fewer stages where the rings would not fit.
  return p;
}

kernels::LightningConfig heuristicLightningConfig(const LightningShape &shape,
                                                  int smCount, bool wgmma) {
  kernels::LightningConfig config;
  for (LightningPass pass : kernels::kLightningPasses)
    config[pass] = heuristicConfig(pass, shape, smCount, wgmma);
  return config;
}

int stateRefinement(int64_t programs, int64_t activeSegments,
                    int64_t chunksPerSegment, int smCount) {
  constexpr int64_t kProgramsPerSm = 3, kMaxRefinement = 16;
  int64_t active = std::max<int64_t>(1, programs * activeSegments);
  int64_t want = std::min(kMaxRefinement,
                          (kProgramsPerSm * smCount + active - 1) / active);
  for (int64_t k = std::min(want, chunksPerSegment); k > 1; --k)
    if (chunksPerSegment % k == 0)
      return static_cast<int>(k);
  return 1;
}

bool wgmmaTarget(const std::string &arch) {
  lowering::TargetOptions target;
  target.arch = arch;
  return target.wgmma();
}

PassConfig toPassConfig(const Config &c) {
  PassConfig p{c.get("C"), c.get("W"), c.get("warps"),
               c.has("split") ? c.get("split") : 1};
  p.stages = c.has("stages") ? c.get("stages") : 1;
  return p;
}

Config toConfig(const PassConfig &p) {
  return Config{{{"C", p.blockC}, {"W", p.blockW}, {"warps", p.numWarps},
                 {"stages", p.stages}, {"split", p.splits}}};
}

namespace {

/// One timing input set: the call's arguments and the buffers behind them.
struct InputSet {
  std::vector<std::unique_ptr<autotune::TuneBuffer>> buffers;
  LightningForwardArgs forward;
  LightningBackwardArgs backward;
};

struct LightningWorkspace : autotune::Workspace {
  std::vector<InputSet> sets;
};

int64_t elementsOf(const std::vector<int64_t> &dims) {
  int64_t n = 1;
  for (int64_t d : dims)
    n *= d;
  return n;
}

/// Fills `buf` with `elements` standard-normal values of `dtype`. Timing does
/// not depend on the values, so a 64 Ki-element random pattern is repeated:
/// filling gigabytes element by element would dominate the sweep.
llvm::Error fillRandom(autotune::TuneBuffer &buf, int64_t elements, DType dtype,
                       uint64_t seed) {
  constexpr int64_t kPattern = 1 << 16;
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  size_t esize = dtypeSize(dtype);
  std::string pattern(kPattern * esize, '\0');
  for (int64_t i = 0; i < kPattern; ++i) {
    float x = dist(rng);
    if (dtype == DType::f32)
      std::memcpy(&pattern[i * 4], &x, 4);
    else {
      uint16_t bits = dtype == DType::f16 ? floatToF16Bits(x) : floatToBF16Bits(x);
      std::memcpy(&pattern[i * 2], &bits, 2);
    }
  }
  size_t total = static_cast<size_t>(elements) * esize;
  std::string image(total, '\0');
  for (size_t i = 0; i < total; i += pattern.size())
    std::memcpy(&image[i], pattern.data(), std::min(pattern.size(), total - i));
  return buf.upload(image.data(), total);
}

} // namespace

LightningTunable::LightningTunable(LightningPass pass, LightningShape shape)
    : pass_(pass), shape_(shape), space_(lightningSpace(pass, shape.d, shape.e)) {}

std::string LightningTunable::name() const {
  return std::string("lightning_") + kernels::passName(pass_);
}

llvm::Expected<std::string> LightningTunable::sourceHash() const {
  std::lock_guard<std::mutex> lock(hashMutex_);
  if (hash_)
    return *hash_;
  kernels::LightningSpec spec{shape_.d, shape_.e, shape_.dtype,
                              shape_.initialState, shape_.finalState};
  auto kernel = kernels::buildLightningKernel(
      pass_, spec, toPassConfig(space_.defaultConfig()));
  if (!kernel)
    return kernel.takeError();
  auto digest = llvm::SHA256::hash(llvm::arrayRefFromStringRef(kernel->ir()));
  hash_ = llvm::toHex(digest, /*LowerCase=*/true).substr(0, 16);
  return *hash_;
}

double LightningTunable::bytesPerRun() const {
  double rows = double(shape_.batch) * shape_.heads * shape_.seq;
  double esize = dtypeSize(shape_.dtype);
  // Every pass reads three of q, k, v, dO and writes one tensor (fwd: q k v
  // → o; dq: k v dO → dq; dk: q v dO → dk; dv: q k dO → dv): two D-wide and
  // two E-wide rows per token in each case.
  return rows * (2.0 * shape_.d + 2.0 * shape_.e) * esize;
}

llvm::Expected<std::unique_ptr<autotune::Workspace>>
LightningTunable::prepare(autotune::TuneDevice &device) {
  // What one run touches; enough sets that a run never finds the previous
  // run's inputs in L2.
  double setBytes = bytesPerRun();
  int sets = 1;
  while (sets < 8 && sets * setBytes < 2.0 * device.info().l2Bytes)
    ++sets;
  auto ws = std::make_unique<LightningWorkspace>();
  std::vector<float> slopes = alibiSlopes(shape_.heads);
  for (int i = 0; i < sets; ++i) {
    InputSet in;
    llvm::Error error = llvm::Error::success();
    // Inputs random, slopes ALiBi, outputs left as they are.
    TensorSource allocate = [&](llvm::StringRef role, DType dtype,
                                std::vector<int64_t> dims) {
      TensorRef t;
      if (error)
        return t;
      int64_t elements = elementsOf(dims);
      auto buf = device.allocate(elements * dtypeSize(dtype));
      if (!buf) {
        error = buf.takeError();
        return t;
      }
      if (role == "slopes")
        error = (*buf)->upload(slopes.data(), slopes.size() * 4);
      else if (llvm::is_contained({"q", "k", "v", "do", "initial_state",
                                   "d_final_state"},
                                  role))
        error = fillRandom(**buf, elements, dtype, 1000 * i + elements % 977);
      t.data = (*buf)->data();
      t.onDevice = (*buf)->onDevice();
      t.dtype = dtype;
      t.shape = std::move(dims);
      in.buffers.push_back(std::move(*buf));
      return t;
    };
    if (pass_ == LightningPass::Forward)
      in.forward = lightningForwardArgs(shape_, allocate);
    else
      in.backward = lightningBackwardArgs(shape_, allocate);
    if (error)
      return std::move(error);
    ws->sets.push_back(std::move(in));
  }
  return std::unique_ptr<autotune::Workspace>(std::move(ws));
}

llvm::Expected<std::vector<LightningLaunch>>
LightningTunable::plan(const Config &config, autotune::TuneDevice &device,
                       autotune::Workspace &workspace, int set) const {
  auto &ws = static_cast<LightningWorkspace &>(workspace);
  const InputSet &in = ws.sets[set % ws.sets.size()];
  LightningOptions options;
  options.backend = device.backend();
  options.device = device.ordinal();
  options.config.emplace(); // the other passes at the fixed default
  (*options.config)[pass_] = toPassConfig(config);
  // Each pass is timed on its own launches: dk and dv never fused here.
  options.fuseDkDv = false;
  auto launches = pass_ == LightningPass::Forward
                      ? planLightningForward(in.forward, options)
                      : planLightningBackward(in.backward, options);
  if (!launches)
    return launches.takeError();
  std::vector<LightningLaunch> mine;
  for (LightningLaunch &l : *launches)
    if (l.pass == pass_)
      mine.push_back(std::move(l));
  return mine;
}

llvm::Expected<autotune::Resources>
LightningTunable::compile(const Config &config, autotune::TuneDevice &device,
                          autotune::Workspace &workspace) {
  auto launches = plan(config, device, workspace, 0);
  if (!launches)
    return launches.takeError();
  // A strategy of several kernels needs what its most demanding one needs.
  autotune::Resources total;
  for (const LightningLaunch &launch : *launches) {
    // With the launch's own divisibility facts: the binary compiled (and
    // cached) here is the one the timed runs find.
    auto r = autotune::compileCandidate(*launch.kernel, launch.numWarps,
                                        divisibilityHints(launch.args), device);
    if (!r)
      return r.takeError();
    total.registers = std::max(total.registers, r->registers);
    total.spillBytes = std::max(total.spillBytes, r->spillBytes);
    total.sharedBytes = std::max(total.sharedBytes, r->sharedBytes);
    if (r->registers * r->threads > total.registers * total.threads)
      total.threads = r->threads;
  }
  return total;
}

llvm::Expected<autotune::Validation>
LightningTunable::validate(const Config &config, autotune::TuneDevice &device) {
  // Two full blocks and a 16-row tail. N, H and hence every stride have the
  // same divisibility by 16 as a timing run with N and H multiples of 16, so
  // validation runs the very binary compile() built (no second compile).
  LightningProblem p;
  p.batch = 1;
  p.heads = shape_.heads % 16 == 0 ? 16 : shape_.heads % 16;
  p.seq = 2 * config.get("C") + 16;
  p.d = shape_.d, p.e = shape_.e;
  p.layout = shape_.layout;
  p.dtype = shape_.dtype;
  p.slopes = alibiSlopes(p.heads);
  p.scale = 0.5f;
  p.initialState = shape_.initialState;
  p.finalState = shape_.finalState;
  p.backward = pass_ != LightningPass::Forward;
  p.seed = std::random_device{}();
  LightningOptions options;
  options.backend = device.backend();
  options.device = device.ordinal();
  options.config.emplace(); // the other passes at the fixed default
  (*options.config)[pass_] = toPassConfig(config);
  auto result = checkLightning(p, options);
  if (!result)
    return result.takeError();
  autotune::Validation v;
  v.ok = result->ok();
  v.detail = fmt::format("max rel err {:.1e} (tol {:.0e}, seed {})",
                         result->worst(), result->tolerance, p.seed);
  return v;
}

llvm::Error LightningTunable::run(const Config &config,
                                  autotune::TuneDevice &device,
                                  autotune::Workspace &workspace, int rep) {
  auto launches = plan(config, device, workspace, rep);
  if (!launches)
    return launches.takeError();
  for (const LightningLaunch &l : *launches)
    if (auto err = tessel::launch(*l.kernel, l.grid, l.args, device.backend(),
                                  l.numWarps, device.ordinal()))
      return err;
  return llvm::Error::success();
}

} // namespace tessel
