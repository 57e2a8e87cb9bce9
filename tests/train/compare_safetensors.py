#!/usr/bin/env python3
"""compare_safetensors.py A B [RTOL ATOL] — every F32 tensor of A equals B's to fp32 tolerance (the layout
equivalence tolerance, rtol 1e-5 atol 4e-5 by default); prints the largest difference, exits 1 otherwise."""
import json
import struct
import sys


def read(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    out = {}
    for name, t in header.items():
        if name == "__metadata__" or t["dtype"] != "F32":
            continue
        a, b = t["data_offsets"]
        out[name] = struct.unpack("<%df" % ((b - a) // 4), body[a:b])
    return out


def main():
    a, b = read(sys.argv[1]), read(sys.argv[2])
    rtol = float(sys.argv[3]) if len(sys.argv) > 3 else 1e-5
    atol = float(sys.argv[4]) if len(sys.argv) > 4 else 4e-5
    if sorted(a) != sorted(b):
        print("different tensor names:", sorted(set(a) ^ set(b)))
        return 1
    worst, bad = 0.0, 0
    for name in a:
        for x, y in zip(a[name], b[name]):
            d = abs(x - y)
            worst = max(worst, d)
            bad += d > atol + rtol * abs(y)
    print("%d tensors, largest difference %.3g, %d elements outside rtol %g atol %g" % (len(a), worst, bad, rtol, atol))
    return 1 if bad else 0


sys.exit(main())
