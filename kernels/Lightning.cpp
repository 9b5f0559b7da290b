// Argument validation, kernel caching and launch for Lightning Attention-2.
// Every mistake a caller can make with shapes, dtypes, strides, slopes or
// states is reported by name before any kernel runs.
#include "kernels/Lightning.h"

#include "kernels/LightningTuning.h"
#include "runtime/CudaDriver.h"

#include "fmt/format.h"
#include "fmt/ranges.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <tuple>

namespace tessel {

using kernels::LightningConfig;
using kernels::LightningSpec;

std::vector<int64_t> TensorRef::effectiveStrides() const {
  bool given = std::any_of(strides.begin(), strides.end(),
                           [](int64_t s) { return s != 0; });
  if (given)
    return strides;
  std::vector<int64_t> s(shape.size(), 1);
  for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i)
    s[i] = s[i + 1] * shape[i + 1];
  return s;
}

LaunchArg bufferArg(const TensorRef &t) {
  if (t.onDevice)
    return LaunchArg::deviceBuffer(reinterpret_cast<uint64_t>(t.data),
                                   t.extentBytes(), t.dtype);
  return LaunchArg::buffer(t.data, t.extentBytes(), t.dtype);
}

size_t TensorRef::extentBytes() const {
  auto s = effectiveStrides();
  int64_t last = 0;
  for (size_t i = 0; i < shape.size(); ++i)
    last += (shape[i] - 1) * s[i];
  return static_cast<size_t>(last + 1) * dtypeSize(dtype);
}

const char *layoutName(Layout layout) {
  return layout == Layout::BHND ? "bhnd" : "bnhd";
}

namespace {

llvm::Error fail(const std::string &message) {
  return llvm::createStringError(message);
}

std::string dimsOf(Layout layout, char last) {
  return layout == Layout::BHND ? fmt::format("(B, H, N, {})", last)
                                : fmt::format("(B, N, H, {})", last);
}

/// A validated 4-D activation: its logical (b, h, n, ·) sizes and strides.
struct View {
  int64_t b, h, n, x;
  int64_t sb, sh, sn;
};

/// A data pointer must be aligned to its elements: the kernels access whole
/// elements (and wider vectors where the launcher proves more), and a
/// misaligned access on the GPU is a sticky error that ends the context.
llvm::Error checkAligned(const TensorRef &t, const char *name) {
  size_t bytes = dtypeSize(t.dtype);
  auto addr = reinterpret_cast<uintptr_t>(t.data);
  if (t.present() && addr % bytes != 0)
    return fail(fmt::format("{}: data pointer {:#x} is not aligned to its "
                            "{}-byte {} elements",
                            name, addr, bytes, dtypeName(t.dtype)));
  return llvm::Error::success();
}

llvm::Expected<View> checkActivation(const TensorRef &t, const char *name,
                                     Layout layout, char lastDim) {
  // Shape first: an empty tensor (N = 0) may legitimately have no data, and
  // its real problem is the empty dimension, not the pointer.
  if (t.shape.size() != 4)
    return fail(fmt::format("{}: expected a 4-D tensor {} for layout {}, got "
                            "shape [{}]",
                            name, dimsOf(layout, lastDim), layoutName(layout),
                            fmt::join(t.shape, ", ")));
  if (!t.strides.empty() && t.strides.size() != 4)
    return fail(fmt::format("{}: expected 4 strides, got {}", name,
                            t.strides.size()));
  for (int64_t d : t.shape)
    if (d < 1)
      return fail(fmt::format("{}: every dimension must be ≥ 1, got shape [{}]"
                              "{}",
                              name, fmt::join(t.shape, ", "),
                              d == 0 ? " (an empty sequence, N = 0, has "
                                       "nothing to attend to)"
                                     : ""));
  if (!t.present())
    return fail(fmt::format("{}: data pointer is null", name));
  if (auto err = checkAligned(t, name))
    return err;
  auto s = t.effectiveStrides();
  if (s[3] != 1)
    return fail(fmt::format(
        "{}: the last dimension must be contiguous (stride 1), got strides "
        "[{}]; pass a view whose rows are contiguous",
        name, fmt::join(s, ", ")));
  for (int64_t st : s)
    if (st < 1)
      return fail(fmt::format("{}: strides must be positive, got [{}]", name,
                              fmt::join(s, ", ")));
  View v;
  v.b = t.shape[0];
  v.x = t.shape[3];
  v.sb = s[0];
  if (layout == Layout::BHND) {
    v.h = t.shape[1], v.n = t.shape[2], v.sh = s[1], v.sn = s[2];
  } else {
    v.n = t.shape[1], v.h = t.shape[2], v.sn = s[1], v.sh = s[2];
  }
  return v;
}

/// Outputs must not have two indices on one element.
llvm::Error checkNoSelfOverlap(const TensorRef &t, const char *name) {
  auto s = t.effectiveStrides();
  std::vector<int> order(s.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](int a, int b) { return s[a] < s[b]; });
  int64_t span = 1;
  for (int d : order) {
    if (t.shape[d] > 1 && s[d] < span)
      return fail(fmt::format("{}: strides [{}] make elements of shape [{}] "
                              "overlap; an output needs a non-overlapping "
                              "layout",
                              name, fmt::join(s, ", "),
                              fmt::join(t.shape, ", ")));
    if (t.shape[d] > 1)
      span = s[d] * t.shape[d];
  }
  return llvm::Error::success();
}

bool rangesOverlap(const TensorRef &a, const TensorRef &b) {
  auto a0 = reinterpret_cast<uintptr_t>(a.data), b0 = reinterpret_cast<uintptr_t>(b.data);
  return a0 < b0 + b.extentBytes() && b0 < a0 + a.extentBytes();
}

llvm::Error checkSameDType(const TensorRef &t, const char *name,
                           const TensorRef &ref, const char *refName) {
  if (t.dtype != ref.dtype)
    return fail(fmt::format("{}: dtype {} differs from {}'s {}", name,
                            dtypeName(t.dtype), refName, dtypeName(ref.dtype)));
  return llvm::Error::success();
}

/// An optional tensor is either absent (a default TensorRef) or has data: a
/// shape without data is a caller's slip that would silently drop the state.
llvm::Error checkOptional(const TensorRef &t, const char *name) {
  if (!t.present() && (!t.shape.empty() || !t.strides.empty()))
    return fail(fmt::format("{}: data pointer is null but shape [{}] was "
                            "given; leave the TensorRef empty to omit it",
                            name, fmt::join(t.shape, ", ")));
  return llvm::Error::success();
}

llvm::Error checkState(const TensorRef &t, const char *name,
                       const LightningDims &dims) {
  std::vector<int64_t> want{dims.batch, dims.heads, dims.d, dims.e};
  if (t.shape != want)
    return fail(fmt::format("{}: expected shape [{}] (B, H, D, E), got [{}]",
                            name, fmt::join(want, ", "),
                            fmt::join(t.shape, ", ")));
  if (t.dtype != DType::f32)
    return fail(fmt::format("{}: the state is fp32, got {}", name,
                            dtypeName(t.dtype)));
  if (auto err = checkAligned(t, name))
    return err;
  if (!t.strides.empty() && t.strides.size() != 4)
    return fail(fmt::format("{}: expected 4 strides, got {}", name,
                            t.strides.size()));
  TensorRef contiguous = t;
  contiguous.strides.clear();
  if (t.effectiveStrides() != contiguous.effectiveStrides())
    return fail(fmt::format("{}: must be contiguous, got strides [{}]", name,
                            fmt::join(t.effectiveStrides(), ", ")));
  return llvm::Error::success();
}

llvm::Error checkSlopes(const TensorRef &t, int64_t heads) {
  if (!t.present())
    return fail("slopes: data pointer is null (pass H zeros for no decay)");
  if (t.dtype != DType::f32)
    return fail(fmt::format("slopes: dtype must be f32, got {}",
                            dtypeName(t.dtype)));
  if (auto err = checkAligned(t, "slopes"))
    return err;
  if (t.shape.size() != 1 || t.shape[0] != heads)
    return fail(fmt::format("slopes: expected one value per head, shape [{}], "
                            "got [{}]",
                            heads, fmt::join(t.shape, ", ")));
  if (t.strides.size() > 1)
    return fail(fmt::format("slopes: expected 1 stride, got {}",
                            t.strides.size()));
  auto stride = t.effectiveStrides();
  if (stride[0] != 1)
    return fail(fmt::format("slopes: must be contiguous, got stride {}",
                            stride[0]));
  // Device memory cannot be read here; the values are the caller's contract.
  if (t.onDevice)
    return llvm::Error::success();
  const float *s = static_cast<const float *>(t.data);
  for (int64_t h = 0; h < heads; ++h)
    if (!std::isfinite(s[h]) || s[h] < 0)
      return fail(fmt::format("slopes[{}] = {}: a decay rate must be a finite "
                              "number ≥ 0 (λ = exp(−s) ≤ 1)",
                              h, s[h]));
  return llvm::Error::success();
}

/// The (b, h, n) strides of a simple GLA's gates (or, `output`, of their
/// gradient `name`): f32, (B, H, N) in bhnd order or (B, N, H) in bnhd,
/// positive strides; gates on the host must be finite log-decays ≤ 0, a
/// gradient must not overlap itself.
llvm::Expected<std::array<int64_t, 3>> checkGates(const TensorRef &t,
                                                  const LightningDims &dims,
                                                  Layout layout,
                                                  const char *name = "gates",
                                                  bool output = false) {
  if (t.dtype != DType::f32)
    return fail(fmt::format("{}: dtype must be f32, got {}", name,
                            dtypeName(t.dtype)));
  if (auto err = checkAligned(t, name))
    return std::move(err);
  bool bhnd = layout == Layout::BHND;
  std::vector<int64_t> want = bhnd ? std::vector<int64_t>{dims.batch, dims.heads, dims.seq}
                                   : std::vector<int64_t>{dims.batch, dims.seq, dims.heads};
  if (t.shape != want)
    return fail(fmt::format("{}: expected shape [{}] ({}), got [{}]", name,
                            fmt::join(want, ", "), bhnd ? "B, H, N" : "B, N, H",
                            fmt::join(t.shape, ", ")));
  if (!t.strides.empty() && t.strides.size() != 3)
    return fail(fmt::format("{}: expected 3 strides, got {}", name,
                            t.strides.size()));
  auto s = t.effectiveStrides();
  for (int64_t st : s)
    if (st < 1)
      return fail(fmt::format("{}: strides must be positive, got [{}]", name,
                              fmt::join(s, ", ")));
  std::array<int64_t, 3> bhn = bhnd ? std::array<int64_t, 3>{s[0], s[1], s[2]}
                                    : std::array<int64_t, 3>{s[0], s[2], s[1]};
  if (output) {
    if (auto err = checkNoSelfOverlap(t, name))
      return std::move(err);
    return bhn;
  }
  if (!t.onDevice) {
    const float *g = static_cast<const float *>(t.data);
    for (int64_t b = 0; b < dims.batch; ++b)
      for (int64_t h = 0; h < dims.heads; ++h)
        for (int64_t n = 0; n < dims.seq; ++n) {
          float x = g[b * bhn[0] + h * bhn[1] + n * bhn[2]];
          if (!std::isfinite(x) || x > 0)
            return fail(fmt::format(
                "gates[{}, {}, {}] = {}: a log-decay must be a finite number "
                "≤ 0 (exp(g) ≤ 1)",
                b, bhnd ? h : n, bhnd ? n : h, x));
        }
  }
  return bhn;
}

/// The decay of a call: the per-head slopes, or a simple GLA's gates (their
/// (b, h, n) strides returned; zeros for slopes). Exactly one is given.
llvm::Expected<std::array<int64_t, 3>> checkDecay(const TensorRef &slopes,
                                                  const TensorRef &gates,
                                                  const LightningDims &dims,
                                                  Layout layout) {
  if (auto e = checkOptional(gates, "gates")) return std::move(e);
  if (!gates.present()) {
    if (auto e = checkSlopes(slopes, dims.heads)) return std::move(e);
    return std::array<int64_t, 3>{};
  }
  if (slopes.present())
    return fail("slopes and gates: a simple GLA's gates replace the slopes; "
                "pass one of them");
  return checkGates(gates, dims, layout);
}

/// A varlen batch's offsets (LightningForwardArgs::cuSeqlens): i32,
/// contiguous, S + 1 of them for S ≥ 1 sequences packed into q's one batch,
/// on q's side (host or device), 0 = c_0 ≤ … ≤ c_S = N. The values are read
/// (from the device: S + 1 integers, one synchronous copy after `stream`'s
/// queued work, which may be what writes them) because a wrong offset would
/// make the kernels read and write past the sequence. Returns S.
llvm::Expected<int64_t> checkCuSeqlens(const TensorRef &t, const TensorRef &q,
                                       const LightningDims &dims, int device,
                                       void *stream) {
  if (auto e = checkOptional(t, "cu_seqlens")) return std::move(e);
  if (t.dtype != DType::i32)
    return fail(fmt::format("cu_seqlens: dtype must be i32, got {}",
                            dtypeName(t.dtype)));
  if (auto err = checkAligned(t, "cu_seqlens")) return std::move(err);
  if (t.shape.size() != 1 || t.shape[0] < 2)
    return fail(fmt::format("cu_seqlens: expected shape [S + 1] with S ≥ 1 "
                            "sequences, got [{}]",
                            fmt::join(t.shape, ", ")));
  if (t.effectiveStrides()[0] != 1)
    return fail(fmt::format("cu_seqlens: must be contiguous, got stride {}",
                            t.effectiveStrides()[0]));
  if (t.onDevice != q.onDevice)
    return fail(fmt::format("cu_seqlens: on the {} but q is on the {}",
                            t.onDevice ? "device" : "host",
                            q.onDevice ? "device" : "host"));
  if (dims.batch != 1)
    return fail(fmt::format("cu_seqlens: a variable-length batch packs its "
                            "sequences into one batch, so B must be 1, got {}",
                            dims.batch));
  const int64_t count = t.shape[0] - 1;
  std::vector<int32_t> cu(count + 1);
  if (t.onDevice) {
    auto gpu = getCudaDevice(device);
    if (!gpu) return gpu.takeError();
    if (auto err = gpu->synchronize(static_cast<CUstream>(stream)))
      return std::move(err);
    if (auto err = gpu->copyToHost(cu.data(), reinterpret_cast<CUdeviceptr>(t.data),
                                   cu.size() * sizeof(int32_t)))
      return std::move(err);
  } else {
    std::copy_n(static_cast<const int32_t *>(t.data), cu.size(), cu.begin());
  }
  if (cu[0] != 0)
    return fail(fmt::format("cu_seqlens[0] = {}: the first sequence starts at "
                            "row 0",
                            cu[0]));
  for (int64_t i = 1; i <= count; ++i)
    if (cu[i] < cu[i - 1])
      return fail(fmt::format("cu_seqlens[{}] = {} < cu_seqlens[{}] = {}: the "
                              "offsets must not decrease",
                              i, cu[i], i - 1, cu[i - 1]));
  if (cu[count] != dims.seq)
    return fail(fmt::format("cu_seqlens[{}] = {}: the last offset must be the "
                            "packed length N = {}",
                            count, cu[count], dims.seq));
  return count;
}

/// Shared checks of q, k, v and the tensors shaped like them.
llvm::Expected<LightningDims>
checkQKV(const TensorRef &q, const TensorRef &k, const TensorRef &v,
         Layout layout, View &vq, View &vk, View &vv) {
  auto eq = checkActivation(q, "q", layout, 'D');
  if (!eq) return eq.takeError();
  auto ek = checkActivation(k, "k", layout, 'D');
  if (!ek) return ek.takeError();
  auto ev = checkActivation(v, "v", layout, 'E');
  if (!ev) return ev.takeError();
  vq = *eq, vk = *ek, vv = *ev;
  if (!isFloat(q.dtype))
    return fail(fmt::format("q: dtype must be bf16, f16 or f32, got {}",
                            dtypeName(q.dtype)));
  if (auto e = checkSameDType(k, "k", q, "q")) return std::move(e);
  if (auto e = checkSameDType(v, "v", q, "q")) return std::move(e);
  if (k.shape != q.shape)
    return fail(fmt::format("k: shape [{}] differs from q's [{}]",
                            fmt::join(k.shape, ", "), fmt::join(q.shape, ", ")));
  if (vv.b != vq.b || vv.h != vq.h || vv.n != vq.n)
    return fail(fmt::format("v: batch, heads and sequence length ({}, {}, {}) "
                            "differ from q's ({}, {}, {})",
                            vv.b, vv.h, vv.n, vq.b, vq.h, vq.n));
  LightningDims dims{vq.b, vq.h, vq.n, vq.x, vv.x};
  for (auto [dim, name] : {std::pair{dims.d, 'D'}, std::pair{dims.e, 'E'}})
    if (dim % 16 != 0 || dim > 256)
      return fail(fmt::format("head dimension {} = {} must be a multiple of 16 "
                              "in [16, 256]",
                              name, dim));
  // programId(0) numbers (b, h, column block), up to 256 / 16 blocks a head.
  constexpr int64_t kMaxPrograms = (int64_t(1) << 31) - 1;
  constexpr int64_t kMaxBlocksPerHead = 256 / 16;
  if (dims.seq > (int64_t(1) << 30) ||
      dims.batch * dims.heads > kMaxPrograms / kMaxBlocksPerHead)
    return fail(fmt::format("sequence length {} or B·H = {} exceeds the "
                            "kernels' 32-bit indexing (N ≤ 2^30, B·H ≤ {})",
                            dims.seq, dims.batch * dims.heads,
                            kMaxPrograms / kMaxBlocksPerHead));
  return dims;
}

llvm::Error checkOutputLike(const TensorRef &out, const char *name,
                            const TensorRef &like, const char *likeName,
                            Layout layout, View &view) {
  auto e = checkActivation(out, name, layout, likeName[0] == 'v' ? 'E' : 'D');
  if (!e) return e.takeError();
  view = *e;
  if (out.shape != like.shape)
    return fail(fmt::format("{}: shape [{}] must equal {}'s [{}]", name,
                            fmt::join(out.shape, ", "), likeName,
                            fmt::join(like.shape, ", ")));
  if (auto err = checkSameDType(out, name, like, likeName)) return err;
  return checkNoSelfOverlap(out, name);
}

llvm::Error checkDisjoint(const std::vector<std::pair<const TensorRef *, const char *>> &outs,
                          const std::vector<std::pair<const TensorRef *, const char *>> &all) {
  for (auto [o, oname] : outs) {
    if (!o->present())
      continue;
    for (auto [t, tname] : all)
      if (o != t && t->present() && rangesOverlap(*o, *t))
        return fail(fmt::format("{} overlaps {} in memory; outputs must not "
                                "alias other arguments",
                                oname, tname));
  }
  return llvm::Error::success();
}

/// Compiled kernels, built once per (pass, spec, config).
using Builder = llvm::Expected<Kernel> (*)(const LightningSpec &,
                                           const kernels::PassConfig &);
llvm::Expected<std::shared_ptr<const Kernel>>
getKernel(const char *pass, Builder build, const LightningSpec &spec,
          const kernels::PassConfig &config) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const Kernel>> cache;
  std::string key = std::string(pass) + "/" + spec.str() + "/" + config.str();
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(key);
  if (it != cache.end())
    return it->second;
  auto kernel = build(spec, config);
  if (!kernel)
    return kernel.takeError();
  auto shared = std::make_shared<const Kernel>(std::move(*kernel));
  cache.emplace(key, shared);
  return shared;
}

void pushStrides(std::vector<LaunchArg> &args, const View &v) {
  args.push_back(LaunchArg::i64(v.sb));
  args.push_back(LaunchArg::i64(v.sh));
  args.push_back(LaunchArg::i64(v.sn));
}

int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/// The grid of a sweep kernel over `dim` columns in blocks of `blockW`: its
/// column blocks per (b, h) adjacent in x, as the kernel numbers them
/// (kernels::columnBlocks), segments in z.
Grid sweepGrid(int64_t bh, int blockW, int dim, int64_t segments) {
  return Grid{bh * kernels::columnBlocks(blockW, dim), 1, segments};
}

/// The device's SM count and whether its kernels lower to wgmma; an H100's
/// 132 SMs and mma.sync for the interpreter (and when the device cannot be
/// opened: the launch will report that).
struct DeviceTraits {
  int sms = 132;
  bool wgmma = false;
};
DeviceTraits deviceTraits(const LightningOptions &options) {
  DeviceTraits traits;
  if (!usesGpu(options.backend))
    return traits;
  if (auto device = getCudaDevice(options.device)) {
    traits.sms = device->properties().smCount;
    traits.wgmma = wgmmaTarget(device->properties().arch());
  } else {
    llvm::consumeError(device.takeError());
  }
  return traits;
}

/// One pass's sequence split: `count` segments of `len` rows (whole
/// blocks; count 1 = none), and the refinement of its state pass
/// (stateRefinement): the state launch and the scan run over count·refine
/// fine segments of len/refine rows, the output launch reads every
/// refine-th scanned state.
struct Split {
  int64_t len = 0, count = 1, refine = 1;
  int64_t fineLen() const { return len / refine; }
  int64_t fineCount() const { return count * refine; }
};

/// TESSEL_STATE_REFINE: unset, 0 or 1, none (stateRefinement says why);
/// "auto", stateRefinement's k; k, the largest divisor of the segment's
/// blocks up to k. Returns 0 for "auto".
int64_t refinementSetting() {
  const char *v = std::getenv("TESSEL_STATE_REFINE");
  if (!v || !*v)
    return 1;
  if (std::string(v) == "auto")
    return 0;
  return std::max<int64_t>(1, std::atoll(v));
}

/// The split of a pass over `seq` rows at `p`, its state launch having
/// `programs` programs per segment and sweeping all segments but the last
/// when `skipsLast`.
Split splitOf(int64_t seq, const kernels::PassConfig &p, int64_t programs,
              bool skipsLast, int sms) {
  Split sp;
  sp.len = cdiv(cdiv(seq, p.splits), p.blockC) * p.blockC;
  sp.count = cdiv(seq, sp.len);
  if (sp.count == 1)
    return sp;
  int64_t chunks = sp.len / p.blockC;
  if (int64_t setting = refinementSetting()) {
    for (int64_t k = std::min(setting, chunks); k >= 1; --k)
      if (chunks % k == 0) {
        sp.refine = k;
        break;
      }
  } else {
    sp.refine = stateRefinement(programs, sp.count - (skipsLast ? 1 : 0),
                                chunks, sms);
  }
  return sp;
}

/// The arguments after segment_len of a segment-output launch: where its
/// incoming state lies among the refined segments (kernels' SegmentArgs):
/// the fine segment starting with it (forward) or ending with it (reverse).
void pushSlotArgs(std::vector<LaunchArg> &args, const Split &sp, bool reverse) {
  args.push_back(LaunchArg::i32(static_cast<int32_t>(sp.refine)));
  args.push_back(LaunchArg::i32(static_cast<int32_t>(reverse ? sp.refine - 1 : 0)));
}

} // namespace

namespace {

/// Per-thread scratch for the segment states: grow-only, in host memory for
/// calls on host tensors (the GPU launcher stages it like any argument) and
/// in device memory for calls on device tensors. Per thread and stream,
/// because calls from two threads, or on two streams, run concurrently and
/// must not share it; calls on one stream run in order. `slot`: one buffer
/// per use live at once (the gated backward's S_N and gate rows).
llvm::Expected<LaunchArg> segmentScratch(const LightningOptions &options,
                                         bool onDevice, size_t bytes,
                                         int slot = 0) {
  if (!onDevice) {
    thread_local std::map<int, std::vector<float>> hosts;
    std::vector<float> &host = hosts[slot];
    if (host.size() * 4 < bytes)
      host.assign(bytes / 4 + 1, 0.0f);
    return LaunchArg::buffer(host.data(), bytes, DType::f32);
  }
  thread_local std::map<std::tuple<int, void *, int>, DeviceBuffer> buffers;
  DeviceBuffer &buffer = buffers[{options.device, options.stream, slot}];
  if (buffer.size() < bytes) {
    auto device = getCudaDevice(options.device);
    if (!device)
      return device.takeError();
    // Free first, so peak memory stays at one buffer, once the stream's
    // kernels that use it are done.
    if (buffer.size())
      if (auto e = device->synchronize(static_cast<CUstream>(options.stream)))
        return std::move(e);
    buffer = DeviceBuffer();
    auto grown = DeviceBuffer::allocate(*device, bytes);
    if (!grown)
      return grown.takeError();
    buffer = std::move(*grown);
  }
  return LaunchArg::deviceBuffer(buffer.address(), bytes, DType::f32);
}

/// The flags of the chained split's hand-offs (one i64 per chain) and the
/// value this call counts them from. Grow-only and per thread like
/// segmentScratch, zeroed once when allocated; each call starts past every
/// value an earlier call left (`span` = its segments), so no call clears
/// them and a call whose launch failed leaves nothing behind to confuse the
/// next.
struct ChainFlags {
  LaunchArg arg;
  int64_t base = 0;
};
llvm::Expected<ChainFlags> chainFlags(const LightningOptions &options,
                                      bool onDevice, int64_t count,
                                      int64_t span) {
  struct Held {
    int64_t next = 0;
    std::vector<int64_t> host;
    DeviceBuffer device;
  };
  // By device and stream (as segmentScratch); device -1: host memory.
  thread_local std::map<std::pair<int, void *>, Held> held;
  Held &h = held[{onDevice ? options.device : -1, options.stream}];
  size_t bytes = size_t(count) * 8;
  ChainFlags flags;
  if (!onDevice) {
    if (h.host.size() < size_t(count)) {
      h.host.assign(size_t(count), 0);
      h.next = 0;
    }
    flags.arg = LaunchArg::buffer(h.host.data(), bytes, DType::i64);
  } else {
    if (h.device.size() < bytes) {
      auto device = getCudaDevice(options.device);
      if (!device)
        return device.takeError();
      h.device = DeviceBuffer();
      auto grown = DeviceBuffer::allocate(*device, bytes);
      if (!grown)
        return grown.takeError();
      if (auto e = grown->memset(0))
        return std::move(e);
      // The memset runs on the legacy default stream, which a non-blocking
      // stream's launches do not wait for.
      if (auto e = device->synchronize())
        return std::move(e);
      h.device = std::move(*grown);
      h.next = 0;
    }
    flags.arg = LaunchArg::deviceBuffer(h.device.address(), bytes, DType::i64);
  }
  flags.base = h.next + 1;
  h.next += span + 1;
  return flags;
}

/// TESSEL_SPLIT=chained: the forward's sequence split runs as one launch
/// whose segments hand their states on (buildLightningSegmentChained);
/// unset or "launches", as three (states, scan, outputs). Measured slower
/// on the H200 (bench/RESULTS.md, run 47), so opt-in; heads wider than 128
/// keep the three launches, where its state, contribution and hand-off
/// spill (ptxas: 0.9–1.1 KB at D = E = 256).
bool chainedSplit(const LightningSpec &spec) {
  const char *v = std::getenv("TESSEL_SPLIT");
  return v && std::string(v) == "chained" && spec.d <= 128 && spec.e <= 128;
}

/// The caller's configuration, else the heuristic one for this shape and
/// the device (`traits`: an H100's 132 SMs for the interpreter).
LightningConfig resolveConfig(const LightningOptions &options,
                              const DeviceTraits &traits,
                              const LightningDims &dims, DType dtype,
                              Layout layout, const LightningSpec &spec) {
  if (options.config)
    return *options.config;
  LightningShape shape = LightningShape::of(dims, dtype, layout,
                                            spec.initialState, spec.finalState);
  return heuristicLightningConfig(shape, traits.sms, traits.wgmma);
}

/// What a simple GLA, variable-length or non-causal (`!causal`) call does to
/// its configuration: whole sequences for `passes` (the segment scan decays
/// by one slope over segments of one length, forwards; a given split is an
/// error), and, for simple GLA
/// unless the caller gave the configuration, what keeps the 4-warp programs
/// from spilling (ptxas, D = E = 128, PtxAssembleDsl.SimpleGla*): 32
/// columns for the forward with both states (16–88 B at 64 on sm_90a,
/// 28–104 B on sm_80), otherwise at most 2 stages on sm_90a (4–16 B at 3
/// with S0 or none; the anti-causal sweep spills nothing), 1 with S_N
/// (12 B at 2). The
/// backward sweeps also load q (dq) or k (dk) for the gate rows q·dq − k·dk
/// (GateRows): dq runs 32 columns without wgmma (4 B on sm_80) or with dS_N,
/// which also writes S_N (92 B at 64), else 1 stage (52–96 B at 2); dk and
/// dv run 2 stages with dS_N or non-causal on sm_90a (8–20 B at 3) and 32
/// columns with dS_N on sm_80 (4–8 B at 64 and any stages). Everything else
/// runs 64 columns: half the programs of 32, and wgmma, whose swizzled
/// operands need 64 (at 32 every dot of dq and dk/dv fell back to mma.sync
/// and the gated backward at B64 N2048 took 8.5 ms against 3.7).
llvm::Error applyWholeSequenceLimits(
    LightningConfig &cfg, std::initializer_list<kernels::LightningPass> passes,
    const LightningSpec &spec, bool causal, bool given, bool wgmma) {
  if (!spec.gated && !spec.varlen && causal)
    return llvm::Error::success();
  for (kernels::LightningPass pass : passes) {
    kernels::PassConfig &p = cfg[pass];
    if (given && p.splits > 1)
      return fail(fmt::format("LightningConfig.{}.splits = {}: a {} does not "
                              "split the sequence yet; use 1",
                              pass == kernels::LightningPass::Forward
                                  ? "fwd"
                                  : kernels::passName(pass) + 4,
                              p.splits,
                              spec.gated    ? "simple GLA (gates)"
                              : spec.varlen ? "variable-length batch (cu_seqlens)"
                                            : "non-causal call (causal = false)"));
    p.splits = 1;
    if (given || !spec.gated || p.numWarps != 4)
      continue;
    switch (pass) {
    case kernels::LightningPass::Forward:
      if (spec.initialState && spec.finalState)
        p.blockW = std::min(p.blockW, 32);
      else if (wgmma)
        p.stages = std::min(p.stages, spec.finalState ? 1 : 2);
      break;
    case kernels::LightningPass::BackwardDq:
      if (!wgmma || spec.finalState)
        p.blockW = std::min(p.blockW, 32);
      else
        p.stages = 1;
      break;
    case kernels::LightningPass::BackwardDk:
    case kernels::LightningPass::BackwardDv:
      if (!wgmma && spec.finalState)
        p.blockW = std::min(p.blockW, 32);
      else if (wgmma && (spec.finalState || !causal))
        p.stages = std::min(p.stages, 2);
      break;
    }
  }
  return llvm::Error::success();
}

/// Non-causal attention has no state to start from or hand on: every state
/// argument must be absent.
llvm::Error checkNoStatesIfNonCausal(
    std::initializer_list<std::pair<const TensorRef *, const char *>> states) {
  for (auto [t, name] : states)
    if (t->present())
      return fail(fmt::format("{}: non-causal attention (causal = false) has "
                              "no state to start from or hand on; leave it "
                              "empty",
                              name));
  return llvm::Error::success();
}

/// The spec of the anti-causal sweep that completes a non-causal call.
LightningSpec anticausalSpec(LightningSpec spec) {
  spec.anticausal = true;
  return spec;
}

/// The dimensions the kernels see: q's, or for a variable-length batch
/// (`cuSeqlens` given and valid) S sequences of the mean length, whose
/// states are (S, H, D, E).
llvm::Expected<LightningDims> sequenceDims(const TensorRef &cuSeqlens,
                                           const TensorRef &q,
                                           const LightningDims &dims,
                                           const LightningOptions &options) {
  if (!cuSeqlens.present()) {
    if (auto e = checkOptional(cuSeqlens, "cu_seqlens")) return std::move(e);
    return dims;
  }
  auto count = checkCuSeqlens(cuSeqlens, q, dims, options.device,
                              options.stream);
  if (!count) return count.takeError();
  constexpr int64_t kMaxSequences = ((int64_t(1) << 31) - 1) / (256 / 16);
  if (*count * dims.heads > kMaxSequences)
    return fail(fmt::format("cu_seqlens: S·H = {} exceeds the kernels' 32-bit "
                            "program indexing (≤ {})",
                            *count * dims.heads, kMaxSequences));
  LightningDims out = dims;
  out.batch = *count;
  out.seq = std::max<int64_t>(1, cdiv(dims.seq, *count));
  return out;
}

LaunchArg scratchLen(int64_t segLen) {
  return LaunchArg::i32(static_cast<int32_t>(segLen));
}

/// The `n` of a forward segment-state launch: the last segment's
/// contribution only feeds the final state, so without one the states
/// kernel sweeps the rows before it (its last program finds no blocks and
/// writes zeros the scan never uses): 1/S of k and v not read.
LaunchArg statesRows(int64_t seq, int64_t segLen, int64_t segments,
                     bool finalState) {
  int64_t rows = finalState ? seq : (segments - 1) * segLen;
  return LaunchArg::i32(static_cast<int32_t>(rows));
}

/// The three launches of the sequence-split forward (LightningKernels.h):
/// segment states (at the split's refinement), their scan, the outputs.
llvm::Expected<std::vector<LightningLaunch>>
planSplitForward(const LightningForwardArgs &a, const LightningOptions &options,
                 const kernels::PassConfig &cfg, const LightningSpec &spec,
                 int64_t seq, int64_t heads, int64_t bh, const Split &sp,
                 std::array<const View *, 4> views) {
  auto statesKernel = getKernel("fwd_segment_states",
                                kernels::buildLightningSegmentStates, spec, cfg);
  if (!statesKernel) return statesKernel.takeError();
  auto outputsKernel = getKernel("fwd_segment_outputs",
                                 kernels::buildLightningSegmentOutputs, spec, cfg);
  if (!outputsKernel) return outputsKernel.takeError();
  auto scanKernel = getKernel(
      "state_scan",
      [](const LightningSpec &s, const kernels::PassConfig &) {
        return kernels::buildLightningStateScan(s);
      },
      spec, kernels::PassConfig{});
  if (!scanKernel) return scanKernel.takeError();

  size_t stateBytes = size_t(bh) * sp.fineCount() * spec.d * spec.e * 4;
  auto scratch = segmentScratch(options, a.q.onDevice, stateBytes);
  if (!scratch) return scratch.takeError();
  auto [vq, vk, vv, vo] = views;
  auto n = LaunchArg::i32(static_cast<int32_t>(seq));
  auto h = LaunchArg::i32(static_cast<int32_t>(heads));
  unsigned warps = static_cast<unsigned>(cfg.numWarps);

  std::vector<LightningLaunch> plan;
  std::vector<LaunchArg> sArgs{bufferArg(a.k), bufferArg(a.v),
                               bufferArg(a.slopes), *scratch,
                               statesRows(seq, sp.len, sp.count, spec.finalState),
                               h, LaunchArg::f32(a.scale),
                               scratchLen(sp.fineLen())};
  pushStrides(sArgs, *vk);
  pushStrides(sArgs, *vv);
  plan.push_back({kernels::LightningPass::Forward, *statesKernel,
                  sweepGrid(bh, cfg.blockW, spec.e, sp.fineCount()),
                  std::move(sArgs), warps});

  std::vector<LaunchArg> cArgs{*scratch, bufferArg(a.slopes)};
  if (spec.initialState) cArgs.push_back(bufferArg(a.initialState));
  if (spec.finalState) cArgs.push_back(bufferArg(a.finalState));
  cArgs.insert(cArgs.end(),
               {n, h, scratchLen(sp.fineLen()),
                LaunchArg::i32(static_cast<int32_t>(sp.fineCount()))});
  plan.push_back({kernels::LightningPass::Forward, *scanKernel,
                  Grid{bh, cdiv(int64_t(spec.d) * spec.e, 1024), 1},
                  std::move(cArgs), 4});

  std::vector<LaunchArg> oArgs{bufferArg(a.q), bufferArg(a.k), bufferArg(a.v),
                               bufferArg(a.o), bufferArg(a.slopes), *scratch,
                               n, h, LaunchArg::f32(a.scale), scratchLen(sp.len)};
  pushSlotArgs(oArgs, sp, /*reverse=*/false);
  for (const View *v : {vq, vk, vv, vo}) pushStrides(oArgs, *v);
  plan.push_back({kernels::LightningPass::Forward, *outputsKernel,
                  sweepGrid(bh, cfg.blockW, spec.e, sp.count), std::move(oArgs),
                  warps});
  return plan;
}

/// The chained split (buildLightningSegmentChained): one launch, the
/// segments in z handing their states on through two slots per (b, h).
llvm::Expected<std::vector<LightningLaunch>>
planChainedForward(const LightningForwardArgs &a, const LightningOptions &options,
                   const kernels::PassConfig &cfg, const LightningSpec &spec,
                   int64_t seq, int64_t heads, int64_t bh, const Split &sp,
                   std::array<const View *, 4> views) {
  auto kernel = getKernel("fwd_segment_chained",
                          kernels::buildLightningSegmentChained, spec, cfg);
  if (!kernel) return kernel.takeError();
  int64_t chains = bh * kernels::columnBlocks(cfg.blockW, spec.e);
  auto scratch = segmentScratch(options, a.q.onDevice,
                                size_t(bh) * 2 * spec.d * spec.e * 4);
  if (!scratch) return scratch.takeError();
  auto flags = chainFlags(options, a.q.onDevice, chains, sp.count);
  if (!flags) return flags.takeError();
  std::vector<LaunchArg> args{bufferArg(a.q), bufferArg(a.k), bufferArg(a.v),
                              bufferArg(a.o), bufferArg(a.slopes)};
  if (spec.initialState) args.push_back(bufferArg(a.initialState));
  if (spec.finalState) args.push_back(bufferArg(a.finalState));
  args.insert(args.end(),
              {*scratch, flags->arg, LaunchArg::i32(static_cast<int32_t>(seq)),
               LaunchArg::i32(static_cast<int32_t>(heads)),
               LaunchArg::f32(a.scale), scratchLen(sp.len),
               LaunchArg::i64(flags->base)});
  for (const View *v : views) pushStrides(args, *v);
  return std::vector<LightningLaunch>{
      {kernels::LightningPass::Forward, *kernel,
       sweepGrid(bh, cfg.blockW, spec.e, sp.count), std::move(args),
       static_cast<unsigned>(cfg.numWarps)}};
}

} // namespace

llvm::Expected<std::vector<LightningLaunch>>
planLightningForward(const LightningForwardArgs &a,
                     const LightningOptions &options) {
  if (options.config)
    if (auto e = kernels::validateConfig(*options.config)) return e;
  View vq, vk, vv, vo;
  auto dims = checkQKV(a.q, a.k, a.v, a.layout, vq, vk, vv);
  if (!dims) return dims.takeError();
  if (auto e = checkOutputLike(a.o, "o", a.v, "v", a.layout, vo)) return e;
  const bool gated = a.gates.present();
  auto decay = checkDecay(a.slopes, a.gates, *dims, a.layout);
  if (!decay) return decay.takeError();
  const std::array<int64_t, 3> gateStrides = *decay;
  if (!std::isfinite(a.scale))
    return fail(fmt::format("scale must be finite, got {}", a.scale));
  const bool varlen = a.cuSeqlens.present();
  auto seqDims = sequenceDims(a.cuSeqlens, a.q, *dims, options);
  if (!seqDims) return seqDims.takeError();
  if (auto e = checkOptional(a.initialState, "initial_state")) return e;
  if (auto e = checkOptional(a.finalState, "final_state")) return e;
  if (a.initialState.present())
    if (auto e = checkState(a.initialState, "initial_state", *seqDims)) return e;
  if (a.finalState.present())
    if (auto e = checkState(a.finalState, "final_state", *seqDims)) return e;
  if (!a.causal)
    if (auto e = checkNoStatesIfNonCausal(
            {{&a.initialState, "initial_state"}, {&a.finalState, "final_state"}}))
      return e;
  if (auto e = checkDisjoint(
          {{&a.o, "o"}, {&a.finalState, "final_state"}},
          {{&a.q, "q"}, {&a.k, "k"}, {&a.v, "v"}, {&a.o, "o"},
           {&a.slopes, "slopes"}, {&a.gates, "gates"},
           {&a.cuSeqlens, "cu_seqlens"},
           {&a.initialState, "initial_state"}, {&a.finalState, "final_state"}}))
    return e;

  LightningSpec spec{static_cast<int>(dims->d), static_cast<int>(dims->e),
                     a.q.dtype, a.initialState.present(),
                     a.finalState.present()};
  spec.gated = gated;
  spec.varlen = varlen;
  const DeviceTraits traits = deviceTraits(options);
  LightningConfig config = resolveConfig(options, traits, *seqDims, a.q.dtype,
                                         a.layout, spec);
  if (auto e = applyWholeSequenceLimits(config, {kernels::LightningPass::Forward},
                                        spec, a.causal,
                                        options.config.has_value(),
                                        traits.wgmma))
    return e;
  const kernels::PassConfig &cfg = config.fwd;
  int64_t bh = seqDims->batch * seqDims->heads;
  Split sp = splitOf(dims->seq, cfg, bh * kernels::columnBlocks(cfg.blockW, spec.e),
                     /*skipsLast=*/!spec.finalState, traits.sms);
  if (sp.count > 1 && chainedSplit(spec))
    return planChainedForward(a, options, cfg, spec, dims->seq, dims->heads, bh,
                              sp, {&vq, &vk, &vv, &vo});
  if (sp.count > 1)
    return planSplitForward(a, options, cfg, spec, dims->seq, dims->heads, bh,
                            sp, {&vq, &vk, &vv, &vo});

  auto kernel = getKernel("fwd", kernels::buildLightningForward, spec, cfg);
  if (!kernel) return kernel.takeError();

  std::vector<LaunchArg> args{bufferArg(a.q), bufferArg(a.k), bufferArg(a.v),
                              bufferArg(a.o), bufferArg(gated ? a.gates : a.slopes)};
  if (spec.initialState) args.push_back(bufferArg(a.initialState));
  if (spec.finalState) args.push_back(bufferArg(a.finalState));
  args.push_back(LaunchArg::i32(static_cast<int32_t>(dims->seq)));
  args.push_back(LaunchArg::i32(static_cast<int32_t>(dims->heads)));
  args.push_back(LaunchArg::f32(a.scale));
  if (gated)
    for (int64_t st : gateStrides) args.push_back(LaunchArg::i64(st));
  if (varlen) args.push_back(bufferArg(a.cuSeqlens));
  for (const View *v : {&vq, &vk, &vv, &vo}) pushStrides(args, *v);
  Grid grid = sweepGrid(bh, cfg.blockW, spec.e, 1);
  std::vector<LightningLaunch> plan{{kernels::LightningPass::Forward, *kernel,
                                     grid, args,
                                     static_cast<unsigned>(cfg.numWarps)}};
  if (!a.causal) {
    // The anti-causal sweep, same arguments, adds to o.
    auto anti = getKernel("fwd", kernels::buildLightningForward,
                          anticausalSpec(spec), cfg);
    if (!anti) return anti.takeError();
    plan.push_back({kernels::LightningPass::Forward, *anti, grid,
                    std::move(args), static_cast<unsigned>(cfg.numWarps)});
  }
  return plan;
}

llvm::Expected<std::vector<LightningLaunch>>
planLightningBackward(const LightningBackwardArgs &a,
                      const LightningOptions &options) {
  if (options.config)
    if (auto e = kernels::validateConfig(*options.config)) return e;
  View vq, vk, vv, vdo, vdq, vdk, vdv;
  auto dims = checkQKV(a.q, a.k, a.v, a.layout, vq, vk, vv);
  if (!dims) return dims.takeError();
  {
    auto e = checkActivation(a.dO, "do", a.layout, 'E');
    if (!e) return e.takeError();
    vdo = *e;
    if (a.dO.shape != a.v.shape)
      return fail(fmt::format("do: shape [{}] must equal v's [{}]",
                              fmt::join(a.dO.shape, ", "),
                              fmt::join(a.v.shape, ", ")));
    if (auto err = checkSameDType(a.dO, "do", a.q, "q")) return err;
  }
  if (auto e = checkOutputLike(a.dq, "dq", a.q, "q", a.layout, vdq)) return e;
  if (auto e = checkOutputLike(a.dk, "dk", a.k, "k", a.layout, vdk)) return e;
  if (auto e = checkOutputLike(a.dv, "dv", a.v, "v", a.layout, vdv)) return e;
  const bool gated = a.gates.present();
  auto decay = checkDecay(a.slopes, a.gates, *dims, a.layout);
  if (!decay) return decay.takeError();
  const std::array<int64_t, 3> gateStrides = *decay;
  std::array<int64_t, 3> dGateStrides{};
  if (auto e = checkOptional(a.dGates, "d_gates")) return e;
  if (gated) {
    if (!a.dGates.present())
      return fail("d_gates: required when gates are given (the gradient of "
                  "the gates)");
    auto ds = checkGates(a.dGates, *dims, a.layout, "d_gates", /*output=*/true);
    if (!ds) return ds.takeError();
    dGateStrides = *ds;
  } else if (a.dGates.present()) {
    return fail("d_gates: given without gates");
  }
  if (!std::isfinite(a.scale))
    return fail(fmt::format("scale must be finite, got {}", a.scale));
  const bool varlen = a.cuSeqlens.present();
  auto seqDims = sequenceDims(a.cuSeqlens, a.q, *dims, options);
  if (!seqDims) return seqDims.takeError();
  if (auto e = checkOptional(a.initialState, "initial_state")) return e;
  if (auto e = checkOptional(a.dInitialState, "d_initial_state")) return e;
  if (auto e = checkOptional(a.dFinalState, "d_final_state")) return e;
  if (a.initialState.present() != a.dInitialState.present())
    return fail(a.initialState.present()
                    ? "d_initial_state: required when initial_state is given"
                    : "d_initial_state: given without an initial_state");
  if (a.initialState.present()) {
    if (auto e = checkState(a.initialState, "initial_state", *seqDims)) return e;
    if (auto e = checkState(a.dInitialState, "d_initial_state", *seqDims))
      return e;
  }
  if (a.dFinalState.present())
    if (auto e = checkState(a.dFinalState, "d_final_state", *seqDims)) return e;
  if (!a.causal) {
    if (auto e = checkNoStatesIfNonCausal(
            {{&a.initialState, "initial_state"},
             {&a.dInitialState, "d_initial_state"},
             {&a.dFinalState, "d_final_state"}}))
      return e;
  }
  if (auto e = checkDisjoint(
          {{&a.dq, "dq"}, {&a.dk, "dk"}, {&a.dv, "dv"},
           {&a.dInitialState, "d_initial_state"}, {&a.dGates, "d_gates"}},
          {{&a.q, "q"}, {&a.k, "k"}, {&a.v, "v"}, {&a.dO, "do"},
           {&a.dq, "dq"}, {&a.dk, "dk"}, {&a.dv, "dv"}, {&a.slopes, "slopes"},
           {&a.gates, "gates"}, {&a.dGates, "d_gates"},
           {&a.cuSeqlens, "cu_seqlens"}, {&a.initialState, "initial_state"},
           {&a.dInitialState, "d_initial_state"},
           {&a.dFinalState, "d_final_state"}}))
    return e;

  LightningSpec spec{static_cast<int>(dims->d), static_cast<int>(dims->e),
                     a.q.dtype, a.initialState.present(),
                     a.dFinalState.present()};
  spec.gated = gated;
  spec.varlen = varlen;
  const DeviceTraits traits = deviceTraits(options);
  LightningConfig cfg =
      resolveConfig(options, traits, *seqDims, a.q.dtype, a.layout, spec);
  if (auto e = applyWholeSequenceLimits(cfg,
                                        {kernels::LightningPass::BackwardDq,
                                         kernels::LightningPass::BackwardDk,
                                         kernels::LightningPass::BackwardDv},
                                        spec, a.causal,
                                        options.config.has_value(),
                                        traits.wgmma))
    return e;
  int64_t bh = seqDims->batch * seqDims->heads;
  auto n = LaunchArg::i32(static_cast<int32_t>(dims->seq));
  auto h = LaunchArg::i32(static_cast<int32_t>(dims->heads));
  auto scale = LaunchArg::f32(a.scale);
  auto tail = [&](std::vector<LaunchArg> &args) {
    args.insert(args.end(), {n, h, scale});
  };

  // Each pass's sequence split; its state launch's programs per segment:
  // dq's sweeps columns of E like the forward's, the state gradients'
  // columns of D.
  const int sms = traits.sms;
  Split sq = splitOf(dims->seq, cfg.dq,
                     bh * kernels::columnBlocks(cfg.dq.blockW, spec.e),
                     /*skipsLast=*/true, sms);
  Split sk = splitOf(dims->seq, cfg.dk,
                     bh * kernels::columnBlocks(cfg.dk.blockW, spec.d),
                     /*skipsLast=*/false, sms);
  Split sv = splitOf(dims->seq, cfg.dv,
                     bh * kernels::columnBlocks(cfg.dv.blockW, spec.d),
                     /*skipsLast=*/false, sms);
  // One scratch buffer serves all three passes: their launches run in order.
  int64_t maxSegments =
      std::max({sq.fineCount(), sk.fineCount(), sv.fineCount()});
  LaunchArg scratch;
  if (maxSegments > 1) {
    auto buffer = segmentScratch(
        options, a.q.onDevice, size_t(bh) * maxSegments * spec.d * spec.e * 4);
    if (!buffer) return buffer.takeError();
    scratch = *buffer;
  }
  // Simple GLA: the sweeps' per-row gate-gradient terms (GateRows), one
  // f32 (b, h, n) row per part: dq's column blocks, then dk's, then (non-
  // causal) the same again for the anti-causal sweeps.
  const bool dkdvOne = options.fuseDkDv && cfg.dk == cfg.dv;
  const int64_t dqParts = kernels::columnBlocks(cfg.dq.blockW, spec.d);
  const int64_t causalParts =
      dqParts + (dkdvOne && kernels::dkdvFused(spec, cfg.dk)
                     ? 1
                     : kernels::columnBlocks(cfg.dk.blockW, spec.d));
  // Laid out as q's (b, h, n): a varlen batch's rows are its one batch's.
  const int64_t partStride = dims->batch * dims->heads * dims->seq;
  LaunchArg gateRows;
  if (gated) {
    if (sq.count > 1 || sk.count > 1 || sv.count > 1)
      return fail("internal: a gated backward never splits the sequence "
                  "(its gate rows are per whole sequence)");
    auto buffer = segmentScratch(options, a.q.onDevice,
                                 size_t(partStride) * causalParts *
                                     (a.causal ? 1 : 2) * 4,
                                 /*slot=*/1);
    if (!buffer) return buffer.takeError();
    gateRows = *buffer;
  }
  // GateRows' arguments for a sweep whose parts start at `part`.
  auto pushGateRows = [&](std::vector<LaunchArg> &args, int64_t part) {
    args.insert(args.end(), {gateRows,
                             LaunchArg::i64(dims->heads * dims->seq),
                             LaunchArg::i64(dims->seq), LaunchArg::i64(1),
                             LaunchArg::i64(partStride),
                             LaunchArg::i64(part * partStride)});
  };
  using kernels::LightningPass;
  std::vector<LightningLaunch> plan;
  // A non-causal call's anti-causal launches, added after every causal one.
  std::vector<LightningLaunch> antiCausal;
  auto add = [&](LightningPass pass, std::shared_ptr<const Kernel> kernel,
                 Grid grid, std::vector<LaunchArg> args, int warps) {
    plan.push_back({pass, std::move(kernel), grid, std::move(args),
                    static_cast<unsigned>(warps)});
  };
  // The scan over this pass's segments: forward (S0 in) for dq, reverse
  // (dS_N in, dS0 out when `writeDS0`) for dk and dv.
  auto scan = [&](LightningPass pass, const Split &sp, bool reverse,
                  bool writeDS0) -> llvm::Error {
    LightningSpec scanSpec = spec;
    if (reverse)
      scanSpec.initialState = spec.initialState && writeDS0;
    else
      scanSpec.finalState = false;
    auto kernel = getKernel(
        reverse ? "state_scan_reverse" : "state_scan",
        reverse ? +[](const LightningSpec &s, const kernels::PassConfig &) {
          return kernels::buildLightningStateScan(s, /*reverse=*/true);
        }
                : +[](const LightningSpec &s, const kernels::PassConfig &) {
                    return kernels::buildLightningStateScan(s);
                  },
        scanSpec, kernels::PassConfig{});
    if (!kernel) return kernel.takeError();
    std::vector<LaunchArg> args{scratch, bufferArg(a.slopes)};
    if (reverse) {
      if (scanSpec.finalState) args.push_back(bufferArg(a.dFinalState));
      if (scanSpec.initialState) args.push_back(bufferArg(a.dInitialState));
    } else if (scanSpec.initialState) {
      args.push_back(bufferArg(a.initialState));
    }
    args.insert(args.end(), {n, h, scratchLen(sp.fineLen()),
                             LaunchArg::i32(static_cast<int32_t>(sp.fineCount()))});
    add(pass, *kernel, Grid{bh, cdiv(int64_t(spec.d) * spec.e, 1024), 1},
        std::move(args), 4);
    return llvm::Error::success();
  };
  // Segment state-gradient contributions for dk or dv (from q and dO).
  auto gradStates = [&](LightningPass pass, const kernels::PassConfig &p,
                        const Split &sp) -> llvm::Error {
    auto kernel = getKernel("bwd_segment_grad_states",
                            kernels::buildLightningSegmentGradStates, spec, p);
    if (!kernel) return kernel.takeError();
    std::vector<LaunchArg> args{bufferArg(a.q), bufferArg(a.dO),
                                bufferArg(a.slopes), scratch};
    tail(args);
    args.push_back(scratchLen(sp.fineLen()));
    pushStrides(args, vq);
    pushStrides(args, vdo);
    add(pass, *kernel, sweepGrid(bh, p.blockW, spec.d, sp.fineCount()),
        std::move(args), p.numWarps);
    return llvm::Error::success();
  };

  // The kernel that writes a pass's output: the whole-sequence kernel with
  // the pass's own state arguments, or (split) the segment-output kernel
  // reading incoming states from the scratch buffer. Each (b, h) has
  // `blocks` programs (kernels::columnBlocks of the dimensions they split).
  auto outputs = [&](LightningPass pass, const char *name, Builder whole,
                     Builder segmented, const kernels::PassConfig &p,
                     const Split &sp, std::vector<const TensorRef *> tensors,
                     std::vector<const View *> views, int64_t blocks,
                     std::vector<const TensorRef *> states,
                     int64_t rowsPart = -1) -> llvm::Error {
    bool split = sp.count > 1;
    std::string kernelName = std::string(name) + (split ? "_segment_outputs" : "");
    auto kernel = getKernel(kernelName.c_str(), split ? segmented : whole, spec, p);
    if (!kernel) return kernel.takeError();
    std::vector<LaunchArg> args;
    for (const TensorRef *t : tensors)
      args.push_back(bufferArg(*t));
    args.push_back(bufferArg(gated ? a.gates : a.slopes));
    if (split) {
      args.push_back(scratch);
      tail(args);
      args.push_back(scratchLen(sp.len));
      pushSlotArgs(args, sp, /*reverse=*/pass != LightningPass::BackwardDq);
    } else {
      for (const TensorRef *t : states)
        args.push_back(bufferArg(*t));
      tail(args);
      if (gated)
        for (int64_t st : gateStrides) args.push_back(LaunchArg::i64(st));
      if (varlen) args.push_back(bufferArg(a.cuSeqlens));
    }
    for (const View *v : views) pushStrides(args, *v);
    Grid grid{bh * blocks, 1, sp.count};
    if (!a.causal) {
      // Non-causal: the anti-causal sweep, same arguments but its own gate
      // rows, adds to the outputs after every causal one (finish()).
      auto anti = getKernel(kernelName.c_str(), whole, anticausalSpec(spec), p);
      if (!anti) return anti.takeError();
      std::vector<LaunchArg> antiArgs = args;
      if (gated && rowsPart >= 0)
        pushGateRows(antiArgs, causalParts + rowsPart);
      antiCausal.push_back({pass, *anti, grid, std::move(antiArgs),
                            static_cast<unsigned>(p.numWarps)});
    }
    if (gated && rowsPart >= 0)
      pushGateRows(args, rowsPart);
    add(pass, *kernel, grid, std::move(args), p.numWarps);
    return llvm::Error::success();
  };

  // dq: state contributions and a forward scan first when split.
  if (sq.count > 1) {
    auto states = getKernel("fwd_segment_states",
                            kernels::buildLightningSegmentStates, spec, cfg.dq);
    if (!states) return states.takeError();
    // dq never needs the final state: the last segment is not swept.
    std::vector<LaunchArg> sArgs{bufferArg(a.k), bufferArg(a.v),
                                 bufferArg(a.slopes), scratch,
                                 statesRows(dims->seq, sq.len, sq.count, false),
                                 h, scale, scratchLen(sq.fineLen())};
    pushStrides(sArgs, vk);
    pushStrides(sArgs, vv);
    add(LightningPass::BackwardDq, *states,
        sweepGrid(bh, cfg.dq.blockW, spec.e, sq.fineCount()),
        std::move(sArgs), cfg.dq.numWarps);
    if (auto e = scan(LightningPass::BackwardDq, sq, false, false)) return e;
  }
  // Simple GLA with dS_N: dq's sweep also writes S_N (per-thread scratch;
  // a gated call never splits, so the segment scratch is free) for the gate
  // gradient's ⟨S_N, dS_N⟩.
  TensorRef finalState;
  if (gated && spec.finalState) {
    auto buffer = segmentScratch(options, a.q.onDevice,
                                 size_t(bh) * spec.d * spec.e * 4);
    if (!buffer) return buffer.takeError();
    finalState.data = buffer->pointer;
    finalState.dtype = DType::f32;
    finalState.shape = {seqDims->batch, seqDims->heads, seqDims->d, seqDims->e};
    finalState.onDevice = buffer->onDevice;
  }
  std::vector<const TensorRef *> dqStates;
  if (spec.initialState) dqStates.push_back(&a.initialState);
  if (finalState.present()) dqStates.push_back(&finalState);
  // Gated: q too, for the gate rows q·dq.
  std::vector<const TensorRef *> dqTensors{&a.k, &a.v, &a.dO, &a.dq};
  std::vector<const View *> dqViews{&vk, &vv, &vdo, &vdq};
  if (gated) {
    dqTensors.push_back(&a.q);
    dqViews.push_back(&vq);
  }
  if (auto e = outputs(LightningPass::BackwardDq, "bwd_dq",
                       kernels::buildLightningBackwardDq,
                       kernels::buildLightningDqSegmentOutputs, cfg.dq, sq,
                       dqTensors, dqViews, dqParts, dqStates, /*rowsPart=*/0))
    return e;

  // dk and dv: state-gradient contributions and a reverse scan first when
  // split; dk's scan (or its whole kernel) also writes dS0.
  std::vector<const TensorRef *> dkStates;
  if (spec.finalState) dkStates.push_back(&a.dFinalState);
  if (spec.initialState) dkStates.push_back(&a.dInitialState);
  if (sk.count > 1) {
    if (auto e = gradStates(LightningPass::BackwardDk, cfg.dk, sk)) return e;
    if (auto e = scan(LightningPass::BackwardDk, sk, true, true)) return e;
  }
  // Simple GLA: dL/dg from the sweeps' gate rows, a reverse running sum
  // per (b, h) (kernels::buildSimpleGlaGateGradient), after every sweep
  // (a non-causal call's anti-causal ones too); it counts as dk's pass.
  auto finish = [&]() -> llvm::Expected<std::vector<LightningLaunch>> {
    for (LightningLaunch &l : antiCausal)
      plan.push_back(std::move(l));
    if (!gated)
      return plan;
    kernels::PassConfig p{16, 16, 4};
    auto kernel = getKernel("dgates", kernels::buildSimpleGlaGateGradient,
                            spec, p);
    if (!kernel) return kernel.takeError();
    std::vector<LaunchArg> args{gateRows, bufferArg(a.dGates)};
    if (finalState.present())
      args.insert(args.end(), {bufferArg(finalState), bufferArg(a.dFinalState)});
    args.insert(args.end(), {n, h});
    if (varlen) args.push_back(bufferArg(a.cuSeqlens));
    args.insert(args.end(),
                {LaunchArg::i32(static_cast<int32_t>(causalParts)),
                 LaunchArg::i32(static_cast<int32_t>(a.causal ? 0 : causalParts)),
                 LaunchArg::i64(dims->heads * dims->seq),
                 LaunchArg::i64(dims->seq), LaunchArg::i64(1),
                 LaunchArg::i64(partStride)});
    for (int64_t st : dGateStrides) args.push_back(LaunchArg::i64(st));
    add(LightningPass::BackwardDk, *kernel, Grid{bh, 1, 1}, std::move(args),
        p.numWarps);
    return plan;
  };

  // One launch for both when they share a configuration: one pass of state
  // gradients serves both (the same G, whoever computes it), and the fused
  // kernel counts as dk's.
  if (dkdvOne) {
    if (auto e = outputs(LightningPass::BackwardDk, "bwd_dkdv",
                         kernels::buildLightningBackwardDkDv,
                         kernels::buildLightningDkDvSegmentOutputs, cfg.dk, sk,
                         {&a.q, &a.k, &a.v, &a.dO, &a.dk, &a.dv},
                         {&vq, &vk, &vv, &vdo, &vdk, &vdv},
                         kernels::dkdvPrograms(spec, cfg.dk), dkStates,
                         /*rowsPart=*/dqParts))
      return e;
    return finish();
  }
  // Gated: k too, for the gate rows −k·dk.
  std::vector<const TensorRef *> dkTensors{&a.q, &a.v, &a.dO, &a.dk};
  std::vector<const View *> dkViews{&vq, &vv, &vdo, &vdk};
  if (gated) {
    dkTensors.push_back(&a.k);
    dkViews.push_back(&vk);
  }
  if (auto e = outputs(LightningPass::BackwardDk, "bwd_dk",
                       kernels::buildLightningBackwardDk,
                       kernels::buildLightningDkSegmentOutputs, cfg.dk, sk,
                       dkTensors, dkViews,
                       kernels::columnBlocks(cfg.dk.blockW, spec.d), dkStates,
                       /*rowsPart=*/dqParts))
    return e;

  if (sv.count > 1) {
    if (auto e = gradStates(LightningPass::BackwardDv, cfg.dv, sv)) return e;
    if (auto e = scan(LightningPass::BackwardDv, sv, true, false)) return e;
  }
  std::vector<const TensorRef *> dvStates;
  if (spec.finalState) dvStates.push_back(&a.dFinalState);
  if (auto e = outputs(LightningPass::BackwardDv, "bwd_dv",
                       kernels::buildLightningBackwardDv,
                       kernels::buildLightningDvSegmentOutputs, cfg.dv, sv,
                       {&a.q, &a.k, &a.dO, &a.dv}, {&vq, &vk, &vdo, &vdv},
                       kernels::columnBlocks(cfg.dv.blockW, spec.e), dvStates))
    return e;
  return finish();
}

llvm::Error lightningDecode(const LightningDecodeArgs &a,
                            const LightningOptions &options) {
  View vq, vk, vv, vo;
  auto dims = checkQKV(a.q, a.k, a.v, a.layout, vq, vk, vv);
  if (!dims) return dims.takeError();
  if (dims->seq != 1)
    return fail(fmt::format("decode takes one token per (b, h): N must be 1, "
                            "got {} (run the forward over a prefill)",
                            dims->seq));
  if (auto e = checkOutputLike(a.o, "o", a.v, "v", a.layout, vo)) return e;
  const bool gated = a.gates.present();
  auto decay = checkDecay(a.slopes, a.gates, *dims, a.layout);
  if (!decay) return decay.takeError();
  if (!std::isfinite(a.scale))
    return fail(fmt::format("scale must be finite, got {}", a.scale));
  if (!a.state.present())
    return fail("state: data pointer is null (decode updates the running "
                "state in place; start from zeros or a forward's final state)");
  if (auto e = checkState(a.state, "state", *dims)) return e;
  if (auto e = checkDisjoint(
          {{&a.o, "o"}, {&a.state, "state"}},
          {{&a.q, "q"}, {&a.k, "k"}, {&a.v, "v"}, {&a.o, "o"},
           {&a.slopes, "slopes"}, {&a.gates, "gates"}, {&a.state, "state"}}))
    return e;

  LightningSpec spec{static_cast<int>(dims->d), static_cast<int>(dims->e),
                     a.q.dtype, false, false};
  spec.gated = gated;
  // 32 columns in 2 warps: the fastest of five program shapes on the H200
  // (run 35: 87.5 µs a step for 2048 states of 128 × 128, 3.07 TB/s, against
  // 90.8 µs at 64 columns in 4 warps); twice the programs, each half the
  // state, keep more loads in flight per SM. Checked there in run 36.
  kernels::PassConfig cfg =
      options.decodeConfig.value_or(kernels::PassConfig{64, 32, 2});
  if (auto e = kernels::validateConfig(cfg, "LightningOptions.decodeConfig"))
    return e;
  auto kernel = getKernel("decode", kernels::buildLightningDecode, spec, cfg);
  if (!kernel) return kernel.takeError();
  std::vector<LaunchArg> args{bufferArg(a.q), bufferArg(a.k), bufferArg(a.v),
                              bufferArg(a.o), bufferArg(gated ? a.gates : a.slopes),
                              bufferArg(a.state),
                              LaunchArg::i32(static_cast<int32_t>(dims->heads)),
                              LaunchArg::f32(a.scale)};
  if (gated)
    for (int64_t st : *decay) args.push_back(LaunchArg::i64(st));
  for (const View *v : {&vq, &vk, &vv, &vo}) pushStrides(args, *v);
  int64_t bh = dims->batch * dims->heads;
  return launch(**kernel, sweepGrid(bh, cfg.blockW, spec.e, 1), args,
                options.backend, cfg.numWarps, options.device, options.stream);
}

bool LightningOptions::fuseDkDvEnabled() {
  const char *v = std::getenv("TESSEL_FUSE_DKDV");
  return !v || std::string(v) != "0";
}

llvm::Error launchPlan(llvm::ArrayRef<LightningLaunch> plan,
                       const LightningOptions &options) {
  for (const LightningLaunch &l : plan)
    if (auto e = launch(*l.kernel, l.grid, l.args, options.backend, l.numWarps,
                        options.device, options.stream))
      return e;
  return llvm::Error::success();
}

llvm::Error lightningForward(const LightningForwardArgs &args,
                             const LightningOptions &options) {
  auto plan = planLightningForward(args, options);
  if (!plan)
    return plan.takeError();
  return launchPlan(*plan, options);
}

llvm::Error lightningBackward(const LightningBackwardArgs &args,
                              const LightningOptions &options) {
  auto plan = planLightningBackward(args, options);
  if (!plan)
    return plan.takeError();
  return launchPlan(*plan, options);
}

} // namespace tessel
