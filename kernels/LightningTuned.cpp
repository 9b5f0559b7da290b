// Cache-or-sweep selection of Lightning block sizes and the start-up call.
#include "kernels/LightningTuned.h"

#include "runtime/CudaDriver.h"
#include "runtime/GpuLauncher.h"

#include "fmt/format.h"

#include <atomic>
#include <chrono>
#include <thread>

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
    auto dev = autotune::deviceFor(options_.backend, options_.device,
                                   options_.standIn);
    if (!dev)
      return dev.takeError();
    device_ = std::move(*dev);
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
  // Every call comes here: the memory hit builds nothing else. One device
  // per instance, so the pass and the bucket are the whole key.
  std::string memoryKey =
      std::string(kernels::passName(pass)) + "|" + shape.bucket();
  if (auto it = memory_.find(memoryKey); it != memory_.end())
    return PassChoice{pass, it->second, ConfigSource::Memory,
                      secondsSince(start), std::nullopt};
  LightningTunable tunable(pass, shape);
  auto winner = autotune::findWinner(tunable, *dev, cache(),
                                     options_.tuneOnMiss, options_.tune);
  if (!winner)
    return winner.takeError();
  if (!*winner) {
    kernels::PassConfig config =
        heuristicConfig(pass, shape, std::max(1, dev->info().smCount),
                        wgmmaTarget(dev->info().arch));
    memory_[memoryKey] = config;
    return PassChoice{pass, config, ConfigSource::Default, secondsSince(start),
                      std::nullopt};
  }
  kernels::PassConfig config = toPassConfig((*winner)->record.best);
  memory_[memoryKey] = config;
  return PassChoice{pass, config, (*winner)->source, secondsSince(start),
                    std::move((*winner)->record)};
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

LightningOptions TunedLightning::untunedOptions(void *stream) const {
  LightningOptions options;
  options.backend = options_.backend;
  options.device = options_.device;
  options.stream = stream;
  return options;
}

llvm::Expected<LightningOptions>
TunedLightning::optionsFor(const TensorRef &q, const TensorRef &v,
                           Layout layout, bool s0, bool sN, bool backward,
                           void *stream) {
  LightningOptions options = untunedOptions(stream);
  if (auto shape = shapeOf(q, v, layout, s0, sN)) {
    auto config = configFor(*shape, backward);
    if (!config)
      return config.takeError();
    options.config = *config;
  }
  return options;
}

llvm::Error TunedLightning::forward(const LightningForwardArgs &args,
                                    void *stream) {
  if (args.gates.present() || args.cuSeqlens.present())
    return lightningForward(args, untunedOptions(stream));
  auto options = optionsFor(args.q, args.v, args.layout,
                            args.initialState.present(),
                            args.finalState.present(), /*backward=*/false,
                            stream);
  if (!options)
    return options.takeError();
  return lightningForward(args, *options);
}

llvm::Error TunedLightning::backward(const LightningBackwardArgs &args,
                                     void *stream) {
  if (args.gates.present() || args.cuSeqlens.present())
    return lightningBackward(args, untunedOptions(stream));
  auto options = optionsFor(args.q, args.v, args.layout,
                            args.initialState.present(),
                            args.dFinalState.present(), /*backward=*/true,
                            stream);
  if (!options)
    return options.takeError();
  return lightningBackward(args, *options);
}

namespace {

/// Tensors at distinct, 2⁴⁰-aligned fake addresses: enough for planning
/// (which validates and specializes, never dereferencing a tensor) without
/// memory. Only the slopes are read on the host when the tensors are host
/// tensors, so those are real (zeros).
TensorSource fakeTensors(bool onDevice, std::vector<float> &hostSlopes) {
  auto next = std::make_shared<int64_t>(int64_t(1) << 40);
  return [=, &hostSlopes](llvm::StringRef role, DType dtype,
                          std::vector<int64_t> dims) {
    TensorRef t;
    t.data = reinterpret_cast<void *>(*next);
    *next += int64_t(1) << 40;
    t.dtype = dtype;
    t.onDevice = onDevice;
    if (role == "slopes" && !onDevice) {
      hostSlopes.assign(dims[0], 0.0f);
      t.data = hostSlopes.data();
    }
    t.shape = std::move(dims);
    return t;
  };
}

} // namespace

llvm::Expected<StartupReport> startLightning(TunedLightning &tuned,
                                             llvm::ArrayRef<LightningShape> shapes,
                                             bool backward) {
  auto start = std::chrono::steady_clock::now();
  StartupReport report;
  bool gpu = usesGpu(tuned.options().backend);
  // First every configuration and launch plan (tuning where the cache has
  // none), then every kernel compiled at once: the lowering and ptxas of
  // one kernel run on one thread, so a cold start takes about as long as
  // its slowest kernel on a machine with a core per kernel.
  struct Compile {
    std::shared_ptr<const Kernel> kernel;
    GpuLaunchOptions options;
    llvm::SmallVector<bool> hints;
    size_t item;
  };
  std::vector<Compile> compiles;
  for (const LightningShape &s : shapes) {
    for (bool bwd : {false, true}) {
      if (bwd && !backward)
        continue;
      std::vector<PassChoice> choices;
      auto config = tuned.configFor(s, bwd, &choices);
      if (!config)
        return config.takeError();
      std::vector<float> hostSlopes;
      TensorSource fake = fakeTensors(gpu, hostSlopes);
      LightningOptions options;
      options.backend = tuned.options().backend;
      options.device = tuned.options().device;
      options.config = *config;
      auto plan = bwd ? planLightningBackward(lightningBackwardArgs(s, fake), options)
                      : planLightningForward(lightningForwardArgs(s, fake), options);
      if (!plan)
        return plan.takeError();
      // One item per kernel pass; a strategy of several launches (the
      // split forward) compiles all of them under its pass's item.
      for (PassChoice &choice : choices) {
        for (const LightningLaunch &l : *plan) {
          if (l.pass != choice.pass || !gpu)
            continue;
          GpuLaunchOptions lo;
          lo.numWarps = l.numWarps;
          lo.device = options.device;
          compiles.push_back(
              {l.kernel, lo, divisibilityHints(l.args), report.items.size()});
        }
        report.items.push_back(StartupItem{s, std::move(choice), 0});
      }
    }
  }

  std::vector<std::string> failures(compiles.size()), origins(compiles.size());
  std::vector<double> seconds(compiles.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next++) < compiles.size();) {
      auto compileStart = std::chrono::steady_clock::now();
      const Compile &c = compiles[i];
      auto gk = getGpuKernel(*c.kernel, c.options, c.hints);
      if (!gk)
        failures[i] = llvm::toString(gk.takeError());
      else
        origins[i] = gk->origin;
      seconds[i] = secondsSince(compileStart);
    }
  };
  unsigned threads = std::min<size_t>(
      compiles.size(), std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t)
    pool.emplace_back(work);
  work();
  for (std::thread &t : pool)
    t.join();
  for (size_t i = 0; i < compiles.size(); ++i) {
    if (!failures[i].empty())
      return llvm::createStringError(failures[i]);
    StartupItem &item = report.items[compiles[i].item];
    item.compileSeconds += seconds[i];
    if (item.origin.empty() || origins[i] == "compiled")
      item.origin = origins[i];
  }
  report.seconds = secondsSince(start);
  return report;
}

} // namespace tessel
