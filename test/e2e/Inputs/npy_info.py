#!/usr/bin/env python3
"""Prints the dtype, shape and a summary of an .npy file (standard library only).

  npy_info.py FILE   ->  "float32 (1, 8, 200, 64) nan=0 neginf=3 min=... max=..."
"""
import ast
import math
import struct
import sys

FORMATS = {"<f4": ("float32", "f", 4), "<f2": ("float16", "e", 2),
           "<f8": ("float64", "d", 8), "|b1": ("bool", "?", 1)}

with open(sys.argv[1], "rb") as f:
    data = f.read()
assert data[:6] == b"\x93NUMPY", "not an npy file"
major = data[6]
hlen_size = 2 if major == 1 else 4
hlen = int.from_bytes(data[8:8 + hlen_size], "little")
header = ast.literal_eval(data[8 + hlen_size:8 + hlen_size + hlen].decode("latin1"))
name, fmt, size = FORMATS[header["descr"]]
shape = tuple(header["shape"])
n = math.prod(shape)
body = data[8 + hlen_size + hlen:]
values = struct.unpack(f"<{n}{fmt}", body[:n * size])
finite = [v for v in values if not (isinstance(v, float) and (math.isnan(v) or math.isinf(v)))]
nan = sum(1 for v in values if isinstance(v, float) and math.isnan(v))
neginf = sum(1 for v in values if isinstance(v, float) and v == -math.inf)
summary = f"min={min(finite):.6g} max={max(finite):.6g}" if finite else "min=- max=-"
print(f"{name} {shape} nan={nan} neginf={neginf} {summary}")
