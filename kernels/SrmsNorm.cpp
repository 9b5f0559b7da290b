// SRMSNorm's host entry points: validate the tensors (one shape and dtype,
// rows of one stride, the last dimension contiguous), pick the rows per
// program, build (once per shape) and launch.
#include "kernels/SrmsNorm.h"

#include "fmt/format.h"
#include "fmt/ranges.h"

#include <cmath>
#include <map>
#include <memory>
#include <mutex>

namespace tessel {

namespace {

llvm::Error fail(const std::string &message) {
  return llvm::createStringError(message);
}

/// A tensor as (rows, d) with one row stride.
struct Rows {
  int64_t rows, d, stride;
};

llvm::Expected<Rows> checkRows(const TensorRef &t, const char *name) {
  if (t.shape.empty() || t.shape.size() > 4)
    return fail(fmt::format("{}: expected 1 to 4 dimensions, got shape [{}]",
                            name, fmt::join(t.shape, ", ")));
  for (int64_t s : t.shape)
    if (s < 1)
      return fail(fmt::format("{}: every dimension must be ≥ 1, got shape [{}]",
                              name, fmt::join(t.shape, ", ")));
  if (!t.present())
    return fail(fmt::format("{}: data pointer is null", name));
  if (!isFloat(t.dtype))
    return fail(fmt::format("{}: dtype must be bf16, f16 or f32, got {}", name,
                            dtypeName(t.dtype)));
  if (reinterpret_cast<uintptr_t>(t.data) % dtypeSize(t.dtype) != 0)
    return fail(fmt::format("{}: data pointer is not aligned to its elements",
                            name));
  if (!t.strides.empty() && t.strides.size() != t.shape.size())
    return fail(fmt::format("{}: {} strides for {} dimensions", name,
                            t.strides.size(), t.shape.size()));
  auto s = t.effectiveStrides();
  const size_t n = t.shape.size();
  if (s[n - 1] != 1)
    return fail(fmt::format("{}: the last dimension must be contiguous "
                            "(stride 1), got strides [{}]",
                            name, fmt::join(s, ", ")));
  Rows r{1, t.shape[n - 1], n >= 2 ? s[n - 2] : t.shape[n - 1]};
  for (size_t i = 0; i + 1 < n; ++i)
    r.rows *= t.shape[i];
  // The leading dimensions must collapse into rows of one stride.
  for (size_t i = 0; i + 2 < n; ++i)
    if (t.shape[i + 1] > 1 && s[i] != s[i + 1] * t.shape[i + 1])
      return fail(fmt::format("{}: strides [{}] do not make rows of one stride "
                              "(the leading dimensions of shape [{}] must be "
                              "contiguous with each other)",
                              name, fmt::join(s, ", "), fmt::join(t.shape, ", ")));
  if (r.rows > 1 && r.stride < r.d)
    return fail(fmt::format("{}: rows of {} elements {} apart overlap", name,
                            r.d, r.stride));
  if (r.d > 65536)
    return fail(fmt::format("{}: the last dimension is {}, at most 65536",
                            name, r.d));
  if (r.rows > (int64_t(1) << 31) - 1)
    return fail(fmt::format("{}: {} rows exceed the kernel's 32-bit row index",
                            name, r.rows));
  return r;
}

llvm::Error checkLike(const TensorRef &t, const char *name,
                      const TensorRef &like, const char *likeName) {
  if (t.shape != like.shape)
    return fail(fmt::format("{}: shape [{}] must equal {}'s [{}]", name,
                            fmt::join(t.shape, ", "), likeName,
                            fmt::join(like.shape, ", ")));
  if (t.dtype != like.dtype)
    return fail(fmt::format("{}: dtype {} must equal {}'s {}", name,
                            dtypeName(t.dtype), likeName, dtypeName(like.dtype)));
  if (t.onDevice != like.onDevice)
    return fail(fmt::format("{} and {} must both be on the device or both on "
                            "the host",
                            name, likeName));
  return llvm::Error::success();
}

llvm::Error checkEps(float eps) {
  if (!(eps > 0) || !std::isfinite(eps))
    return fail(fmt::format("eps must be a finite number > 0, got {}", eps));
  return llvm::Error::success();
}

llvm::Expected<std::shared_ptr<const Kernel>> kernelFor(int64_t d, DType dtype,
                                                        bool backward) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const Kernel>> cache;
  const kernels::SrmsNormProgram shape =
      kernels::srmsNormProgram(static_cast<int>(d));
  std::string key = fmt::format("{}/{}/{}", d, dtypeName(dtype), backward);
  std::lock_guard<std::mutex> lock(mutex);
  if (auto it = cache.find(key); it != cache.end())
    return it->second;
  auto kernel = kernels::buildSrmsNorm(static_cast<int>(d), dtype, backward,
                                       shape.rows, shape.warps);
  if (!kernel)
    return kernel.takeError();
  auto shared = std::make_shared<const Kernel>(std::move(*kernel));
  cache.emplace(key, shared);
  return shared;
}

/// One program per srmsNormProgram(d).rows rows.
llvm::Error launchRows(const Kernel &kernel, int64_t rows, int64_t d,
                       const std::vector<LaunchArg> &args,
                       const LightningOptions &options) {
  const kernels::SrmsNormProgram shape =
      kernels::srmsNormProgram(static_cast<int>(d));
  return launch(kernel, Grid{(rows + shape.rows - 1) / shape.rows, 1, 1}, args,
                options.backend, shape.warps, options.device,
                options.stream);
}

} // namespace

llvm::Error srmsNormForward(const SrmsNormArgs &a, const LightningOptions &options) {
  auto x = checkRows(a.x, "x");
  if (!x) return x.takeError();
  auto y = checkRows(a.y, "y");
  if (!y) return y.takeError();
  if (auto e = checkLike(a.y, "y", a.x, "x")) return e;
  if (auto e = checkEps(a.eps)) return e;
  auto kernel = kernelFor(x->d, a.x.dtype, false);
  if (!kernel) return kernel.takeError();
  std::vector<LaunchArg> args{bufferArg(a.x), bufferArg(a.y),
                              LaunchArg::i32(static_cast<int32_t>(x->rows)),
                              LaunchArg::f32(a.eps), LaunchArg::i64(x->stride),
                              LaunchArg::i64(y->stride)};
  return launchRows(**kernel, x->rows, x->d, args, options);
}

llvm::Error srmsNormBackward(const SrmsNormBackwardArgs &a,
                             const LightningOptions &options) {
  auto x = checkRows(a.x, "x");
  if (!x) return x.takeError();
  auto dy = checkRows(a.dy, "dy");
  if (!dy) return dy.takeError();
  auto dx = checkRows(a.dx, "dx");
  if (!dx) return dx.takeError();
  if (auto e = checkLike(a.dy, "dy", a.x, "x")) return e;
  if (auto e = checkLike(a.dx, "dx", a.x, "x")) return e;
  if (auto e = checkEps(a.eps)) return e;
  auto kernel = kernelFor(x->d, a.x.dtype, true);
  if (!kernel) return kernel.takeError();
  std::vector<LaunchArg> args{bufferArg(a.x), bufferArg(a.dy), bufferArg(a.dx),
                              LaunchArg::i32(static_cast<int32_t>(x->rows)),
                              LaunchArg::f32(a.eps), LaunchArg::i64(x->stride),
                              LaunchArg::i64(dy->stride), LaunchArg::i64(dx->stride)};
  return launchRows(**kernel, x->rows, x->d, args, options);
}

} // namespace tessel
