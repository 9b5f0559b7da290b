"""Writes the seed corpus of tessel-fuzz-ir: one module per top-level
function of every .mlir test given (its attribute aliases kept, split at
`// -----` first), plus any whole files given with --whole (kernel IR that
`tessel compile --dump` printed). Usage:
  seed_corpus.py OUT_DIR [--whole FILE ...] TEST.mlir ...
"""
import hashlib
import os
import re
import sys


def functions(text):
    """The alias lines and each top-level func.func of one split."""
    aliases = [l for l in text.splitlines() if re.match(r"^#\w+ = ", l)]
    funcs, depth, current = [], 0, None
    for line in text.splitlines():
        stripped = line.split("//")[0]
        if current is None and re.match(r"^\s*func\.func\b", line):
            current, depth = [], 0
        if current is not None:
            current.append(line)
            depth += stripped.count("{") - stripped.count("}")
            if depth == 0 and "{" in "".join(current):
                funcs.append("\n".join(current))
                current = None
    return aliases, funcs


def main(argv):
    out, files, whole = argv[1], [], []
    args = iter(argv[2:])
    for a in args:
        if a == "--whole":
            whole.append(next(args))
        else:
            files.append(a)
    os.makedirs(out, exist_ok=True)
    seeds = []
    for path in files:
        for part in open(path).read().split("// -----"):
            aliases, funcs = functions(part)
            seeds += ["\n".join(aliases + [f]) + "\n" for f in funcs]
    seeds += [open(p).read() for p in whole]
    for s in seeds:
        name = hashlib.sha1(s.encode()).hexdigest()
        with open(os.path.join(out, name), "w") as f:
            f.write(s)
    print(f"{len(seeds)} seeds in {out}")


if __name__ == "__main__":
    main(sys.argv)
