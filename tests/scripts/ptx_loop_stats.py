#!/usr/bin/env python3
"""Counts instructions in the innermost loops of a PTX kernel, so a lit test
can bound what one iteration of a kernel's hot loop costs.

A loop is a label `L:` with a later branch back to it (`bra L;`). For every
loop that contains no other loop, prints one line
    loop <label>: bar.sync=<n> st.shared=<n> ld.shared=<n> ldmatrix=<n> mma=<n> st.shared.2byte=<n> cp.async=<n> wgmma=<n>
and, with --max NAME=N (repeatable), exits 1 when the loop with the most
mma.sync or wgmma instructions (the hot loop) has more than N of NAME.
"""
import argparse
import re
import sys

COUNTED = {
    "bar.sync": re.compile(r"^\s*(@%p\d+\s+)?bar\.sync\b|^\s*barrier\.sync\b"),
    "st.shared": re.compile(r"^\s*(@!?%p\d+\s+)?st\.shared\b"),
    "ld.shared": re.compile(r"^\s*(@!?%p\d+\s+)?ld\.shared\b"),
    "ldmatrix": re.compile(r"^\s*ldmatrix\b"),
    "mma": re.compile(r"^\s*mma\.sync\b"),
    "st.shared.2byte": re.compile(r"^\s*(@!?%p\d+\s+)?st\.shared\.(b16|u16|s16|f16|bf16)\b"),
    "cp.async": re.compile(r"^\s*(@!?%p\d+\s+)?cp\.async\.(cg|ca)\.shared\.global\b"),
    "wgmma": re.compile(r"^\s*wgmma\.mma_async\b"),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ptx")
    ap.add_argument("--max", action="append", default=[])
    args = ap.parse_args()
    lines = open(args.ptx).read().splitlines()
    labels = {}
    for i, line in enumerate(lines):
        m = re.match(r"^(\$?[\w$]+):", line.strip())
        if m:
            labels[m.group(1)] = i
    loops = []
    for i, line in enumerate(lines):
        m = re.search(r"\bbra(\.uni)?\s+(\$?[\w$]+);", line)
        if m and m.group(2) in labels and labels[m.group(2)] < i:
            loops.append((labels[m.group(2)], i, m.group(2)))
    inner = [l for l in loops
             if not any(o != l and l[0] <= o[0] and o[1] <= l[1] for o in loops)]
    if not inner:
        print("no loop found", file=sys.stderr)
        return 1
    stats = []
    for start, end, name in inner:
        counts = {k: sum(1 for l in lines[start:end + 1] if rx.search(l))
                  for k, rx in COUNTED.items()}
        stats.append((name, counts))
        print(f"loop {name}: " + " ".join(f"{k}={v}" for k, v in counts.items()))
    hot = max(stats, key=lambda s: s[1]["mma"] + s[1]["wgmma"])
    status = 0
    for spec in args.max:
        key, limit = spec.split("=")
        if hot[1][key] > int(limit):
            print(f"hot loop {hot[0]}: {key}={hot[1][key]} exceeds {limit}",
                  file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
