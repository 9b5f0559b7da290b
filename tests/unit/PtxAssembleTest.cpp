// Every shipped kernel lowers to PTX for sm_80 and sm_90a and ptxas accepts
// it; registers, spills and shared memory per kernel go to the test log.
// Skipped where ptxas is absent.
#include "dsl/KernelBuilder.h"
#include "kernels/LightningKernels.h"
#include "kernels/SrmsNorm.h"
#include "lowering/Pipeline.h"
#include "runtime/Ptxas.h"

#include "gtest/gtest.h"

#include <cstdio>
#include <optional>

using namespace tessel;

namespace {

struct KernelCase {
  const char *pass;
  llvm::Expected<Kernel> (*build)(const kernels::LightningSpec &,
                                  const kernels::PassConfig &);
};

class PtxAssemble
    : public ::testing::TestWithParam<std::tuple<KernelCase, const char *, DType>> {};

TEST_P(PtxAssemble, ShippedKernelAssembles) {
  auto [kc, arch, dtype] = GetParam();
  auto ptxas = findPtxas();
  if (!ptxas) {
    llvm::consumeError(ptxas.takeError());
    GTEST_SKIP() << "ptxas not found";
  }
  kernels::LightningSpec spec{128, 128, dtype, true, true};
  auto kernel = kc.build(spec, kernels::PassConfig{});
  ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());
  // Specialized as the launcher does for aligned tensors (vector accesses).
  auto module = lowering::specializeDivisibility(
      kernel->module(), llvm::SmallVector<bool>(kernel->args().size(), true));
  lowering::TargetOptions target;
  target.arch = arch;
  auto compiled = lowering::compileToPTX(*module, target);
  ASSERT_TRUE(static_cast<bool>(compiled)) << llvm::toString(compiled.takeError());
  EXPECT_NE(compiled->ptx.find(std::string(".target ") + arch), std::string::npos);
  // The target's default 4 warps are one warpgroup: with 16-bit operands
  // every dot takes wgmma on sm_90a; everything else mma.sync.
  // (The decode step has no dots: elementwise work and a column sum.)
  bool wgmma = std::string(arch) == "sm_90a" && dtype != DType::f32;
  if (std::string(kc.pass) != "decode")
    EXPECT_NE(compiled->ptx.find(wgmma ? "wgmma.mma_async" : "mma.sync.aligned"),
              std::string::npos);
  auto assembled = assemblePtx(compiled->ptx, arch);
  ASSERT_TRUE(static_cast<bool>(assembled)) << llvm::toString(assembled.takeError());
  EXPECT_EQ(assembled->cubin.substr(0, 4), "\x7f" "ELF");
  const PtxasResources *res = assembled->find(kernel->name());
  ASSERT_NE(res, nullptr) << assembled->log;
  std::printf("ptxas %-7s %-4s %-8s: %3d registers, %6lld B spill stores, "
              "%6lld B spill loads, %6u B dynamic shared, %lld B stack\n",
              arch, dtypeName(dtype), kc.pass, res->registers,
              static_cast<long long>(res->spillStoreBytes),
              static_cast<long long>(res->spillLoadBytes), compiled->sharedBytes,
              static_cast<long long>(res->stackBytes));
  EXPECT_GT(res->registers, 0);
}

INSTANTIATE_TEST_SUITE_P(
    Lightning, PtxAssemble,
    ::testing::Combine(
        ::testing::Values(KernelCase{"fwd", kernels::buildLightningForward},
                          KernelCase{"bwd_dq", kernels::buildLightningBackwardDq},
                          KernelCase{"bwd_dk", kernels::buildLightningBackwardDk},
                          KernelCase{"bwd_dv", kernels::buildLightningBackwardDv},
                          KernelCase{"bwd_dkdv", kernels::buildLightningBackwardDkDv},
                          KernelCase{"decode", kernels::buildLightningDecode}),
        ::testing::Values("sm_80", "sm_90a"),
        ::testing::Values(DType::bf16, DType::f32)),
    [](const auto &info) {
      return std::string(std::get<0>(info.param).pass) + "_" +
             std::get<1>(info.param) + "_" + dtypeName(std::get<2>(info.param));
    });

/// `kernel` lowers for sm_80 and sm_90a at `warps` warps, its PTX holds
/// `expect`, and ptxas (where present) accepts it.
void expectLowersAndAssembles(const Kernel &kernel, unsigned warps,
                              const std::string &expect) {
  auto ptxas = findPtxas();
  bool haveptxas = static_cast<bool>(ptxas);
  if (!ptxas)
    llvm::consumeError(ptxas.takeError());
  for (const char *arch : {"sm_80", "sm_90a"}) {
    lowering::TargetOptions target;
    target.arch = arch;
    target.numWarps = warps;
    auto compiled = lowering::compileToPTX(kernel.module(), target);
    ASSERT_TRUE(static_cast<bool>(compiled)) << llvm::toString(compiled.takeError());
    EXPECT_NE(compiled->ptx.find(expect), std::string::npos) << arch;
    if (!haveptxas)
      continue;
    auto assembled = assemblePtx(compiled->ptx, arch);
    ASSERT_TRUE(static_cast<bool>(assembled)) << llvm::toString(assembled.takeError());
  }
}

// The DSL's loops without carried values and its gate functions lower too
// (a loop that only stores; sigmoid, softplus, logsigmoid, where of two
// numbers), for both targets.
TEST(PtxAssembleDsl, GatesInALoopWithoutCarriedValues) {
  using namespace tessel::dsl;
  KernelBuilder kb("gated_blocks");
  Tile x = kb.ptrArg("x", DType::f32), out = kb.ptrArg("out", DType::f32);
  Tile n = kb.scalarArg("n", DType::i32);
  Tile lanes = arange(0, 128);
  kb.forRange(0, cdiv(n, 128), {}, [&](Tile blk, std::vector<Tile>) {
    Tile idx = blk * 128 + lanes;
    Tile v = load(x + idx, idx < n);
    store(out + idx, sigmoid(v) + softplus(v) * logsigmoid(v) + where(v > 0.0, 1.0, 0.0),
          idx < n);
    return std::vector<Tile>{};
  });
  auto kernel = kb.finish();
  ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());
  expectLowersAndAssembles(*kernel, 4, "ex2.approx");
}

// min reductions (across lanes and warps) and keepdims lower and assemble.
TEST(PtxAssembleDsl, MinAndKeepdimsReductions) {
  using namespace tessel::dsl;
  KernelBuilder kb("reductions");
  Tile x = kb.ptrArg("x", DType::f32), out = kb.ptrArg("out", DType::f32);
  Tile r = arange(0, 64), c = arange(0, 64);
  Tile t = load(x + column(r) * 64 + row(c));
  store(out + column(r) * 64 + row(c), t - max(t, 1, true) + min(t, 0, true));
  store(out + 4096 + r, min(t, 1));
  auto kernel = kb.finish();
  ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());
  expectLowersAndAssembles(*kernel, 4, "min.");
}

/// Lowers `kernel` for `arch` in `warps` warps, assembles it and expects no
/// spills and no stack frame; `instr`, when given, must be in the PTX.
void expectAssemblesWithoutSpills(const Kernel &kernel, const char *arch,
                                  unsigned warps, const std::string &label,
                                  const char *instr = nullptr) {
  auto module = lowering::specializeDivisibility(
      kernel.module(), llvm::SmallVector<bool>(kernel.args().size(), true));
  lowering::TargetOptions target;
  target.arch = arch;
  target.numWarps = warps;
  auto compiled = lowering::compileToPTX(*module, target);
  ASSERT_TRUE(static_cast<bool>(compiled)) << llvm::toString(compiled.takeError());
  if (instr)
    EXPECT_NE(compiled->ptx.find(instr), std::string::npos) << label << " " << arch;
  auto assembled = assemblePtx(compiled->ptx, arch);
  ASSERT_TRUE(static_cast<bool>(assembled)) << llvm::toString(assembled.takeError());
  const PtxasResources *res = assembled->find(kernel.name());
  ASSERT_NE(res, nullptr) << assembled->log;
  std::printf("ptxas %-7s %-24s: %3d registers, %lld B spills\n", arch,
              label.c_str(), res->registers,
              static_cast<long long>(res->spillStoreBytes));
  EXPECT_EQ(res->spillStoreBytes, 0) << label << " " << arch;
  EXPECT_EQ(res->stackBytes, 0) << label << " " << arch;
}

// The simple GLA forward (per-token gates: a cumsum per block, the decays
// from it) lowers with wgmma on sm_90a and mma.sync on sm_80, assembles,
// and spills nothing at the configurations a gated call defaults to
// (applyWholeSequenceLimits): 64 columns in 4 warps — at most 2 stages on
// sm_90a (1 with S_N alone), 3 (the heuristic's) on sm_80 — with one
// state, none, or anti-causal; 32 columns with both states (16–104 B of
// spills at 64).
TEST(PtxAssembleDsl, SimpleGlaForward) {
  auto ptxas = findPtxas();
  if (!ptxas) {
    llvm::consumeError(ptxas.takeError());
    GTEST_SKIP() << "ptxas not found";
  }
  struct Case {
    bool s0, sN, anticausal;
    const char *label;
  };
  for (Case c : {Case{false, false, false, "simple GLA fwd"},
                 Case{true, false, false, "simple GLA fwd (S0)"},
                 Case{false, true, false, "simple GLA fwd (S_N)"},
                 Case{true, true, false, "simple GLA fwd (S0, S_N)"},
                 Case{false, false, true, "simple GLA fwd anti-causal"}})
    for (const char *arch : {"sm_80", "sm_90a"}) {
      kernels::LightningSpec spec{128, 128, DType::bf16, c.s0, c.sN};
      spec.gated = true;
      spec.anticausal = c.anticausal;
      bool hopper = std::string(arch) == "sm_90a";
      auto kernel = kernels::buildLightningForward(
          spec, kernels::PassConfig{64, c.s0 && c.sN ? 32 : 64, 4, 1,
                                    !hopper ? 3 : c.sN && !c.s0 ? 1 : 2});
      ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());
      expectAssemblesWithoutSpills(
          *kernel, arch, 4, c.label,
          hopper ? "wgmma.mma_async" : "mma.sync.aligned");
    }
}

// The simple GLA backward kernels (dq, dk and dv in one launch, the gate
// gradient) and its decode step at a gated call's default configurations
// (applyWholeSequenceLimits: the gate rows' q and k tiles add to each
// sweep's registers) lower, assemble and spill nothing, causal and
// anti-causal, and keep wgmma on sm_90a: dq at 64 columns and 1 stage
// (52–96 B at 2), 32 columns with dS_N (92 B at 64) and on sm_80; dk/dv at
// 64 columns, 2 stages with dS_N or anti-causal on sm_90a, 32 columns with
// dS_N on sm_80.
TEST(PtxAssembleDsl, SimpleGlaBackward) {
  auto ptxas = findPtxas();
  if (!ptxas) {
    llvm::consumeError(ptxas.takeError());
    GTEST_SKIP() << "ptxas not found";
  }
  for (bool dsN : {false, true})
  for (const char *arch : {"sm_80", "sm_90a"}) {
    kernels::LightningSpec spec{128, 128, DType::bf16, true, dsN};
    spec.gated = true;
    bool hopper = std::string(arch) == "sm_90a";
    bool wide = hopper && !dsN;
    auto dq = kernels::buildLightningBackwardDq(
        spec, kernels::PassConfig{64, wide ? 64 : 32, 4, 1, wide ? 1 : 3});
    auto dkdv = kernels::buildLightningBackwardDkDv(
        spec, kernels::PassConfig{64, !hopper && dsN ? 32 : 64, 4, 1,
                                  hopper && dsN ? 2 : 3});
    auto dgates = kernels::buildSimpleGlaGateGradient(spec, {16, 16, 4});
    auto decode = kernels::buildLightningDecode(spec, {64, 32, 2});
    for (auto *k : {&dq, &dkdv, &dgates, &decode})
      ASSERT_TRUE(static_cast<bool>(*k)) << llvm::toString(k->takeError());
    const char *mma = hopper ? "wgmma.mma_async" : "mma.sync.aligned";
    expectAssemblesWithoutSpills(*dq, arch, 4, "simple GLA dq", wide ? mma : nullptr);
    expectAssemblesWithoutSpills(*dkdv, arch, 4, "simple GLA dkdv", mma);
    expectAssemblesWithoutSpills(*dgates, arch, 4, "simple GLA dgates");
    expectAssemblesWithoutSpills(*decode, arch, 2, "simple GLA decode");
  }
  // Non-causal: the anti-causal sweeps (their outputs added to the causal
  // ones').
  kernels::LightningSpec anti{128, 128, DType::bf16, false, false};
  anti.gated = anti.anticausal = true;
  for (const char *arch : {"sm_80", "sm_90a"}) {
    bool hopper = std::string(arch) == "sm_90a";
    auto dq = kernels::buildLightningBackwardDq(
        anti, kernels::PassConfig{64, hopper ? 64 : 32, 4, 1, hopper ? 1 : 3});
    auto dkdv = kernels::buildLightningBackwardDkDv(
        anti, kernels::PassConfig{64, 64, 4, 1, hopper ? 2 : 3});
    for (auto *k : {&dq, &dkdv})
      ASSERT_TRUE(static_cast<bool>(*k)) << llvm::toString(k->takeError());
    expectAssemblesWithoutSpills(*dq, arch, 4, "simple GLA anti-causal dq");
    expectAssemblesWithoutSpills(*dkdv, arch, 4, "simple GLA anti-causal dkdv");
  }
}

/// ptxas's resources for `kernel` on `arch` at `warps` warps, specialized as
/// the launcher does for aligned tensors; nullopt after a test failure.
std::optional<PtxasResources> resourcesOf(const Kernel &kernel, const char *arch,
                                          unsigned warps) {
  auto module = lowering::specializeDivisibility(
      kernel.module(), llvm::SmallVector<bool>(kernel.args().size(), true));
  lowering::TargetOptions target;
  target.arch = arch;
  target.numWarps = warps;
  auto compiled = lowering::compileToPTX(*module, target);
  if (!compiled) {
    ADD_FAILURE() << llvm::toString(compiled.takeError());
    return std::nullopt;
  }
  auto assembled = assemblePtx(compiled->ptx, arch);
  if (!assembled) {
    ADD_FAILURE() << llvm::toString(assembled.takeError());
    return std::nullopt;
  }
  const PtxasResources *res = assembled->find(kernel.name());
  if (!res) {
    ADD_FAILURE() << assembled->log;
    return std::nullopt;
  }
  return *res;
}

/// A kernel builder and the configuration it is compared at.
struct VariantCase {
  const char *name;
  bool gated;
  llvm::Expected<Kernel> (*build)(const kernels::LightningSpec &,
                                  const kernels::PassConfig &);
  kernels::PassConfig cfg;
};

/// Each case built from `base` (gated as it says) and again with `variant`
/// applied to the spec, on sm_80 and sm_90a: both assemble, the variant's
/// name carries `tag`, and it spills no more than the base kernel.
void expectVariantSpillsNoMore(llvm::ArrayRef<VariantCase> cases,
                               kernels::LightningSpec base,
                               void (*variant)(kernels::LightningSpec &),
                               const char *tag) {
  for (const VariantCase &c : cases)
    for (const char *arch : {"sm_80", "sm_90a"}) {
      kernels::LightningSpec spec = base;
      spec.gated = c.gated;
      auto before = c.build(spec, c.cfg);
      variant(spec);
      auto after = c.build(spec, c.cfg);
      ASSERT_TRUE(static_cast<bool>(before)) << llvm::toString(before.takeError());
      ASSERT_TRUE(static_cast<bool>(after)) << llvm::toString(after.takeError());
      EXPECT_NE(after->name().find(tag), std::string::npos) << after->name();
      auto a = resourcesOf(*before, arch, c.cfg.numWarps);
      auto b = resourcesOf(*after, arch, c.cfg.numWarps);
      ASSERT_TRUE(a && b) << c.name << " " << arch;
      std::printf("ptxas %-7s %-13s: %3d → %3d registers %s, %lld → %lld B "
                  "spills\n",
                  arch, c.name, a->registers, b->registers, tag,
                  static_cast<long long>(a->spillStoreBytes),
                  static_cast<long long>(b->spillStoreBytes));
      EXPECT_LE(b->spillStoreBytes, a->spillStoreBytes) << c.name << " " << arch;
    }
}

bool ptxasMissing() {
  auto ptxas = findPtxas();
  if (ptxas)
    return false;
  llvm::consumeError(ptxas.takeError());
  return true;
}

// A variable-length batch (offsets loaded from cu_seqlens, rows from the
// sequence's first) costs the kernels a few scalar registers and no
// spills: every whole-sequence kernel of Lightning and simple GLA (with S0
// and dS_N: the gated dq writes S_N, the gate gradient reads it), varlen
// beside its fixed-length self, at the default and the gated configurations.
TEST(PtxAssembleDsl, VarlenKernelsSpillNoMoreThanFixedLength) {
  if (ptxasMissing())
    GTEST_SKIP() << "ptxas not found";
  const VariantCase cases[] = {
      {"fwd", false, kernels::buildLightningForward, {}},
      {"bwd_dq", false, kernels::buildLightningBackwardDq, {}},
      {"bwd_dkdv", false, kernels::buildLightningBackwardDkDv, {}},
      {"gla fwd", true, kernels::buildLightningForward, {64, 32, 4, 1, 2}},
      {"gla bwd_dq", true, kernels::buildLightningBackwardDq, {64, 32, 4, 1, 3}},
      // sm_80's plan with dS_N (applyWholeSequenceLimits); sm_90a's, 64
      // columns at 2 stages, spills 4 B more varlen on sm_80, where it
      // never runs.
      {"gla bwd_dkdv", true, kernels::buildLightningBackwardDkDv, {64, 32, 4, 1, 3}},
      {"gla dgates", true, kernels::buildSimpleGlaGateGradient, {16, 16, 4}},
  };
  expectVariantSpillsNoMore(cases, {128, 128, DType::bf16, true, true},
                            [](kernels::LightningSpec &s) { s.varlen = true; },
                            "varlen");
}

// The anti-causal sweeps of non-causal attention (mirrored decays, blocks
// in the other order, outputs added to the causal sweep's) lower, assemble
// and spill no more than their causal selves.
TEST(PtxAssembleDsl, AntiCausalKernelsSpillNoMoreThanCausal) {
  if (ptxasMissing())
    GTEST_SKIP() << "ptxas not found";
  const VariantCase cases[] = {
      {"fwd", false, kernels::buildLightningForward, {}},
      {"bwd_dq", false, kernels::buildLightningBackwardDq, {}},
      {"bwd_dkdv", false, kernels::buildLightningBackwardDkDv, {}},
      // A non-causal simple GLA forward: 64 columns, 2 stages on sm_90a
      // (applyWholeSequenceLimits).
      {"gla fwd", true, kernels::buildLightningForward, {64, 64, 4, 1, 2}},
  };
  expectVariantSpillsNoMore(cases, {128, 128, DType::bf16, false, false},
                            [](kernels::LightningSpec &s) { s.anticausal = true; },
                            "_anti");
}

// SRMSNorm's forward and backward lower and assemble without spills from
// rows of 16 to 16384 elements, at the program shapes the entry points use.
TEST(PtxAssembleDsl, SrmsNormKernels) {
  if (ptxasMissing())
    GTEST_SKIP() << "ptxas not found";
  for (int d : {16, 1000, 4096, 16384})
    for (bool backward : {false, true}) {
      auto shape = kernels::srmsNormProgram(d);
      auto kernel = kernels::buildSrmsNorm(d, DType::bf16, backward, shape.rows,
                                           shape.warps);
      ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());
      for (const char *arch : {"sm_80", "sm_90a"})
        expectAssemblesWithoutSpills(*kernel, arch, shape.warps, kernel->name());
    }
}

// cumsum (a gate vector and both axes of a C × C tile, f32 and bf16)
// lowers through shared memory and assembles.
TEST(PtxAssembleDsl, CumsumAlongAChunk) {
  using namespace tessel::dsl;
  KernelBuilder kb("running_sums");
  Tile g = kb.ptrArg("g", DType::f32), out = kb.ptrArg("out", DType::f32);
  Tile r = arange(0, 64), c = arange(0, 64);
  Tile gates = load(g + r);
  Tile decay = cumsum(gates, 0);
  Tile t = column(decay) - row(decay); // log-decay between positions
  store(out + column(r) * 64 + row(c),
        cumsum(t, 1, true) + cumsum(t.to(DType::bf16), 0, false, true).to(DType::f32));
  auto kernel = kb.finish();
  ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());
  expectLowersAndAssembles(*kernel, 4, "bar.sync");
}

} // namespace
