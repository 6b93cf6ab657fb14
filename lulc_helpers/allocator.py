"""How this process's C library hands memory back to the system: glibc's malloc thresholds and arenas, torch-free,
so that `runtime` (training and prediction) and `streaming` (the Dask workers it starts) set the same values."""

from __future__ import annotations

import ctypes
import sys

# glibc's malloc maps each buffer above a threshold (at most 32 MiB, lower after any MALLOC_*_THRESHOLD_ variable,
# such as the 64 KiB Dask's nanny gives its workers) fresh from the kernel and unmaps it when freed; a U-Net's
# activations are that large, so every window and every training step paid for zero-filled pages again
# (benchmarks/inference.py --side-by-side). Up to 256 MiB, freed buffers now stay in the process for the next use.
LARGE_BUFFER_BYTES = 256 * 2**20
# The same as environment variables, read when a process starts (a Dask worker: `streaming.dask_client`), and one
# more: a worker classifies in a thread other than its main one, and glibc gives such a thread its own arena of
# 64 MiB heaps, which it maps and unmaps again around each block's large arrays (1,300-6,400 page faults a block, 8 %
# of its time); with one arena, every thread reuses the main heap's freed buffers. Set at the worker's start: its
# task thread has taken an arena before any code of this package runs in it.
MALLOC_ENVIRONMENT = {"MALLOC_MMAP_THRESHOLD_": str(LARGE_BUFFER_BYTES), "MALLOC_TRIM_THRESHOLD_": str(LARGE_BUFFER_BYTES),
                      "MALLOC_ARENA_MAX": "1"}
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h


def keep_large_buffers() -> bool:
    """Let this process reuse freed buffers of up to `LARGE_BUFFER_BYTES` instead of returning them to the kernel.

    Sets glibc's mmap and trim thresholds (mallopt), whatever the environment set; `runtime.apply_speed_settings`
    calls it where training and prediction start.

    Returns
    -------
    bool
        True when both thresholds were set; False where the C library is not glibc (macOS, Windows), whose
        allocators do not need it.
    """
    if not sys.platform.startswith("linux"):
        return False
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is None:
        return False
    return all(mallopt(option, LARGE_BUFFER_BYTES) == 1 for option in (_M_MMAP_THRESHOLD, _M_TRIM_THRESHOLD))
