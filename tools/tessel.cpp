// tessel: the command-line front end. `demo` builds and checks the Lightning
// kernels, `run lightning` runs one checked call, `compile` prints a kernel's
// IR.
#include "kernels/LightningCheck.h"
#include "kernels/LightningKernels.h"
#include "lowering/Pipeline.h"
#include "tools/BenchCommand.h"
#include "tools/TuneCommand.h"
#include "kernels/LightningTuned.h"
#include "runtime/Launch.h"

#include "CLI/CLI.hpp"
#include "fmt/format.h"

#include <chrono>
#include <random>

using namespace tessel;

namespace {

uint64_t freshSeed() { return std::random_device{}() ^ (uint64_t(std::random_device{}()) << 32); }

/// Prints one checked call; returns whether it was within tolerance.
bool report(const LightningProblem &p, const LightningOptions &options) {
  auto result = checkLightning(p, options);
  if (!result) {
    fmt::print(stderr, "error: {}\n", llvm::toString(result.takeError()));
    return false;
  }
  fmt::print("{:<58} {:>8.3f} s  ", p.str(), result->seconds);
  for (auto &[name, err] : result->errors)
    fmt::print(" {}={:.2e}", name, err);
  fmt::print("  (tol {:.0e}) {}\n", result->tolerance,
             result->ok() ? "ok" : "FAIL");
  return result->ok();
}

int runDemo() {
  auto start = std::chrono::steady_clock::now();
  fmt::print("tessel demo: Lightning Attention-2 forward and backward on the "
             "{}, checked against the float64 recurrence\n",
             resolvedBackendName(Backend::Auto));
  LightningOptions options;
  bool ok = true;
  uint64_t seed = freshSeed();
  LightningProblem p;
  p.batch = 2, p.heads = 4, p.seq = 300, p.d = 64, p.e = 96;
  p.slopes = alibiSlopes(p.heads);
  p.seed = seed;
  for (bool backward : {false, true})
    for (Layout layout : {Layout::BHND, Layout::BNHD}) {
      p.backward = backward;
      p.layout = layout;
      p.initialState = p.finalState = layout == Layout::BNHD;
      ok &= report(p, options);
    }
  p.dtype = DType::f32, p.layout = Layout::BHND, p.seq = 130;
  p.initialState = p.finalState = true;
  for (bool backward : {false, true}) {
    p.backward = backward;
    ok &= report(p, options);
  }
  double total = std::chrono::duration<double>(
                     std::chrono::steady_clock::now() - start).count();
  fmt::print("{} in {:.2f} s\n", ok ? "all outputs match the reference"
                                    : "SOME OUTPUTS DO NOT MATCH",
             total);
  return ok ? 0 : 1;
}

} // namespace

int main(int argc, char **argv) {
  CLI::App app{"tessel: a tile-level kernel compiler for linear attention"};
  app.require_subcommand(1);

  auto *demo = app.add_subcommand(
      "demo", "build the Lightning kernels, run forward and backward at a "
              "small shape and check them against the float64 reference");

  auto *run = app.add_subcommand("run", "run one kernel call");
  auto *runLightning = run->add_subcommand(
      "lightning", "run Lightning Attention-2 once and print the relative "
                   "error of every output");
  run->require_subcommand(1);
  LightningProblem p;
  std::string layout = "bhnd", dtype = "bf16", decay = "alibi";
  bool check = false;
  std::optional<uint64_t> seed;
  kernels::LightningConfig config;
  auto addConfig = [&](CLI::App *cmd) {
    cmd->add_option_function<int>("--block-c", [&](int c) {
      config.fwd.blockC = config.dq.blockC = config.dk.blockC = config.dv.blockC = c;
    }, "rows per block (C), every kernel");
    cmd->add_option("--block-e", config.fwd.blockW, "forward: E columns per program");
    cmd->add_option_function<int>("--block-d", [&](int d) {
      config.dq.blockW = config.dk.blockW = d;
    }, "backward dq/dk: D columns per program");
    cmd->add_option("--block-e-bwd", config.dv.blockW, "backward dv: E columns per program");
    cmd->add_option_function<int>("--splits", [&](int n) {
      config.fwd.splits = config.dq.splits = config.dk.splits = config.dv.splits = n;
    }, "split the sequence into this many segments, swept in parallel and "
       "joined by a scan of their states (every kernel); 1 = one sweep per head");
    cmd->add_option_function<int>("--num-warps", [&](int w) {
      config.fwd.numWarps = config.dq.numWarps = config.dk.numWarps = config.dv.numWarps = w;
    }, "GPU: warps per program, every kernel");
    cmd->add_option_function<int>("--stages", [&](int n) {
      config.fwd.stages = config.dq.stages = config.dk.stages = config.dv.stages = n;
    }, "GPU: software-pipeline stages of the chunk loops' loads (1: off), "
       "every kernel");
    cmd->add_option_function<int>("--stages-bwd", [&](int n) {
      config.dq.stages = config.dk.stages = config.dv.stages = n;
    }, "GPU: pipeline stages of the backward kernels only");
  };
  // The options of one checked run; `gated` (run simple-gla) trades
  // --decay for the gates.
  std::vector<float> gateRange;
  bool tuned = false;
  // The shape and element type every checked run takes.
  auto addShapeOptions = [&](CLI::App *cmd, bool withSeq) {
    cmd->add_option("--batch,-B", p.batch, "batch size")->capture_default_str();
    cmd->add_option("--heads,-H", p.heads, "heads")->capture_default_str();
    if (withSeq)
      cmd->add_option("--seq,-N", p.seq, "sequence length")->capture_default_str();
    cmd->add_option("--dk", p.d, "head dimension of q and k (D)")->capture_default_str();
    cmd->add_option("--dv", p.e, "head dimension of v and o (E)")->capture_default_str();
    cmd->add_option("--layout", layout, "bhnd or bnhd")
        ->check(CLI::IsMember({"bhnd", "bnhd"}))->capture_default_str();
    cmd->add_option("--dtype", dtype, "bf16, f16 or f32")
        ->check(CLI::IsMember({"bf16", "f16", "f32"}))->capture_default_str();
  };
  auto addRunOptions = [&](CLI::App *cmd, bool gated) {
    addShapeOptions(cmd, /*withSeq=*/true);
    if (!gated)
      cmd->add_option("--decay", decay,
                      "alibi, zero, or a rate s ≥ 0 for every head")
          ->capture_default_str();
    cmd->add_option("--scale", p.scale, "scale applied to q")->capture_default_str();
    cmd->add_flag("--backward", p.backward, "run the backward pass");
    cmd->add_flag("--initial-state", p.initialState,
                  "pass a random initial state S0");
    cmd->add_flag("--final-state", p.finalState,
                  "forward: write the final state; backward: pass dS_N");
    cmd->add_option("--decode-steps", p.decodeSteps,
                    "forward: run the last T tokens through the decode step "
                    "(lightningDecode), one by one, after a forward over the "
                    "others")
        ->capture_default_str();
    cmd->add_option("--gate-range", gateRange,
                    gated ? "random per-token log-decays g in [LO, HI] (≤ 0; "
                            "default -1,0)"
                          : "simple GLA: random per-token log-decays g in "
                            "[LO, HI] (≤ 0) in place of --decay (as `run "
                            "simple-gla`)")
        ->expected(2)->delimiter(',');
    cmd->add_option("--varlen", p.seqLens,
                    "a variable-length batch (fla's cu_seqlens): the lengths "
                    "L1,L2,... of the sequences packed into one batch, in "
                    "place of -B/-N; states are per sequence")
        ->delimiter(',');
    cmd->add_flag_function("--non-causal", [&](int64_t) { p.causal = false; },
                           gated ? "non-causal (bidirectional): every token "
                                   "attends to the whole sequence, decayed "
                                   "by the gates between"
                                 : "non-causal (bidirectional): every token "
                                   "attends to the whole sequence, decayed "
                                   "by λ^|i−j|");
    cmd->add_flag("--check", check,
                  "compare with the float64 reference; exit 1 when over tolerance");
    cmd->add_option("--seed", seed, "random seed (default: fresh)");
    if (!gated)
      cmd->add_flag("--tuned", tuned,
                    "use the tuned block sizes for this shape (from the "
                    "tuning cache; tune on a miss)");
    addConfig(cmd);
  };
  addRunOptions(runLightning, false);
  auto *runGla = run->add_subcommand(
      "simple-gla", "run simple GLA (per-token gates, fla's chunk_simple_gla "
                    "with g) once through the Lightning kernels and print the "
                    "relative error of every output");
  addRunOptions(runGla, true);
  // run decode: T decode steps after an optional prefill, checked with the
  // final state against the recurrence over all prefill + T tokens.
  auto *runDecode = run->add_subcommand(
      "decode", "run T decode steps (lightningDecode, one token per (b, h) "
                "each) after an optional forward prefill, and print the "
                "relative error of o and the state against the recurrence "
                "over all tokens");
  std::string decodeVariant = "lightning";
  int64_t decodeSteps = 100, prefill = 0;
  runDecode->add_option("--variant", decodeVariant,
                        "lightning (per-head slopes, --decay) or simple-gla "
                        "(per-token gates, --gate-range)")
      ->check(CLI::IsMember({"lightning", "simple-gla"}))->capture_default_str();
  runDecode->add_option("--steps", decodeSteps, "decode steps T (≥ 1)")
      ->capture_default_str();
  runDecode->add_option("--prefill", prefill,
                        "tokens run through the forward first (0: the steps "
                        "start from the initial state, or zeros)")
      ->capture_default_str();
  addShapeOptions(runDecode, /*withSeq=*/false);
  runDecode->add_option("--decay", decay, "lightning: alibi, zero, or a rate s ≥ 0")
      ->capture_default_str();
  runDecode->add_option("--gate-range", gateRange,
                        "simple-gla: per-token log-decays g in [LO, HI] (≤ 0; "
                        "default -1,0)")
      ->expected(2)->delimiter(',');
  runDecode->add_option("--scale", p.scale, "scale applied to q")->capture_default_str();
  runDecode->add_flag("--initial-state", p.initialState,
                      "start from a random state S0");
  runDecode->add_flag("--check", check,
                      "compare with the float64 reference; exit 1 when over tolerance");
  runDecode->add_option("--seed", seed, "random seed (default: fresh)");

  auto *compile = app.add_subcommand("compile", "build a kernel and print its IR");
  std::string kernelName;
  bool dump = false;
  kernels::LightningSpec spec;
  compile->add_option("kernel", kernelName,
                      "lightning_fwd, lightning_bwd_dq, lightning_bwd_dk, lightning_bwd_dv "
                      "lightning_bwd_dkdv (dk and dv in one launch, at dk's configuration) "
                      "or lightning_fwd_chained (the sequence-split forward in one launch)")
      ->required()
      ->check(CLI::IsMember({"lightning_fwd", "lightning_bwd_dq",
                             "lightning_bwd_dk", "lightning_bwd_dv",
                             "lightning_bwd_dkdv", "lightning_fwd_chained"}));
  compile->add_flag("--dump", dump, "print every stage: tile IR, then with --arch "
                                    "the IR with layouts, the LLVM dialect, LLVM IR and PTX");
  lowering::TargetOptions target;
  std::string arch;
  compile->add_option("--arch", arch, "lower to PTX for sm_80 or sm_90a");
  bool aligned = false;
  compile->add_flag("--aligned", aligned,
                    "specialize as the launcher does when every pointer is "
                    "16-byte aligned and every integer a multiple of 16");
  compile->add_option("--dk", spec.d, "D")->capture_default_str();
  compile->add_option("--dv", spec.e, "E")->capture_default_str();
  compile->add_option("--dtype", dtype, "bf16, f16 or f32")
      ->check(CLI::IsMember({"bf16", "f16", "f32"}));
  compile->add_flag("--initial-state", spec.initialState, "specialize for S0");
  compile->add_flag("--final-state", spec.finalState, "specialize for the final state");
  compile->add_flag("--gated", spec.gated,
                    "simple GLA: per-token log-decays (gates) instead of per-head slopes");
  compile->add_flag("--varlen", spec.varlen,
                    "a variable-length batch: sequences at cu_seqlens offsets");
  compile->add_flag("--anticausal", spec.anticausal,
                    "the anti-causal sweep of a non-causal call (rows take "
                    "the rows after them; outputs added)");
  std::string heuristicFor;
  int heuristicSms = 132;
  compile->add_option("--heuristic-for", heuristicFor,
                      "B,N,H: the configuration heuristicConfig picks for that "
                      "shape (with --dk/--dv), instead of block-size flags");
  compile->add_option("--sms", heuristicSms,
                      "SM count for --heuristic-for")->capture_default_str();
  addConfig(compile);

  auto *bench = app.add_subcommand(
      "bench", "time Lightning forward and forward+backward on the GPU at the "
               "standard shapes (B·N tokens, bnhd) against the copy-bandwidth floor");
  BenchOptions benchOptions;
  bench->add_option("--seqs", benchOptions.seqs, "sequence lengths N");
  bench->add_option("--tokens", benchOptions.tokens, "B·N")->capture_default_str();
  bench->add_option("--heads,-H", benchOptions.heads, "heads")->capture_default_str();
  bench->add_option("--dk", benchOptions.d, "D")->capture_default_str();
  bench->add_option("--dv", benchOptions.e, "E")->capture_default_str();
  bench->add_option("--dtype", benchOptions.dtype, "bf16, f16 or f32")->capture_default_str();
  bench->add_option("--warmup", benchOptions.warmup, "untimed calls")->capture_default_str();
  bench->add_option("--reps", benchOptions.reps, "timed calls (median)")->capture_default_str();
  bench->add_flag("--jit-only", benchOptions.jitOnly, "only time the JIT (cold, or warm from the disk cache)");
  bench->add_flag("--gated", benchOptions.gated,
                  "simple GLA: per-token gates in place of the slopes");
  bench->add_flag("--non-causal", benchOptions.nonCausal,
                  "time non-causal attention (two sweeps)");
  bench->add_flag("--varlen", benchOptions.varlen,
                  "pack each shape's B sequences into one variable-length "
                  "batch (cu_seqlens)");
  bench->add_option("--json", benchOptions.json, "write the results as JSON");
  bench->add_option("--decode-batch", benchOptions.decodeBatch,
                    "also time a decode step (lightningDecode) for this batch "
                    "of H states of D × E (0: no)");
  std::vector<int> dkdvConfig;
  bench->add_option("--dkdv", dkdvConfig,
                    "C,W,WARPS,STAGES: the one launch of dk and dv at this "
                    "configuration (W covering D and E: one fused reverse "
                    "sweep per head), the other kernels as without it")
      ->expected(4)->delimiter(',');
  bench->add_flag("--launches", benchOptions.launches,
                  "also time each launch of the forward and backward on its "
                  "own (kernel, grid, warps, ms)");
  bench->add_flag("--tuned", benchOptions.tuned,
                  "use the tuning cache's winners for each shape (defaults "
                  "where it has none; the bench never tunes)");
  addConfig(bench);

  auto *tune = app.add_subcommand(
      "tune", "sweep block sizes of a kernel family, cache the winners");
  tune->require_subcommand(1);
  auto *tuneLightning = tune->add_subcommand(
      "lightning", "tune the four Lightning kernels (fwd, bwd_dq, bwd_dk, "
                   "bwd_dv) at the given shapes");
  TuneCommandOptions tuneOptions;
  tuneLightning->add_option("--shape", tuneOptions.shapes,
                            "B,N,H,D[,E]; repeat for several shapes")
      ->capture_default_str();
  tuneLightning->add_option("--dtype", tuneOptions.dtype, "bf16, f16 or f32")
      ->check(CLI::IsMember({"bf16", "f16", "f32"}))->capture_default_str();
  tuneLightning->add_option("--layout", tuneOptions.layout, "bhnd or bnhd")
      ->check(CLI::IsMember({"bhnd", "bnhd"}))->capture_default_str();
  tuneLightning->add_option("--passes", tuneOptions.passes, "fwd, bwd or all")
      ->check(CLI::IsMember({"fwd", "bwd", "all"}))->capture_default_str();
  tuneLightning->add_option("--devices", tuneOptions.devices,
                            "all, or GPU ordinals such as 0,1 (candidates "
                            "are sharded over them)")
      ->capture_default_str();
  tuneLightning->add_flag("--interpreter", tuneOptions.interpreter,
                          "sweep on interpreter stand-ins (one per --devices "
                          "entry) instead of GPUs");
  tuneLightning->add_flag("--initial-state", tuneOptions.initialState, "tune for S0");
  tuneLightning->add_flag("--final-state", tuneOptions.finalState,
                          "tune for the final state / dS_N");
  tuneLightning->add_option("--warmup", tuneOptions.warmup, "untimed runs per candidate")
      ->capture_default_str();
  tuneLightning->add_option("--reps", tuneOptions.reps, "timed runs per candidate (median)")
      ->capture_default_str();
  tuneLightning->add_flag("--force", tuneOptions.force, "sweep even on a cache hit");
  tuneLightning->add_option("--json", tuneOptions.json, "write the records as JSON");

  auto *cacheCmd = app.add_subcommand(
      "cache", "list, show, clear, export or import tuning records (and "
               "compiled kernels)");
  std::string cacheAction, cacheKey;
  cacheCmd->add_option("action", cacheAction, "ls, show, clear, export or import")
      ->required()->check(CLI::IsMember({"ls", "show", "clear", "export", "import"}));
  cacheCmd->add_option("key", cacheKey,
                       "show: a key prefix from `cache ls`; export: the file "
                       "to write (- for stdout); import: a file from `cache "
                       "export` or `tune --json` (another host's records of "
                       "the same device kind; a key already here keeps the "
                       "faster winner)");

  CLI11_PARSE(app, argc, argv);

  if (tuneLightning->parsed())
    return runTune(tuneOptions);
  if (cacheCmd->parsed())
    return runCacheCommand(cacheAction, cacheKey);

  if (bench->parsed()) {
    // Block-size flags fix every shape's configuration; without them each
    // shape runs at its heuristic one, as an untuned call does.
    for (const char *flag : {"--block-c", "--block-e", "--block-d",
                             "--block-e-bwd", "--splits", "--num-warps",
                             "--stages", "--stages-bwd"})
      if (bench->count(flag))
        benchOptions.config = config;
    if (!dkdvConfig.empty()) {
      kernels::PassConfig p{dkdvConfig[0], dkdvConfig[1], dkdvConfig[2]};
      p.stages = dkdvConfig[3];
      if (auto err = kernels::validateConfig(p, "--dkdv")) {
        fmt::print(stderr, "error: {}\n", llvm::toString(std::move(err)));
        return 2;
      }
      benchOptions.dkdv = p;
    }
    // With --tuned, the stage flags override the chosen configurations.
    if (bench->count("--stages"))
      benchOptions.stagesFwd = config.fwd.stages;
    if (bench->count("--stages") || bench->count("--stages-bwd"))
      benchOptions.stagesBwd = config.dq.stages;
    return runBench(benchOptions);
  }

  if (demo->parsed())
    return runDemo();

  if (compile->parsed()) {
    spec.dtype = *parseDType(dtype);
    kernels::LightningPass pass = kernels::LightningPass::Forward;
    for (kernels::LightningPass p : kernels::kLightningPasses)
      if (kernelName == std::string("lightning_") + kernels::passName(p))
        pass = p;
    const bool fused = kernelName == "lightning_bwd_dkdv";
    if (fused)
      pass = kernels::LightningPass::BackwardDk;
    if (!heuristicFor.empty()) {
      auto shape = LightningShape::parse(heuristicFor + "," +
                                         std::to_string(spec.d) + "," +
                                         std::to_string(spec.e));
      if (!shape) {
        fmt::print(stderr, "error: --heuristic-for: {}\n",
                   llvm::toString(shape.takeError()));
        return 1;
      }
      config[pass] = heuristicConfig(pass, *shape, heuristicSms,
                                     wgmmaTarget(arch));
      fmt::print(stderr, "heuristic configuration: {}\n", config[pass].str());
    }
    const bool chained = kernelName == "lightning_fwd_chained";
    auto kernel = fused     ? kernels::buildLightningBackwardDkDv(spec, config[pass])
                  : chained ? kernels::buildLightningSegmentChained(spec, config[pass])
                            : kernels::buildLightningKernel(pass, spec, config[pass]);
    if (!kernel) {
      fmt::print(stderr, "error: {}\n", llvm::toString(kernel.takeError()));
      return 1;
    }
    if (dump)
      fmt::print("// ----- tile IR -----\n{}", kernel->ir());
    if (arch.empty()) {
      if (!dump)
        fmt::print("built {} ({} arguments); pass --dump to print its IR\n",
                   kernel->name(), kernel->args().size());
      return 0;
    }
    target.arch = arch;
    target.numWarps = config[pass].numWarps;
    const char *dumpDir = std::getenv("TESSEL_DUMP_IR");
    auto specialized = lowering::specializeDivisibility(
        kernel->module(),
        llvm::SmallVector<bool>(aligned ? kernel->args().size() : 0, true));
    auto compiled = lowering::compileToPTX(*specialized, target,
                                           dumpDir ? dumpDir : "");
    if (!compiled) {
      fmt::print(stderr, "error: {}\n", llvm::toString(compiled.takeError()));
      return 1;
    }
    if (dump)
      fmt::print("// ----- tile IR with layouts -----\n{}\n"
                 "// ----- LLVM dialect -----\n{}\n"
                 "// ----- LLVM IR -----\n{}\n// ----- PTX -----\n{}",
                 compiled->layoutIR, compiled->llvmDialectIR, compiled->llvmIR,
                 compiled->ptx);
    else
      fmt::print("compiled {} for {}: {} bytes of PTX, {} bytes of shared "
                 "memory, {} warps\n",
                 compiled->name, arch, compiled->ptx.size(),
                 compiled->sharedBytes, compiled->numWarps);
    return 0;
  }

  // run lightning
  p.layout = layout == "bnhd" ? Layout::BNHD : Layout::BHND;
  p.dtype = *parseDType(dtype);
  if (decay == "alibi") {
    p.slopes = alibiSlopes(p.heads);
  } else if (decay == "zero") {
    p.slopes.assign(p.heads, 0.0f);
  } else {
    try {
      size_t used = 0;
      float s = std::stof(decay, &used);
      if (used != decay.size()) throw std::invalid_argument(decay);
      p.slopes.assign(p.heads, s);
    } catch (const std::exception &) {
      fmt::print(stderr, "error: --decay must be alibi, zero or a number, got "
                         "'{}'\n", decay);
      return 2;
    }
  }
  CLI::App *runCmd = runGla->parsed()      ? runGla
                     : runDecode->parsed() ? runDecode
                                           : runLightning;
  const bool gatedRun =
      runGla->parsed() || (runDecode->parsed() && decodeVariant == "simple-gla");
  if (runDecode->parsed()) {
    if (decodeSteps < 1 || prefill < 0) {
      fmt::print(stderr, "error: --steps must be ≥ 1 and --prefill ≥ 0, got {} "
                         "and {}\n", decodeSteps, prefill);
      return 2;
    }
    if (decodeVariant == "lightning" && !gateRange.empty()) {
      fmt::print(stderr, "error: --gate-range is simple-gla's; lightning "
                         "decodes with --decay\n");
      return 2;
    }
    if (decodeVariant == "simple-gla" && runDecode->count("--decay")) {
      fmt::print(stderr, "error: --decay is lightning's; simple-gla decodes "
                         "with --gate-range\n");
      return 2;
    }
    p.seq = prefill + decodeSteps;
    p.decodeSteps = decodeSteps;
    p.finalState = true; // the running state is an output
  }
  if (gatedRun && gateRange.empty())
    gateRange = {-1.0f, 0.0f};
  if (!gateRange.empty()) {
    if (runLightning->count("--decay")) {
      fmt::print(stderr, "error: --gate-range replaces --decay (a simple GLA's "
                         "gates replace the slopes); pass one of them\n");
      return 2;
    }
    p.gateRange = std::pair{gateRange[0], gateRange[1]};
  }
  if (!p.seqLens.empty()) {
    if (runCmd->count("--batch") || runCmd->count("--seq")) {
      fmt::print(stderr, "error: --varlen gives the packed sequences' lengths "
                         "in place of -B/-N; pass one or the other\n");
      return 2;
    }
    if (tuned) {
      fmt::print(stderr, "error: --tuned does not tune variable-length "
                         "batches yet; drop --tuned\n");
      return 2;
    }
    p.batch = 1;
    p.seq = 0;
    for (int64_t len : p.seqLens) {
      if (len < 0) {
        fmt::print(stderr, "error: --varlen: a sequence length must be ≥ 0, "
                           "got {}\n", len);
        return 2;
      }
      p.seq += len;
    }
  }
  p.seed = seed ? *seed : freshSeed();
  LightningOptions options;
  // Block-size flags given: exactly that configuration; none: the
  // heuristic one for the shape (LightningOptions::config unset).
  for (const char *flag : {"--block-c", "--block-e", "--block-d",
                           "--block-e-bwd", "--num-warps", "--splits",
                           "--stages", "--stages-bwd"})
    if (runCmd != runDecode && runCmd->count(flag) > 0)
      options.config = config;
  if (tuned && options.config) {
    fmt::print(stderr, "error: --tuned takes the block sizes from the tuning "
                       "cache; drop the block-size flags or --tuned\n");
    return 2;
  }
  if (tuned) {
    options.config.emplace();
    // The block sizes a TunedLightning call would use (tuning on a miss).
    TunedLightning tunedLightning;
    LightningDims dims{p.batch, p.heads, p.seq, p.d, p.e};
    LightningShape shape = LightningShape::of(dims, p.dtype, p.layout,
                                              p.initialState, p.finalState);
    std::vector<PassChoice> choices;
    auto fwd = tunedLightning.configFor(shape, false, &choices);
    if (!fwd) {
      fmt::print(stderr, "error: {}\n", llvm::toString(fwd.takeError()));
      return 2;
    }
    options.config->fwd = fwd->fwd;
    if (p.backward) {
      auto bwd = tunedLightning.configFor(shape, true, &choices);
      if (!bwd) {
        fmt::print(stderr, "error: {}\n", llvm::toString(bwd.takeError()));
        return 2;
      }
      options.config->dq = bwd->dq, options.config->dk = bwd->dk,
      options.config->dv = bwd->dv;
    }
    for (const PassChoice &c : choices)
      fmt::print("tuned {}: {} (from {}, {:.1f} ms)\n", kernels::passName(c.pass),
                 toConfig(c.config).str(), sourceName(c.source),
                 c.seconds * 1e3);
  }
  auto result = checkLightning(p, options);
  if (!result) {
    fmt::print(stderr, "error: {}\n", llvm::toString(result.takeError()));
    return 2;
  }
  fmt::print("{} on the {}: {:.3f} s\n", p.str(),
             resolvedBackendName(options.backend), result->seconds);
  if (check) {
    for (auto &[name, err] : result->errors)
      fmt::print("  {:<16} relative error {:.3e}  (tolerance {:.0e}) {}\n", name,
                 err, result->toleranceOf(name),
                 err <= result->toleranceOf(name) ? "ok" : "FAIL");
    return result->ok() ? 0 : 1;
  }
  return 0;
}
