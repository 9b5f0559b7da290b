// Lightning timings on device buffers with CUDA events (warm-up, repetitions,
// median), bytes and FLOPs per call, the fraction of the memory floor, and
// JIT times. The copy bandwidth that sets the floor is measured in the same
// run with a DSL copy kernel, so the floor is what this GPU actually streams.
#include "tools/BenchCommand.h"

#include "dsl/KernelBuilder.h"
#include "kernels/Lightning.h"
#include "kernels/LightningCheck.h"
#include "kernels/LightningTuned.h"
#include "kernels/LightningTuning.h"
#include "runtime/CudaDriver.h"
#include "runtime/GpuLauncher.h"
#include "runtime/Half.h"

#include "fmt/format.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <random>

namespace tessel {
namespace {

#define TRY(expr)                                                              \
  if (auto err__ = (expr)) {                                                   \
    fmt::print(stderr, "error: {}\n", llvm::toString(std::move(err__)));       \
    return 1;                                                                  \
  }

template <typename F>
llvm::Expected<double> medianMs(CudaDevice &device, int warmup, int reps, F run) {
  for (int i = 0; i < warmup; ++i)
    if (auto err = run())
      return std::move(err);
  std::vector<double> times;
  for (int i = 0; i < reps; ++i) {
    auto start = CudaEvent::create(device), stop = CudaEvent::create(device);
    if (!start) return start.takeError();
    if (!stop) return stop.takeError();
    if (auto err = start->record()) return std::move(err);
    if (auto err = run()) return std::move(err);
    if (auto err = stop->record()) return std::move(err);
    if (auto err = stop->synchronize()) return std::move(err);
    auto ms = CudaEvent::elapsedMs(*start, *stop);
    if (!ms) return ms.takeError();
    times.push_back(*ms);
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

/// out[i] = in[i] over `n` f32 elements, 4096 per program.
llvm::Expected<Kernel> copyKernel() {
  dsl::KernelBuilder kb("bench_copy");
  dsl::Tile in = kb.ptrArg("in", DType::f32), out = kb.ptrArg("out", DType::f32);
  dsl::Tile offs = dsl::programId(0).to(DType::i64) * 4096 +
                   dsl::arange(0, 4096).to(DType::i64);
  dsl::store(out + offs, dsl::load(in + offs));
  return kb.finish();
}

TensorRef deviceTensor(const DeviceBuffer &buf, DType dtype,
                       std::vector<int64_t> shape) {
  TensorRef t;
  t.data = reinterpret_cast<void *>(buf.address());
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.onDevice = true;
  return t;
}

} // namespace

int runBench(const BenchOptions &o) {
  auto deviceOr = getCudaDevice();
  if (!deviceOr) {
    fmt::print(stderr, "error: tessel bench needs a GPU: {}\n",
               llvm::toString(deviceOr.takeError()));
    return 1;
  }
  CudaDevice &device = *deviceOr;
  if ((o.gated || o.varlen || o.nonCausal) && o.tuned) {
    fmt::print(stderr, "error: --tuned with --{}: the tuning space holds "
                       "causal fixed-length Lightning only\n",
               o.gated ? "gated" : o.varlen ? "varlen" : "non-causal");
    return 1;
  }
  auto dtype = parseDType(o.dtype);
  if (!dtype || !isFloat(*dtype)) {
    fmt::print(stderr, "error: --dtype must be bf16, f16 or f32\n");
    return 1;
  }
  std::string date = [] {
    std::time_t t = std::time(nullptr);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d", std::gmtime(&t));
    return std::string(buf);
  }();
  fmt::print("device: {} ({} SMs, {})\n", device.properties().name,
             device.properties().smCount, device.properties().arch());
  // What an untuned call of shape (tokens / N, N) gets on this device.
  auto heuristicFor = [&](int64_t N) {
    return heuristicLightningConfig(
        LightningShape::of({o.tokens / N, o.heads, N, o.d, o.e}, *dtype,
                           Layout::BNHD, false, false),
        device.properties().smCount, wgmmaTarget(device.properties().arch()));
  };
  std::string json = fmt::format("{{\"date\": \"{}\", \"device\": \"{}\", \"results\": [",
                                 date, device.properties().name);

  // Start-up: what a program's first calls cost. Without a given config,
  // startLightning (no tuning: the heuristic) readies the first shape's
  // forward and backward kernels at once, as a program's start-up does;
  // with one, the four kernels are built and loaded one after another.
  {
    int64_t N0 = o.seqs.front();
    auto start = std::chrono::steady_clock::now();
    bool cold = false;
    if (!o.config) {
      TunedLightningOptions to;
      to.backend = Backend::Gpu;
      to.tuneOnMiss = false;
      TunedLightning tuned(to);
      LightningShape shape = LightningShape::of(
          {o.tokens / N0, o.heads, N0, o.d, o.e}, *dtype, Layout::BNHD, false,
          false);
      auto report = startLightning(tuned, {shape}, /*backward=*/true);
      if (!report) TRY(report.takeError());
      for (const StartupItem &item : report->items) {
        cold |= item.origin == "compiled";
        fmt::print("  {}: {} from {} in {:.0f} ms (its thread)\n",
                   kernels::passName(item.choice.pass),
                   toConfig(item.choice.config).str(), item.origin,
                   item.compileSeconds * 1e3);
      }
      fmt::print("startLightning({}, forward and backward): ", shape.str());
    } else {
      kernels::LightningSpec spec{static_cast<int>(o.d), static_cast<int>(o.e),
                                  *dtype, false, false};
      for (kernels::LightningPass pass : kernels::kLightningPasses) {
        auto kernel = kernels::buildLightningKernel(pass, spec, (*o.config)[pass]);
        if (!kernel) TRY(kernel.takeError());
        GpuLaunchOptions lo;
        lo.numWarps = (*o.config)[pass].numWarps;
        auto gk = getGpuKernel(*kernel, lo);
        if (!gk) TRY(gk.takeError());
        cold |= gk->origin == "compiled";
        fmt::print("  {}: {} registers, {} B shared, from {}\n", kernel->name(),
                   gk->function.registers(), gk->sharedBytes, gk->origin);
      }
      fmt::print("jit: 4 lightning kernels, one after another: ");
    }
    double ms = std::chrono::duration<double, std::milli>(
                    std::chrono::steady_clock::now() - start).count();
    fmt::print("ready in {:.0f} ms ({})\n", ms,
               cold ? "cold: compiled" : "warm: disk cache");
    json += fmt::format("{{\"kind\": \"jit\", \"cache\": \"{}\", \"ms\": {:.1f}, "
                        "\"startup\": {}}}",
                        cold ? "cold" : "warm", ms, o.config ? "false" : "true");
  }
  if (o.jitOnly) {
    json += "]}\n";
    if (!o.json.empty()) std::ofstream(o.json) << json;
    return 0;
  }

  // Copy bandwidth: the floor every time below is measured against.
  double copyGBs = 0;
  {
    int64_t n = int64_t(1) << 28; // 1 GiB of f32
    auto in = DeviceBuffer::allocate(device, n * 4);
    if (!in) TRY(in.takeError());
    auto out = DeviceBuffer::allocate(device, n * 4);
    if (!out) TRY(out.takeError());
    TRY(in->memset(0));
    auto kernel = copyKernel();
    if (!kernel) TRY(kernel.takeError());
    std::vector<LaunchArg> args{in->arg(DType::f32), out->arg(DType::f32)};
    auto ms = medianMs(device, o.warmup, o.reps, [&] {
      return launchOnGpu(*kernel, {n / 4096, 1, 1}, args);
    });
    if (!ms) TRY(ms.takeError());
    copyGBs = 2.0 * n * 4 / (*ms * 1e-3) / 1e9;
    fmt::print("copy bandwidth (DSL copy kernel, 2 GiB moved): {:.0f} GB/s\n",
               copyGBs);
    json += fmt::format(", {{\"kind\": \"copy\", \"GBps\": {:.1f}}}", copyGBs);
  }

  fmt::print("{:>7} {:>4} {:>4} {:>10} {:>10} {:>8} {:>12} {:>10} {:>8} {:>9}\n", "N",
             "B", "H", "fwd ms", "floor ms", "floor %", "fwd+bwd ms",
             "floor ms", "floor %", "extra MiB");
  int64_t maxElems = o.tokens * o.heads * std::max(o.d, o.e);
  size_t esize = dtypeSize(*dtype);
  std::vector<uint16_t> hostBits(maxElems);
  {
    std::mt19937_64 rng(1);
    std::normal_distribution<float> dist(0, 1);
    for (auto &x : hostBits) {
      float v = dist(rng);
      x = *dtype == DType::f16 ? floatToF16Bits(v) : floatToBF16Bits(v);
    }
  }
  // An input of `elems` elements: normal samples (16-bit), or a fixed
  // pattern (f32).
  auto input = [&](int64_t elems) -> llvm::Expected<DeviceBuffer> {
    auto b = DeviceBuffer::allocate(device, elems * esize);
    if (!b) return b.takeError();
    if (auto err = *dtype != DType::f32
                       ? b->copyFromHost(hostBits.data(),
                                         std::min<int64_t>(elems, maxElems) * esize)
                       : b->memset(0x3c))
      return std::move(err);
    return std::move(*b);
  };
  auto slopesBuf = DeviceBuffer::allocate(device, o.heads * 4);
  if (!slopesBuf) TRY(slopesBuf.takeError());
  {
    auto slopes = alibiSlopes(o.heads);
    TRY(slopesBuf->copyFromHost(slopes.data(), o.heads * 4));
  }
  for (int64_t N : o.seqs) {
    int64_t B = o.tokens / N;
    if (B < 1) continue;
    int64_t qElems = B * N * o.heads * o.d, vElems = B * N * o.heads * o.e;
    std::vector<DeviceBuffer> bufs;
    for (int64_t elems : {qElems, qElems, vElems, vElems, vElems, qElems, qElems, vElems}) {
      auto b = input(elems);
      if (!b) TRY(b.takeError());
      bufs.push_back(std::move(*b));
    }
    // (b, n, h, d): fla's layout; a varlen call packs the B sequences into
    // one batch of B·N rows cut at cu_seqlens.
    std::vector<int64_t> qs{B, N, o.heads, o.d}, vs{B, N, o.heads, o.e};
    DeviceBuffer cuSeqlensBuf;
    if (o.varlen) {
      qs = {1, B * N, o.heads, o.d};
      vs = {1, B * N, o.heads, o.e};
      std::vector<int32_t> offsets(size_t(B) + 1);
      for (int64_t i = 0; i <= B; ++i)
        offsets[size_t(i)] = static_cast<int32_t>(i * N);
      auto c = DeviceBuffer::allocate(device, offsets.size() * 4);
      if (!c) TRY(c.takeError());
      cuSeqlensBuf = std::move(*c);
      TRY(cuSeqlensBuf.copyFromHost(offsets.data(), offsets.size() * 4));
    }
    LightningForwardArgs fa;
    fa.q = deviceTensor(bufs[0], *dtype, qs);
    fa.k = deviceTensor(bufs[1], *dtype, qs);
    fa.v = deviceTensor(bufs[2], *dtype, vs);
    fa.o = deviceTensor(bufs[3], *dtype, vs);
    fa.layout = Layout::BNHD;
    fa.slopes = deviceTensor(*slopesBuf, DType::f32, {o.heads});
    // Simple GLA: (B, N, H) gates, every byte 0xBD (g = −0.0925 in f32),
    // and their gradient.
    DeviceBuffer gatesBuf, dGatesBuf;
    if (o.gated) {
      for (DeviceBuffer *buf : {&gatesBuf, &dGatesBuf}) {
        auto g = DeviceBuffer::allocate(device, B * N * o.heads * 4);
        if (!g) TRY(g.takeError());
        *buf = std::move(*g);
      }
      TRY(gatesBuf.memset(0xBD));
      fa.slopes = TensorRef{};
      fa.gates = deviceTensor(gatesBuf, DType::f32, {B, N, o.heads});
    }
    fa.causal = !o.nonCausal;
    if (o.varlen)
      fa.cuSeqlens = deviceTensor(cuSeqlensBuf, DType::i32, {B + 1});
    LightningBackwardArgs ba;
    ba.q = fa.q, ba.k = fa.k, ba.v = fa.v;
    ba.causal = fa.causal;
    ba.cuSeqlens = fa.cuSeqlens;
    ba.dO = deviceTensor(bufs[4], *dtype, vs);
    ba.dq = deviceTensor(bufs[5], *dtype, qs);
    ba.dk = deviceTensor(bufs[6], *dtype, qs);
    ba.dv = deviceTensor(bufs[7], *dtype, vs);
    ba.layout = Layout::BNHD;
    ba.slopes = fa.slopes;
    if (o.gated) {
      ba.gates = fa.gates;
      ba.dGates = deviceTensor(dGatesBuf, DType::f32, {B, N, o.heads});
    }
    LightningOptions lo;
    lo.backend = Backend::Gpu;
    lo.config = o.config ? *o.config : heuristicFor(N);
    std::string configSource = o.config ? "given" : "heuristic";
    if ((o.gated || o.varlen || o.nonCausal) && !o.config) {
      // What an untuned gated, varlen or non-causal call runs: the
      // heuristic, whole sequences, 32 columns where 64 spill
      // (applyWholeSequenceLimits).
      lo.config.reset();
      configSource = "whole-sequence default";
    }
    if (o.tuned) {
      // The cached winners for this shape's bucket (the default on a miss:
      // the bench never tunes).
      TunedLightningOptions to;
      to.backend = Backend::Gpu;
      to.tuneOnMiss = false;
      TunedLightning tuned(to);
      LightningShape shape = LightningShape::of(
          {B, o.heads, N, o.d, o.e}, *dtype, Layout::BNHD, false, false);
      std::vector<PassChoice> choices;
      auto f = tuned.configFor(shape, false, &choices);
      if (!f) TRY(f.takeError());
      auto b = tuned.configFor(shape, true, &choices);
      if (!b) TRY(b.takeError());
      lo.config = *b;
      lo.config->fwd = f->fwd;
      configSource.clear();
      for (const PassChoice &c : choices)
        configSource += fmt::format("{}{}: {} ({})", configSource.empty() ? "" : ", ",
                                    kernels::passName(c.pass),
                                    toConfig(c.config).str(), sourceName(c.source));
      fmt::print("  N={} tuned configs: {}\n", N, configSource);
    }
    if ((o.stagesFwd || o.stagesBwd) && !lo.config) {
      fmt::print(stderr, "error: --gated with --stages needs the block flags "
                         "too (the gated default is chosen per call)\n");
      return 1;
    }
    if (o.stagesFwd)
      lo.config->fwd.stages = *o.stagesFwd;
    if (o.stagesBwd)
      lo.config->dq.stages = lo.config->dk.stages = lo.config->dv.stages =
          *o.stagesBwd;
    if (o.stagesFwd || o.stagesBwd)
      configSource += fmt::format(" stages fwd {} bwd {}", lo.config->fwd.stages,
                                  lo.config->dq.stages);
    if (o.dkdv) {
      if (!lo.config) {
        fmt::print(stderr, "error: --dkdv needs a configuration for the other "
                           "kernels (this call chooses its own per call)\n");
        return 1;
      }
      lo.config->dk = lo.config->dv = *o.dkdv;
      configSource += " dkdv " + o.dkdv->str();
    }
    auto fwd = medianMs(device, o.warmup, o.reps,
                        [&] { return lightningForward(fa, lo); });
    if (!fwd) TRY(fwd.takeError());
    auto both = medianMs(device, o.warmup, o.reps, [&]() -> llvm::Error {
      if (auto err = lightningForward(fa, lo)) return err;
      return lightningBackward(ba, lo);
    });
    if (!both) TRY(both.takeError());
    // Device memory one forward+backward holds beyond the caller's tensors
    // (the 8 of this loop, the slopes, a gated call's gates and their
    // gradient): the segment-state scratch, grown
    // to the largest split seen so far (B·H·S·d·e·4 bytes), nothing else.
    size_t ownBytes = slopesBuf->size() + gatesBuf.size() + dGatesBuf.size();
    for (const DeviceBuffer &b : bufs) ownBytes += b.size();
    DeviceBuffer::resetPeakBytes();
    TRY(lightningForward(fa, lo));
    TRY(lightningBackward(ba, lo));
    double extraMiB = double(DeviceBuffer::peakBytes() - ownBytes) / (1 << 20);
    // Minimum traffic: fwd reads q, k, v and writes o; bwd reads q, k, v, dO
    // and writes dq, dk, dv.
    double fwdBytes = double(2 * qElems + 2 * vElems) * esize;
    double bwdBytes = double(4 * qElems + 4 * vElems) * esize;
    double fwdFloor = fwdBytes / (copyGBs * 1e9) * 1e3;
    double bothFloor = (fwdBytes + bwdBytes) / (copyGBs * 1e9) * 1e3;
    fmt::print("{:>7} {:>4} {:>4} {:>10.3f} {:>10.3f} {:>7.1f}% {:>12.3f} {:>10.3f} {:>7.1f}% {:>9.1f}\n",
               N, B, o.heads, *fwd, fwdFloor, 100 * fwdFloor / *fwd, *both,
               bothFloor, 100 * bothFloor / *both, extraMiB);
    json += fmt::format(
        ", {{\"kind\": \"{}\", \"dtype\": \"{}\", \"B\": {}, \"N\": {}, "
        "\"H\": {}, \"D\": {}, \"E\": {}, \"fwd_ms\": {:.4f}, "
        "\"fwd_floor_ms\": {:.4f}, \"fwdbwd_ms\": {:.4f}, "
        "\"fwdbwd_floor_ms\": {:.4f}, \"extra_MiB\": {:.2f}, \"config\": \"{}\"}}",
        std::string(o.gated ? "simple_gla" : "lightning") +
            (o.nonCausal ? "_noncausal" : "") + (o.varlen ? "_varlen" : ""),
        o.dtype, B, N, o.heads, o.d, o.e,
        *fwd, fwdFloor, *both, bothFloor, extraMiB,
        o.tuned || !lo.config ? configSource
                              : configSource + " " + lo.config->str());
    if (o.launches) {
      // Each launch of the two plans, repeated on its own: the sum can
      // differ from the call's time by the overlap of one launch's tail
      // with the next one's start.
      auto fwdPlan = planLightningForward(fa, lo);
      if (!fwdPlan) TRY(fwdPlan.takeError());
      auto bwdPlan = planLightningBackward(ba, lo);
      if (!bwdPlan) TRY(bwdPlan.takeError());
      for (auto *plan : {&*fwdPlan, &*bwdPlan})
        for (const LightningLaunch &l : *plan) {
          auto ms = medianMs(device, o.warmup, o.reps, [&] {
            return launch(*l.kernel, l.grid, l.args, Backend::Gpu, l.numWarps);
          });
          if (!ms) TRY(ms.takeError());
          fmt::print("  N={} launch {:<28} grid {}x{}x{} {} warps: {:.3f} ms\n",
                     N, l.kernel->name(), l.grid.x, l.grid.y, l.grid.z,
                     l.numWarps, *ms);
          json += fmt::format(
              ", {{\"kind\": \"launch\", \"N\": {}, \"kernel\": \"{}\", "
              "\"grid\": [{}, {}, {}], \"warps\": {}, \"ms\": {:.4f}}}",
              N, l.kernel->name(), l.grid.x, l.grid.y, l.grid.z, l.numWarps,
              *ms);
        }
    }
  }
  if (o.decodeBatch > 0) {
    // One decode step for decodeBatch × H states of D × E: the fp32 state
    // read and written dominates the traffic.
    int64_t B = o.decodeBatch, bhStates = B * o.heads * o.d * o.e;
    std::vector<int64_t> qs{B, 1, o.heads, o.d}, vs{B, 1, o.heads, o.e};
    std::vector<DeviceBuffer> bufs;
    for (int64_t elems : {B * o.heads * o.d, B * o.heads * o.d,
                          B * o.heads * o.e, B * o.heads * o.e}) {
      auto b = input(elems);
      if (!b) TRY(b.takeError());
      bufs.push_back(std::move(*b));
    }
    auto stateBuf = DeviceBuffer::allocate(device, bhStates * 4);
    if (!stateBuf) TRY(stateBuf.takeError());
    TRY(stateBuf->memset(0));
    LightningDecodeArgs d;
    d.q = deviceTensor(bufs[0], *dtype, qs);
    d.k = deviceTensor(bufs[1], *dtype, qs);
    d.v = deviceTensor(bufs[2], *dtype, vs);
    d.o = deviceTensor(bufs[3], *dtype, vs);
    d.layout = Layout::BNHD;
    d.slopes = deviceTensor(*slopesBuf, DType::f32, {o.heads});
    d.state = deviceTensor(*stateBuf, DType::f32, {B, o.heads, o.d, o.e});
    // The default (first) and a few other shapes of program.
    for (kernels::PassConfig cfg :
         {kernels::PassConfig{64, 32, 2}, kernels::PassConfig{64, 32, 4},
          kernels::PassConfig{64, 64, 4}, kernels::PassConfig{64, 64, 8},
          kernels::PassConfig{64, 128, 8}}) {
      LightningOptions lo;
      lo.backend = Backend::Gpu;
      lo.decodeConfig = cfg;
      auto ms = medianMs(device, o.warmup, o.reps * 10,
                         [&] { return lightningDecode(d, lo); });
      if (!ms) TRY(ms.takeError());
      double bytes = 2.0 * bhStates * 4;
      double tbps = bytes / (*ms * 1e-3) / 1e12;
      fmt::print("decode B·H = {} states of {}×{}, W{} {} warps: {:.1f} µs a "
                 "step, {:.2f} TB/s of state traffic ({:.0f} % of the copy "
                 "bandwidth)\n",
                 B * o.heads, o.d, o.e, cfg.blockW, cfg.numWarps, *ms * 1e3,
                 tbps, 100 * tbps * 1e3 / copyGBs);
      json += fmt::format(", {{\"kind\": \"decode\", \"BH\": {}, \"D\": {}, "
                          "\"E\": {}, \"W\": {}, \"warps\": {}, "
                          "\"us\": {:.2f}, \"TBps\": {:.3f}}}",
                          B * o.heads, o.d, o.e, cfg.blockW, cfg.numWarps,
                          *ms * 1e3, tbps);
    }
  }
  json += "]}\n";
  if (!o.json.empty())
    std::ofstream(o.json) << json;
  return 0;
}

} // namespace tessel
