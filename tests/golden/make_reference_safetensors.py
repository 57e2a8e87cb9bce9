#!/usr/bin/python3
"""Writes tests/golden/reference_small.safetensors by hand (struct + json), exactly as the reference
implementation (huggingface/safetensors) lays a file out: u64 little-endian header length, compact JSON header
padded with spaces to a multiple of 8 bytes, then the tensors' bytes back to back. No torch, no safetensors
package: the point is an independent writer for safetensors_test.cc to read.

Contents (checked by SafetensorsReference.ReadsFileWrittenByPython):
  "b.matrix" F32 (2, 3) = 0.5 * [0..5] - 1
  "a.ids"    I32 (4,)   = [7, -1, 0, 2147483647]
  "c.scalar" F32 ()     = 3.25
  "d.empty"  F32 (0, 5)
  __metadata__ = {"format": "pt", "writer": "make_reference_safetensors.py"}
The data is laid out in the order listed (not sorted by name) to show the reader follows the offsets.
"""
import json
import os
import struct

tensors = [
    ("b.matrix", "F32", [2, 3], struct.pack("<6f", *[0.5 * i - 1 for i in range(6)])),
    ("a.ids", "I32", [4], struct.pack("<4i", 7, -1, 0, 2147483647)),
    ("c.scalar", "F32", [], struct.pack("<f", 3.25)),
    ("d.empty", "F32", [0, 5], b""),
]
header = {"__metadata__": {"format": "pt", "writer": "make_reference_safetensors.py"}}
offset = 0
for name, dtype, shape, data in tensors:
    header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
    offset += len(data)
text = json.dumps(header, separators=(",", ":")).encode()
text += b" " * ((8 - len(text) % 8) % 8)
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference_small.safetensors")
with open(out, "wb") as f:
    f.write(struct.pack("<Q", len(text)))
    f.write(text)
    for _, _, _, data in tensors:
        f.write(data)
print(f"wrote {out}: header {len(text)} bytes, data {offset} bytes")
