// The generic tuned callable and the compile step every tunable shares.
#include "autotune/TunedKernel.h"

#include "lowering/Pipeline.h"
#include "runtime/GpuLauncher.h"
#include "runtime/Half.h"
#include "runtime/Ptxas.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/SHA256.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>
#include <random>

namespace tessel::autotune {

llvm::Expected<Resources> compileCandidate(const Kernel &kernel,
                                           unsigned numWarps,
                                           llvm::ArrayRef<bool> hints,
                                           TuneDevice &device) {
  Resources r;
  r.threads = 32 * static_cast<int>(numWarps);
  if (device.backend() == Backend::Gpu) {
    GpuLaunchOptions lo;
    lo.numWarps = numWarps;
    lo.device = device.ordinal();
    auto gk = getGpuKernel(kernel, lo, hints);
    if (!gk)
      return gk.takeError();
    r.registers = gk->function.registers();
    auto local = gk->function.attribute(CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES);
    if (!local)
      return local.takeError();
    r.spillBytes = *local;
    r.sharedBytes = static_cast<int>(gk->sharedBytes);
    return r;
  }
  lowering::TargetOptions target;
  target.arch = device.info().arch;
  target.numWarps = numWarps;
  auto specialized = lowering::specializeDivisibility(kernel.module(), hints);
  auto compiled = lowering::compileToPTX(*specialized, target);
  if (!compiled)
    return compiled.takeError();
  r.sharedBytes = static_cast<int>(compiled->sharedBytes);
  if (auto found = findPtxas(); !found) {
    llvm::consumeError(found.takeError()); // no toolkit: registers unknown
    return r;
  }
  auto assembled = assemblePtx(compiled->ptx, target.arch);
  if (!assembled)
    return assembled.takeError();
  if (const PtxasResources *res = assembled->find(kernel.name())) {
    r.registers = res->registers;
    r.spillBytes = static_cast<int>(res->spillStoreBytes + res->spillLoadBytes);
  }
  return r;
}

namespace {

/// The timing inputs on one device.
struct KernelWorkspace : Workspace {
  std::vector<std::unique_ptr<TuneBuffer>> buffers;
  std::vector<LaunchArg> args;
};

llvm::Error fillRandom(TuneBuffer &buf, int64_t elements, DType dtype,
                       uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  size_t esize = dtypeSize(dtype);
  std::string image(static_cast<size_t>(elements) * esize, '\0');
  for (int64_t i = 0; i < elements; ++i) {
    float x = dist(rng);
    if (dtype == DType::f32) {
      std::memcpy(&image[i * 4], &x, 4);
    } else if (dtype == DType::bf16 || dtype == DType::f16) {
      uint16_t bits = dtype == DType::f16 ? floatToF16Bits(x) : floatToBF16Bits(x);
      std::memcpy(&image[i * 2], &bits, 2);
    } else {
      // Integers: small non-negative values (indices, lengths).
      int64_t v = static_cast<int64_t>(rng() % 16);
      std::memcpy(&image[i * esize], &v, esize);
    }
  }
  return buf.upload(image.data(), image.size());
}

} // namespace

llvm::Expected<std::string> KernelTunable::sourceHash() const {
  auto kernel = spec_.build(spec_.space.defaultConfig());
  if (!kernel)
    return kernel.takeError();
  auto digest = llvm::SHA256::hash(llvm::arrayRefFromStringRef(kernel->ir()));
  return llvm::toHex(digest, /*LowerCase=*/true).substr(0, 16);
}

unsigned KernelTunable::warpsAt(const Config &config) const {
  if (spec_.warps)
    return spec_.warps(config);
  return config.has("warps") ? static_cast<unsigned>(config.get("warps")) : 4;
}

llvm::Expected<std::shared_ptr<const Kernel>>
KernelTunable::kernelAt(const Config &config) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string key = config.str();
  if (auto it = built_.find(key); it != built_.end())
    return it->second;
  auto kernel = spec_.build(config);
  if (!kernel)
    return kernel.takeError();
  auto shared = std::make_shared<const Kernel>(std::move(*kernel));
  built_[key] = shared;
  return shared;
}

llvm::Expected<std::unique_ptr<Workspace>>
KernelTunable::prepare(TuneDevice &device) {
  auto ws = std::make_unique<KernelWorkspace>();
  for (size_t i = 0; i < spec_.buffers.size(); ++i) {
    const KernelSpec::Buffer &b = spec_.buffers[i];
    size_t bytes = static_cast<size_t>(b.elements) * dtypeSize(b.dtype);
    auto buf = device.allocate(bytes);
    if (!buf)
      return buf.takeError();
    if (auto err = fillRandom(**buf, b.elements, b.dtype, 7919 * (i + 1)))
      return std::move(err);
    ws->args.push_back((*buf)->onDevice()
                           ? LaunchArg::deviceBuffer(
                                 reinterpret_cast<uint64_t>((*buf)->data()),
                                 bytes, b.dtype)
                           : LaunchArg::buffer((*buf)->data(), bytes, b.dtype));
    ws->buffers.push_back(std::move(*buf));
  }
  ws->args.insert(ws->args.end(), spec_.scalars.begin(), spec_.scalars.end());
  return std::unique_ptr<Workspace>(std::move(ws));
}

llvm::Expected<Resources> KernelTunable::compile(const Config &config,
                                                 TuneDevice &device,
                                                 Workspace &workspace) {
  auto kernel = kernelAt(config);
  if (!kernel)
    return kernel.takeError();
  auto &ws = static_cast<KernelWorkspace &>(workspace);
  return compileCandidate(**kernel, warpsAt(config), divisibilityHints(ws.args),
                          device);
}

llvm::Expected<Validation> KernelTunable::validate(const Config &config,
                                                   TuneDevice &device) {
  if (!spec_.validate)
    return llvm::createStringError("tuning " + spec_.name +
                                   ": the KernelSpec has no validate check");
  auto kernel = kernelAt(config);
  if (!kernel)
    return kernel.takeError();
  std::shared_ptr<const Kernel> k = *kernel;
  Grid grid = spec_.grid(config);
  unsigned warps = warpsAt(config);
  KernelSpec::Launcher launcher = [&](std::vector<LaunchArg> args) {
    return launch(*k, grid, args, device.backend(), warps, device.ordinal());
  };
  return spec_.validate(config, launcher);
}

llvm::Error KernelTunable::run(const Config &config, TuneDevice &device,
                               Workspace &workspace, int) {
  auto kernel = kernelAt(config);
  if (!kernel)
    return kernel.takeError();
  auto &ws = static_cast<KernelWorkspace &>(workspace);
  return launch(**kernel, spec_.grid(config), ws.args, device.backend(),
                warpsAt(config), device.ordinal());
}

TunedKernel::TunedKernel(KernelSpec spec, TunedKernelOptions options)
    : spec_(std::move(spec)), options_(std::move(options)), tunable_(spec_) {}

llvm::Expected<Config> TunedKernel::choose(ConfigSource *source) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto say = [&](ConfigSource s) {
    if (source)
      *source = s;
  };
  if (chosen_) {
    say(ConfigSource::Memory);
    return *chosen_;
  }
  if (!device_) {
    auto dev = deviceFor(options_.backend, options_.device, options_.standIn);
    if (!dev)
      return dev.takeError();
    device_ = std::move(*dev);
  }
  TuneCache &cache = options_.cache ? *options_.cache : TuneCache::global();
  auto winner = findWinner(tunable_, *device_, cache, options_.tuneOnMiss,
                           options_.tune);
  if (!winner)
    return winner.takeError();
  chosen_ = *winner ? (*winner)->record.best : spec_.space.defaultConfig();
  say(*winner ? (*winner)->source : ConfigSource::Default);
  return *chosen_;
}

llvm::Error TunedKernel::operator()(std::vector<LaunchArg> args) {
  auto config = choose();
  if (!config)
    return config.takeError();
  auto kernel = tunable_.kernelAt(*config);
  if (!kernel)
    return kernel.takeError();
  return launch(**kernel, spec_.grid(*config), args, options_.backend,
                tunable_.warpsAt(*config), options_.device);
}

} // namespace tessel::autotune
