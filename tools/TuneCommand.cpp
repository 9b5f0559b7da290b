// The tuning front end: for every shape and kernel, a cache lookup per device
// kind (reported with its time), else a sweep over the selected devices with
// a progress bar, then the table of every candidate and the winner against
// the default configuration.
#include "tools/TuneCommand.h"

#include "autotune/TuneCache.h"
#include "autotune/Tuner.h"
#include "kernels/LightningTuning.h"
#include "runtime/CudaDriver.h"
#include "runtime/KernelCache.h"

#include "fmt/format.h"
#include "fmt/ranges.h"
#include "nlohmann/json.hpp"
#include "llvm/Support/FileSystem.h"

#include <chrono>
#include <fstream>
#include <mutex>
#include <unistd.h>

namespace tessel {

using namespace autotune;
using kernels::LightningPass;

namespace {

double msSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now() - start)
      .count();
}

std::string resourcesText(const Resources &r) {
  auto num = [](int v) { return v < 0 ? std::string("?") : std::to_string(v); };
  return fmt::format("{:>4} {:>6} {:>7}", num(r.registers), num(r.spillBytes),
                     num(r.sharedBytes));
}

void printTable(const TuneRecord &record, double bytesPerRun) {
  fmt::print("  {:<2}{:<30} {:<14} {:>4} {:>6} {:>7} {:>9} {:>19} {:>7}  {}\n",
             "", "config", "device", "regs", "spill", "smem B", "ms",
             "min–max ms", "GB/s", "status");
  for (const CandidateResult &r : record.table) {
    std::string mark = r.config == record.best ? "*" : "";
    if (r.config == record.defaultConfig)
      mark += "d";
    bool ok = r.status == Status::Ok;
    std::string reason = r.reason;
    if (reason.size() > 160)
      reason = reason.substr(0, 157) + "...";
    fmt::print("  {:<2}{:<30} {:<14} {} {:>9} {:>19} {:>7}  {}{}{}\n", mark,
               r.config.str(), r.device, resourcesText(r.resources),
               ok ? fmt::format("{:.3f}", r.ms) : "-",
               ok ? fmt::format("{:.3f}–{:.3f}", r.minMs, r.maxMs) : "-",
               ok && bytesPerRun > 0
                   ? fmt::format("{:.0f}", bytesPerRun / (r.ms * 1e-3) / 1e9)
                   : "-",
               statusName(r.status), reason.empty() ? "" : ": ", reason);
  }
  fmt::print("  (* winner, d default; spill = local memory bytes per thread on "
             "a GPU, ptxas spill stores+loads on a stand-in)\n");
}

void printWinner(const TuneRecord &record) {
  if (record.best.values.empty()) {
    fmt::print("  no candidate passed\n");
    return;
  }
  std::string vsDefault =
      record.defaultMs
          ? fmt::format("default {} {:.3f} ms → {:.2f}×", record.defaultConfig.str(),
                        *record.defaultMs, *record.defaultMs / record.bestMs)
          : fmt::format("default {} did not pass", record.defaultConfig.str());
  fmt::print("  winner {}: {:.3f} ms ({}); swept in {:.1f} s\n",
             record.best.str(), record.bestMs, vsDefault, record.tuneSeconds);
}

} // namespace

int runTune(const TuneCommandOptions &o) {
  auto dtype = parseDType(o.dtype);
  if (!dtype || !isFloat(*dtype)) {
    fmt::print(stderr, "error: --dtype must be bf16, f16 or f32, got '{}'\n", o.dtype);
    return 1;
  }
  std::vector<LightningPass> passes;
  if (o.passes == "fwd" || o.passes == "all")
    passes.push_back(LightningPass::Forward);
  if (o.passes == "bwd" || o.passes == "all")
    for (LightningPass p : {LightningPass::BackwardDq, LightningPass::BackwardDk,
                            LightningPass::BackwardDv})
      passes.push_back(p);
  if (passes.empty()) {
    fmt::print(stderr, "error: --passes must be fwd, bwd or all, got '{}'\n", o.passes);
    return 1;
  }
  std::vector<LightningShape> shapes;
  for (const std::string &text : o.shapes) {
    auto shape = LightningShape::parse(text);
    if (!shape) {
      fmt::print(stderr, "error: {}\n", llvm::toString(shape.takeError()));
      return 1;
    }
    shape->dtype = *dtype;
    shape->layout = o.layout == "bhnd" ? Layout::BHND : Layout::BNHD;
    shape->initialState = o.initialState;
    shape->finalState = o.finalState;
    shapes.push_back(*shape);
  }

  bool standIns = o.interpreter || !cudaAvailable();
  auto devicesOr = standIns ? interpreterDevices(o.devices) : gpuDevices(o.devices);
  if (!devicesOr) {
    fmt::print(stderr, "error: {}\n", llvm::toString(devicesOr.takeError()));
    return 1;
  }
  std::vector<TuneDevice *> devices;
  for (auto &d : *devicesOr)
    devices.push_back(d.get());
  fmt::print("tessel tune: {} device(s):", devices.size());
  for (TuneDevice *d : devices)
    fmt::print(" [{}: {}]", d->label(), d->info().kind());
  fmt::print("{}\n", standIns ? " (interpreter stand-ins: timings are not GPU "
                                "timings)"
                              : "");
  fmt::print("cache: {}\n", TuneCache::global().path().empty()
                                ? "disabled (no cache directory)"
                                : TuneCache::global().path());

  TuneOptions tuneOptions;
  tuneOptions.warmup = o.warmup;
  tuneOptions.reps = o.reps;
  bool tty = ::isatty(2);
  std::mutex printMutex;
  nlohmann::json out = nlohmann::json::array();
  bool allFound = true;
  auto total = std::chrono::steady_clock::now();
  for (const LightningShape &shape : shapes)
    for (LightningPass pass : passes) {
      LightningTunable tunable(pass, shape);
      fmt::print("\n{} at {} — {} candidates\n", tunable.name(), shape.str(),
                 tunable.space().enumerate().size());
      for (const autotune::Param &param : tunable.space().params())
        fmt::print("  {} ∈ {{{}}}: {}\n", param.name,
                   fmt::join(param.values, ", "), param.help);
      // Cache lookups per device kind; only kinds that miss are swept.
      std::vector<TuneDevice *> toSweep = devices;
      if (!o.force) {
        std::vector<std::string> seen, hits;
        for (TuneDevice *d : devices) {
          if (std::find(seen.begin(), seen.end(), d->info().kind()) != seen.end())
            continue;
          seen.push_back(d->info().kind());
          auto start = std::chrono::steady_clock::now();
          auto key = TuneKey::make(tunable, d->info());
          if (!key) {
            fmt::print(stderr, "error: {}\n", llvm::toString(key.takeError()));
            return 1;
          }
          auto record = TuneCache::global().lookup(*key);
          double ms = msSince(start);
          if (!record)
            continue;
          hits.push_back(d->info().kind());
          fmt::print("  cache hit on {} (lookup {:.1f} ms, key {}): {}\n",
                     d->info().kind(), ms, key->digest().substr(0, 12),
                     record->best.str());
          printWinner(*record);
          out.push_back(record->toJson());
        }
        std::erase_if(toSweep, [&](TuneDevice *d) {
          return std::find(hits.begin(), hits.end(), d->info().kind()) !=
                 hits.end();
        });
      }
      if (toSweep.empty())
        continue;
      tuneOptions.progress = [&](const CandidateResult &r, size_t done,
                                 size_t n) {
        std::lock_guard<std::mutex> lock(printMutex);
        int width = 30, filled = static_cast<int>(width * done / n);
        std::string line = fmt::format(
            "  [{}{}] {:>3}/{} {} on {}: {}", std::string(filled, '#'),
            std::string(width - filled, '.'), done, n, r.config.str(), r.device,
            r.status == Status::Ok ? fmt::format("{:.3f} ms", r.ms)
                                   : statusName(r.status));
        if (tty)
          fmt::print(stderr, "\r{:<110}{}", line, done == n ? "\n" : "");
        else
          fmt::print(stderr, "{}\n", line);
      };
      auto results = sweep(tunable, toSweep, tuneOptions);
      if (!results) {
        fmt::print(stderr, "error: {}\n", llvm::toString(results.takeError()));
        return 1;
      }
      for (KindResult &kr : *results) {
        fmt::print("  {}: swept in {:.1f} s; candidates per device:", kr.device.kind(),
                   kr.record.tuneSeconds);
        for (auto &[label, count] : kr.shares)
          fmt::print(" {}={}", label, count);
        fmt::print("\n");
        printTable(kr.record, tunable.bytesPerRun());
        printWinner(kr.record);
        allFound &= kr.found();
        if (kr.found())
          if (auto err = TuneCache::global().store(kr.record))
            fmt::print(stderr, "warning: not cached: {}\n",
                       llvm::toString(std::move(err)));
        out.push_back(kr.record.toJson());
      }
    }
  fmt::print("\ntotal {:.1f} s\n", msSince(total) / 1000);
  if (!o.json.empty())
    std::ofstream(o.json) << out.dump(1) << "\n";
  return allFound ? 0 : 1;
}

int runCacheCommand(const std::string &action, const std::string &digest) {
  TuneCache &cache = TuneCache::global();
  if (cache.path().empty()) {
    fmt::print(stderr, "error: no cache directory (set TESSEL_CACHE_DIR, "
                       "XDG_CACHE_HOME or HOME)\n");
    return 1;
  }
  std::string dir = cache.directory();
  // Compiled kernels beside the tuning records.
  size_t kernels = 0, kernelBytes = 0;
  std::vector<std::string> kernelFiles;
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec))
    if (llvm::StringRef(it->path()).ends_with(".kernel")) {
      uint64_t size = 0;
      llvm::sys::fs::file_size(it->path(), size);
      ++kernels, kernelBytes += size;
      kernelFiles.push_back(it->path());
    }

  if (action == "ls") {
    auto records = cache.list();
    fmt::print("{}: {} tuning record(s); {} compiled kernel(s), {:.1f} MiB\n",
               cache.path(), records.size(), kernels, kernelBytes / 1048576.0);
    for (const TuneRecord &r : records)
      fmt::print("  {}  {:<16} {:<34} {:<36} {}  {:.3f} ms{}  {}\n",
                 r.key.digest().substr(0, 12), r.key.kernel, r.key.deviceName,
                 r.key.problem, r.best.str(), r.bestMs,
                 r.defaultMs ? fmt::format(" (default {:.3f})", *r.defaultMs) : "",
                 r.date);
    return 0;
  }
  if (action == "show") {
    if (digest.empty()) {
      fmt::print(stderr, "error: cache show needs a key (a prefix of one "
                         "`tessel cache ls` prints)\n");
      return 1;
    }
    std::vector<TuneRecord> matches;
    for (TuneRecord &r : cache.list())
      if (llvm::StringRef(r.key.digest()).starts_with(digest))
        matches.push_back(std::move(r));
    if (matches.size() != 1) {
      fmt::print(stderr, "error: {} tuning records match key '{}'\n",
                 matches.size(), digest);
      return 1;
    }
    const TuneRecord &r = matches.front();
    fmt::print("key {}\n{}\n", r.key.digest(), r.key.toJson().dump(1));
    fmt::print("tuned {} in {:.1f} s\n", r.date, r.tuneSeconds);
    printTable(r, 0);
    printWinner(r);
    return 0;
  }
  if (action == "clear") {
    auto n = cache.clear();
    if (!n) {
      fmt::print(stderr, "error: {}\n", llvm::toString(n.takeError()));
      return 1;
    }
    for (const std::string &f : kernelFiles)
      llvm::sys::fs::remove(f);
    fmt::print("removed {} tuning record(s) and {} compiled kernel(s) from {}\n",
               *n, kernelFiles.size(), dir);
    return 0;
  }
  if (action == "export") {
    // The records as a JSON array: the format `tune --json` writes, which
    // `cache import` reads on another host.
    if (digest.empty()) {
      fmt::print(stderr, "error: cache export needs a file to write (- for "
                         "stdout)\n");
      return 1;
    }
    nlohmann::json out = nlohmann::json::array();
    auto records = cache.list();
    for (const TuneRecord &r : records)
      out.push_back(r.toJson());
    if (digest == "-") {
      fmt::print("{}\n", out.dump(1));
      return 0;
    }
    std::ofstream file(digest);
    file << out.dump(1) << "\n";
    if (!file) {
      fmt::print(stderr, "error: cannot write '{}'\n", digest);
      return 1;
    }
    fmt::print("exported {} tuning record(s) to {}\n", records.size(), digest);
    return 0;
  }
  if (action == "import") {
    // Records made on another host of the same device kind (their keys carry
    // the device, the compiler's source hash and the space version, so a
    // record from another build or GPU never matches a lookup here). Merge:
    // a key the cache lacks is added; one it has keeps the faster winner.
    if (digest.empty()) {
      fmt::print(stderr, "error: cache import needs a file (from `cache "
                         "export` or `tune --json`)\n");
      return 1;
    }
    std::ifstream file(digest);
    if (!file) {
      fmt::print(stderr, "error: cannot read '{}'\n", digest);
      return 1;
    }
    nlohmann::json in = nlohmann::json::parse(file, nullptr, /*exceptions=*/false);
    if (in.is_discarded() || !in.is_array()) {
      fmt::print(stderr, "error: '{}' is not a JSON array of tuning records\n",
                 digest);
      return 1;
    }
    std::vector<TuneRecord> records;
    for (size_t i = 0; i < in.size(); ++i) {
      auto r = TuneRecord::fromJson(in[i]);
      if (!r) {
        fmt::print(stderr, "error: '{}', record {}: {}\n", digest, i,
                   llvm::toString(r.takeError()));
        return 1;
      }
      records.push_back(std::move(*r));
    }
    size_t added = 0, replaced = 0, kept = 0;
    for (const TuneRecord &r : records) {
      auto have = cache.lookup(r.key);
      if (have && have->bestMs <= r.bestMs) {
        ++kept;
        continue;
      }
      if (auto err = cache.store(r)) {
        fmt::print(stderr, "error: {}\n", llvm::toString(std::move(err)));
        return 1;
      }
      ++(have ? replaced : added);
    }
    fmt::print("imported {} tuning record(s) into {}: {} added, {} replaced by a "
               "faster winner, {} kept\n",
               records.size(), cache.path(), added, replaced, kept);
    return 0;
  }
  fmt::print(stderr,
             "error: unknown cache action '{}' (ls, show, clear, export, import)\n",
             action);
  return 1;
}

} // namespace tessel
