import ctypes
import os
import subprocess
import sys

import numpy as np
import pytest

from lulc_helpers import allocator

BUFFER_BYTES = 40 * 2**20  # above glibc's largest dynamic mmap threshold (32 MiB), within a thread's 64 MiB heap
DASK_NANNY_ENVIRONMENT = {"MALLOC_TRIM_THRESHOLD_": "65536"}  # distributed.nanny.pre-spawn-environ

needs_glibc = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not hasattr(ctypes.CDLL(None), "mallinfo2"), reason="glibc 2.33+ only"
)


class _MallocInfo(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


def freshly_mapped_bytes() -> int:
    """Bytes of a new 40 MiB buffer that glibc maps from the kernel (zero-filled pages) rather than reusing its heap."""
    mallinfo2 = ctypes.CDLL(None).mallinfo2
    mallinfo2.restype = _MallocInfo
    before = mallinfo2().hblkhd
    buffer = np.ones(BUFFER_BYTES // 8)
    mapped = mallinfo2().hblkhd - before
    del buffer
    return mapped


def mapped_in_fresh_process(statement: str, env: dict) -> int:
    code = f"from tests.test_allocator import freshly_mapped_bytes\n{statement}\nprint(freshly_mapped_bytes())"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": root, **env},
                            capture_output=True, text=True, check=True)
    return int(result.stdout.split()[-1])


@needs_glibc
def test_keep_large_buffers_overrides_the_environment_dask_gives_its_workers():
    assert mapped_in_fresh_process("pass", DASK_NANNY_ENVIRONMENT) >= BUFFER_BYTES
    assert mapped_in_fresh_process("from lulc_helpers import allocator; assert allocator.keep_large_buffers()",
                                    DASK_NANNY_ENVIRONMENT) == 0


@needs_glibc
def test_the_malloc_environment_does_the_same_from_a_process_start():
    assert mapped_in_fresh_process("pass", allocator.MALLOC_ENVIRONMENT) == 0


@needs_glibc
def test_importing_the_package_changes_nothing():
    assert mapped_in_fresh_process("import lulc_helpers.runtime, lulc_helpers.streaming", {}) >= BUFFER_BYTES
