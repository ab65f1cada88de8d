#!/usr/bin/env python3
"""attn-run over a covering sample of the numerical sweep's cases.

Every head dim, sequence pair, grouping, mask kind and storage type of the
sweep (unittests/JIT/SweepTest.cpp) appears in at least one case; each case
goes through the whole command-line path (.npy in, --check against fp64,
.npy out) and must exit 0 with both checks ok.

usage: sweep_attn_run.py ATTN_RUN WORKDIR
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_npy  # noqa: E402

# (name, B, Hq, Hkv, Sq, Sk, D, Dv, dtype, mask, flags)
CASES = [
    ("d32_1x1_mha1", 2, 1, 1, 1, 1, 32, 32, "f32", None, []),
    ("d59_1x147_mha4_causal_tl", 2, 4, 4, 1, 147, 59, 59, "f16", None, ["--causal", "top-left"]),
    ("d64_113x203_gqa8x2_causal_br", 2, 8, 2, 113, 203, 64, 64, "bf16", None, ["--causal", "bottom-right"]),
    ("d111_127x513_mqa6_window", 1, 6, 1, 127, 513, 111, 111, "f32", None, ["--window", "17,5"]),
    ("d128_1023x1024_window_br", 1, 1, 1, 1023, 1024, 128, 128, "f16", None,
     ["--causal", "bottom-right", "--window", "100,0"]),
    ("d256_1024x1023_bool", 1, 1, 1, 1024, 1023, 256, 256, "bf16", "bool", []),
    ("d64x48_239x1_mqa6_bias", 2, 6, 1, 239, 1, 64, 48, "f32", "bias", []),
    ("d64_239x1_gqa8x2_softcap_rows_masked", 2, 8, 2, 239, 1, 64, 64, "f16", None,
     ["--softcap", "2.5", "--scale", "0.3", "--causal", "bottom-right"]),
    ("d256_113x203_mha4", 1, 4, 4, 113, 203, 256, 256, "f32", None, []),
    ("d111_1x147_gqa8x2_bool", 2, 8, 2, 1, 147, 111, 111, "bf16", "bool", []),
]
NPY_DTYPE = {"f32": "float32", "f16": "float16", "bf16": "float32"}


def main():
    attn_run, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    import random
    passed = 0
    for i, (name, b, hq, hkv, sq, sk, d, dv, dtype, mask, flags) in enumerate(CASES):
        rng = random.Random(i)
        paths = {}
        for arg, shape in (("q", (b, hq, sq, d)), ("k", (b, hkv, sk, d)), ("v", (b, hkv, sk, dv))):
            paths[arg] = os.path.join(work, f"{name}.{arg}.npy")
            n = b * shape[1] * shape[2] * shape[3]
            gen_npy.write_npy(paths[arg], list(shape), NPY_DTYPE[dtype],
                              [rng.gauss(0.0, 1.0) for _ in range(n)])
        cmd = [attn_run, "--q", paths["q"], "--k", paths["k"], "--v", paths["v"],
               "--out", os.path.join(work, f"{name}.o.npy"), "--dtype", dtype, "--check"] + flags
        if mask:
            mpath = os.path.join(work, f"{name}.mask.npy")
            shape = [b, 1, sq, sk]
            n = b * sq * sk
            if mask == "bool":
                gen_npy.write_npy(mpath, shape, "bool", [rng.random() < 0.3 for _ in range(n)])
            else:
                gen_npy.write_npy(mpath, shape, "float32", [rng.gauss(0.0, 1.0) for _ in range(n)])
            cmd += ["--mask", mpath]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = proc.stdout.decode()
        ok = proc.returncode == 0 and out.count(": ok") == 2
        passed += ok
        print(f"{name}: {'ok' if ok else 'FAILED'}")
        if not ok:
            print(out)
    print(f"{passed}/{len(CASES)} cases ok")
    return 0 if passed == len(CASES) else 1


if __name__ == "__main__":
    sys.exit(main())
