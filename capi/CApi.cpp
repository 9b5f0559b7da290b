// The C API (capi/tessel.h) over kernels/Lightning.h: converts the C
// structs to TensorRefs and argument structs, runs the call, and turns
// every llvm::Error (and any exception) into a thread-local message.
#include "capi/tessel.h"

#include "kernels/Lightning.h"
#include "kernels/LightningTuned.h"
#include "kernels/SrmsNorm.h"

#include "fmt/format.h"

#include <exception>
#include <memory>
#include <mutex>
#include <string>

struct tessel_context {
  tessel::LightningOptions options;
  std::unique_ptr<tessel::TunedLightning> tuned;
  std::mutex mutex; // TunedLightning's memory and the plans are per context
};

namespace {

thread_local std::string lastError;

int32_t failWith(std::string message) {
  lastError = std::move(message);
  return 1;
}

/// The context's options for one call, queued on `stream`.
tessel::LightningOptions withStream(const tessel_context *context,
                                    void *stream) {
  tessel::LightningOptions options = context->options;
  options.stream = stream;
  return options;
}

int32_t report(llvm::Error err) {
  if (!err) {
    lastError.clear();
    return 0;
  }
  return failWith(llvm::toString(std::move(err)));
}

/// A C tensor as a TensorRef; the error names the argument.
llvm::Expected<tessel::TensorRef> toRef(const tessel_tensor &t,
                                        const char *name) {
  tessel::TensorRef r;
  if (!t.data)
    return r; // absent
  if (t.ndim < 0 || t.ndim > 4)
    return llvm::createStringError(
        fmt::format("{}: ndim must be in [0, 4], got {}", name, t.ndim));
  switch (t.dtype) {
  case TESSEL_BF16: r.dtype = tessel::DType::bf16; break;
  case TESSEL_F16: r.dtype = tessel::DType::f16; break;
  case TESSEL_F32: r.dtype = tessel::DType::f32; break;
  case TESSEL_I32: r.dtype = tessel::DType::i32; break;
  default:
    return llvm::createStringError(
        fmt::format("{}: unknown dtype code {} (bf16 0, f16 1, f32 2, i32 3)",
                    name, t.dtype));
  }
  r.data = t.data;
  r.onDevice = t.on_device != 0;
  bool anyStride = false;
  for (int i = 0; i < t.ndim; ++i) {
    r.shape.push_back(t.shape[i]);
    anyStride |= t.strides[i] != 0;
  }
  if (anyStride)
    r.strides.assign(t.strides, t.strides + t.ndim);
  return r;
}

llvm::Expected<tessel::Layout> toLayout(int32_t layout) {
  if (layout == TESSEL_BHND) return tessel::Layout::BHND;
  if (layout == TESSEL_BNHD) return tessel::Layout::BNHD;
  return llvm::createStringError(
      fmt::format("layout: unknown code {} (bhnd 0, bnhd 1)", layout));
}

/// Converts every (C tensor, TensorRef field, name) of a call, stopping at
/// the first bad one.
struct Converter {
  llvm::Error err = llvm::Error::success();
  void operator()(const tessel_tensor &t, tessel::TensorRef &out,
                  const char *name) {
    if (err)
      return;
    auto r = toRef(t, name);
    if (!r)
      err = r.takeError();
    else
      out = std::move(*r);
  }
};

/// Runs `body` on a valid context, catching what C cannot.
template <class F> int32_t guarded(tessel_context *context, const void *args,
                                   F &&body) {
  if (!context)
    return failWith("context is null (create one with tessel_context_create)");
  if (!args)
    return failWith("args is null (or a tensor argument is)");
  try {
    std::lock_guard<std::mutex> lock(context->mutex);
    return report(body());
  } catch (const std::exception &e) {
    return failWith(std::string("internal error: ") + e.what());
  } catch (...) {
    return failWith("internal error: unknown exception");
  }
}

} // namespace

extern "C" {

int32_t tessel_api_version(void) { return TESSEL_API_VERSION; }

const char *tessel_last_error(void) { return lastError.c_str(); }

tessel_context *tessel_context_create(int32_t backend, int32_t device,
                                      int32_t tuned) {
  if (backend < TESSEL_AUTO || backend > TESSEL_INTERPRETER) {
    failWith(fmt::format("backend: unknown code {} (auto 0, gpu 1, "
                         "interpreter 2)",
                         backend));
    return nullptr;
  }
  if (device < 0) {
    failWith(fmt::format("device: a GPU ordinal must be ≥ 0, got {}", device));
    return nullptr;
  }
  auto *context = new (std::nothrow) tessel_context;
  if (!context) {
    failWith("out of memory");
    return nullptr;
  }
  context->options.backend = backend == TESSEL_GPU ? tessel::Backend::Gpu
                             : backend == TESSEL_INTERPRETER
                                 ? tessel::Backend::Interpreter
                                 : tessel::Backend::Auto;
  context->options.device = device;
  if (tuned) {
    tessel::TunedLightningOptions o;
    o.backend = context->options.backend;
    o.device = device;
    context->tuned = std::make_unique<tessel::TunedLightning>(o);
  }
  lastError.clear();
  return context;
}

void tessel_context_destroy(tessel_context *context) { delete context; }

void tessel_forward_args_init(tessel_forward_args *args) {
  if (!args) return;
  *args = tessel_forward_args{};
  args->scale = 1.0f;
  args->causal = 1;
}

void tessel_backward_args_init(tessel_backward_args *args) {
  if (!args) return;
  *args = tessel_backward_args{};
  args->scale = 1.0f;
  args->causal = 1;
}

void tessel_decode_args_init(tessel_decode_args *args) {
  if (!args) return;
  *args = tessel_decode_args{};
  args->scale = 1.0f;
}

int32_t tessel_lightning_forward(tessel_context *context,
                                 const tessel_forward_args *a) {
  return guarded(context, a, [&]() -> llvm::Error {
    tessel::LightningForwardArgs f;
    Converter c;
    c(a->q, f.q, "q"), c(a->k, f.k, "k"), c(a->v, f.v, "v"), c(a->o, f.o, "o");
    c(a->slopes, f.slopes, "slopes"), c(a->gates, f.gates, "gates");
    c(a->initial_state, f.initialState, "initial_state");
    c(a->final_state, f.finalState, "final_state");
    c(a->cu_seqlens, f.cuSeqlens, "cu_seqlens");
    if (c.err) return std::move(c.err);
    auto layout = toLayout(a->layout);
    if (!layout) return layout.takeError();
    f.layout = *layout;
    f.scale = a->scale;
    f.causal = a->causal != 0;
    if (context->tuned)
      return context->tuned->forward(f, a->stream);
    return tessel::lightningForward(f, withStream(context, a->stream));
  });
}

int32_t tessel_lightning_backward(tessel_context *context,
                                  const tessel_backward_args *a) {
  return guarded(context, a, [&]() -> llvm::Error {
    tessel::LightningBackwardArgs b;
    Converter c;
    c(a->q, b.q, "q"), c(a->k, b.k, "k"), c(a->v, b.v, "v");
    c(a->d_o, b.dO, "do");
    c(a->dq, b.dq, "dq"), c(a->dk, b.dk, "dk"), c(a->dv, b.dv, "dv");
    c(a->slopes, b.slopes, "slopes"), c(a->gates, b.gates, "gates");
    c(a->d_gates, b.dGates, "d_gates");
    c(a->initial_state, b.initialState, "initial_state");
    c(a->d_initial_state, b.dInitialState, "d_initial_state");
    c(a->d_final_state, b.dFinalState, "d_final_state");
    c(a->cu_seqlens, b.cuSeqlens, "cu_seqlens");
    if (c.err) return std::move(c.err);
    auto layout = toLayout(a->layout);
    if (!layout) return layout.takeError();
    b.layout = *layout;
    b.scale = a->scale;
    b.causal = a->causal != 0;
    if (context->tuned)
      return context->tuned->backward(b, a->stream);
    return tessel::lightningBackward(b, withStream(context, a->stream));
  });
}

int32_t tessel_lightning_decode(tessel_context *context,
                                const tessel_decode_args *a) {
  return guarded(context, a, [&]() -> llvm::Error {
    tessel::LightningDecodeArgs d;
    Converter c;
    c(a->q, d.q, "q"), c(a->k, d.k, "k"), c(a->v, d.v, "v"), c(a->o, d.o, "o");
    c(a->slopes, d.slopes, "slopes"), c(a->gates, d.gates, "gates");
    c(a->state, d.state, "state");
    if (c.err) return std::move(c.err);
    auto layout = toLayout(a->layout);
    if (!layout) return layout.takeError();
    d.layout = *layout;
    d.scale = a->scale;
    return tessel::lightningDecode(d, withStream(context, a->stream));
  });
}

int32_t tessel_srms_norm_forward(tessel_context *context, const tessel_tensor *x,
                                 const tessel_tensor *y, float eps,
                                 void *stream) {
  return guarded(context, x && y ? x : nullptr, [&]() -> llvm::Error {
    tessel::SrmsNormArgs a;
    Converter c;
    c(*x, a.x, "x"), c(*y, a.y, "y");
    if (c.err) return std::move(c.err);
    a.eps = eps;
    return tessel::srmsNormForward(a, withStream(context, stream));
  });
}

int32_t tessel_srms_norm_backward(tessel_context *context, const tessel_tensor *x,
                                  const tessel_tensor *dy, const tessel_tensor *dx,
                                  float eps, void *stream) {
  return guarded(context, x && dy && dx ? x : nullptr, [&]() -> llvm::Error {
    tessel::SrmsNormBackwardArgs a;
    Converter c;
    c(*x, a.x, "x"), c(*dy, a.dy, "dy"), c(*dx, a.dx, "dx");
    if (c.err) return std::move(c.err);
    a.eps = eps;
    return tessel::srmsNormBackward(a, withStream(context, stream));
  });
}

} // extern "C"
