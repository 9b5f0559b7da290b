// The float64 reference against itself: its backward is the gradient of its
// forward, checked by central differences of L = Σ dO·o + Σ dS_N·S_N on a
// small problem, with per-head slopes and with per-token gates (dGates).
#include "kernels/Reference.h"

#include "gtest/gtest.h"

#include <cmath>
#include <functional>
#include <random>

using namespace tessel::reference;

namespace {

std::vector<double> normals(std::mt19937_64 &rng, size_t n, double lo = -1,
                            double hi = 1) {
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<double> x(n);
  for (double &v : x)
    v = d(rng);
  return x;
}

void expectGradientsByDifferences(bool gated) {
  std::mt19937_64 rng(gated ? 7 : 5);
  Problem p;
  p.batch = 1, p.heads = 2, p.seq = 6, p.d = 3, p.e = 2, p.scale = 0.7;
  p.q = normals(rng, 2 * 6 * 3), p.k = normals(rng, 2 * 6 * 3);
  p.v = normals(rng, 2 * 6 * 2);
  p.slopes = {0.3, 0.05};
  p.initial = normals(rng, 2 * 3 * 2);
  if (gated)
    p.gates = normals(rng, 2 * 6, -1.0, 0.0);
  std::vector<double> dO = normals(rng, 2 * 6 * 2), dFinal = normals(rng, 2 * 3 * 2);
  auto loss = [&](const Problem &x) {
    Forward f = forward(x);
    double l = 0;
    for (size_t i = 0; i < f.o.size(); ++i) l += dO[i] * f.o[i];
    for (size_t i = 0; i < f.final.size(); ++i) l += dFinal[i] * f.final[i];
    return l;
  };
  Backward b = backward(p, dO, dFinal);
  auto check = [&](std::vector<double> Problem::*field,
                   const std::vector<double> &grad, const char *name) {
    ASSERT_EQ(grad.size(), (p.*field).size()) << name;
    for (size_t i = 0; i < grad.size(); ++i) {
      Problem plus = p, minus = p;
      const double h = 1e-6;
      (plus.*field)[i] += h;
      (minus.*field)[i] -= h;
      double numeric = (loss(plus) - loss(minus)) / (2 * h);
      EXPECT_NEAR(grad[i], numeric, 1e-6 * (1 + std::fabs(numeric)))
          << name << "[" << i << "]";
    }
  };
  check(&Problem::q, b.dq, "dq");
  check(&Problem::k, b.dk, "dk");
  check(&Problem::v, b.dv, "dv");
  check(&Problem::initial, b.dInitial, "d_initial_state");
  if (gated)
    check(&Problem::gates, b.dGates, "d_gates");
  else
    EXPECT_TRUE(b.dGates.empty());
}

TEST(Reference, BackwardIsTheGradientOfTheForward) {
  expectGradientsByDifferences(false);
}

TEST(Reference, GatedBackwardIsTheGradientOfTheForward) {
  expectGradientsByDifferences(true);
}

} // namespace
