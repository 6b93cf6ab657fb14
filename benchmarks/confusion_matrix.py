"""Time lulc_helpers.metrics.confusion_matrix against sklearn.metrics.confusion_matrix on the same arrays.

Default: 120 million pixel pairs (one 10980 x 10980 Sentinel-2 tile at 10 m is 120.6 million), uint8
codes 0..10 with 0 = unlabelled in about 10% of the reference. Prints a table; not a test.
sklearn needs several GB of memory at this size: pass a smaller --pixels on a small machine.

    python benchmarks/confusion_matrix.py [--pixels 120000000] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
from sklearn import metrics as skm

from lulc_helpers import metrics


def make_pairs(pixels: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    reference = rng.integers(0, 11, size=pixels, dtype=np.uint8)
    classified = reference.copy()
    wrong = rng.random(pixels, dtype=np.float32) < 0.2
    classified[wrong] = rng.integers(1, 11, size=int(wrong.sum()), dtype=np.uint8)
    return classified, reference


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pixels", type=int, default=120_000_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    classified, reference = make_pairs(args.pixels, args.seed)
    labels = list(range(1, 11))
    ours, ours_s = timed(lambda: metrics.confusion_matrix(classified, reference, labels=labels)[0])
    # sklearn counts every pair whose codes are both in `labels`, so 0 is ignored there too
    theirs, theirs_s = timed(lambda: skm.confusion_matrix(reference, classified, labels=labels).T)
    same = np.array_equal(ours, theirs)
    print(f"{args.pixels:,} pixel pairs, {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores")
    print(f"{'implementation':<36}{'seconds':>10}")
    print(f"{'lulc_helpers.metrics.confusion_matrix':<36}{ours_s:>10.2f}")
    print(f"{'sklearn.metrics.confusion_matrix':<36}{theirs_s:>10.2f}")
    print(f"speed-up {theirs_s / ours_s:.1f}x; identical matrices: {same}")


if __name__ == "__main__":
    main()
