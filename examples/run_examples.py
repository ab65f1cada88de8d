#!/usr/bin/env python3
"""The README's main job: every example through attn-opt and attn-run.

For each examples/*.mlir, the attention's shapes, storage type and mask
attributes are read from the IR itself; then

  1. `attn-opt X.mlir -attn-lower-to-cpu` must lower it to the LLVM dialect;
  2. random inputs of those shapes are written as .npy files;
  3. `attn-run ... --check --repeat N` runs the same attention on the CPU
     backend and prints its error against the fp64 reference and its timing.

usage: run_examples.py [--build BUILD_DIR] [--repeat N] [EXAMPLE.mlir ...]
Exits non-zero if any step fails.
"""
import argparse
import glob
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
GEN_NPY = os.path.join(HERE, "..", "test", "e2e", "Inputs", "gen_npy.py")
NPY_DTYPE = {"f32": "float32", "f16": "float16", "bf16": "float32"}


def parse_example(text):
    """Shapes, storage type and attn-run flags of the first attn.attention."""
    op = re.search(r"attn\.attention[^:]*?(\{[^}]*\})?\s*:\s*(tensor<[^>]*>)\s*,\s*"
                   r"(tensor<[^>]*>)\s*,\s*(tensor<[^>]*>)", text, re.S)
    if not op:
        raise ValueError("no attn.attention op found")
    attrs = op.group(1) or ""

    def shape(t):
        dims = t[len("tensor<"):-1].split("x")
        return [int(d) for d in dims[:-1]], dims[-1]

    (q, dtype), (k, _), (v, _) = (shape(op.group(i)) for i in (2, 3, 4))
    flags = ["--dtype", dtype]
    if m := re.search(r"causal = #attn\.causal<(\w+)>", attrs):
        flags += ["--causal", m.group(1).replace("_", "-")]
    if m := re.search(r"window = array<i64: (-?\d+), (-?\d+)>", attrs):
        flags += ["--window", f"{m.group(1)},{m.group(2)}"]
    for name in ("scale", "softcap"):
        if m := re.search(name + r" = ([0-9.eE+-]+)", attrs):
            flags += ["--" + name, m.group(1)]
    return q, k, v, dtype, flags


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("examples", nargs="*")
    a = ap.parse_args()
    bindir = os.path.join(a.build, "bin")
    examples = a.examples or sorted(glob.glob(os.path.join(HERE, "*.mlir")))
    failed = 0
    for path in examples:
        name = os.path.basename(path)
        print(f"=== {name}")
        with open(path) as f:
            q, k, v, dtype, flags = parse_example(f.read())
        try:
            lowered = run([os.path.join(bindir, "attn-opt"), path, "-attn-lower-to-cpu"],
                          stdout=subprocess.PIPE).stdout.decode()
            leftovers = re.findall(r"\b(attn|scf|memref|vector|arith)\.\w+", lowered)
            if leftovers:
                raise RuntimeError(f"not fully lowered: {sorted(set(leftovers))}")
            print(f"attn-opt -attn-lower-to-cpu: {lowered.count(chr(10))} lines of "
                  f"llvm/omp dialect")
            print(f"attn-run: Q {q}, K {k}, V {v}, {dtype} {' '.join(flags[2:])}")
            with tempfile.TemporaryDirectory() as tmp:
                files = {}
                for seed, (arg, shp) in enumerate((("q", q), ("k", k), ("v", v))):
                    files[arg] = os.path.join(tmp, f"{arg}.npy")
                    run([sys.executable, GEN_NPY, files[arg], ",".join(map(str, shp)),
                         "--dtype", NPY_DTYPE[dtype], "--seed", str(seed)])
                run([os.path.join(bindir, "attn-run"), "--q", files["q"], "--k", files["k"],
                     "--v", files["v"], "--out", os.path.join(tmp, "o.npy"),
                     "--lse", os.path.join(tmp, "lse.npy"), "--check",
                     "--repeat", str(a.repeat)] + flags)
        except (subprocess.CalledProcessError, RuntimeError) as e:
            print(f"FAILED: {e}")
            failed += 1
        sys.stdout.flush()
    print(f"=== {len(examples) - failed}/{len(examples)} examples passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
