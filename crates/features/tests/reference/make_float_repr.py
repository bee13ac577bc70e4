#!/usr/bin/env python3
"""Expected CSV text of float cells: Python's repr(float), which the flow sets reproduce.

Writes tests/reference/float_repr.tsv (hex bit pattern, repr) for the sink's test
`floats_render_as_python_s_repr_file`. Regenerate with:

    python3 crates/features/tests/reference/make_float_repr.py > crates/features/tests/reference/float_repr.tsv
"""
import random
import struct
import sys


def bits(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


rng = random.Random(20240611)
values = [0.0, -0.0, float("nan"), float("inf"), float("-inf"), 5e-324, 1.7976931348623157e308,
          1e-4, 1e-5, 9.999e-5, 1.5e-5, -1.5e-5, 1e16, 1.5e16, 9999999999999998.0,
          1658206780088562.25, 1 / 3, 2.220446049250313e-16, 123.456, -2e-7]
# Every decimal exponent at a few significands, both signs.
for e in range(-325, 310):
    for m in (1.0, 1.5, 9.999999999999999):
        x = m * 10.0 ** e if -300 < e < 300 else float(f"{m}e{e}")
        values += [x, -x] if m == 1.5 else [x]
# Values like the flow sets': differences of dpkt timestamps, mean and std of lengths.
for _ in range(400):
    t = 1.585e9 + rng.randrange(100_000_000) / 1e6
    values.append(t + rng.randrange(10_000_000) / 1e6 - t)
    values.append(rng.randrange(1_000_000) / (1 + rng.randrange(5000)))
    values.append(rng.randrange(1_000_000) ** 0.5)
    values.append((t + rng.randrange(1000) / 1e6) - t)
# Random bit patterns (every exponent).
for _ in range(400):
    values.append(struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0])
out = sys.stdout
out.write(f"# {sys.version.split()[0]}: python3 crates/features/tests/reference/make_float_repr.py\n")
for x in values:
    out.write(f"{bits(x):016x}\t{x!r}\n")
