"""Sequence parallelism (tessel.distributed) over 2 and 4 gloo processes on
CPU tensors, sequence lengths that do not divide evenly: o, dq, dk, dv, dg,
the final state and the initial state's gradient match one process running
the whole sequence (whose kernels the other tests hold to the float64
reference)."""

import os
import tempfile

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import tessel
import tessel.distributed


def _problem(gated, seed=5):
    gen = torch.Generator().manual_seed(seed)
    B, N, H, D, E = 2, 70, 2, 16, 32
    q, k = (torch.randn(B, N, H, D, generator=gen) for _ in range(2))
    v = torch.randn(B, N, H, E, generator=gen)
    decay = (-0.3 * torch.rand(B, N, H, generator=gen) if gated
             else torch.tensor([0.05, 0.4]))
    s0 = torch.randn(B, H, D, E, generator=gen)
    d_o = torch.randn(B, N, H, E, generator=gen)
    d_final = torch.randn(B, H, D, E, generator=gen)
    return q, k, v, decay, s0, d_o, d_final


def _whole(gated):
    q, k, v, decay, s0, d_o, d_final = _problem(gated)
    leaves = [x.clone().requires_grad_() for x in (q, k, v, decay, s0)]
    fn = tessel.simple_gla if gated else tessel.lightning_attn
    o, final = fn(*leaves[:4], initial_state=leaves[4], output_final_state=True)
    ((o * d_o).sum() + (final * d_final).sum()).backward()
    return o.detach(), final.detach(), [x.grad for x in leaves]


def _rank(rank, world, init, splits, gated):
    # The loopback interface: a CI container's hostname may not resolve.
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        q, k, v, decay, s0, d_o, d_final = _problem(gated)
        a, b = sum(splits[:rank]), sum(splits[:rank + 1])
        rows = lambda x: x[:, a:b].clone().requires_grad_()
        lq, lk, lv = rows(q), rows(k), rows(v)
        ldecay = rows(decay) if gated else decay.clone().requires_grad_()
        ls0 = s0.clone().requires_grad_()
        kw = {"g": ldecay} if gated else {"slopes": ldecay}
        o, final = tessel.distributed.sequence_parallel_attn(
            lq, lk, lv, initial_state=ls0, output_final_state=True, **kw)
        # Each rank adds its share of the final state's loss.
        ((o * d_o[:, a:b]).sum() + (final * d_final).sum() / world).backward()
        wo, wfinal, grads = _whole(gated)
        close = lambda x, y: torch.allclose(x, y, rtol=1e-4, atol=1e-4)
        assert close(o, wo[:, a:b]), "o"
        assert close(final, wfinal), "final state"
        for got, want, name in [(lq.grad, grads[0], "dq"), (lk.grad, grads[1], "dk"),
                                (lv.grad, grads[2], "dv")]:
            assert close(got, want[:, a:b]), name
        if gated:
            assert close(ldecay.grad, grads[3][:, a:b]), "dg"
        # The initial state's gradient is rank 0's; the others add zeros.
        total = ls0.grad.clone()
        dist.all_reduce(total)
        assert close(total, grads[4]), "d initial_state"
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("splits", [[36, 34], [18, 1, 33, 18]])
@pytest.mark.parametrize("gated", [False, True])
def test_sequence_parallel_matches_one_process(splits, gated):
    with tempfile.TemporaryDirectory() as tmp:
        init = "file://" + os.path.join(tmp, "rendezvous")
        mp.spawn(_rank, args=(len(splits), init, splits, gated), nprocs=len(splits),
                 join=True)


def test_without_a_process_group_it_says_so():
    q = torch.randn(1, 8, 2, 16)
    with pytest.raises(tessel.TesselError, match="torch.distributed is not initialized"):
        tessel.distributed.sequence_parallel_attn(q, q, q, slopes=torch.zeros(2))
