"""tessel's Python package against a float64 PyTorch reference: forward,
backward and gradients (through torch.autograd) of Lightning and simple GLA,
with states, variable-length batches and non-causal attention, on CPU
tensors (tessel's interpreter) and, where a GPU is visible, CUDA tensors;
the error raised for each kind of bad input."""

import math

import pytest
import torch

import tessel

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
TOL = {torch.float32: 2e-3, torch.bfloat16: 2e-2, torch.float16: 2e-2}


def reference(q, k, v, log_decay, scale, s0=None, causal=True):
    """o, S_N of linear attention in float64, bhnd: S_t = λ_t S_{t−1} +
    k_tᵀ v_t, o_t = scale q_t S_t (causal), or the sum over every pair
    weighted e^(−|b_i − b_j|), b = cumsum(log λ) (non-causal)."""
    q, k, v, g = (x.double() for x in (q, k, v, log_decay))
    if not causal:
        b = torch.cumsum(g, -1)
        w = torch.exp(-(b[..., :, None] - b[..., None, :]).abs())
        return scale * (w * (q @ k.transpose(-1, -2))) @ v, None
    B, H, N, D = q.shape
    S = (torch.zeros(B, H, D, v.shape[-1], dtype=torch.float64,
                     device=q.device) if s0 is None else s0.double())
    out = []
    for t in range(N):
        S = torch.exp(g[..., t])[..., None, None] * S + \
            k[..., t, :, None] * v[..., t, None, :]
        out.append(scale * (q[..., t, None, :] @ S)[..., 0, :])
    return torch.stack(out, -2), S


def rel(a, b):
    a, b = a.double(), b.double()
    return ((a - b).norm() / b.norm().clamp_min(1e-30)).item()


def to_layout(x, layout):
    """A bhnd tensor as the layout's (non-contiguous for bnhd: a view)."""
    return x if layout == "bhnd" else x.transpose(1, 2)


def inputs(B, H, N, D, E, dtype, device, seed=0):
    gen = torch.Generator().manual_seed(seed)
    q, k = (torch.randn(B, H, N, D, generator=gen).to(dtype) for _ in range(2))
    v = torch.randn(B, H, N, E, generator=gen).to(dtype)
    return [x.to(device) for x in (q, k, v)]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("layout", ["bnhd", "bhnd"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("states", [False, True])
def test_lightning_forward_backward(device, layout, dtype, states):
    B, H, N, D, E = 2, 2, 70, 32, 48
    q, k, v = inputs(B, H, N, D, E, dtype, device)
    slopes = torch.tensor([0.1, 0.7], device=device)
    s0 = (torch.randn(B, H, D, E, device=device) if states else None)
    leaves = [x.clone().requires_grad_() for x in (q, k, v)]
    s0_leaf = s0.clone().requires_grad_() if states else None
    # bnhd views of bhnd storage: the package passes strides, no copies.
    o, sN = tessel.lightning_attn(*(to_layout(x, layout) for x in leaves),
                                  slopes, scale=0.5, initial_state=s0_leaf,
                                  output_final_state=states, layout=layout)
    ref_leaves = [x.detach().double().requires_grad_() for x in leaves]
    ref_s0 = s0.double().requires_grad_() if states else None
    log_decay = (-slopes.double())[None, :, None].expand(B, H, N)
    ro, rs = reference(*ref_leaves, log_decay, 0.5, ref_s0)
    assert rel(to_layout(o, layout), ro) < TOL[dtype]
    if states:
        assert sN.shape == (B, H, D, E) and sN.dtype == torch.float32
        assert rel(sN, rs) < TOL[dtype]
    else:
        assert sN is None
    do = torch.randn_like(ro)
    loss = (to_layout(o, layout).double() * do).sum()
    ref_loss = (ro * do).sum()
    if states:
        ds = torch.randn_like(rs)
        loss = loss + (sN.double() * ds).sum()
        ref_loss = ref_loss + (rs * ds).sum()
    loss.backward()
    ref_loss.backward()
    for got, want, name in zip(leaves, ref_leaves, "qkv"):
        assert rel(got.grad, want.grad) < TOL[dtype], name
    if states:
        assert rel(s0_leaf.grad, ref_s0.grad) < TOL[dtype]


@pytest.mark.parametrize("device", DEVICES)
def test_simple_gla_gradients_include_the_gates(device):
    B, H, N, D, E = 1, 2, 65, 16, 32
    q, k, v = inputs(B, H, N, D, E, torch.float32, device, seed=1)
    g = -torch.rand(B, N, H, generator=torch.Generator().manual_seed(2)).to(device)
    leaves = [x.transpose(1, 2).contiguous().requires_grad_() for x in (q, k, v)]
    g_leaf = g.clone().requires_grad_()
    o, sN = tessel.simple_gla(*leaves, g_leaf, output_final_state=True)
    ref = [x.detach().double().transpose(1, 2).requires_grad_() for x in leaves]
    rg = g.double().requires_grad_()
    ro, rs = reference(*ref, rg.transpose(1, 2), D ** -0.5)
    assert rel(o.transpose(1, 2), ro) < 2e-3
    assert rel(sN, rs) < 2e-3
    do, ds = torch.randn_like(ro), torch.randn_like(rs)
    ((o.transpose(1, 2).double() * do).sum() + (sN.double() * ds).sum()).backward()
    ((ro * do).sum() + (rs * ds).sum()).backward()
    for got, want, name in zip(leaves, ref, "qkv"):
        assert rel(got.grad.transpose(1, 2), want.grad) < 2e-3, name
    assert rel(g_leaf.grad, rg.grad) < 1e-2


@pytest.mark.parametrize("device", DEVICES)
def test_varlen_matches_each_sequence_alone(device):
    lens = [1, 63, 0, 65]
    H, D, E = 2, 16, 16
    N = sum(lens)
    q, k, v = (x.transpose(1, 2) for x in inputs(1, H, N, D, E, torch.float32, device))
    slopes = torch.tensor([0.2, 0.05], device=device)
    cu = torch.tensor([0] + list(torch.tensor(lens).cumsum(0)), device=device)
    s0 = torch.randn(len(lens), H, D, E, device=device)
    o, sN = tessel.lightning_attn(q, k, v, slopes, initial_state=s0,
                                  output_final_state=True, cu_seqlens=cu)
    assert sN.shape == (len(lens), H, D, E)
    for i, (a, b) in enumerate(zip(cu[:-1].tolist(), cu[1:].tolist())):
        if a == b:
            assert torch.equal(sN[i], s0[i]), "an empty sequence hands S0 on"
            continue
        oi, si = tessel.lightning_attn(q[:, a:b], k[:, a:b], v[:, a:b], slopes,
                                       initial_state=s0[i:i + 1],
                                       output_final_state=True)
        assert torch.allclose(o[:, a:b], oi, atol=1e-5), i
        assert torch.allclose(sN[i:i + 1], si, atol=1e-5), i


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("gated", [False, True])
def test_non_causal_forward_and_backward(device, gated):
    B, H, N, D, E = 1, 2, 50, 16, 16
    q, k, v = inputs(B, H, N, D, E, torch.float32, device, seed=3)
    leaves = [x.clone().requires_grad_() for x in (q, k, v)]
    ref = [x.detach().double().requires_grad_() for x in leaves]
    if gated:
        g = (-0.5 * torch.rand(B, H, N)).to(device).requires_grad_()
        o, _ = tessel.simple_gla(*leaves, g, layout="bhnd", causal=False)
        rg = g.detach().double().requires_grad_()
        log_decay = rg
    else:
        slopes = torch.tensor([0.3, 0.0], device=device)
        o, _ = tessel.lightning_attn(*leaves, slopes, layout="bhnd", causal=False)
        log_decay = (-slopes.double())[None, :, None].expand(B, H, N)
    ro, _ = reference(*ref, log_decay, D ** -0.5, causal=False)
    assert rel(o, ro) < 2e-3
    do = torch.randn_like(ro)
    (o.double() * do).sum().backward()
    (ro * do).sum().backward()
    for got, want, name in zip(leaves, ref, "qkv"):
        assert rel(got.grad, want.grad) < 2e-3, name
    if gated:
        assert rel(g.grad, rg.grad) < 1e-2


@pytest.mark.parametrize("device", DEVICES)
def test_decode_continues_a_prefill(device):
    B, H, N, D, E = 2, 2, 20, 16, 16
    q, k, v = (x.transpose(1, 2) for x in inputs(B, H, N, D, E, torch.float32, device))
    slopes = torch.tensor([0.1, 0.4], device=device)
    full, _ = tessel.lightning_attn(q, k, v, slopes)
    _, state = tessel.lightning_attn(q[:, :15], k[:, :15], v[:, :15], slopes,
                                     output_final_state=True)
    for t in range(15, N):
        o = tessel.decode(q[:, t:t + 1], k[:, t:t + 1], v[:, t:t + 1], state,
                          slopes=slopes)
        # The same float32 math by two kernels: exact on the interpreter, on
        # a GPU the forward's dots run on tf32 tensor cores.
        assert rel(o, full[:, t:t + 1]) < TOL[torch.float32], t


def test_a_small_tnl_layer_trains():
    """The TransNormerLLM attention layer of python/examples/tnl.py
    (projections, the lightning op, the output gate, SRMSNorm) trains a few
    steps on random data: the gradients reach every parameter and the loss
    falls."""
    import importlib.util
    import pathlib
    path = pathlib.Path(__file__).resolve().parent.parent / "examples" / "tnl.py"
    spec = importlib.util.spec_from_file_location("tnl", path)
    tnl = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tnl)
    layer, losses = tnl.train(steps=8)
    for name, p in layer.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_srms_norm_and_its_gradient(device, dtype):
    x = torch.randn(3, 5, 80, device=device).to(dtype).requires_grad_()
    y = tessel.srms_norm(x, eps=1e-5)
    ref_x = x.detach().double().requires_grad_()
    ref = ref_x * torch.rsqrt(ref_x.pow(2).mean(-1, keepdim=True) + 1e-5)
    assert y.dtype == dtype and y.shape == x.shape
    assert rel(y, ref) < TOL[dtype]
    dy = torch.randn_like(ref)
    (y.double() * dy).sum().backward()
    (ref * dy).sum().backward()
    assert rel(x.grad, ref_x.grad) < TOL[dtype]
    # A slice of rows runs as a view.
    big = torch.randn(8, 80, device=device)
    assert rel(tessel.srms_norm(big[2:6]), tessel.srms_norm(big)[2:6]) < 1e-6
    with pytest.raises(tessel.TesselError, match="eps must be a finite number > 0"):
        tessel.srms_norm(big, eps=0.0)
    with pytest.raises(tessel.TesselError, match="the last dimension must be contiguous"):
        tessel.srms_norm(big.t())


def test_bad_inputs_raise_errors_that_name_them():
    q, k, v = (x.transpose(1, 2) for x in inputs(1, 2, 8, 16, 16, torch.float32, "cpu"))
    slopes = torch.zeros(2)
    with pytest.raises(tessel.TesselError, match="q: dtype torch.float64 is not supported"):
        tessel.lightning_attn(q.double(), k, v, slopes)
    with pytest.raises(tessel.TesselError, match="layout: expected 'bhnd' or 'bnhd'"):
        tessel.lightning_attn(q, k, v, slopes, layout="bthd")
    with pytest.raises(tessel.TesselError,
                       match=r"slopes: expected one value per head, shape \[2\], got \[3\]"):
        tessel.lightning_attn(q, k, v, torch.zeros(3))
    with pytest.raises(tessel.TesselError,
                       match=r"k: shape \[1, 4, 2, 16\] differs from q's \[1, 8, 2, 16\]"):
        tessel.lightning_attn(q, k[:, :4], v, slopes)
    with pytest.raises(tessel.TesselError,
                       match=r"q: the last dimension must be contiguous \(stride 1\)"):
        # the last dimension must be contiguous
        tessel.lightning_attn(q.transpose(-1, -2).contiguous().transpose(-1, -2),
                              k, v, slopes)
    with pytest.raises(tessel.TesselError, match="head dimension"):
        qq = torch.randn(1, 8, 2, 24)
        tessel.lightning_attn(qq, qq, v, slopes)
    with pytest.raises(tessel.TesselError, match="q and v: expected 4-D"):
        tessel.lightning_attn(q[0], k[0], v[0], slopes)
    with pytest.raises(tessel.TesselError,
                       match=r"gates\[0, 0, 0\] = 1: a log-decay must be a finite number ≤ 0"):
        tessel.simple_gla(q, k, v, torch.ones(1, 8, 2))
    with pytest.raises(tessel.TesselError, match="initial_state: non-causal"):
        tessel.lightning_attn(q, k, v, slopes, initial_state=torch.zeros(1, 2, 16, 16),
                              causal=False)
    with pytest.raises(tessel.TesselError,
                       match="cu_seqlens\\[2\\] = 7: the last offset must be the packed length N = 8"):
        tessel.lightning_attn(q, k, v, slopes, cu_seqlens=torch.tensor([0, 5, 7]))
    with pytest.raises(tessel.TesselError, match="expected a torch.Tensor"):
        tessel.lightning_attn(q.numpy(), k, v, slopes)
    if torch.cuda.is_available():
        with pytest.raises(tessel.TesselError, match="every tensor of a call must be on one device"):
            tessel.lightning_attn(q.cuda(), k, v, slopes)


def test_hostile_inputs_give_an_error_or_the_right_answer():
    """Issue 15's hostile inputs through the Python package: empty tensors
    are refused by name; a NaN in one head stays in that head; extreme
    slopes and scales give the reference's answer."""
    B, H, N, D = 1, 3, 40, 16
    q, k, v = inputs(B, H, N, D, D, torch.float32, "cpu", seed=9)
    empty = torch.empty(1, 0, H, D)
    with pytest.raises(tessel.TesselError, match="q: empty tensor of shape"):
        tessel.lightning_attn(empty, empty, empty, torch.zeros(H))
    # A NaN in head 1's keys: head 1's outputs are NaN, the others exact.
    k_bad = k.clone()
    k_bad[0, 1, 7, 3] = float("nan")
    slopes = torch.tensor([0.1, 0.2, 0.3])
    o, _ = tessel.lightning_attn(q, k_bad, v, slopes, layout="bhnd")
    clean, _ = tessel.lightning_attn(q, k, v, slopes, layout="bhnd")
    assert torch.isnan(o[0, 1, 7:]).any()
    assert torch.equal(o[0, 0], clean[0, 0]) and torch.equal(o[0, 2], clean[0, 2])
    # Slopes 0, 1e-8 and 40 (λ^C underflows), scales 0 and 1e4.
    for s, scale in [(0.0, 1.0), (1e-8, 1.0), (40.0, 1.0), (0.1, 0.0), (0.1, 1e4)]:
        sl = torch.full((H,), s)
        o, _ = tessel.lightning_attn(q, k, v, sl, scale=scale, layout="bhnd")
        ro, _ = reference(q, k, v, (-sl.double())[None, :, None].expand(B, H, N),
                          scale)
        assert torch.isfinite(o).all(), (s, scale)
        if scale == 0.0:
            assert torch.count_nonzero(o) == 0
        else:
            assert rel(o, ro) < 1e-4, (s, scale)
    with pytest.raises(tessel.TesselError, match=r"slopes\[1\] = -1: a decay rate must be"):
        tessel.lightning_attn(q, k, v, torch.tensor([0.1, -1.0, 0.1]), layout="bhnd")
    with pytest.raises(tessel.TesselError, match="scale must be finite"):
        tessel.lightning_attn(q, k, v, slopes, scale=float("inf"), layout="bhnd")
    # A NaN in one head's initial state stays in that head's final state.
    s0 = torch.zeros(B, H, D, D)
    s0[0, 2, 0, 0] = float("nan")
    _, sN = tessel.lightning_attn(q, k, v, slopes, initial_state=s0,
                                  output_final_state=True, layout="bhnd")
    assert torch.isnan(sN[0, 2]).any() and torch.isfinite(sN[0, :2]).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_calls_queue_on_the_current_stream():
    """On CUDA tensors tessel's kernels queue on PyTorch's current stream:
    on a side stream (non-blocking: the legacy default stream does not wait
    for it) behind a long sleep and a write of q, the forward, the backward
    and the norm read what the stream wrote, and each call returns while
    the sleep still runs — it waits for nothing."""
    B, H, N, D, E = 2, 2, 300, 64, 64
    q, k, v = inputs(B, H, N, D, E, torch.bfloat16, "cuda", seed=3)
    slopes = torch.tensor([0.2, 0.5], device="cuda")
    do = torch.randn(B, N, H, E, device="cuda").to(torch.bfloat16)

    def run(q_in):
        leaves = [x.clone().requires_grad_() for x in (q_in, k, v)]
        o, _ = tessel.lightning_attn(*leaves, slopes)
        o.backward(do)
        return [o.detach(), tessel.srms_norm(o.detach())] + \
            [x.grad for x in leaves]

    expected = run(q)  # on the default stream (compiles every kernel)
    torch.cuda.synchronize()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    late_q = torch.zeros_like(q)
    with torch.cuda.stream(side):
        torch.cuda._sleep(200_000_000)  # ~0.1 s of GPU time
        late_q.copy_(q)
        got = run(late_q)
        still_sleeping = not side.query()
    side.synchronize()
    assert still_sleeping, "a tessel call waited for its stream"
    for name, g, e in zip(["o", "norm", "dq", "dk", "dv"], got, expected):
        assert rel(g, e) < 1e-6, name
