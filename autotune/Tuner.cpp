// Sharding, per-candidate stages and merging of a sweep.
#include "autotune/Tuner.h"

#include "autotune/TuneCache.h"

#include "fmt/format.h"

#include <algorithm>
#include <atomic>
#include <optional>
#include <chrono>
#include <ctime>
#include <map>
#include <mutex>
#include <thread>

namespace tessel::autotune {

std::string whyNotFits(const Resources &r, const DeviceInfo &device) {
  if (r.sharedBytes > device.maxSharedPerBlock)
    return fmt::format("needs {} B of shared memory, {} has {} B per block",
                       r.sharedBytes, device.name, device.maxSharedPerBlock);
  if (r.registers > 0 && r.threads > 0 &&
      int64_t(r.registers) * r.threads > device.maxRegistersPerBlock)
    return fmt::format("{} registers × {} threads exceed the {} registers of "
                       "a block",
                       r.registers, r.threads, device.maxRegistersPerBlock);
  return {};
}

std::string today() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", std::gmtime(&t));
  return buf;
}

namespace {

/// Prune, validate and time one compiled candidate on a bound device.
CandidateResult runCandidate(Tunable &tunable, const Config &config,
                             TuneDevice &device, Workspace &workspace,
                             llvm::Expected<Resources> resources,
                             const TuneOptions &options) {
  CandidateResult r;
  r.config = config;
  r.device = device.label();
  if (!resources) {
    r.status = Status::CompileFailed;
    r.reason = llvm::toString(resources.takeError());
    return r;
  }
  r.resources = *resources;
  if (std::string why = whyNotFits(r.resources, device.info()); !why.empty()) {
    r.status = Status::Pruned;
    r.reason = why;
    return r;
  }
  auto valid = tunable.validate(config, device);
  if (!valid) {
    r.status = Status::LaunchFailed;
    r.reason = "validation run: " + llvm::toString(valid.takeError());
    return r;
  }
  r.reason = valid->detail;
  if (!valid->ok) {
    r.status = Status::WrongResult;
    return r;
  }
  auto times = device.time(
      [&](int rep) { return tunable.run(config, device, workspace, rep); },
      options.warmup, options.reps);
  if (!times) {
    r.status = Status::LaunchFailed;
    r.reason = llvm::toString(times.takeError());
    return r;
  }
  std::vector<double> t = *times;
  std::sort(t.begin(), t.end());
  r.ms = t[t.size() / 2];
  r.minMs = t.front();
  r.maxMs = t.back();
  return r;
}

} // namespace

llvm::Expected<std::vector<KindResult>>
sweep(Tunable &tunable, llvm::ArrayRef<TuneDevice *> devices,
      const TuneOptions &options) {
  if (devices.empty())
    return llvm::createStringError("sweep of " + tunable.name() +
                                   ": no device to run on");
  if (options.reps < 1 || options.warmup < 0)
    return llvm::createStringError(fmt::format(
        "sweep of {}: need reps ≥ 1 and warmup ≥ 0, got reps={} warmup={}",
        tunable.name(), options.reps, options.warmup));
  auto start = std::chrono::steady_clock::now();
  std::vector<Config> candidates = tunable.space().enumerate();

  // Devices by kind, in first-seen order.
  std::vector<std::pair<std::string, std::vector<TuneDevice *>>> kinds;
  for (TuneDevice *d : devices) {
    std::string kind = d->info().kind();
    auto it = std::find_if(kinds.begin(), kinds.end(),
                           [&](auto &k) { return k.first == kind; });
    if (it == kinds.end())
      kinds.push_back({kind, {d}});
    else
      it->second.push_back(d);
  }

  // Round-robin shards: candidate i of a kind goes to device i mod n.
  struct Job {
    TuneDevice *device;
    size_t kind;
    std::vector<size_t> candidates;
    std::vector<CandidateResult> results;
  };
  std::vector<Job> jobs;
  for (size_t k = 0; k < kinds.size(); ++k) {
    auto &members = kinds[k].second;
    for (size_t j = 0; j < members.size(); ++j) {
      Job job{members[j], k, {}, {}};
      for (size_t i = j; i < candidates.size(); i += members.size())
        job.candidates.push_back(i);
      jobs.push_back(std::move(job));
    }
  }

  unsigned compileThreads =
      options.compileThreads > 0
          ? static_cast<unsigned>(options.compileThreads)
          : std::max(1u, std::thread::hardware_concurrency() /
                             static_cast<unsigned>(jobs.size()));

  std::mutex progressMutex;
  size_t done = 0, total = candidates.size() * kinds.size();
  auto finish = [&](const CandidateResult &r) {
    std::lock_guard<std::mutex> lock(progressMutex);
    ++done;
    if (options.progress)
      options.progress(r, done, total);
  };
  auto work = [&](Job &job) {
    auto fail = [&](Status status, const std::string &why) {
      for (size_t i : job.candidates) {
        CandidateResult r;
        r.config = candidates[i];
        r.status = status;
        r.reason = why;
        r.device = job.device->label();
        job.results.push_back(r);
        finish(r);
      }
    };
    if (auto err = job.device->bind())
      return fail(Status::LaunchFailed,
                  "binding the device: " + llvm::toString(std::move(err)));
    auto workspace = tunable.prepare(*job.device);
    if (!workspace)
      return fail(Status::LaunchFailed, "preparing the timing inputs: " +
                                            llvm::toString(workspace.takeError()));
    // Compile every candidate of this shard first, on several threads (the
    // CPU-bound part), then validate and time them one at a time (the
    // device-bound part, which must not overlap).
    size_t n = job.candidates.size();
    std::vector<std::optional<llvm::Expected<Resources>>> compiled(n);
    std::atomic<size_t> next{0};
    auto compileSome = [&] {
      if (auto err = job.device->bind()) {
        llvm::consumeError(std::move(err)); // reported by the main loop
        return;
      }
      for (size_t k; (k = next.fetch_add(1)) < n;)
        compiled[k].emplace(tunable.compile(candidates[job.candidates[k]],
                                            *job.device, **workspace));
    };
    std::vector<std::thread> compilers;
    for (unsigned t = 1; t < compileThreads; ++t)
      compilers.emplace_back(compileSome);
    compileSome();
    for (std::thread &t : compilers)
      t.join();
    for (size_t k = 0; k < n; ++k) {
      llvm::Expected<Resources> resources =
          compiled[k] ? std::move(*compiled[k])
                      : llvm::Expected<Resources>(llvm::createStringError(
                            "the device could not be bound for compiling"));
      job.results.push_back(runCandidate(tunable, candidates[job.candidates[k]],
                                         *job.device, **workspace,
                                         std::move(resources), options));
      finish(job.results.back());
    }
  };
  if (jobs.size() == 1) {
    work(jobs[0]);
  } else {
    std::vector<std::thread> threads;
    for (Job &job : jobs)
      threads.emplace_back([&work, &job] { work(job); });
    for (std::thread &t : threads)
      t.join();
  }
  double seconds = std::chrono::duration<double>(
                       std::chrono::steady_clock::now() - start).count();

  std::vector<KindResult> out;
  for (size_t k = 0; k < kinds.size(); ++k) {
    KindResult kr;
    kr.device = kinds[k].second.front()->info();
    auto key = TuneKey::make(tunable, kr.device);
    if (!key)
      return key.takeError();
    TuneRecord &rec = kr.record;
    rec.key = std::move(*key);
    rec.defaultConfig = tunable.space().defaultConfig();
    rec.tuneSeconds = seconds;
    rec.date = today();
    // Merge the shards back into space order.
    std::map<size_t, CandidateResult> byIndex;
    for (Job &job : jobs) {
      if (job.kind != k)
        continue;
      kr.shares.push_back({job.device->label(), job.candidates.size()});
      for (size_t n = 0; n < job.candidates.size(); ++n)
        byIndex[job.candidates[n]] = job.results[n];
    }
    for (auto &[i, r] : byIndex)
      rec.table.push_back(r);
    for (const CandidateResult &r : rec.table) {
      if (r.status != Status::Ok)
        continue;
      if (rec.best.values.empty() || r.ms < rec.bestMs)
        rec.best = r.config, rec.bestMs = r.ms;
      if (r.config == rec.defaultConfig)
        rec.defaultMs = r.ms;
    }
    out.push_back(std::move(kr));
  }
  return out;
}

llvm::Expected<std::optional<Winner>>
findWinner(Tunable &tunable, TuneDevice &device, TuneCache &cache,
           bool tuneOnMiss, const TuneOptions &options) {
  auto key = TuneKey::make(tunable, device.info());
  if (!key)
    return key.takeError();
  if (auto record = cache.lookup(*key)) {
    if (auto err = tunable.space().contains(record->best))
      llvm::consumeError(std::move(err)); // another space's winner: retune
    else
      return Winner{std::move(*record), ConfigSource::Cache};
  }
  if (!tuneOnMiss)
    return std::nullopt;
  TuneDevice *devices[] = {&device};
  auto results = sweep(tunable, devices, options);
  if (!results)
    return results.takeError();
  KindResult &result = results->front();
  if (!result.found()) {
    std::string why;
    for (const CandidateResult &r : result.record.table)
      why += fmt::format("\n  {}: {}{}{}", r.config.str(), statusName(r.status),
                         r.reason.empty() ? "" : ": ", r.reason);
    return llvm::createStringError(fmt::format(
        "tuning {} at {}: no candidate passed:{}", tunable.name(),
        tunable.problemKey(), why));
  }
  if (auto err = cache.store(result.record))
    fmt::print(stderr, "tessel: warning: tuning result not cached: {}\n",
               llvm::toString(std::move(err)));
  return Winner{std::move(result.record), ConfigSource::Tuned};
}

} // namespace tessel::autotune
