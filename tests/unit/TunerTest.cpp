// The sweep on interpreter stand-ins, with a tunable whose outcomes are
// known: every failure kind is recorded with its reason, the fastest passing
// candidate wins, candidates are sharded over several devices (every share
// runs, results merge back in space order) and devices of different kinds
// get one record each. The stand-ins report a modelled time for each run
// instead of the wall clock, so the winner does not depend on how loaded
// the machine running the test is (a 2-core CI oversleeps by more than the
// gap between two candidates).
#include "autotune/Tuner.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace tessel::autotune {
namespace {

using ::testing::HasSubstr;

/// The milliseconds the fake's last run on this thread models.
thread_local double modelledMs = 0;

/// An interpreter stand-in whose clock is the fake's model: everything but
/// timing is the wrapped device's.
class ModelledClock : public TuneDevice {
public:
  explicit ModelledClock(std::unique_ptr<TuneDevice> inner)
      : inner_(std::move(inner)) {}
  const DeviceInfo &info() const override { return inner_->info(); }
  Backend backend() const override { return inner_->backend(); }
  int ordinal() const override { return inner_->ordinal(); }
  std::string label() const override { return inner_->label(); }
  llvm::Error bind() override { return inner_->bind(); }
  llvm::Expected<std::unique_ptr<TuneBuffer>> allocate(size_t bytes) override {
    return inner_->allocate(bytes);
  }

protected:
  llvm::Error synchronize() override { return llvm::Error::success(); }
  llvm::Expected<double> timeOne(const std::function<llvm::Error(int)> &run,
                                 int rep) override {
    modelledMs = -1;
    if (auto err = run(rep))
      return std::move(err);
    EXPECT_GE(modelledMs, 0) << "run did not model its time";
    return modelledMs;
  }

private:
  std::unique_ptr<TuneDevice> inner_;
};

/// `count` stand-ins described by `info`, on the modelled clock.
std::vector<std::unique_ptr<TuneDevice>> standIns(int count,
                                                  DeviceInfo info = {}) {
  std::vector<std::unique_ptr<TuneDevice>> out;
  for (auto &d : interpreterDevices(count, info))
    out.push_back(std::make_unique<ModelledClock>(std::move(d)));
  return out;
}

/// Space "fake": X in 1..6, warps in {4, 8}. Time grows with |X − 3|, so
/// X=3 is fastest; X=1 does not compile, X=2 needs too much shared memory,
/// X=3 with 8 warps gives wrong numbers, X=5 fails to launch.
class FakeTunable : public Tunable {
public:
  FakeTunable() : space_("fake", 7) {
    space_.param("X", {1, 2, 3, 4, 5, 6}).param("warps", {4, 8});
    space_.defaults(Config{{{"X", 4}, {"warps", 4}}});
  }
  std::string name() const override { return "fake"; }
  const ConfigSpace &space() const override { return space_; }
  std::string problemKey() const override { return "n=1"; }
  llvm::Expected<std::string> sourceHash() const override { return "f00d"; }

  llvm::Expected<std::unique_ptr<Workspace>> prepare(TuneDevice &d) override {
    std::lock_guard<std::mutex> lock(mutex);
    prepared.insert(d.label());
    return std::make_unique<Workspace>();
  }
  llvm::Expected<Resources> compile(const Config &c, TuneDevice &d,
                                    Workspace &) override {
    {
      std::lock_guard<std::mutex> lock(mutex);
      ranOn[c.str()] = d.label();
    }
    if (c.get("X") == 1)
      return llvm::createStringError("X=1: ptxas says no");
    Resources r;
    r.registers = 64;
    r.threads = 32 * c.get("warps");
    r.sharedBytes = c.get("X") == 2 ? 300 * 1024 : 1024;
    return r;
  }
  llvm::Expected<Validation> validate(const Config &c, TuneDevice &) override {
    {
      std::lock_guard<std::mutex> lock(mutex);
      threads.insert(std::this_thread::get_id()); // one per device
    }
    bool wrong = c.get("X") == 3 && c.get("warps") == 8;
    return Validation{!wrong, wrong ? "max rel err 0.5 (tol 0.01)"
                                    : "max rel err 0.001 (tol 0.01)"};
  }
  llvm::Error run(const Config &c, TuneDevice &, Workspace &, int) override {
    if (c.get("X") == 5)
      return llvm::createStringError("CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES");
    modelledMs = 0.3 + 0.4 * std::abs(c.get("X") - 3) + 0.05 * c.get("warps");
    return llvm::Error::success();
  }

  ConfigSpace space_;
  std::mutex mutex;
  std::map<std::string, std::string> ranOn;
  std::set<std::string> prepared;
  std::set<std::thread::id> threads;
};

TuneOptions opts(int warmup, int reps) {
  TuneOptions o;
  o.warmup = warmup, o.reps = reps;
  return o;
}

std::vector<TuneDevice *> pointers(std::vector<std::unique_ptr<TuneDevice>> &v) {
  std::vector<TuneDevice *> out;
  for (auto &d : v)
    out.push_back(d.get());
  return out;
}

const CandidateResult &row(const TuneRecord &r, int x, int warps) {
  for (const CandidateResult &c : r.table)
    if (c.config.get("X") == x && c.config.get("warps") == warps)
      return c;
  ADD_FAILURE() << "no row X=" << x << " warps=" << warps;
  return r.table.front();
}

TEST(Tuner, RecordsEveryOutcomeAndPicksTheFastestPassing) {
  FakeTunable t;
  auto devices = standIns(1);
  TuneOptions options;
  options.warmup = 1, options.reps = 5;
  size_t progressCalls = 0;
  options.progress = [&](const CandidateResult &, size_t done, size_t total) {
    EXPECT_EQ(done, ++progressCalls);
    EXPECT_EQ(total, 12u);
  };
  auto results = sweep(t, pointers(devices), options);
  ASSERT_TRUE(static_cast<bool>(results)) << llvm::toString(results.takeError());
  ASSERT_EQ(results->size(), 1u);
  const TuneRecord &r = results->front().record;
  EXPECT_EQ(progressCalls, 12u);
  ASSERT_EQ(r.table.size(), 12u);
  // In space order.
  EXPECT_EQ(r.table[0].config.str(), "X=1 warps=4");
  EXPECT_EQ(r.table[11].config.str(), "X=6 warps=8");

  EXPECT_EQ(row(r, 1, 4).status, Status::CompileFailed);
  EXPECT_THAT(row(r, 1, 4).reason, HasSubstr("ptxas says no"));
  EXPECT_EQ(row(r, 2, 8).status, Status::Pruned);
  EXPECT_THAT(row(r, 2, 8).reason,
              HasSubstr("needs 307200 B of shared memory, interpreter has "
                        "232448 B per block"));
  EXPECT_EQ(row(r, 3, 8).status, Status::WrongResult);
  EXPECT_THAT(row(r, 3, 8).reason, HasSubstr("max rel err 0.5"));
  EXPECT_EQ(row(r, 5, 4).status, Status::LaunchFailed);
  EXPECT_THAT(row(r, 5, 4).reason, HasSubstr("LAUNCH_OUT_OF_RESOURCES"));
  EXPECT_EQ(row(r, 4, 4).status, Status::Ok);
  EXPECT_GT(row(r, 4, 4).ms, 0);
  EXPECT_LE(row(r, 4, 4).minMs, row(r, 4, 4).ms);
  EXPECT_GE(row(r, 4, 4).maxMs, row(r, 4, 4).ms);

  EXPECT_TRUE(results->front().found());
  EXPECT_EQ(r.best.str(), "X=3 warps=4");
  ASSERT_TRUE(r.defaultMs.has_value());
  EXPECT_EQ(r.defaultConfig.str(), "X=4 warps=4");
  EXPECT_GT(*r.defaultMs, r.bestMs);
  EXPECT_EQ(r.key.kernel, "fake");
  EXPECT_EQ(r.key.sourceHash, "f00d");
  EXPECT_EQ(r.key.spaceVersion, 7);
  EXPECT_EQ(r.key.problem, "n=1");
  EXPECT_EQ(r.key.deviceName, "interpreter");
  EXPECT_GT(r.tuneSeconds, 0);
}

TEST(Tuner, ShardsOverStandInsAndMergesToTheSameWinner) {
  FakeTunable single;
  auto one = standIns(1);
  auto alone = sweep(single, pointers(one), opts(1, 5));
  ASSERT_TRUE(static_cast<bool>(alone));

  FakeTunable t;
  auto three = standIns(3);
  auto results = sweep(t, pointers(three), opts(1, 5));
  ASSERT_TRUE(static_cast<bool>(results)) << llvm::toString(results.takeError());
  ASSERT_EQ(results->size(), 1u) << "three devices of one kind";
  const KindResult &kr = results->front();
  // Every device ran its share (12 candidates round-robin over 3), timed on
  // its own thread, with its own workspace.
  ASSERT_EQ(kr.shares.size(), 3u);
  for (auto &[label, count] : kr.shares)
    EXPECT_EQ(count, 4u) << label;
  EXPECT_EQ(t.prepared.size(), 3u);
  EXPECT_EQ(t.threads.size(), 3u);
  std::map<std::string, int> perDevice;
  for (const CandidateResult &c : kr.record.table) {
    EXPECT_EQ(c.device, t.ranOn[c.config.str()]) << c.config.str();
    ++perDevice[c.device];
  }
  EXPECT_EQ(perDevice.size(), 3u);
  EXPECT_EQ(perDevice["interpreter 0"], 4);
  // Merged in space order, same statuses and winner as on one device.
  ASSERT_EQ(kr.record.table.size(), alone->front().record.table.size());
  for (size_t i = 0; i < kr.record.table.size(); ++i) {
    EXPECT_EQ(kr.record.table[i].config, alone->front().record.table[i].config);
    EXPECT_EQ(kr.record.table[i].status, alone->front().record.table[i].status);
  }
  EXPECT_EQ(kr.record.best, alone->front().record.best);
}

TEST(Tuner, OneRecordPerDeviceKind) {
  FakeTunable t;
  DeviceInfo small;
  small.name = "small stand-in";
  small.maxSharedPerBlock = 48 * 1024;
  small.smCount = 20;
  auto big = standIns(2);
  auto little = standIns(1, small);
  std::vector<TuneDevice *> all = pointers(big);
  all.push_back(little.front().get());
  auto results = sweep(t, all, opts(0, 3));
  ASSERT_TRUE(static_cast<bool>(results)) << llvm::toString(results.takeError());
  ASSERT_EQ(results->size(), 2u);
  EXPECT_EQ((*results)[0].record.key.deviceName, "interpreter");
  EXPECT_EQ((*results)[0].shares.size(), 2u);
  EXPECT_EQ((*results)[1].record.key.deviceName, "small stand-in");
  EXPECT_EQ((*results)[1].record.key.smCount, 20);
  ASSERT_EQ((*results)[1].shares.size(), 1u);
  EXPECT_EQ((*results)[1].shares[0].second, 12u);
  EXPECT_NE((*results)[0].record.key.digest(), (*results)[1].record.key.digest());
  // Each kind's table is complete and the winners agree.
  EXPECT_EQ((*results)[0].record.table.size(), 12u);
  EXPECT_EQ((*results)[1].record.table.size(), 12u);
  EXPECT_EQ((*results)[1].record.best.str(), "X=3 warps=4");
}

TEST(Tuner, NoPassingCandidateIsReportedNotHidden) {
  class AllWrong : public FakeTunable {
    llvm::Expected<Validation> validate(const Config &, TuneDevice &) override {
      return Validation{false, "max rel err 1 (tol 0.01)"};
    }
  } t;
  auto devices = standIns(1);
  auto results = sweep(t, pointers(devices), opts(0, 1));
  ASSERT_TRUE(static_cast<bool>(results));
  EXPECT_FALSE(results->front().found());
  EXPECT_FALSE(results->front().record.defaultMs.has_value());
}

TEST(Tuner, BadArgumentsAreErrors) {
  FakeTunable t;
  auto none = sweep(t, {}, {});
  ASSERT_FALSE(static_cast<bool>(none));
  EXPECT_THAT(llvm::toString(none.takeError()), HasSubstr("no device to run on"));
  auto devices = standIns(1);
  auto zero = sweep(t, pointers(devices), opts(0, 0));
  ASSERT_FALSE(static_cast<bool>(zero));
  EXPECT_THAT(llvm::toString(zero.takeError()), HasSubstr("need reps ≥ 1"));
}

TEST(Tuner, DeviceSelectionSyntax) {
  auto three = interpreterDevices(std::string("0,1,2"));
  ASSERT_TRUE(static_cast<bool>(three));
  EXPECT_EQ(three->size(), 3u);
  EXPECT_EQ((*three)[2]->label(), "interpreter 2");
  auto all = interpreterDevices(std::string("all"));
  ASSERT_TRUE(static_cast<bool>(all));
  EXPECT_EQ(all->size(), 1u);
  auto bad = interpreterDevices(std::string("0,x"));
  ASSERT_FALSE(static_cast<bool>(bad));
  EXPECT_THAT(llvm::toString(bad.takeError()),
              HasSubstr("'0,x' is not 'all' or a list of device ordinals"));
}

} // namespace
} // namespace tessel::autotune
