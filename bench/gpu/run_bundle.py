#!/usr/bin/env python3
"""Runs an attn kernel bundle on a GPU and checks it against an fp64 reference.

For the lent GPU machines, which have torch and cupy but no LLVM/MLIR: build
bundles here with attn-compile, carry them over, and run

  python3 bench/gpu/run_bundle.py K.attnb [K2.attnb ...] [--repeat 20]

Each bundle is launched as its metadata says (grid, block, dynamic shared
memory, arguments: Q, K, V, O, LSE pointers and Sq, Sk) on N(0, 1) inputs of
the compiled shape; O and LSE are compared with an fp64 reference using
FlashAttention's rule max|out - ref| <= 2 * max|naive_f16 - ref| + 1e-4
(the naive implementation: torch in the storage type). The causal/window
semantics are attn's (window relative to the bottom-right diagonal; see
README.md); pass them with --causal/--window as given to attn-compile.
Timings (median of --repeat launches) are printed next to torch's SDPA on the
same inputs when it supports the mask.

Status: written without access to a GPU; not yet run.
"""
import argparse
import json
import struct
import sys


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def read_bundle(path):
    data = open(path, "rb").read()
    if data[:8] != b"ATTNBNDL":
        raise SystemExit(f"{path}: not a kernel bundle")
    (version,) = struct.unpack_from("<I", data, 8)
    if version != 1:
        raise SystemExit(f"{path}: unsupported bundle version {version}")
    (m,) = struct.unpack_from("<Q", data, 12)
    meta = json.loads(data[20:20 + m])
    (c,) = struct.unpack_from("<Q", data, 20 + m)
    cubin = data[28 + m:28 + m + c]
    (checksum,) = struct.unpack_from("<Q", data, 28 + m + c)
    if fnv1a64(data[:28 + m + c]) != checksum:
        raise SystemExit(f"{path}: checksum mismatch")
    return meta, cubin


def keep_mask(sq, sk, causal, window, device):
    import torch
    i = torch.arange(sq, device=device).view(-1, 1)
    j = torch.arange(sk, device=device).view(1, -1)
    keep = torch.ones(sq, sk, dtype=torch.bool, device=device)
    diag = i + sk - sq
    if causal == "top-left":
        keep &= j <= i
    if causal == "bottom-right":
        keep &= j <= diag
    left, right = window
    if left >= 0:
        keep &= j >= diag - left
    if right >= 0:
        keep &= j <= diag + right
    return keep


def attention(q, k, v, keep, scale):
    """softmax(scale q k^T) v over kept keys, in q's dtype; rows with no key
    give O = 0, LSE = -inf (attn's semantics)."""
    import torch
    group = q.shape[1] // k.shape[1]
    k = k.repeat_interleave(group, dim=1)
    v = v.repeat_interleave(group, dim=1)
    s = (q @ k.transpose(-1, -2)) * scale
    s = s.masked_fill(~keep, float("-inf"))
    lse = torch.logsumexp(s.double(), dim=-1)
    p = torch.softmax(s, dim=-1).nan_to_num(0.0)
    return p @ v, lse


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bundles", nargs="+")
    ap.add_argument("--causal", choices=["none", "top-left", "bottom-right"], default="none")
    ap.add_argument("--window", default="-1,-1")
    ap.add_argument("--repeat", type=int, default=20)
    a = ap.parse_args()
    import cupy
    import torch
    window = tuple(int(x) for x in a.window.split(","))
    failed = 0
    for path in a.bundles:
        meta, cubin = read_bundle(path)
        p = meta["problem"]
        b, hq, hkv, sq, sk, d, dv = (p[x] for x in ("B", "Hq", "Hkv", "Sq", "Sk", "D", "Dv"))
        torch.manual_seed(0)
        dev = "cuda"
        q = torch.randn(b, hq, sq, d, device=dev).half()
        k = torch.randn(b, hkv, sk, d, device=dev).half()
        v = torch.randn(b, hkv, sk, dv, device=dev).half()
        o = torch.zeros(b, hq, sq, dv, device=dev, dtype=torch.half)
        lse = torch.zeros(b, hq, sq, device=dev, dtype=torch.float32)
        cubin_path = path + ".cubin"
        open(cubin_path, "wb").write(cubin)
        fn = cupy.RawModule(path=cubin_path).get_function(meta["kernel"])
        smem = meta["dynamic_shared_memory"]
        fn.max_dynamic_shared_size_bytes = smem
        args = tuple(cupy.asarray(t).data.ptr for t in (q, k, v, o, lse))
        args = tuple(cupy.uint64(x) for x in args) + (cupy.int64(sq), cupy.int64(sk))
        launch = lambda: fn(tuple(meta["grid"]), tuple(meta["block"]), args, shared_mem=smem)
        launch()
        torch.cuda.synchronize()
        scale = d ** -0.5
        keep = keep_mask(sq, sk, a.causal, window, dev)
        ref, ref_lse = attention(q.double(), k.double(), v.double(), keep, scale)
        naive, _ = attention(q, k, v, keep, scale)
        err = (o.double() - ref).abs().max().item()
        naive_err = (naive.double() - ref).abs().max().item()
        lse_err = (lse.double() - ref_lse).abs().nan_to_num(0.0).max().item()
        ok = err <= 2 * naive_err + 1e-4 and not torch.isnan(o).any().item()
        failed += not ok
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        times = []
        for _ in range(a.repeat):
            start.record(); launch(); end.record(); torch.cuda.synchronize()
            times.append(start.elapsed_time(end))
        ms = sorted(times)[len(times) // 2]
        flops = 2.0 * b * hq * sq * sk * (d + dv) / (2 if a.causal != "none" else 1)
        print(f"{path}: O err {err:.3e} (bound {2 * naive_err + 1e-4:.3e}) LSE err {lse_err:.3e} "
              f"{'ok' if ok else 'FAILED'}; {ms:.3f} ms, {flops / ms / 1e9:.1f} TFLOP/s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
