"""A TransNormerLLM attention layer (Qin et al., arXiv 2307.14995, §3) on
tessel's kernels: projections of x to q, k, v and an output gate u, the
lightning attention with per-head ALiBi-style decays (tessel.lightning_attn,
its backward tessel's too), SRMSNorm (tessel.srms_norm), the gate and the
output projection. Sequences in fla's (B, T, H, D) layout, no copies between
the projections and the kernel. Run it: python3 python/examples/tnl.py."""

import torch

import tessel


class TnlAttention(torch.nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        if dim % heads:
            raise ValueError("dim {} is not a multiple of heads {}".format(dim, heads))
        self.heads, self.head_dim = heads, dim // heads
        self.qkvu = torch.nn.Linear(dim, 4 * dim, bias=False)
        self.out = torch.nn.Linear(dim, dim, bias=False)
        # λ_h = exp(−s_h), s_h = 2^(−8(h+1)/H), as Lightning Attention uses.
        self.register_buffer("slopes", torch.tensor(
            [2.0 ** (-8.0 * (h + 1) / heads) for h in range(heads)]))

    def forward(self, x):
        B, T, _ = x.shape
        q, k, v, u = self.qkvu(x).chunk(4, -1)
        shape = (B, T, self.heads, self.head_dim)
        q = torch.nn.functional.silu(q).reshape(shape)
        k = torch.nn.functional.silu(k).reshape(shape)
        o, _ = tessel.lightning_attn(q, k, v.reshape(shape), self.slopes)
        o = tessel.srms_norm(o.reshape(B, T, -1))
        return self.out(torch.sigmoid(u) * o)


def train(steps=8, device="cpu"):
    """A few Adam steps on random data; returns the losses."""
    torch.manual_seed(0)
    layer = TnlAttention(32, 2).to(device)
    x = torch.randn(2, 40, 32, device=device)
    target = torch.randn(2, 40, 32, device=device)
    opt = torch.optim.Adam(layer.parameters(), lr=1e-2)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(layer(x), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return layer, losses


if __name__ == "__main__":
    _, losses = train()
    print("TNL attention layer, 8 Adam steps: loss {:.4f} -> {:.4f}".format(
        losses[0], losses[-1]))
