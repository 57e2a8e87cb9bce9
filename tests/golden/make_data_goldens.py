#!/usr/bin/python3
"""Writes tests/golden/shuffle_golden.txt from the pure-Python reference paraxis_shuffle.py.

    /usr/bin/python3 tests/golden/make_data_goldens.py

Format: a header line `paraxis-shuffle-golden v1 python=<version>`, then one line per case:
`order <n> <seed> <epoch> <indices...>`.
"""
import os
import platform

from paraxis_shuffle import shuffle_order

CASES = [(10, 0, 0), (17, 5, 0), (17, 5, 1), (100, 42, 3), (1000, 2**40 + 7, 12)]


def main():
    lines = ["paraxis-shuffle-golden v1 python=%s" % platform.python_version()]
    for n, seed, epoch in CASES:
        lines.append("order %d %d %d %s" % (n, seed, epoch, " ".join(map(str, shuffle_order(n, seed, epoch)))))
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "shuffle_golden.txt")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
