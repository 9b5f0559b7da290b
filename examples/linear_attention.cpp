// A linear-attention variant written against an installed tessel: causal
// linear attention without decay (O_i = Σ_{j ≤ i} (q_i · k_j) v_j) in blocks
// of C rows, with an fp32 state carried across blocks and its loads
// software-pipelined over 2 stages on the GPU. It runs on the GPU when one
// is usable (TESSEL_INTERPRET=1 forces the interpreter) and checks every
// output against a float64 reference; exit status 1 on a mismatch.
#include "dsl/KernelBuilder.h"
#include "runtime/Launch.h"

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

using namespace tessel;
using namespace tessel::dsl;

static llvm::Expected<Kernel> linearAttention(int C, int D, int E) {
  KernelBuilder kb("example_linear_attention");
  kb.setNumStages(2);
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

int main() {
  const int C = 32, D = 32, E = 64, heads = 3, n = 200;
  auto kernel = linearAttention(C, D, E);
  if (!kernel) {
    std::fprintf(stderr, "%s\n", llvm::toString(kernel.takeError()).c_str());
    return 1;
  }
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 0.3f);
  auto random = [&](size_t count) {
    std::vector<float> x(count);
    for (float &e : x)
      e = dist(rng);
    return x;
  };
  std::vector<float> q = random(heads * n * D), k = random(heads * n * D),
                     v = random(heads * n * E), o(heads * n * E, NAN);
  std::vector<LaunchArg> args{
      LaunchArg::buffer(q.data(), q.size() * 4, DType::f32),
      LaunchArg::buffer(k.data(), k.size() * 4, DType::f32),
      LaunchArg::buffer(v.data(), v.size() * 4, DType::f32),
      LaunchArg::buffer(o.data(), o.size() * 4, DType::f32), LaunchArg::i32(n)};
  if (llvm::Error err = launch(*kernel, Grid{heads}, args, Backend::Auto)) {
    std::fprintf(stderr, "%s\n", llvm::toString(std::move(err)).c_str());
    return 1;
  }
  // float64 reference; the GPU's dots round their operands to tf32.
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
  double rel = worst / norm;
  std::printf("linear attention on the %s: max error %.3g of max |O| %.3g (%.2g)\n",
              resolvedBackendName(Backend::Auto), worst, norm, rel);
  return rel < 1e-2 ? 0 : 1;
}
