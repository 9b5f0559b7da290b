// Structured fuzzing of the lowering: random valid tile kernels in the shape
// of linear-attention chunk loops (dots chained through P = QKᵀ ⊙ mask,
// transposed operands, a state carried across iterations and updated by a
// dot, decays, masks, reductions, tails), lowered to PTX at random warp
// counts and pipeline depths for sm_80 and sm_90a and, where ptxas is
// present, assembled. Every kernel must compile: the layout, pipelining,
// staging, allocation and barrier passes may meet any of these combinations
// in a user's kernel. The IR the layout stage leaves (async copies, waits,
// layout conversions) is interpreted on the host and must compute what the
// DSL's IR computes. A fixed seed list runs in CI; TESSEL_FUZZ_KERNELS=<n>
// runs n more from fresh seeds.
#include "dsl/KernelBuilder.h"
#include "lowering/Pipeline.h"
#include "runtime/Half.h"
#include "runtime/Interpreter.h"
#include "runtime/Ptxas.h"

#include "mlir/Parser/Parser.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstdlib>
#include <random>

using namespace tessel;
using namespace tessel::dsl;

namespace {

struct FuzzCase {
  uint64_t seed;
  std::string what; ///< the choices made, for the failure message
};

/// A random chunk-loop kernel: C rows per iteration, q/k of width D, v/o of
/// width E, all powers of two in [16, 128].
struct Dims {
  int C = 0, D = 0, E = 0;
  DType T = DType::f32;
};

llvm::Expected<Kernel> randomKernel(std::mt19937_64 &rng, std::string &what,
                                    Dims &dims) {
  auto pick = [&](std::initializer_list<int> xs) {
    return *(xs.begin() + rng() % xs.size());
  };
  int C = pick({16, 32, 64}), D = pick({16, 32, 64, 128}),
      E = pick({16, 32, 64, 128});
  DType T = rng() % 4 == 0 ? DType::f32 : (rng() % 2 ? DType::bf16 : DType::f16);
  bool transK = rng() % 2, decay = rng() % 2, carry = rng() % 4 != 0,
       useP = rng() % 4 != 0, reduceRows = rng() % 3 == 0,
       transState = rng() % 3 == 0, roundState = rng() % 2;
  int stages = 1 + rng() % 3;
  dims = {C, D, E, T};
  what = "C" + std::to_string(C) + " D" + std::to_string(D) + " E" +
         std::to_string(E) + " " + dtypeName(T) + (transK ? " transK" : "") +
         (decay ? " decay" : "") + (carry ? " carry" : "") +
         (useP ? " P" : "") + (reduceRows ? " reduce" : "") +
         (transState ? " transState" : "") + (roundState ? " round" : "") +
         " stages" + std::to_string(stages);

  KernelBuilder kb("fuzz");
  kb.setNumStages(stages);
  Tile q = kb.ptrArg("q", T), k = kb.ptrArg("k", T), v = kb.ptrArg("v", T),
       o = kb.ptrArg("o", T);
  Tile n = kb.scalarArg("n", DType::i32);
  Tile rows = arange(0, C), dcols = arange(0, D), ecols = arange(0, E);
  Tile fi = rows.to(DType::f32);
  Tile mask = where(column(rows) >= row(rows), exp(-0.1 * (column(fi) - row(fi))), 0.0);
  Tile init = zeros(transState ? Shape{E, D} : Shape{D, E}, DType::f32);
  auto out = kb.forRange(0, cdiv(n, C), {init}, [&](Tile blk, std::vector<Tile> carried) {
    Tile state = carried[0];
    Tile r = blk * C + rows;
    Tile live = column(r < n);
    Tile qb = load(q + column(r) * D + row(dcols), live);
    // k stored as (C, D) and used transposed, or stored as (D, C).
    Tile kb_ = transK ? load(k + column(r) * D + row(dcols), live)
                      : load(k + row(r) * 1 + column(dcols) * n, row(r < n));
    Tile kT = transK ? trans(kb_) : kb_; // D × C
    Tile vb = load(v + column(r) * E + row(ecols), live);
    Tile scores = dot(qb, kT);
    if (decay)
      scores = scores * mask;
    Tile outTile = useP ? dot(scores.to(T), vb) : zeros({C, E}, DType::f32);
    Tile st = transState ? trans(state) : state; // D × E
    // Rounded straight from the (transposed) state, or after a scaling.
    Tile stOp = roundState ? st.to(T) : (st * 2.0).to(T);
    if (carry)
      outTile = outTile + dot(qb, stOp) * 0.5;
    if (reduceRows)
      outTile = outTile + column(sum(scores, 1));
    store(o + column(r) * E + row(ecols), outTile.to(T), live);
    Tile kd = (transK ? kb_ : trans(kb_)) * column(exp(-0.01 * fi)); // C × D
    Tile update = dot(trans(kd.to(T)), vb);                         // D × E
    if (transState)
      update = trans(update);
    return std::vector<Tile>{carry ? state * 0.9 + update : update};
  });
  store(o + column(arange(0, transState ? E : D)) * (transState ? D : E) +
            row(arange(0, transState ? D : E)),
        out[0].to(T));
  return kb.finish();
}

std::vector<uint64_t> seeds() {
  std::vector<uint64_t> s;
  for (uint64_t i = 1; i <= 12; ++i)
    s.push_back(i * 0x9e3779b97f4a7c15ull);
  if (const char *extra = std::getenv("TESSEL_FUZZ_KERNELS")) {
    std::random_device rd;
    for (long i = 0, e = std::atol(extra); i < e; ++i)
      s.push_back((uint64_t(rd()) << 32) | rd());
  }
  return s;
}

/// One host buffer of `elems` elements of `t`, filled from `rng`.
struct HostBuffer {
  DType t;
  std::vector<uint16_t> half;
  std::vector<float> full;
  HostBuffer(DType t, size_t elems, std::mt19937_64 &rng) : t(t) {
    std::normal_distribution<float> dist(0.0f, 0.5f);
    if (t == DType::f32) {
      full.resize(elems);
      for (float &x : full)
        x = dist(rng);
      return;
    }
    half.resize(elems);
    for (uint16_t &x : half)
      x = t == DType::bf16 ? floatToBF16Bits(dist(rng)) : floatToF16Bits(dist(rng));
  }
  LaunchArg arg() {
    return t == DType::f32 ? LaunchArg::buffer(full.data(), full.size() * 4, t)
                           : LaunchArg::buffer(half.data(), half.size() * 2, t);
  }
  float at(size_t i) const {
    if (t == DType::f32)
      return full[i];
    return t == DType::bf16 ? bf16BitsToFloat(half[i]) : f16BitsToFloat(half[i]);
  }
  size_t size() const { return t == DType::f32 ? full.size() : half.size(); }
};

/// Interprets `kernel` and the same kernel as the layout stage left it
/// (`layoutIR`) on the same random inputs of `n` rows; the outputs agree up
/// to the rounding that folding dot + add into the accumulator changes.
void expectLayoutIRComputesTheSame(const Kernel &kernel,
                                   const std::string &layoutIR, Dims dims,
                                   int64_t n, uint64_t seed,
                                   const std::string &what) {
  auto parsed =
      mlir::parseSourceString<mlir::ModuleOp>(layoutIR, kernel.module().getContext());
  ASSERT_TRUE(parsed) << what << ": the layout IR does not parse back";
  Kernel lowered(kernel.name(), kernel.args(), std::move(parsed));
  size_t outElems = std::max<int64_t>(n * dims.E, int64_t(dims.D) * dims.E);
  std::vector<HostBuffer> results;
  for (const Kernel *k : {&kernel, static_cast<const Kernel *>(&lowered)}) {
    std::mt19937_64 rng(seed);
    HostBuffer q(dims.T, n * dims.D, rng), kk(dims.T, n * dims.D, rng),
        v(dims.T, n * dims.E, rng), o(dims.T, outElems, rng);
    llvm::Error err = interpret(*k, Grid{1, 1, 1},
                                {q.arg(), kk.arg(), v.arg(), o.arg(),
                                 LaunchArg::i32(static_cast<int32_t>(n))});
    ASSERT_FALSE(err) << what << ": " << llvm::toString(std::move(err));
    results.push_back(std::move(o));
  }
  double tol = dims.T == DType::f32 ? 1e-4 : 2e-2;
  for (size_t i = 0; i < outElems; ++i) {
    float want = results[0].at(i), got = results[1].at(i);
    ASSERT_LE(std::fabs(got - want), tol * (1 + std::fabs(want)))
        << what << ", n = " << n << ": element " << i << " is " << got
        << " after the layout stage, " << want << " before";
  }
}

class CompilerFuzz : public ::testing::TestWithParam<uint64_t> {};

TEST_P(CompilerFuzz, RandomChunkKernelLowersAndAssembles) {
  uint64_t seed = GetParam();
  std::mt19937_64 rng(seed);
  std::string what;
  Dims dims;
  auto kernel = randomKernel(rng, what, dims);
  ASSERT_TRUE(static_cast<bool>(kernel))
      << "seed " << seed << " (" << what << "): " << llvm::toString(kernel.takeError());
  auto ptxas = findPtxas();
  bool haveptxas = static_cast<bool>(ptxas);
  if (!ptxas)
    llvm::consumeError(ptxas.takeError());
  for (const char *arch : {"sm_80", "sm_90a"}) {
    lowering::TargetOptions target;
    target.arch = arch;
    target.numWarps = 1u << (rng() % 4);
    bool aligned = rng() % 2;
    auto module = lowering::specializeDivisibility(
        kernel->module(), llvm::SmallVector<bool>(aligned ? kernel->args().size() : 0, true));
    auto compiled = lowering::compileToPTX(*module, target);
    ASSERT_TRUE(static_cast<bool>(compiled))
        << "seed " << seed << " (" << what << ", " << arch << ", "
        << target.numWarps << " warps): " << llvm::toString(compiled.takeError());
    // Rows: a tail in the last block, sometimes fewer blocks than stages.
    int64_t n = 1 + rng() % (5 * dims.C);
    expectLayoutIRComputesTheSame(*kernel, compiled->layoutIR, dims, n, seed,
                                  "seed " + std::to_string(seed) + " (" +
                                      what + ", " + arch + ")");
    if (!haveptxas)
      continue;
    auto assembled = assemblePtx(compiled->ptx, arch);
    ASSERT_TRUE(static_cast<bool>(assembled))
        << "seed " << seed << " (" << what << ", " << arch << ", "
        << target.numWarps << " warps): " << llvm::toString(assembled.takeError());
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, CompilerFuzz, ::testing::ValuesIn(seeds()));

} // namespace
