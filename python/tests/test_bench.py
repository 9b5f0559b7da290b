"""The benchmark script (python/bench/bench.py) runs end to end — a smoke
run on CPU tensors through tessel's interpreter — and writes its JSON, so it
does not rot between device runs. (Its figures only mean something on a
GPU.)"""

import importlib.util
import json
import pathlib


def test_bench_writes_its_json(tmp_path):
    path = pathlib.Path(__file__).resolve().parent.parent / "bench" / "bench.py"
    spec = importlib.util.spec_from_file_location("bench", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "bench.json"
    rows = bench.main(["--device", "cpu", "--dtype", "f32", "--tokens", "128",
                       "--seqs", "32", "64", "--heads", "2", "--dim", "16",
                       "--impls", "tessel",
                       "--warmup", "0", "--reps", "1", "--out", str(out)])
    assert [r["N"] for r in rows] == [32, 64]
    data = json.loads(out.read_text())
    assert data["meta"]["device"].startswith("cpu")
    for r in data["rows"]:
        assert r["impl"] == "tessel" and r["fwd_ms"] > 0 and r["fwdbwd_ms"] > 0
        assert r["B"] * r["N"] == 128
    # A misspelt implementation is an error, not a silently missing line.
    try:
        bench.main(["--device", "cpu", "--impls", "tesel", "--seqs", "32",
                    "--out", str(out)])
    except ValueError as e:
        assert "unknown implementation 'tesel'" in str(e)
    else:
        raise AssertionError("no error for an unknown implementation")
