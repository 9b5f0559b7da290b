"""tessel from Python: Lightning Attention-2 and simple GLA on torch tensors,
with autograd, through tessel's C API (capi/tessel.h, loaded with ctypes).

The kernels are tessel's own, JIT-compiled from its C++ DSL on first use and
cached. CPU tensors run in tessel's interpreter (exact, slow: tests and small
shapes); CUDA tensors on the GPU. Non-contiguous inputs run without copies
as long as their last dimension is contiguous. Every call returns
``(o, final_state)`` as fla's ``chunk_simple_gla`` does, ``final_state``
None unless ``output_final_state``; every bad argument raises TesselError
naming it.

    o, s = tessel.lightning_attn(q, k, v, slopes)        # (B, T, H, D) "bnhd"
    o, s = tessel.simple_gla(q, k, v, g, output_final_state=True)
    o = tessel.decode(q1, k1, v1, state, slopes=slopes)   # state updated
    y = tessel.srms_norm(x)                               # TransNormerLLM's norm
"""

import ctypes
import threading

import torch

from . import _capi

__all__ = ["TesselError", "lightning_attn", "simple_gla", "decode", "srms_norm"]


class TesselError(RuntimeError):
    """A call tessel refused or could not run; the message names why."""


_lib = None
_contexts = {}
_lock = threading.Lock()


def _library():
    global _lib
    with _lock:
        if _lib is None:
            _lib = _capi.load()
        return _lib


def _context(device):
    """The C context for `device` (one per backend and GPU, kept)."""
    lib = _library()
    key = (device.type, device.index or 0)
    with _lock:
        ctx = _contexts.get(key)
        if ctx is None:
            backend = _capi.GPU if device.type == "cuda" else _capi.INTERPRETER
            ctx = lib.tessel_context_create(backend, key[1], 0)
            if not ctx:
                raise TesselError(lib.tessel_last_error().decode())
            _contexts[key] = ctx
        return ctx


_DTYPES = {torch.bfloat16: _capi.BF16, torch.float16: _capi.F16,
           torch.float32: _capi.F32, torch.int32: _capi.I32}
_LAYOUTS = {"bhnd": _capi.BHND, "bnhd": _capi.BNHD}


def _tensor(t, name):
    """`t` (or None: absent) as a C tensor; checks what C cannot see."""
    c = _capi.Tensor()
    if t is None:
        return c
    if not isinstance(t, torch.Tensor):
        raise TesselError("{}: expected a torch.Tensor, got {}".format(
            name, type(t).__name__))
    if t.dtype not in _DTYPES:
        raise TesselError("{}: dtype {} is not supported (bfloat16, float16, "
                          "float32{})".format(
                              name, t.dtype,
                              ", int32 for offsets" if name == "cu_seqlens" else ""))
    if t.dim() > 4:
        raise TesselError("{}: expected at most 4 dimensions, got {}".format(
            name, t.dim()))
    if t.device.type not in ("cpu", "cuda"):
        raise TesselError("{}: tensors must be on the CPU or a CUDA device, "
                          "got {}".format(name, t.device))
    if t.numel() == 0:
        raise TesselError("{}: empty tensor of shape {}".format(
            name, list(t.shape)))
    c.data = t.data_ptr()
    c.dtype = _DTYPES[t.dtype]
    c.ndim = t.dim()
    for i in range(t.dim()):
        c.shape[i] = t.shape[i]
        c.strides[i] = t.stride(i)
    c.on_device = 1 if t.is_cuda else 0
    return c


def _device_of(named):
    """The one device every given tensor is on."""
    device, first = None, None
    for name, t in named:
        if t is None:
            continue
        if not isinstance(t, torch.Tensor):
            raise TesselError("{}: expected a torch.Tensor, got {}".format(
                name, type(t).__name__))
        if device is None:
            device, first = t.device, name
        elif t.device != device:
            raise TesselError("{} is on {} but {} is on {}: every tensor of a "
                              "call must be on one device".format(
                                  name, t.device, first, device))
    return device


def _stream(device):
    """PyTorch's current stream on `device` as a CUstream (None on the CPU):
    tessel's kernels queue there, ordered with the work around them, and
    the call returns without waiting for them."""
    if device.type != "cuda":
        return None
    return torch.cuda.current_stream(device).cuda_stream or None


def _run(fn, args, device):
    lib = _library()
    ctx = _context(device)
    args.stream = _stream(device)
    if getattr(lib, fn)(ctx, ctypes.byref(args)) != 0:
        raise TesselError(lib.tessel_last_error().decode())


def _layout(layout):
    if layout not in _LAYOUTS:
        raise TesselError("layout: expected 'bhnd' or 'bnhd', got {!r}".format(
            layout))
    return _LAYOUTS[layout]


def _dims(q, v, layout):
    if q.dim() != 4 or v.dim() != 4:
        raise TesselError("q and v: expected 4-D tensors ({}), got {} and {} "
                          "dimensions".format(
                              "B, H, N, D" if layout == "bhnd" else "B, N, H, D",
                              q.dim(), v.dim()))
    if layout == "bhnd":
        b, h, n, d = q.shape
    else:
        b, n, h, d = q.shape
    return b, h, n, d, v.shape[-1]


def _last_dim_contiguous(t):
    return t if t is None or t.dim() == 0 or t.stride(-1) == 1 else t.contiguous()


def _forward_call(q, k, v, decay, gated, scale, initial_state,
                  output_final_state, layout, cu_seqlens, causal):
    """One tessel forward: (o, final_state or None)."""
    device = _device_of([("q", q), ("k", k), ("v", v),
                         ("g" if gated else "slopes", decay),
                         ("initial_state", initial_state),
                         ("cu_seqlens", cu_seqlens)])
    b, h, n, d, e = _dims(q, v, layout)
    states = b if cu_seqlens is None else cu_seqlens.numel() - 1
    o = torch.empty_like(v, memory_format=torch.contiguous_format)
    final = (torch.empty(states, h, d, e, dtype=torch.float32, device=device)
             if output_final_state else None)
    args = _capi.ForwardArgs()
    _library().tessel_forward_args_init(ctypes.byref(args))
    args.q, args.k, args.v = _tensor(q, "q"), _tensor(k, "k"), _tensor(v, "v")
    args.o = _tensor(o, "o")
    if gated:
        args.gates = _tensor(decay, "g")
    else:
        args.slopes = _tensor(decay, "slopes")
    args.initial_state = _tensor(initial_state, "initial_state")
    args.final_state = _tensor(final, "final_state")
    args.cu_seqlens = _tensor(cu_seqlens, "cu_seqlens")
    args.layout = _layout(layout)
    args.scale = scale
    args.causal = 1 if causal else 0
    _run("tessel_lightning_forward", args, device)
    return o, final


def _backward_call(q, k, v, decay, gated, scale, initial_state, d_o, d_final,
                   layout, cu_seqlens, causal):
    """One tessel backward: dq, dk, dv, d_gates (None for slopes) and
    d_initial_state (None without an initial state)."""
    if d_o is None:
        d_o = torch.zeros_like(v)
    d_o = _last_dim_contiguous(d_o)
    dq = torch.empty_like(q, memory_format=torch.contiguous_format)
    dk = torch.empty_like(k, memory_format=torch.contiguous_format)
    dv = torch.empty_like(v, memory_format=torch.contiguous_format)
    d_gates = (torch.empty_like(decay, memory_format=torch.contiguous_format)
               if gated else None)
    d_initial = (torch.empty_like(initial_state) if initial_state is not None
                 else None)
    args = _capi.BackwardArgs()
    _library().tessel_backward_args_init(ctypes.byref(args))
    args.q, args.k, args.v = _tensor(q, "q"), _tensor(k, "k"), _tensor(v, "v")
    args.d_o = _tensor(d_o, "do")
    args.dq, args.dk, args.dv = (_tensor(dq, "dq"), _tensor(dk, "dk"),
                                 _tensor(dv, "dv"))
    if gated:
        args.gates = _tensor(decay, "g")
        args.d_gates = _tensor(d_gates, "d_gates")
    else:
        args.slopes = _tensor(decay, "slopes")
    args.initial_state = _tensor(initial_state, "initial_state")
    args.d_initial_state = _tensor(d_initial, "d_initial_state")
    if d_final is not None:
        d_final = d_final.float().contiguous()
        args.d_final_state = _tensor(d_final, "d_final_state")
    args.cu_seqlens = _tensor(cu_seqlens, "cu_seqlens")
    args.layout = _layout(layout)
    args.scale = scale
    args.causal = 1 if causal else 0
    _run("tessel_lightning_backward", args, q.device)
    return dq, dk, dv, d_gates, d_initial


class _LinearAttention(torch.autograd.Function):
    """o = the causal (or non-causal) linear attention of q, k, v with
    per-head slopes or per-token gates; backward through tessel's backward
    kernels."""

    @staticmethod
    def forward(ctx, q, k, v, decay, gated, scale, initial_state,
                output_final_state, layout, cu_seqlens, causal):
        o, final = _forward_call(q, k, v, decay, gated, scale, initial_state,
                                 output_final_state, layout, cu_seqlens, causal)
        ctx.save_for_backward(q, k, v, decay, initial_state, cu_seqlens)
        ctx.config = (gated, scale, layout, causal)
        # An unused output's gradient arrives as None, not zeros.
        ctx.set_materialize_grads(False)
        if output_final_state:
            return o, final
        return o

    @staticmethod
    def backward(ctx, d_o, d_final=None):
        q, k, v, decay, initial_state, cu_seqlens = ctx.saved_tensors
        gated, scale, layout, causal = ctx.config
        dq, dk, dv, d_gates, d_initial = _backward_call(
            q, k, v, decay, gated, scale, initial_state, d_o, d_final, layout,
            cu_seqlens, causal)
        return (dq, dk, dv, d_gates, None, None, d_initial, None, None, None,
                None)


def _attention(q, k, v, decay, gated, scale, initial_state, output_final_state,
               layout, cu_seqlens, causal):
    for name, t in [("q", q), ("k", k), ("v", v)]:
        if not isinstance(t, torch.Tensor):
            raise TesselError("{}: expected a torch.Tensor, got {}".format(
                name, type(t).__name__))
    _layout(layout)
    if scale is None:
        scale = q.shape[-1] ** -0.5
    scale = float(scale)
    want = torch.float32
    dtype = decay.dtype if isinstance(decay, torch.Tensor) else None
    if isinstance(decay, torch.Tensor) and decay.dtype != want:
        if not decay.is_floating_point():
            raise TesselError("{}: expected a floating-point tensor, got "
                              "{}".format("g" if gated else "slopes", decay.dtype))
        decay = decay.to(want)  # lossless; the gradient goes back in `dtype`
    if cu_seqlens is not None and isinstance(cu_seqlens, torch.Tensor) and \
            cu_seqlens.dtype == torch.int64:
        cu_seqlens = cu_seqlens.to(torch.int32)  # fla's offsets are int64
    out = _LinearAttention.apply(q, k, v, decay, gated, scale, initial_state,
                                 bool(output_final_state), layout, cu_seqlens,
                                 bool(causal))
    if output_final_state:
        return out
    return out, None


def lightning_attn(q, k, v, slopes, scale=None, initial_state=None,
                   output_final_state=False, layout="bnhd", cu_seqlens=None,
                   causal=True):
    """Lightning Attention-2: o_t = scale · q_t S_t, S_t = λ_h S_{t−1} + k_tᵀ v_t
    with λ_h = exp(−slopes[h]).

    q, k: (B, T, H, D) for layout "bnhd" (fla's), (B, H, T, D) for "bhnd";
    v: E in place of D; bf16, f16 or f32, D and E multiples of 16 ≤ 256.
    slopes: (H) decay rates ≥ 0. scale: default D^−0.5. initial_state:
    (B, H, D, E) f32. cu_seqlens: (S + 1) offsets of S sequences packed into
    B = 1 (states are then (S, H, D, E)). causal=False: every token attends
    to the whole sequence with λ^|i−j| (no states). Returns (o, final_state).
    """
    return _attention(q, k, v, slopes, False, scale, initial_state,
                      output_final_state, layout, cu_seqlens, causal)


def simple_gla(q, k, v, g, scale=None, initial_state=None,
               output_final_state=False, layout="bnhd", cu_seqlens=None,
               causal=True):
    """Simple GLA (fla's chunk_simple_gla with g): S_t = exp(g_t) S_{t−1} +
    k_tᵀ v_t, a log-decay g ≤ 0 per token and head, (B, T, H) for "bnhd" or
    (B, H, T) for "bhnd"; its gradient flows. Otherwise as lightning_attn."""
    return _attention(q, k, v, g, True, scale, initial_state,
                      output_final_state, layout, cu_seqlens, causal)


def decode(q, k, v, state, slopes=None, g=None, scale=None, layout="bnhd"):
    """One decode step per (b, h): state ← λ state + kᵀ v in place (λ from
    `slopes`, or exp(g) for simple GLA), then o = scale · q state. q, k, v
    hold one token (T = 1); state is (B, H, D, E) f32. Returns o. No
    autograd."""
    device = _device_of([("q", q), ("k", k), ("v", v), ("state", state),
                         ("slopes", slopes), ("g", g)])
    if (slopes is None) == (g is None):
        raise TesselError("decode: pass slopes (Lightning) or g (simple GLA), "
                          "exactly one")
    _layout(layout)
    if scale is None:
        scale = q.shape[-1] ** -0.5
    o = torch.empty_like(v, memory_format=torch.contiguous_format)
    args = _capi.DecodeArgs()
    _library().tessel_decode_args_init(ctypes.byref(args))
    args.q, args.k, args.v = _tensor(q, "q"), _tensor(k, "k"), _tensor(v, "v")
    args.o = _tensor(o, "o")
    # f32 copies live until the call returns (the C struct holds pointers).
    decay32 = (slopes if slopes is not None else g).float()
    if slopes is not None:
        args.slopes = _tensor(decay32, "slopes")
    else:
        args.gates = _tensor(decay32, "g")
    args.state = _tensor(state, "state")
    args.layout = _layout(layout)
    args.scale = float(scale)
    _run("tessel_lightning_decode", args, device)
    return o


def _run_norm(fn, tensors, eps, device):
    lib = _library()
    ctx = _context(device)
    structs = [_tensor(t, name) for name, t in tensors]
    if getattr(lib, fn)(ctx, *(ctypes.byref(c) for c in structs),
                        ctypes.c_float(eps), _stream(device)) != 0:
        raise TesselError(lib.tessel_last_error().decode())


class _SrmsNorm(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, eps):
        y = torch.empty_like(x, memory_format=torch.contiguous_format)
        _run_norm("tessel_srms_norm_forward", [("x", x), ("y", y)], eps, x.device)
        ctx.save_for_backward(x)
        ctx.eps = eps
        return y

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved_tensors
        dy = dy.contiguous()
        dx = torch.empty_like(x, memory_format=torch.contiguous_format)
        _run_norm("tessel_srms_norm_backward", [("x", x), ("dy", dy), ("dx", dx)],
                  ctx.eps, x.device)
        return dx, None


def srms_norm(x, eps=1e-6):
    """SRMSNorm of TransNormerLLM (arXiv 2307.14995): x / sqrt(mean(x²) +
    eps) over the last dimension, no gain; forward and backward are tessel
    kernels (fp32 inside). x: 1 to 4 dimensions, bf16, f16 or f32, rows of
    one stride (a contiguous tensor, or a slice of rows of one)."""
    if not isinstance(x, torch.Tensor):
        raise TesselError("x: expected a torch.Tensor, got {}".format(
            type(x).__name__))
    return _SrmsNorm.apply(x, float(eps))
