"""Times tessel's Lightning attention beside the implementations a user would
compare it with — fla's chunk_simple_gla, the official lightning_attn
package, PyTorch's SDPA (softmax attention, for scale) — whichever import,
over a sweep of sequence lengths at a fixed token count, forward and
forward+backward, with the peak memory of each call on CUDA. Writes JSON
and, where matplotlib imports, a PNG of time against sequence length per
implementation (the shape of the Lightning Attention-2 paper's speed
figure).

    python3 python/bench/bench.py --out bench.json --plot bench.png
    python3 python/bench/bench.py --device cpu --dtype f32 --tokens 256 \\
        --seqs 64 128 --heads 2 --dim 16 --impls tessel   # a smoke run
"""

import argparse
import json
import math
import sys
import time

import torch

DTYPES = {"bf16": torch.bfloat16, "f16": torch.float16, "f32": torch.float32}


def alibi(h, device):
    return torch.tensor([2.0 ** (-8.0 * (i + 1) / h) for i in range(h)],
                        device=device)


def implementations(names):
    """name -> fn(q, k, v, slopes) returning o, for those that import."""
    out, missing = {}, {}
    for name in names:
        try:
            if name == "tessel":
                import tessel

                def run(q, k, v, s):
                    return tessel.lightning_attn(q, k, v, s)[0]
            elif name == "fla":
                from fla.ops.simple_gla import chunk_simple_gla

                # Lightning's per-head decay is fla's g_gamma (as in
                # bench_peers.py); its per-token g= backward refuses to run
                # on Hopper with Triton < 3.7.1 (fla #640).
                def run(q, k, v, s):
                    return chunk_simple_gla(q, k, v, g_gamma=-s,
                                            scale=q.shape[-1] ** -0.5)[0]
            elif name == "lightning":
                from lightning_attn.ops import lightning_attn_func

                def run(q, k, v, s):  # (B, H, N, D), its own scaling
                    t = lambda x: x.transpose(1, 2).contiguous()
                    return lightning_attn_func(t(q), t(k), t(v), s).transpose(1, 2)
            elif name == "sdpa":
                def run(q, k, v, s):
                    t = lambda x: x.transpose(1, 2)
                    return torch.nn.functional.scaled_dot_product_attention(
                        t(q), t(k), t(v), is_causal=True).transpose(1, 2)
            else:
                raise ValueError("unknown implementation {!r}".format(name))
            out[name] = run
        except ImportError as e:
            missing[name] = str(e)
    return out, missing


def timed(fn, device, warmup, reps):
    """Median milliseconds of fn() over reps, after warmup calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        if device.type == "cuda":
            start, stop = torch.cuda.Event(True), torch.cuda.Event(True)
            start.record()
            fn()
            stop.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(stop))
        else:
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return times[len(times) // 2]


def measure(name, run, n, args, device, dtype):
    b = max(1, args.tokens // n)
    h, d = args.heads, args.dim
    q, k, v = (torch.randn(b, n, h, d, device=device, dtype=dtype)
               for _ in range(3))
    slopes = alibi(h, device)
    row = {"impl": name, "N": n, "B": b, "H": h, "D": d}
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
    with torch.no_grad():
        row["fwd_ms"] = timed(lambda: run(q, k, v, slopes), device,
                              args.warmup, args.reps)
    leaves = [x.clone().requires_grad_() for x in (q, k, v)]
    d_o = torch.randn_like(v)

    def both():
        o = run(*leaves, slopes)
        torch.autograd.grad(o, leaves, d_o)
    row["fwdbwd_ms"] = timed(both, device, args.warmup, args.reps)
    if device.type == "cuda":
        row["peak_mb"] = (torch.cuda.max_memory_allocated(device) - base) / 2 ** 20
    # Lightning's minimum traffic: q, k, v in and o out (forward), plus dO in
    # and dq, dk, dv out (backward).
    row["fwd_bytes"] = 4 * q.numel() * q.element_size()
    return row


def plot(rows, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("bench: matplotlib does not import; no plot ({})".format(path),
              file=sys.stderr)
        return False
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, title in [(axes[0], "fwd_ms", "forward"),
                           (axes[1], "fwdbwd_ms", "forward + backward")]:
        for impl in sorted({r["impl"] for r in rows}):
            pts = sorted((r["N"], r[key]) for r in rows if r["impl"] == impl)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o",
                    label=impl)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("sequence length N (B·N fixed)")
        ax.set_ylabel("ms")
        ax.set_title(title)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return True


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--dtype", default="bf16", choices=sorted(DTYPES))
    p.add_argument("--tokens", type=int, default=131072, help="B·N of every point")
    p.add_argument("--seqs", type=int, nargs="+", default=[2048, 8192, 32768, 131072])
    p.add_argument("--heads", type=int, default=16)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--impls", default="tessel,fla,lightning,sdpa")
    p.add_argument("--sdpa-max-seq", type=int, default=32768,
                   help="softmax attention is quadratic: longer N are skipped")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--out", default="bench.json")
    p.add_argument("--plot", default=None, help="PNG of time against N")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    dtype = DTYPES[args.dtype]
    impls, missing = implementations(args.impls.split(","))
    for name, why in missing.items():
        print("bench: {} skipped: {}".format(name, why), file=sys.stderr)
    rows = []
    for n in args.seqs:
        for name, run in impls.items():
            if name == "sdpa" and n > args.sdpa_max_seq:
                continue
            row = measure(name, run, n, args, device, dtype)
            rows.append(row)
            print("{impl:>9} N={N:>6} B={B:>4}: fwd {fwd_ms:8.3f} ms, fwd+bwd "
                  "{fwdbwd_ms:8.3f} ms".format(**row))
    fla = {r["N"]: r for r in rows if r["impl"] == "fla"}
    for r in rows:
        if r["N"] in fla:
            r["fwd_vs_fla"] = r["fwd_ms"] / fla[r["N"]]["fwd_ms"]
            r["fwdbwd_vs_fla"] = r["fwdbwd_ms"] / fla[r["N"]]["fwdbwd_ms"]
    meta = {"device": (torch.cuda.get_device_name(device)
                       if device.type == "cuda" else "cpu (tessel's interpreter)"),
            "dtype": args.dtype, "tokens": args.tokens, "torch": torch.__version__,
            "skipped": missing}
    with open(args.out, "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=1)
    if args.plot:
        plot(rows, args.plot)
    return rows


if __name__ == "__main__":
    main()
