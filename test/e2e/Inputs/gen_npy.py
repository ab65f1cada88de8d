#!/usr/bin/env python3
"""Writes random .npy inputs for attn-run tests, with the standard library only.

  gen_npy.py OUT.npy SHAPE [--dtype float32|float16|float64|bool] [--seed N]
             [--fill normal|ones|zeros|keep-fraction=P|bias|padding-bias[=V]]

SHAPE is comma-separated (e.g. 1,8,128,64). Values are N(0, 1) by default;
`keep-fraction=P` writes a bool mask that keeps each element with
probability P; `bias` writes N(0, 1) values with about 10% set to -inf;
`padding-bias[=V]` sets every 4th row to V (default finfo(float32).min) and
the rest to 0.
"""
import argparse
import math
import random
import struct


def write_npy(path, shape, dtype, values):
    descr = {"float32": "<f4", "float16": "<f2", "float64": "<f8", "bool": "|b1"}[dtype]
    fmt = {"float32": "f", "float16": "e", "float64": "d", "bool": "?"}[dtype]
    shape_txt = "(" + "".join(f"{d}, " for d in shape).rstrip(" ") + ")" if len(shape) != 1 else f"({shape[0]},)"
    if len(shape) == 0:
        shape_txt = "()"
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_txt}, }}"
    pad = 64 - (10 + len(header) + 1) % 64
    header += " " * pad + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00")
        f.write(struct.pack("<H", len(header)))
        f.write(header.encode("latin1"))
        f.write(struct.pack(f"<{len(values)}{fmt}", *values))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("shape")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fill", default="normal")
    a = p.parse_args()
    shape = [int(d) for d in a.shape.split(",") if d != ""]
    n = math.prod(shape)
    rng = random.Random(a.seed)
    if a.fill == "normal":
        values = [rng.gauss(0.0, 1.0) for _ in range(n)]
    elif a.fill == "ones":
        values = [1.0] * n
    elif a.fill == "zeros":
        values = [0.0] * n
    elif a.fill.startswith("keep-fraction="):
        frac = float(a.fill.split("=")[1])
        values = [rng.random() < frac for _ in range(n)]
        a.dtype = "bool"
    elif a.fill == "bias":
        values = [(-math.inf if rng.random() < 0.1 else rng.gauss(0.0, 1.0)) for _ in range(n)]
    elif a.fill.startswith("padding-bias"):
        # HuggingFace-style padding mask: every 4th row (last dim = keys) is
        # entirely finfo(dtype).min (float32's unless given as =V), the
        # others 0.
        low = float(a.fill.split("=")[1]) if "=" in a.fill else -3.4028234663852886e38
        keys = shape[-1] if shape else 1
        values = [(low if (i // keys) % 4 == 0 else 0.0) for i in range(n)]
    else:
        raise SystemExit(f"unknown --fill {a.fill}")
    write_npy(a.out, shape, a.dtype, values)


if __name__ == "__main__":
    main()
