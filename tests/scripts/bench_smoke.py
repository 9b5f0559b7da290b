#!/usr/bin/env python3
"""Runs tessel-host-bench once per benchmark and fails unless every one ran.

A benchmark may skip only for what the machine lacks (no GPU, no ptxas);
any other error — a kernel that no longer builds or lowers, a cache miss —
fails the test, so the harness cannot rot silently.
"""
import json, subprocess, sys

ALLOWED_SKIPS = {"no usable CUDA device", "no ptxas"}

out = subprocess.run([sys.argv[1], "--benchmark_min_time=0.001",
                      "--benchmark_format=json"],
                     capture_output=True, text=True)
if out.returncode != 0:
    sys.exit(f"tessel-host-bench exited {out.returncode}:\n{out.stderr}")
runs = json.loads(out.stdout)["benchmarks"]
bad = [f"{b['name']}: {b.get('error_message', '')}" for b in runs
       if b.get("error_occurred") and b.get("error_message") not in ALLOWED_SKIPS]
if not runs or bad:
    sys.exit("benchmarks failed:\n  " + "\n  ".join(bad or ["none ran"]))
for b in runs:
    state = b.get("error_message") if b.get("error_occurred") else \
        f"{b['real_time']:.3g} {b['time_unit']}"
    print(f"{b['name']}: {state}")
