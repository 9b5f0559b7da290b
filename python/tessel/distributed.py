"""Sequence parallelism for Lightning and simple GLA over a
torch.distributed process group, LASP-2 style (Sun et al., arXiv
2502.07563): rank r holds rows [c_r, c_{r+1}) of the sequence, in rank
order; the ranks exchange d × e states, whose size does not depend on the
sequence length, with one all-gather each way.

Forward: each rank sweeps its rows from a zero state (U_r, its state
contribution) and sums its log-decays over them (log Λ_r); one all-gather of
(U, log Λ); rank r folds its predecessors' into its incoming state
S_r = Λ_{r−1} S_{r−1} + U_{r−1} (S_0 = initial_state or 0) and runs the
forward from S_r. Backward, the mirror: each rank's backward from S_r with
no state gradient gives V_r = ∂L/∂S_r through its own outputs; one
all-gather of V; the gradient of rank r's final state is
G_r = V_{r+1} + Λ_{r+1} G_{r+1} (the last rank's: d final_state), and the
backward from S_r with G_r gives dq, dk, dv (and dg). initial_state's
gradient comes back on rank 0 (zeros elsewhere, so a sum over ranks is
right). The two sweeps per pass are tessel's ordinary kernels (CPU tensors
with gloo, CUDA tensors with NCCL)."""

import torch
import torch.distributed as dist

from . import TesselError, _backward_call, _forward_call, _layout


def _gather(t, group):
    parts = [torch.empty_like(t) for _ in range(dist.get_world_size(group))]
    dist.all_gather(parts, t.contiguous(), group=group)
    return parts


def _log_decay(decay, gated, rows, layout, batch):
    """log Λ of this rank's rows, (B, H): Σ_t g_t, or −s_h · rows."""
    if gated:
        return decay.sum(1 if layout == "bnhd" else 2).float()
    return (-decay.float() * rows)[None, :].expand(batch, -1).contiguous()


class _SequenceParallel(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, decay, gated, scale, initial_state, layout, group):
        b, n_axis = q.shape[0], (1 if layout == "bnhd" else 2)
        rows = q.shape[n_axis]
        _, u = _forward_call(q, k, v, decay, gated, scale, None, True, layout,
                             None, True)
        log_lam = _log_decay(decay, gated, rows, layout, b)
        us, lams = _gather(u, group), _gather(log_lam, group)
        rank = dist.get_rank(group)
        s = (initial_state.float() if initial_state is not None
             else torch.zeros_like(u))
        states = []  # incoming state of every rank, and the final one
        for j in range(len(us)):
            states.append(s)
            s = torch.exp(lams[j])[..., None, None] * s + us[j]
        o, _ = _forward_call(q, k, v, decay, gated, scale, states[rank], False,
                             layout, None, True)
        ctx.save_for_backward(q, k, v, decay, states[rank])
        ctx.config = (gated, scale, layout, group, initial_state is not None)
        ctx.lams = lams
        return o, s

    @staticmethod
    def backward(ctx, d_o, d_final):
        q, k, v, decay, s_in = ctx.saved_tensors
        gated, scale, layout, group, has_s0 = ctx.config
        rank, world = dist.get_rank(group), dist.get_world_size(group)
        # V_r: ∂L/∂S_r through this rank's outputs alone.
        *_, local = _backward_call(q, k, v, decay, gated, scale, s_in, d_o, None,
                                   layout, None, True)
        vs = _gather(local, group)
        # Every rank holds the final state; the loss's gradient at it is the
        # sum of theirs.
        g = (d_final.float().contiguous() if d_final is not None
             else torch.zeros_like(s_in))
        dist.all_reduce(g, group=group)
        for j in range(world - 1, rank, -1):
            g = vs[j] + torch.exp(ctx.lams[j])[..., None, None] * g
        dq, dk, dv, dg, ds = _backward_call(q, k, v, decay, gated, scale, s_in,
                                            d_o, g, layout, None, True)
        d_s0 = None
        if has_s0:
            d_s0 = ds if rank == 0 else torch.zeros_like(ds)
        return dq, dk, dv, dg, None, None, d_s0, None, None


def sequence_parallel_attn(q, k, v, slopes=None, g=None, scale=None,
                           initial_state=None, output_final_state=False,
                           layout="bnhd", group=None):
    """Lightning (`slopes`) or simple GLA (`g`) over a sequence split across
    the ranks of `group` (default: the world), each holding its rows of q,
    k, v (and g) in rank order; lengths may differ between ranks. Returns
    (o for this rank's rows, the final state of the whole sequence or
    None), with autograd. initial_state is the sequence's (every rank passes
    the same)."""
    if not dist.is_available() or not dist.is_initialized():
        raise TesselError("sequence_parallel_attn: torch.distributed is not "
                          "initialized (init_process_group first)")
    if (slopes is None) == (g is None):
        raise TesselError("sequence_parallel_attn: pass slopes (Lightning) or g "
                          "(simple GLA), exactly one")
    _layout(layout)
    gated = g is not None
    decay = (g if gated else slopes)
    if not isinstance(decay, torch.Tensor):
        raise TesselError("{}: expected a torch.Tensor".format("g" if gated else "slopes"))
    decay = decay.float()
    if scale is None:
        scale = q.shape[-1] ** -0.5
    group = group or dist.group.WORLD
    o, final = _SequenceParallel.apply(q, k, v, decay, gated, float(scale),
                                       initial_state, layout, group)
    return o, (final if output_final_state else None)
