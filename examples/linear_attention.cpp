// A linear-attention variant written against an installed tessel: causal
// linear attention without decay (O_i = Σ_{j ≤ i} (q_i · k_j) v_j) in blocks
// of C rows, with an fp32 state carried across blocks and its loads
// software-pipelined on the GPU. It tunes the block size, warps and stages
// with autotune::TunedKernel (the winner goes to the tuning cache,
// $TESSEL_CACHE_DIR), runs the winner on the GPU when one is usable
// (TESSEL_INTERPRET=1 forces the interpreter) and checks every output
// against a float64 reference; exit status 1 on a mismatch.
#include "autotune/TunedKernel.h"
#include "dsl/KernelBuilder.h"
#include "runtime/Launch.h"

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

using namespace tessel;
using namespace tessel::dsl;

static llvm::Expected<Kernel> linearAttention(int C, int D, int E, int stages) {
  KernelBuilder kb("example_linear_attention_C" + std::to_string(C) + "_s" +
                   std::to_string(stages));
  kb.setNumStages(stages);
  Tile q = kb.ptrArg("q", DType::f32), k = kb.ptrArg("k", DType::f32),
       v = kb.ptrArg("v", DType::f32), o = kb.ptrArg("o", DType::f32);
  Tile n = kb.scalarArg("n", DType::i32);
  Tile bh = programId(0).to(DType::i64); // one (batch, head) per program
  Tile rows = arange(0, C), dcols = arange(0, D), ecols = arange(0, E);
  Tile causal = column(rows) >= row(rows);
  kb.forRange(0, cdiv(n, C), {zeros({D, E}, DType::f32)},
              [&](Tile blk, std::vector<Tile> carried) {
                Tile kv = carried[0];
                Tile r = blk * C + rows;
                Tile mask = column(r < n);
                Tile qb = load(q + bh * n * D + column(r) * D + row(dcols), mask);
                Tile kb_ = load(k + bh * n * D + column(r) * D + row(dcols), mask);
                Tile vb = load(v + bh * n * E + column(r) * E + row(ecols), mask);
                Tile scores = where(causal, dot(qb, trans(kb_)), 0.0);
                Tile out = dot(scores, vb) + dot(qb, kv);
                store(o + bh * n * E + column(r) * E + row(ecols), out, mask);
                return std::vector<Tile>{kv + dot(trans(kb_), vb)};
              });
  return kb.finish();
}

/// max |O − reference| / max |reference| over every output.
static double relativeError(const std::vector<float> &q, const std::vector<float> &k,
                            const std::vector<float> &v, const std::vector<float> &o,
                            int heads, int n, int D, int E) {
  double worst = 0, norm = 0;
  for (int h = 0; h < heads; ++h)
    for (int i = 0; i < n; ++i)
      for (int e = 0; e < E; ++e) {
        double want = 0;
        for (int j = 0; j <= i; ++j) {
          double s = 0;
          for (int d = 0; d < D; ++d)
            s += double(q[(h * n + i) * D + d]) * k[(h * n + j) * D + d];
          want += s * v[(h * n + j) * E + e];
        }
        double got = o[(h * n + i) * E + e];
        worst = std::max(worst, std::isnan(got) ? INFINITY : std::fabs(got - want));
        norm = std::max(norm, std::fabs(want));
      }
  return worst / norm;
}

int main() {
  const int D = 32, E = 64, heads = 3, n = 200;
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 0.3f);
  auto random = [&](size_t count) {
    std::vector<float> x(count);
    for (float &e : x)
      e = dist(rng);
    return x;
  };
  std::vector<float> q = random(heads * n * D), k = random(heads * n * D),
                     v = random(heads * n * E);
  auto argsFor = [&](std::vector<float> &o) {
    return std::vector<LaunchArg>{
        LaunchArg::buffer(q.data(), q.size() * 4, DType::f32),
        LaunchArg::buffer(k.data(), k.size() * 4, DType::f32),
        LaunchArg::buffer(v.data(), v.size() * 4, DType::f32),
        LaunchArg::buffer(o.data(), o.size() * 4, DType::f32), LaunchArg::i32(n)};
  };

  // The tuned kernel: block rows C, warps and pipeline stages.
  using namespace tessel::autotune;
  KernelSpec spec;
  spec.name = "example_linear_attention";
  spec.space = ConfigSpace("example_linear_attention", 1);
  spec.space.param("C", {16, 32}, "rows per block")
      .param("warps", {2, 4}, "warps per program")
      .param("stages", {1, 2}, "pipeline stages");
  spec.space.defaults(Config{{{"C", 32}, {"warps", 4}, {"stages", 2}}});
  spec.problem = "f32 d32 e64 h3 n200";
  spec.build = [&](const Config &c) {
    return linearAttention(c.get("C"), D, E, c.get("stages"));
  };
  spec.grid = [&](const Config &) { return Grid{heads}; };
  spec.buffers = {{heads * n * D, DType::f32}, {heads * n * D, DType::f32},
                  {heads * n * E, DType::f32}, {heads * n * E, DType::f32}};
  spec.scalars = {LaunchArg::i32(n)};
  spec.validate = [&](const Config &, const KernelSpec::Launcher &run)
      -> llvm::Expected<Validation> {
    std::vector<float> o(heads * n * E, NAN);
    if (auto err = run(argsFor(o)))
      return std::move(err);
    double rel = relativeError(q, k, v, o, heads, n, D, E);
    return Validation{rel < 1e-2, "rel err " + std::to_string(rel)};
  };
  TunedKernelOptions options;
  options.tune.warmup = 1;
  options.tune.reps = 3;
  TunedKernel tuned(std::move(spec), options);
  ConfigSource source;
  auto winner = tuned.choose(&source);
  if (!winner) {
    std::fprintf(stderr, "%s\n", llvm::toString(winner.takeError()).c_str());
    return 1;
  }
  const char *how = source == ConfigSource::Tuned   ? "tuned"
                    : source == ConfigSource::Cache ? "from the tuning cache"
                                                   : "default";
  std::vector<float> o(heads * n * E, NAN);
  if (llvm::Error err = tuned(argsFor(o))) {
    std::fprintf(stderr, "%s\n", llvm::toString(std::move(err)).c_str());
    return 1;
  }
  double rel = relativeError(q, k, v, o, heads, n, D, E);
  std::printf("linear attention on the %s, %s %s: relative error %.2g\n",
              resolvedBackendName(Backend::Auto), how, winner->str().c_str(), rel);
  return rel < 1e-2 ? 0 : 1;
}
