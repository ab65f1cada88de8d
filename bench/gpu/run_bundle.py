#!/usr/bin/env python3
"""Runs attn kernel bundles on a GPU with torch and cupy, checks them against
an fp64 reference and times them next to torch's SDPA.

For the lent GPU machines, which have torch and cupy but no LLVM/MLIR: build
bundles here with attn-compile (scripts/gpu-pack.sh packs them with this
script), carry them over, and run

  python3 run_bundle.py K.attnb [K2.attnb ...] [--repeat 20] [--no-check]

Each bundle is launched as its metadata says: grid, block, dynamic shared
memory, and the kernel parameters from its "args" list by name (pointers q,
k, v, an optional mask, o, lse, with their shapes and element types;
scalars sq, sk), on N(0, 1) inputs (a keep-mask keeps 3/4 of the elements,
a bias is N(0, 1)). The semantics (scale, causal alignment, window relative
to the bottom-right diagonal, softcap) are those the bundle records (see
runtime/include/attn-rt/Bundle.h and README.md).

O and LSE are compared, one (batch, head) at a time to bound memory, with an
fp64 reference using FlashAttention's rule max|out - ref| <= 2 * max|naive -
ref| + floor (naive: torch in the storage type; floor 1e-4 f16, 1e-3 bf16).
attn-bundle-run --check is the runner of record for correctness; this
script is for comparing with torch. Timings: median of --repeat launches,
and torch SDPA's on the same inputs (is_causal for top-left causal or
Sq = Sk, an explicit mask otherwise).
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
    if "semantics" not in meta:
        raise SystemExit(f"{path}: no semantics (written by an older attn-compile); compile it again")
    return meta, cubin


def keep_mask(sq, sk, sem, device):
    """attn's causal/window keep predicate for one (Sq, Sk) score matrix."""
    import torch
    i = torch.arange(sq, device=device).view(-1, 1)
    j = torch.arange(sk, device=device).view(1, -1)
    keep = torch.ones(sq, sk, dtype=torch.bool, device=device)
    diag = i + sk - sq
    causal = int(sem["causal"])
    if causal == 1:
        keep &= j <= i
    if causal == 2:
        keep &= j <= diag
    left, right = int(sem["window_left"]), int(sem["window_right"])
    if left >= 0:
        keep &= j >= diag - left
    if right >= 0:
        keep &= j <= diag + right
    return keep


def attention(q, k, v, keep, bias, sem):
    """One (batch, head): softmax(scale q k^T [softcapped] + bias) v over kept
    keys, in q's dtype; rows with no key give O = 0, LSE = -inf."""
    import torch
    s = (q @ k.transpose(-1, -2)) * sem["scale"]
    if sem["softcap"] > 0:
        s = sem["softcap"] * torch.tanh(s / sem["softcap"])
    if bias is not None:
        s = s + bias.to(s.dtype)
    s = s.masked_fill(~keep, float("-inf"))
    lse = torch.logsumexp(s.double(), dim=-1)
    p = torch.softmax(s, dim=-1).nan_to_num(0.0)
    return p @ v, lse


DTYPES = {"f16": "float16", "bf16": "bfloat16", "f32": "float32", "i8": "int8"}
FLOORS = {"f16": 1e-4, "bf16": 1e-3, "f32": 1e-5}


def make_inputs(meta, torch):
    """Device tensors for every pointer argument, by name."""
    tensors = {}
    for arg in meta["args"]:
        if arg["kind"] != "pointer":
            continue
        name, shape = arg["name"], arg["shape"]
        dtype = getattr(torch, DTYPES[arg["element_type"]])
        if name in ("o", "lse"):
            tensors[name] = torch.full(shape, float("nan"), device="cuda", dtype=dtype)
        elif arg["element_type"] == "i8":
            tensors[name] = (torch.rand(shape, device="cuda") < 0.75).to(dtype)
        else:
            tensors[name] = torch.randn(shape, device="cuda").to(dtype)
    return tensors


def check(meta, t):
    """FlashAttention's rule on O and LSE, one (batch, head) at a time."""
    import torch
    sem, dt = meta["semantics"], meta["dtype"]
    q, k, v, o, lse = t["q"], t["k"], t["v"], t["o"], t["lse"]
    b, hq, sq, _ = q.shape
    sk, group = k.shape[2], hq // k.shape[1]
    keep = keep_mask(sq, sk, sem, "cuda")
    mask = t.get("mask")
    err = naive_err = lse_err = naive_lse_err = 0.0
    for bi in range(b):
        for h in range(hq):
            kv = (bi, h // group)
            head_keep, bias = keep, None
            if mask is not None:
                m = mask[bi % mask.shape[0], h % mask.shape[1]].expand(sq, sk)
                if mask.dtype == torch.int8:
                    head_keep = keep & (m != 0)
                else:
                    bias = m
            ref, ref_lse = attention(q[bi, h].double(), k[kv].double(), v[kv].double(), head_keep,
                                     None if bias is None else bias.double(), sem)
            naive, naive_lse = attention(q[bi, h], k[kv], v[kv], head_keep, bias, sem)

            def max_err(x, y):
                d = (x.double() - y).abs()
                d[x.double() == y] = 0.0  # equal infinities (masked rows' LSE)
                return d.nan_to_num(float("inf")).max().item()
            err = max(err, max_err(o[bi, h], ref))
            naive_err = max(naive_err, max_err(naive, ref))
            lse_err = max(lse_err, max_err(lse[bi, h], ref_lse))
            naive_lse_err = max(naive_lse_err, max_err(naive_lse, ref_lse))
    floor = FLOORS[dt]
    bound, lse_bound = 2 * naive_err + floor, 2 * naive_lse_err + floor
    ok = err <= bound and lse_err <= lse_bound
    return ok, f"O err {err:.2e} <= {bound:.2e}, LSE err {lse_err:.2e} <= {lse_bound:.2e}"


def median_ms(fn, repeat, torch):
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(repeat):
        start.record(); fn(); end.record(); torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return sorted(times)[len(times) // 2]


def sdpa(meta, t, torch):
    """torch's SDPA on the same inputs, as a callable."""
    import torch.nn.functional as F
    sem = meta["semantics"]
    q, k, v = t["q"], t["k"], t["v"]
    sq, sk = q.shape[2], k.shape[2]
    causal = int(sem["causal"])
    windowed = sem["window_left"] >= 0 or sem["window_right"] >= 0
    is_causal = causal != 0 and (causal == 1 or sq == sk) and not windowed and "mask" not in t
    mask = None
    if not is_causal and (causal or windowed or "mask" in t):
        keep = keep_mask(sq, sk, sem, "cuda")
        if "mask" in t:
            m = t["mask"]
            mask = (keep & (m != 0)) if m.dtype == torch.int8 else m.to(q.dtype).masked_fill(~keep, float("-inf"))
        else:
            mask = keep
    gqa = q.shape[1] != k.shape[1]
    return lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=is_causal,
                                                  scale=sem["scale"], enable_gqa=gqa)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bundles", nargs="+")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--no-check", action="store_true")
    a = ap.parse_args()
    import cupy
    import torch
    failed = 0
    for path in a.bundles:
        meta, cubin = read_bundle(path)
        torch.manual_seed(0)
        t = make_inputs(meta, torch)
        cubin_path = path + ".cubin"
        open(cubin_path, "wb").write(cubin)
        fn = cupy.RawModule(path=cubin_path).get_function(meta["kernel"])
        smem = meta["dynamic_shared_memory"]
        fn.max_dynamic_shared_size_bytes = smem
        sizes = {"sq": t["q"].shape[2], "sk": t["k"].shape[2]}
        args = []
        for arg in meta["args"]:
            if arg["kind"] == "pointer":
                args.append(cupy.uint64(t[arg["name"]].data_ptr()))
            else:
                args.append({"i64": cupy.int64, "i32": cupy.int32}[arg["kind"]](sizes[arg["name"]]))
        launch = lambda: fn(tuple(meta["grid"]), tuple(meta["block"]), tuple(args), shared_mem=smem)
        launch()
        torch.cuda.synchronize()
        result = "not checked"
        if not a.no_check:
            ok, result = check(meta, t)
            result += " ok" if ok else " FAILED"
            failed += not ok
        ms = median_ms(launch, a.repeat, torch)
        sdpa_ms = median_ms(sdpa(meta, t, torch), a.repeat, torch)
        b, hq, sq, d = t["q"].shape
        sk, dv = t["k"].shape[2], t["v"].shape[3]
        flops = 2.0 * b * hq * sq * sk * (d + dv) / (2 if meta["semantics"]["causal"] else 1)
        print(f"{path}: {result}; attn {ms:.3f} ms {flops / ms / 1e9:.1f} TFLOP/s, "
              f"SDPA {sdpa_ms:.3f} ms {flops / sdpa_ms / 1e9:.1f} TFLOP/s ({sdpa_ms / ms:.2f}x)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
