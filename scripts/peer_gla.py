"""fla's chunk_simple_gla beside tessel's simple GLA bench, on the GPU machine:
the gated forward (g=..., per-token log-decays) and the constant-decay one
(g_gamma=...) at one shape, bf16, (b, n, h, d). Run with PYTHONPATH=.peers
(fla, as ../shared/peers/README.md says). SHAPE="B,N,H,D" (default
16,8192,16,128). Prints one line per measurement and writes
$OUT/fla-gla.json."""
import json
import os

import torch
from triton.testing import do_bench

from fla.ops.simple_gla import chunk_simple_gla

B, N, H, D = (int(x) for x in os.environ.get("SHAPE", "16,8192,16,128").split(","))
torch.manual_seed(0)
dev = "cuda"
q, k, v = (torch.randn(B, N, H, D, device=dev, dtype=torch.bfloat16) for _ in range(3))
# Log-decays as gated models make them: logsigmoid of a projection, ≤ 0.
g = torch.nn.functional.logsigmoid(torch.randn(B, N, H, device=dev, dtype=torch.float32) + 4)
s = torch.full((H,), 0.0925, device=dev, dtype=torch.float32)
res = {"B": B, "N": N, "H": H, "D": D}
res["gated_fwd_ms"] = do_bench(lambda: chunk_simple_gla(q, k, v, g=g, scale=1.0)[0],
                               warmup=25, rep=100, return_mode="median")
res["gamma_fwd_ms"] = do_bench(lambda: chunk_simple_gla(q, k, v, g_gamma=-s, scale=1.0)[0],
                               warmup=25, rep=100, return_mode="median")
print(f"fla chunk_simple_gla B{B} N{N} H{H} D{D}: gated (g) fwd {res['gated_fwd_ms']:.3f} ms, "
      f"g_gamma fwd {res['gamma_fwd_ms']:.3f} ms", flush=True)
with open(os.path.join(os.environ.get("OUT", "/tmp"), "fla-gla.json"), "w") as f:
    json.dump(res, f)
