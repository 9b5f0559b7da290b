// Random problem generation, layout conversion and comparison with the
// float64 reference.
#include "kernels/LightningCheck.h"

#include "kernels/Reference.h"
#include "runtime/Half.h"

#include "fmt/format.h"
#include "fmt/ranges.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

namespace tessel {

std::string LightningProblem::str() const {
  return fmt::format("B={} H={} N={} D={} E={} {} {}{}{}{}{}{}{}{} seed={}", batch,
                     heads, seq, d, e, layoutName(layout), dtypeName(dtype),
                     initialState ? " +S0" : "", finalState ? " +SN" : "",
                     backward ? " bwd" : "",
                     decodeSteps ? fmt::format(" decode {}", decodeSteps) : "",
                     gateRange ? fmt::format(" gates [{}, {}]", gateRange->first,
                                             gateRange->second)
                               : "",
                     seqLens.empty()
                         ? ""
                         : fmt::format(" varlen {}", fmt::join(seqLens, ",")),
                     causal ? "" : " non-causal", seed);
}

std::vector<float> alibiSlopes(int64_t heads) {
  std::vector<float> s(heads);
  for (int64_t h = 0; h < heads; ++h)
    s[h] = std::exp2(-8.0 * static_cast<double>(h + 1) / heads);
  return s;
}

double toleranceFor(DType dtype) {
  return dtype == DType::f32 ? 1e-3 : 1e-2;
}

bool LightningCheckResult::ok() const {
  for (auto &[name, err] : errors)
    if (!(err <= toleranceOf(name)))
      return false;
  return !errors.empty();
}

double LightningCheckResult::worst() const {
  double w = 0;
  for (auto &[name, err] : errors)
    w = std::isnan(err) ? err : std::max(w, err);
  return w;
}

namespace {

double roundTo(DType t, double x) {
  if (t == DType::bf16) return roundToBF16(x);
  if (t == DType::f16) return roundToF16(x);
  return static_cast<float>(x);
}

void writeElem(DType t, void *p, double x) {
  if (t == DType::f32) {
    float v = static_cast<float>(x);
    std::memcpy(p, &v, 4);
  } else {
    uint16_t h = t == DType::bf16 ? floatToBF16Bits(static_cast<float>(x))
                                  : floatToF16Bits(static_cast<float>(x));
    std::memcpy(p, &h, 2);
  }
}

double readElem(DType t, const void *p) {
  if (t == DType::f32) {
    float v;
    std::memcpy(&v, p, 4);
    return v;
  }
  uint16_t h;
  std::memcpy(&h, p, 2);
  return t == DType::bf16 ? bf16BitsToFloat(h) : f16BitsToFloat(h);
}

struct Activation {
  int64_t b, h, n, x;
  Layout layout;
  DType dtype;
  std::vector<uint8_t> bytes;

  Activation(int64_t b, int64_t h, int64_t n, int64_t x, Layout layout,
             DType dtype)
      : b(b), h(h), n(n), x(x), layout(layout), dtype(dtype),
        bytes(b * h * n * x * dtypeSize(dtype)) {}

  size_t offset(int64_t ib, int64_t ih, int64_t in, int64_t ix) const {
    size_t idx = layout == Layout::BHND ? ((ib * h + ih) * n + in) * x + ix
                                        : ((ib * n + in) * h + ih) * x + ix;
    return idx * dtypeSize(dtype);
  }
  TensorRef ref() {
    TensorRef r;
    r.data = bytes.data();
    r.dtype = dtype;
    r.shape = layout == Layout::BHND ? std::vector<int64_t>{b, h, n, x}
                                     : std::vector<int64_t>{b, n, h, x};
    return r;
  }
  /// Rows [first, first + count) of every (b, h), as a strided view.
  TensorRef rows(int64_t first, int64_t count) {
    TensorRef r = ref();
    r.data = bytes.data() + offset(0, 0, first, 0);
    r.strides = r.effectiveStrides();
    r.shape[layout == Layout::BHND ? 2 : 1] = count;
    return r;
  }
  /// Fills with N(0, 1) values rounded to the dtype; returns them in logical
  /// (B, H, N, X) order.
  std::vector<double> randomize(std::mt19937_64 &rng) {
    std::normal_distribution<double> dist(0.0, 1.0);
    std::vector<double> logical(b * h * n * x);
    size_t k = 0;
    for (int64_t ib = 0; ib < b; ++ib)
      for (int64_t ih = 0; ih < h; ++ih)
        for (int64_t in = 0; in < n; ++in)
          for (int64_t ix = 0; ix < x; ++ix) {
            double v = roundTo(dtype, dist(rng));
            writeElem(dtype, &bytes[offset(ib, ih, in, ix)], v);
            logical[k++] = v;
          }
    return logical;
  }
  /// NaN everywhere, so an element the kernel never wrote shows up.
  void poison() {
    for (size_t i = 0; i < bytes.size(); i += dtypeSize(dtype))
      writeElem(dtype, &bytes[i], std::numeric_limits<double>::quiet_NaN());
  }
  std::vector<double> logical() const {
    std::vector<double> out(b * h * n * x);
    size_t k = 0;
    for (int64_t ib = 0; ib < b; ++ib)
      for (int64_t ih = 0; ih < h; ++ih)
        for (int64_t in = 0; in < n; ++in)
          for (int64_t ix = 0; ix < x; ++ix)
            out[k++] = readElem(dtype, &bytes[offset(ib, ih, in, ix)]);
    return out;
  }
};

struct State {
  std::vector<float> data;
  int64_t b, h, d, e;
  State(int64_t b, int64_t h, int64_t d, int64_t e)
      : data(b * h * d * e, std::numeric_limits<float>::quiet_NaN()), b(b),
        h(h), d(d), e(e) {}
  TensorRef ref() {
    TensorRef r;
    r.data = data.data();
    r.dtype = DType::f32;
    r.shape = {b, h, d, e};
    return r;
  }
  std::vector<double> randomize(std::mt19937_64 &rng) {
    std::normal_distribution<float> dist(0.0f, 1.0f);
    for (float &x : data)
      x = dist(rng);
    return std::vector<double>(data.begin(), data.end());
  }
  std::vector<double> values() const {
    return std::vector<double>(data.begin(), data.end());
  }
};

} // namespace

llvm::Expected<LightningCheckResult>
checkLightning(const LightningProblem &p, const LightningOptions &options) {
  if (p.gateRange && !(p.gateRange->first <= p.gateRange->second &&
                       p.gateRange->second <= 0))
    return llvm::createStringError(
        "gate range must be lo ≤ hi ≤ 0 (log-decays), got [" +
        std::to_string(p.gateRange->first) + ", " +
        std::to_string(p.gateRange->second) + "]");
  if (p.decodeSteps > 0 && !p.causal)
    return llvm::createStringError(
        "decode steps are causal (each token sees the ones before it); they "
        "do not continue a non-causal forward");
  if (p.decodeSteps < 0 || (p.decodeSteps > 0 && p.backward))
    return llvm::createStringError(
        "decode steps must be ≥ 0 and apply to the forward only, got " +
        std::to_string(p.decodeSteps) + (p.backward ? " with the backward" : ""));
  // A varlen batch: its offsets, and (S, H, D, E) states.
  const bool varlen = !p.seqLens.empty();
  std::vector<int32_t> cu{0};
  if (varlen) {
    if (p.batch != 1)
      return llvm::createStringError(
          "a variable-length batch packs its sequences into batch 1, got B=" +
          std::to_string(p.batch));
    if (p.decodeSteps > 0)
      return llvm::createStringError(
          "decode steps with a variable-length batch are not checked here");
    for (int64_t len : p.seqLens) {
      if (len < 0)
        return llvm::createStringError("a sequence length must be ≥ 0, got " +
                                       std::to_string(len));
      cu.push_back(static_cast<int32_t>(cu.back() + len));
    }
    if (cu.back() != p.seq)
      return llvm::createStringError(
          "the sequence lengths sum to " + std::to_string(cu.back()) +
          ", not N = " + std::to_string(p.seq));
  }
  const int64_t stateBatch =
      varlen ? static_cast<int64_t>(p.seqLens.size()) : p.batch;
  TensorRef cuRef;
  if (varlen) {
    cuRef.data = cu.data();
    cuRef.dtype = DType::i32;
    cuRef.shape = {static_cast<int64_t>(cu.size())};
  }
  std::mt19937_64 rng(p.seed);
  Activation q(p.batch, p.heads, p.seq, p.d, p.layout, p.dtype);
  Activation k(p.batch, p.heads, p.seq, p.d, p.layout, p.dtype);
  Activation v(p.batch, p.heads, p.seq, p.e, p.layout, p.dtype);
  reference::Problem ref;
  ref.batch = p.batch, ref.heads = p.heads, ref.seq = p.seq, ref.d = p.d,
  ref.e = p.e, ref.scale = p.scale;
  ref.cuSeqlens.assign(cu.begin(), varlen ? cu.end() : cu.begin());
  ref.causal = p.causal;
  ref.q = q.randomize(rng);
  ref.k = k.randomize(rng);
  ref.v = v.randomize(rng);
  std::vector<float> slopes = p.slopes;
  ref.slopes.assign(slopes.begin(), slopes.end());
  TensorRef slopesRef;
  slopesRef.data = slopes.data();
  slopesRef.dtype = DType::f32;
  slopesRef.shape = {static_cast<int64_t>(slopes.size())};
  State s0(stateBatch, p.heads, p.d, p.e);
  if (p.initialState)
    ref.initial = s0.randomize(rng);
  // Gates in the layout's order ((B, H, N) or (B, N, H)), the reference's in
  // (B, H, N).
  std::vector<float> gates;
  TensorRef gatesRef;
  if (p.gateRange) {
    std::uniform_real_distribution<float> dist(p.gateRange->first,
                                               p.gateRange->second);
    bool bhnd = p.layout == Layout::BHND;
    gates.resize(p.batch * p.heads * p.seq);
    ref.gates.resize(gates.size());
    for (int64_t b = 0; b < p.batch; ++b)
      for (int64_t h = 0; h < p.heads; ++h)
        for (int64_t n = 0; n < p.seq; ++n) {
          float g = std::min(dist(rng), p.gateRange->second);
          int64_t at = bhnd ? (b * p.heads + h) * p.seq + n
                            : (b * p.seq + n) * p.heads + h;
          gates[at] = g;
          ref.gates[(b * p.heads + h) * p.seq + n] = g;
        }
    gatesRef.data = gates.data();
    gatesRef.dtype = DType::f32;
    gatesRef.shape = bhnd ? std::vector<int64_t>{p.batch, p.heads, p.seq}
                          : std::vector<int64_t>{p.batch, p.seq, p.heads};
  }
  // Rows [first, first + count) of the gates, strided like the whole.
  auto gateRows = [&](int64_t first, int64_t count) {
    TensorRef r = gatesRef;
    r.strides = r.effectiveStrides();
    bool bhnd = p.layout == Layout::BHND;
    r.data = gates.data() + first * (bhnd ? 1 : p.heads);
    r.shape[bhnd ? 2 : 1] = count;
    return r;
  };

  LightningCheckResult result;
  result.tolerance = toleranceFor(p.dtype);
  if (p.gateRange)
    result.gateTolerance = 5 * result.tolerance;
  auto start = std::chrono::steady_clock::now();
  if (!p.backward) {
    Activation o(p.batch, p.heads, p.seq, p.e, p.layout, p.dtype);
    o.poison();
    State sN(stateBatch, p.heads, p.d, p.e);
    LightningForwardArgs args;
    args.q = q.ref(), args.k = k.ref(), args.v = v.ref(), args.o = o.ref();
    args.layout = p.layout;
    if (p.gateRange)
      args.gates = gatesRef;
    else
      args.slopes = slopesRef;
    args.scale = p.scale;
    args.cuSeqlens = cuRef;
    args.causal = p.causal;
    if (p.initialState) args.initialState = s0.ref();
    if (p.finalState) args.finalState = sN.ref();
    if (p.decodeSteps > 0) {
      if (p.decodeSteps > p.seq)
        return llvm::createStringError(
            "decode steps (" + std::to_string(p.decodeSteps) +
            ") exceed the sequence (" + std::to_string(p.seq) + ")");
      // The running state starts as S0 (or zeros) and ends as S_N.
      const int64_t prefill = p.seq - p.decodeSteps;
      sN.data.assign(sN.data.size(), 0.0f);
      if (p.initialState) sN.data = s0.data;
      if (prefill > 0) {
        LightningForwardArgs pre = args;
        pre.q = q.rows(0, prefill), pre.k = k.rows(0, prefill);
        pre.v = v.rows(0, prefill), pre.o = o.rows(0, prefill);
        if (p.gateRange) pre.gates = gateRows(0, prefill);
        pre.finalState = sN.ref();
        if (auto err = lightningForward(pre, options))
          return std::move(err);
      }
      for (int64_t t = prefill; t < p.seq; ++t) {
        LightningDecodeArgs step;
        step.q = q.rows(t, 1), step.k = k.rows(t, 1), step.v = v.rows(t, 1);
        step.o = o.rows(t, 1);
        step.layout = p.layout;
        if (p.gateRange)
          step.gates = gateRows(t, 1);
        else
          step.slopes = slopesRef;
        step.scale = p.scale;
        step.state = sN.ref();
        if (auto err = lightningDecode(step, options))
          return std::move(err);
      }
    } else if (auto err = lightningForward(args, options)) {
      return std::move(err);
    }
    result.seconds = std::chrono::duration<double>(
                         std::chrono::steady_clock::now() - start).count();
    auto want = reference::forward(ref);
    result.errors.push_back({"o", reference::relativeError(o.logical(), want.o)});
    if (p.finalState)
      result.errors.push_back(
          {"final_state", reference::relativeError(sN.values(), want.final)});
    return result;
  }

  Activation dO(p.batch, p.heads, p.seq, p.e, p.layout, p.dtype);
  std::vector<double> dOValues = dO.randomize(rng);
  State dSN(stateBatch, p.heads, p.d, p.e);
  std::vector<double> dSNValues;
  if (p.finalState)
    dSNValues = dSN.randomize(rng);
  Activation dq(p.batch, p.heads, p.seq, p.d, p.layout, p.dtype);
  Activation dk(p.batch, p.heads, p.seq, p.d, p.layout, p.dtype);
  Activation dv(p.batch, p.heads, p.seq, p.e, p.layout, p.dtype);
  dq.poison(), dk.poison(), dv.poison();
  State dS0(stateBatch, p.heads, p.d, p.e);
  LightningBackwardArgs args;
  args.q = q.ref(), args.k = k.ref(), args.v = v.ref(), args.dO = dO.ref();
  args.dq = dq.ref(), args.dk = dk.ref(), args.dv = dv.ref();
  args.layout = p.layout;
  // dL/dg in the gates' layout, poisoned.
  std::vector<float> dGates(gates.size(), std::numeric_limits<float>::quiet_NaN());
  if (p.gateRange) {
    args.gates = gatesRef;
    args.dGates = gatesRef;
    args.dGates.data = dGates.data();
  } else {
    args.slopes = slopesRef;
  }
  args.scale = p.scale;
  args.cuSeqlens = cuRef;
  args.causal = p.causal;
  if (p.initialState) {
    args.initialState = s0.ref();
    args.dInitialState = dS0.ref();
  }
  if (p.finalState) args.dFinalState = dSN.ref();
  if (auto err = lightningBackward(args, options))
    return std::move(err);
  result.seconds = std::chrono::duration<double>(
                       std::chrono::steady_clock::now() - start).count();
  auto want = reference::backward(ref, dOValues, dSNValues);
  result.errors.push_back({"dq", reference::relativeError(dq.logical(), want.dq)});
  result.errors.push_back({"dk", reference::relativeError(dk.logical(), want.dk)});
  result.errors.push_back({"dv", reference::relativeError(dv.logical(), want.dv)});
  if (p.initialState)
    result.errors.push_back({"d_initial_state",
                             reference::relativeError(dS0.values(), want.dInitial)});
  if (p.gateRange) {
    // Back to (B, H, N) order.
    bool bhnd = p.layout == Layout::BHND;
    std::vector<double> got(dGates.size());
    for (int64_t b = 0; b < p.batch; ++b)
      for (int64_t h = 0; h < p.heads; ++h)
        for (int64_t n = 0; n < p.seq; ++n)
          got[(b * p.heads + h) * p.seq + n] =
              dGates[bhnd ? (b * p.heads + h) * p.seq + n
                          : (b * p.seq + n) * p.heads + h];
    result.errors.push_back({"d_gates", reference::relativeError(got, want.dGates)});
  }
  return result;
}

} // namespace tessel
