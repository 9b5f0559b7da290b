// Cache-or-sweep selection of Lightning block sizes and the start-up call.
#include "kernels/LightningTuned.h"

#include "runtime/CudaDriver.h"
#include "runtime/GpuLauncher.h"

#include "fmt/format.h"

#include <chrono>

namespace tessel {

using autotune::TuneKey;
using kernels::LightningPass;

namespace {

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

/// The shape of a call, when q and v are 4-D; otherwise the untuned entry
/// point reports what is wrong.
std::optional<LightningShape> shapeOf(const TensorRef &q, const TensorRef &v,
                                      Layout layout, bool s0, bool sN) {
  if (q.shape.size() != 4 || v.shape.size() != 4)
    return std::nullopt;
  LightningDims dims;
  dims.batch = q.shape[0];
  dims.heads = layout == Layout::BHND ? q.shape[1] : q.shape[2];
  dims.seq = layout == Layout::BHND ? q.shape[2] : q.shape[1];
  dims.d = q.shape[3];
  dims.e = v.shape[3];
  return LightningShape::of(dims, q.dtype, layout, s0, sN);
}

std::string summarize(const autotune::TuneRecord &record) {
  std::string s;
  for (const autotune::CandidateResult &r : record.table)
    s += fmt::format("\n  {}: {}{}{}", r.config.str(),
                     autotune::statusName(r.status), r.reason.empty() ? "" : ": ",
                     r.reason);
  return s;
}

} // namespace

const char *sourceName(ConfigSource source) {
  switch (source) {
  case ConfigSource::Memory: return "memory";
  case ConfigSource::Cache: return "cache";
  case ConfigSource::Tuned: return "tuned";
  case ConfigSource::Default: return "heuristic";
  }
  return "?";
}

TunedLightning::TunedLightning(TunedLightningOptions options)
    : options_(std::move(options)) {}

TunedLightning::~TunedLightning() = default;

autotune::TuneCache &TunedLightning::cache() const {
  return options_.cache ? *options_.cache : autotune::TuneCache::global();
}

llvm::Expected<autotune::TuneDevice &> TunedLightning::device() {
  if (!device_) {
    if (std::string(resolvedBackendName(options_.backend)) == "GPU") {
      auto devices = autotune::gpuDevices(std::to_string(options_.device));
      if (!devices)
        return devices.takeError();
      device_ = std::move(devices->front());
    } else {
      device_ = std::move(autotune::interpreterDevices(1, options_.standIn).front());
    }
  }
  return *device_;
}

llvm::Expected<PassChoice> TunedLightning::choose(LightningPass pass,
                                                  const LightningShape &shape) {
  auto start = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mutex_);
  auto dev = device();
  if (!dev)
    return dev.takeError();
  LightningTunable tunable(pass, shape);
  std::string memoryKey = tunable.name() + "|" + shape.bucket() + "|" +
                          dev->info().kind();
  if (auto it = memory_.find(memoryKey); it != memory_.end())
    return PassChoice{pass, it->second, ConfigSource::Memory,
                      secondsSince(start), std::nullopt};
  auto key = TuneKey::make(tunable, dev->info());
  if (!key)
    return key.takeError();
  if (auto record = cache().lookup(*key)) {
    if (auto err = tunable.space().contains(record->best)) {
      // A record from a space that meant something else: retune.
      llvm::consumeError(std::move(err));
    } else {
      kernels::PassConfig config = toPassConfig(record->best);
      memory_[memoryKey] = config;
      return PassChoice{pass, config, ConfigSource::Cache, secondsSince(start),
                        std::move(record)};
    }
  }
  if (!options_.tuneOnMiss) {
    kernels::PassConfig config =
        heuristicConfig(pass, shape, std::max(1, dev->info().smCount));
    memory_[memoryKey] = config;
    return PassChoice{pass, config, ConfigSource::Default, secondsSince(start),
                      std::nullopt};
  }
  autotune::TuneDevice *devices[] = {&*dev};
  auto results = autotune::sweep(tunable, devices, options_.tune);
  if (!results)
    return results.takeError();
  autotune::KindResult &result = results->front();
  if (!result.found())
    return llvm::createStringError(fmt::format(
        "tuning {} at {}: no candidate passed:{}", tunable.name(), shape.str(),
        summarize(result.record)));
  if (auto err = cache().store(result.record))
    fmt::print(stderr, "tessel: warning: tuning result not cached: {}\n",
               llvm::toString(std::move(err)));
  kernels::PassConfig config = toPassConfig(result.record.best);
  memory_[memoryKey] = config;
  return PassChoice{pass, config, ConfigSource::Tuned, secondsSince(start),
                    std::move(result.record)};
}

llvm::Expected<kernels::LightningConfig>
TunedLightning::configFor(const LightningShape &shape, bool backward,
                          std::vector<PassChoice> *choices) {
  kernels::LightningConfig config;
  std::vector<LightningPass> passes =
      backward ? std::vector<LightningPass>{LightningPass::BackwardDq,
                                            LightningPass::BackwardDk,
                                            LightningPass::BackwardDv}
               : std::vector<LightningPass>{LightningPass::Forward};
  for (LightningPass pass : passes) {
    auto choice = choose(pass, shape);
    if (!choice)
      return choice.takeError();
    config[pass] = choice->config;
    if (choices)
      choices->push_back(std::move(*choice));
  }
  return config;
}

llvm::Error TunedLightning::forward(const LightningForwardArgs &args) {
  LightningOptions options;
  options.backend = options_.backend;
  options.device = options_.device;
  if (auto shape = shapeOf(args.q, args.v, args.layout,
                           args.initialState.present(),
                           args.finalState.present())) {
    auto config = configFor(*shape, /*backward=*/false);
    if (!config)
      return config.takeError();
    options.config = *config;
  }
  return lightningForward(args, options);
}

llvm::Error TunedLightning::backward(const LightningBackwardArgs &args) {
  LightningOptions options;
  options.backend = options_.backend;
  options.device = options_.device;
  if (auto shape = shapeOf(args.q, args.v, args.layout,
                           args.initialState.present(),
                           args.dFinalState.present())) {
    auto config = configFor(*shape, /*backward=*/true);
    if (!config)
      return config.takeError();
    options.config = *config;
  }
  return lightningBackward(args, options);
}

namespace {

/// Tensors of `shape` at distinct, 256-byte aligned fake addresses: enough
/// for planning (which validates and specializes, never dereferencing a
/// tensor) without memory. Only the slopes are read on the host when the
/// tensors are host tensors, so those are real (zeros).
struct FakeTensors {
  explicit FakeTensors(bool onDevice) : onDevice(onDevice) {}
  bool onDevice;
  int64_t next = int64_t(1) << 40;
  std::vector<float> hostSlopes;
  TensorRef make(DType dtype, std::vector<int64_t> shape) {
    TensorRef t;
    t.data = reinterpret_cast<void *>(next);
    next += int64_t(1) << 40;
    t.dtype = dtype;
    t.shape = std::move(shape);
    t.onDevice = onDevice;
    return t;
  }
  TensorRef slopes(int64_t heads) {
    TensorRef t = make(DType::f32, {heads});
    if (!onDevice) {
      hostSlopes.assign(heads, 0.0f);
      t.data = hostSlopes.data();
    }
    return t;
  }
};

} // namespace

llvm::Expected<StartupReport> startLightning(TunedLightning &tuned,
                                             llvm::ArrayRef<LightningShape> shapes,
                                             bool backward) {
  auto start = std::chrono::steady_clock::now();
  StartupReport report;
  bool gpu = std::string(resolvedBackendName(tuned.options().backend)) == "GPU";
  for (const LightningShape &s : shapes) {
    for (bool bwd : {false, true}) {
      if (bwd && !backward)
        continue;
      std::vector<PassChoice> choices;
      auto config = tuned.configFor(s, bwd, &choices);
      if (!config)
        return config.takeError();
      FakeTensors fake(gpu);
      auto act = [&](int64_t last) {
        return s.layout == Layout::BHND
                   ? std::vector<int64_t>{s.batch, s.heads, s.seq, last}
                   : std::vector<int64_t>{s.batch, s.seq, s.heads, last};
      };
      std::vector<int64_t> state{s.batch, s.heads, s.d, s.e};
      LightningOptions options;
      options.backend = tuned.options().backend;
      options.device = tuned.options().device;
      options.config = *config;
      llvm::Expected<std::vector<LightningLaunch>> plan =
          std::vector<LightningLaunch>{};
      if (!bwd) {
        LightningForwardArgs a;
        a.q = fake.make(s.dtype, act(s.d)), a.k = fake.make(s.dtype, act(s.d));
        a.v = fake.make(s.dtype, act(s.e)), a.o = fake.make(s.dtype, act(s.e));
        a.layout = s.layout;
        a.slopes = fake.slopes(s.heads);
        if (s.initialState) a.initialState = fake.make(DType::f32, state);
        if (s.finalState) a.finalState = fake.make(DType::f32, state);
        plan = planLightningForward(a, options);
      } else {
        LightningBackwardArgs a;
        a.q = fake.make(s.dtype, act(s.d)), a.k = fake.make(s.dtype, act(s.d));
        a.v = fake.make(s.dtype, act(s.e)), a.dO = fake.make(s.dtype, act(s.e));
        a.dq = fake.make(s.dtype, act(s.d)), a.dk = fake.make(s.dtype, act(s.d));
        a.dv = fake.make(s.dtype, act(s.e));
        a.layout = s.layout;
        a.slopes = fake.slopes(s.heads);
        if (s.initialState) {
          a.initialState = fake.make(DType::f32, state);
          a.dInitialState = fake.make(DType::f32, state);
        }
        if (s.finalState) a.dFinalState = fake.make(DType::f32, state);
        plan = planLightningBackward(a, options);
      }
      if (!plan)
        return plan.takeError();
      // One item per kernel pass; a strategy of several launches (the
      // split forward) compiles all of them under its pass's item.
      for (PassChoice &choice : choices) {
        auto compileStart = std::chrono::steady_clock::now();
        for (const LightningLaunch &l : *plan) {
          if (l.pass != choice.pass || !gpu)
            continue;
          GpuLaunchOptions lo;
          lo.numWarps = l.numWarps;
          lo.device = options.device;
          auto gk = getGpuKernel(*l.kernel, lo, divisibilityHints(l.args));
          if (!gk)
            return gk.takeError();
        }
        report.items.push_back(
            StartupItem{s, std::move(choice), secondsSince(compileStart)});
      }
    }
  }
  report.seconds = secondsSince(start);
  return report;
}

} // namespace tessel
