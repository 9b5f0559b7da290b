// Float64 recurrence for causal linear attention with decay, forward and
// reverse mode.
#include "kernels/Reference.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <thread>
#include <vector>

namespace tessel::reference {

namespace {

/// Runs fn(bh) for every (batch, head) on all cores: heads are independent
/// and each writes only its own slices, so the result is the same as a
/// serial loop, bit for bit.
void forEachHead(int64_t count, const std::function<void(int64_t)> &fn) {
  int64_t workers = std::min<int64_t>(
      count, std::max(1u, std::thread::hardware_concurrency()));
  std::atomic<int64_t> next{0};
  auto work = [&] {
    for (int64_t bh; (bh = next.fetch_add(1)) < count;)
      fn(bh);
  };
  std::vector<std::thread> threads;
  for (int64_t i = 1; i < workers; ++i)
    threads.emplace_back(work);
  work();
  for (std::thread &t : threads)
    t.join();
}

} // namespace

namespace {

/// Sequence i's rows of a (1, H, N, width) tensor, as (1, H, len, width).
std::vector<double> rowsOf(const Problem &p, int64_t i,
                           const std::vector<double> &x, int64_t width) {
  const int64_t first = p.cuSeqlens[i], len = p.cuSeqlens[i + 1] - first;
  std::vector<double> out(p.heads * len * width);
  for (int64_t h = 0; h < p.heads; ++h)
    std::copy_n(x.begin() + (h * p.seq + first) * width, len * width,
                out.begin() + h * len * width);
  return out;
}

/// Sequence i of a variable-length problem as a problem of its own (one
/// batch of c_{i+1} − c_i rows, its own initial state).
Problem sequence(const Problem &p, int64_t i) {
  const int64_t first = p.cuSeqlens[i], len = p.cuSeqlens[i + 1] - first;
  const int64_t H = p.heads, D = p.d, E = p.e;
  Problem s;
  s.batch = 1, s.heads = H, s.seq = len, s.d = D, s.e = E, s.scale = p.scale;
  s.slopes = p.slopes;
  s.causal = p.causal;
  s.q = rowsOf(p, i, p.q, D), s.k = rowsOf(p, i, p.k, D);
  s.v = rowsOf(p, i, p.v, E);
  if (!p.gates.empty())
    s.gates = rowsOf(p, i, p.gates, 1);
  if (!p.initial.empty())
    s.initial.assign(p.initial.begin() + i * H * D * E,
                     p.initial.begin() + (i + 1) * H * D * E);
  return s;
}

/// Writes sequence i's rows `part` (1, H, len, width) into `whole` (1, H, N,
/// width).
void scatterRows(const Problem &p, int64_t i, const std::vector<double> &part,
                 int64_t width, std::vector<double> &whole) {
  const int64_t first = p.cuSeqlens[i], len = p.cuSeqlens[i + 1] - first;
  for (int64_t h = 0; h < p.heads; ++h)
    std::copy_n(part.begin() + h * len * width, len * width,
                whole.begin() + (h * p.seq + first) * width);
}

/// Sequence i's slice of a (S, H, D, E) tensor.
std::vector<double> stateOf(const Problem &p, const std::vector<double> &x,
                            int64_t i) {
  const int64_t size = p.heads * p.d * p.e;
  if (x.empty())
    return {};
  return std::vector<double>(x.begin() + i * size, x.begin() + (i + 1) * size);
}

} // namespace

namespace {

/// The pair weights w_ij = e^(−|b_i − b_j|) of (b, h) slice bh of a
/// non-causal problem, N × N.
std::vector<double> pairWeights(const Problem &p, int64_t bh) {
  const int64_t N = p.seq;
  std::vector<double> b(N);
  double acc = 0;
  for (int64_t t = 0; t < N; ++t)
    b[t] = acc += std::log(p.decay(bh, t));
  std::vector<double> w(N * N);
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = 0; j < N; ++j)
      w[i * N + j] = std::exp(-std::abs(b[i] - b[j]));
  return w;
}

Forward nonCausalForward(const Problem &p) {
  const int64_t N = p.seq, D = p.d, E = p.e;
  Forward out;
  out.o.assign(p.batch * p.heads * N * E, 0.0);
  forEachHead(p.batch * p.heads, [&](int64_t bh) {
    std::vector<double> w = pairWeights(p, bh);
    for (int64_t i = 0; i < N; ++i) {
      const double *q = &p.q[(bh * N + i) * D];
      double *o = &out.o[(bh * N + i) * E];
      for (int64_t j = 0; j < N; ++j) {
        const double *k = &p.k[(bh * N + j) * D];
        const double *v = &p.v[(bh * N + j) * E];
        double qk = 0;
        for (int64_t x = 0; x < D; ++x)
          qk += q[x] * k[x];
        double c = p.scale * w[i * N + j] * qk;
        for (int64_t y = 0; y < E; ++y)
          o[y] += c * v[y];
      }
    }
  });
  return out;
}

Backward nonCausalBackward(const Problem &p, const std::vector<double> &dO) {
  const int64_t N = p.seq, D = p.d, E = p.e;
  Backward out;
  out.dq.assign(p.batch * p.heads * N * D, 0.0);
  out.dk.assign(p.batch * p.heads * N * D, 0.0);
  out.dv.assign(p.batch * p.heads * N * E, 0.0);
  const bool gated = !p.gates.empty();
  if (gated)
    out.dGates.assign(p.batch * p.heads * N, 0.0);
  forEachHead(p.batch * p.heads, [&](int64_t bh) {
    std::vector<double> w = pairWeights(p, bh);
    // ∂L/∂b_s, b = cumsum(log λ): w_ij = e^(b_i − b_j) for i > j and
    // e^(b_j − b_i) for i < j, so pair (i, j) adds ±w_ij (∂L/∂w_ij) to b_i
    // and the opposite to b_j (the diagonal's w = 1 adds nothing).
    std::vector<double> dLdb(gated ? N : 0, 0.0);
    // o_i = scale Σ_j w_ij (q_i·k_j) v_j: with a_ij = scale w_ij,
    // dq_i = Σ_j a_ij (dO_i·v_j) k_j, dk_j = Σ_i a_ij (dO_i·v_j) q_i,
    // dv_j = Σ_i a_ij (q_i·k_j) dO_i.
    for (int64_t i = 0; i < N; ++i)
      for (int64_t j = 0; j < N; ++j) {
        const double *q = &p.q[(bh * N + i) * D], *k = &p.k[(bh * N + j) * D];
        const double *v = &p.v[(bh * N + j) * E], *go = &dO[(bh * N + i) * E];
        double a = p.scale * w[i * N + j], qk = 0, gv = 0;
        for (int64_t x = 0; x < D; ++x)
          qk += q[x] * k[x];
        for (int64_t y = 0; y < E; ++y)
          gv += go[y] * v[y];
        double *dq = &out.dq[(bh * N + i) * D], *dk = &out.dk[(bh * N + j) * D];
        double *dv = &out.dv[(bh * N + j) * E];
        for (int64_t x = 0; x < D; ++x) {
          dq[x] += a * gv * k[x];
          dk[x] += a * gv * q[x];
        }
        for (int64_t y = 0; y < E; ++y)
          dv[y] += a * qk * go[y];
        if (gated && i != j) {
          double d = a * qk * gv * (i > j ? 1.0 : -1.0);
          dLdb[i] += d;
          dLdb[j] -= d;
        }
      }
    // dg_t = Σ_{s ≥ t} ∂L/∂b_s.
    double acc = 0;
    for (int64_t t = N - 1; gated && t >= 0; --t)
      out.dGates[bh * N + t] = acc += dLdb[t];
  });
  return out;
}

} // namespace

double Problem::decay(int64_t bh, int64_t t) const {
  return gates.empty() ? std::exp(-slopes[bh % heads])
                       : std::exp(gates[bh * seq + t]);
}

Forward forward(const Problem &p) {
  const int64_t N = p.seq, D = p.d, E = p.e;
  Forward out;
  if (!p.cuSeqlens.empty()) {
    const int64_t S = static_cast<int64_t>(p.cuSeqlens.size()) - 1;
    out.o.assign(p.heads * N * E, 0.0);
    for (int64_t i = 0; i < S; ++i) {
      Forward part = forward(sequence(p, i));
      scatterRows(p, i, part.o, E, out.o);
      out.final.insert(out.final.end(), part.final.begin(), part.final.end());
    }
    return out;
  }
  if (!p.causal)
    return nonCausalForward(p);
  out.o.assign(p.batch * p.heads * N * E, 0.0);
  out.final.assign(p.batch * p.heads * D * E, 0.0);
  forEachHead(p.batch * p.heads, [&](int64_t bh) {
      std::vector<double> S(D * E);
      if (p.initial.empty())
        std::fill(S.begin(), S.end(), 0.0);
      else
        std::copy(p.initial.begin() + bh * D * E,
                  p.initial.begin() + (bh + 1) * D * E, S.begin());
      for (int64_t t = 0; t < N; ++t) {
        double lambda = p.decay(bh, t);
        const double *q = &p.q[(bh * N + t) * D];
        const double *k = &p.k[(bh * N + t) * D];
        const double *v = &p.v[(bh * N + t) * E];
        for (int64_t i = 0; i < D; ++i)
          for (int64_t j = 0; j < E; ++j)
            S[i * E + j] = lambda * S[i * E + j] + k[i] * v[j];
        double *o = &out.o[(bh * N + t) * E];
        for (int64_t i = 0; i < D; ++i)
          for (int64_t j = 0; j < E; ++j)
            o[j] += p.scale * q[i] * S[i * E + j];
      }
      std::copy(S.begin(), S.end(), out.final.begin() + bh * D * E);
  });
  return out;
}

Backward backward(const Problem &p, const std::vector<double> &dO,
                  const std::vector<double> &dFinal) {
  const int64_t N = p.seq, D = p.d, E = p.e;
  Backward out;
  if (!p.cuSeqlens.empty()) {
    const int64_t S = static_cast<int64_t>(p.cuSeqlens.size()) - 1;
    out.dq.assign(p.heads * N * D, 0.0);
    out.dk.assign(p.heads * N * D, 0.0);
    out.dv.assign(p.heads * N * E, 0.0);
    if (!p.gates.empty())
      out.dGates.assign(p.heads * N, 0.0);
    for (int64_t i = 0; i < S; ++i) {
      Problem s = sequence(p, i);
      Backward part = backward(s, rowsOf(p, i, dO, E), stateOf(p, dFinal, i));
      scatterRows(p, i, part.dq, D, out.dq);
      scatterRows(p, i, part.dk, D, out.dk);
      scatterRows(p, i, part.dv, E, out.dv);
      if (!out.dGates.empty())
        scatterRows(p, i, part.dGates, 1, out.dGates);
      out.dInitial.insert(out.dInitial.end(), part.dInitial.begin(),
                          part.dInitial.end());
    }
    return out;
  }
  if (!p.causal)
    return nonCausalBackward(p, dO);
  out.dq.assign(p.batch * p.heads * N * D, 0.0);
  out.dk.assign(p.batch * p.heads * N * D, 0.0);
  out.dv.assign(p.batch * p.heads * N * E, 0.0);
  if (!p.initial.empty())
    out.dInitial.assign(p.batch * p.heads * D * E, 0.0);
  if (!p.gates.empty())
    out.dGates.assign(p.batch * p.heads * N, 0.0);
  forEachHead(p.batch * p.heads, [&](int64_t bh) {
      std::vector<double> S(D * E), G(D * E);
      // Gated: every S_{t−1} kept for ∂L/∂g_t (test sizes only).
      bool gated = !p.gates.empty();
      std::vector<double> before(gated ? N * D * E : 0);
      // dq_t = scale · dO_t S_tᵀ, with S_t replayed forward.
      if (p.initial.empty())
        std::fill(S.begin(), S.end(), 0.0);
      else
        std::copy(p.initial.begin() + bh * D * E,
                  p.initial.begin() + (bh + 1) * D * E, S.begin());
      for (int64_t t = 0; t < N; ++t) {
        double lambda = p.decay(bh, t);
        if (gated)
          std::copy(S.begin(), S.end(), before.begin() + t * D * E);
        const double *k = &p.k[(bh * N + t) * D];
        const double *v = &p.v[(bh * N + t) * E];
        const double *go = &dO[(bh * N + t) * E];
        double *dq = &out.dq[(bh * N + t) * D];
        for (int64_t i = 0; i < D; ++i) {
          double acc = 0;
          for (int64_t j = 0; j < E; ++j) {
            S[i * E + j] = lambda * S[i * E + j] + k[i] * v[j];
            acc += go[j] * S[i * E + j];
          }
          dq[i] = p.scale * acc;
        }
      }
      // G_t = ∂L/∂S_t, swept backwards: G_t = λ G_{t+1} + scale · q_tᵀ dO_t;
      // dk_t = v_t G_tᵀ, dv_t = k_t G_t.
      if (dFinal.empty())
        std::fill(G.begin(), G.end(), 0.0);
      else
        std::copy(dFinal.begin() + bh * D * E,
                  dFinal.begin() + (bh + 1) * D * E, G.begin());
      for (int64_t t = N - 1; t >= 0; --t) {
        const double *q = &p.q[(bh * N + t) * D];
        const double *k = &p.k[(bh * N + t) * D];
        const double *v = &p.v[(bh * N + t) * E];
        const double *go = &dO[(bh * N + t) * E];
        for (int64_t i = 0; i < D; ++i)
          for (int64_t j = 0; j < E; ++j)
            G[i * E + j] += p.scale * q[i] * go[j];
        double *dk = &out.dk[(bh * N + t) * D];
        double *dv = &out.dv[(bh * N + t) * E];
        for (int64_t i = 0; i < D; ++i) {
          double acc = 0;
          for (int64_t j = 0; j < E; ++j)
            acc += v[j] * G[i * E + j];
          dk[i] = acc;
        }
        for (int64_t j = 0; j < E; ++j) {
          double acc = 0;
          for (int64_t i = 0; i < D; ++i)
            acc += k[i] * G[i * E + j];
          dv[j] = acc;
        }
        double lambda = p.decay(bh, t);
        if (gated) {
          double dot = 0;
          for (int64_t i = 0; i < D * E; ++i)
            dot += before[t * D * E + i] * G[i];
          out.dGates[bh * N + t] = lambda * dot;
        }
        for (double &g : G)
          g *= lambda;
      }
      // After the sweep G = λ G_0 = ∂L/∂S_{−1}, the initial state's gradient.
      if (!p.initial.empty())
        std::copy(G.begin(), G.end(), out.dInitial.begin() + bh * D * E);
  });
  return out;
}

double relativeError(const std::vector<double> &a,
                     const std::vector<double> &b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
  }
  if (a.size() != b.size())
    return INFINITY;
  if (std::isnan(num))
    return NAN;
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

} // namespace tessel::reference
