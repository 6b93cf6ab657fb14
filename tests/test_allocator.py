import ctypes
import os
import resource
import subprocess
import sys
import threading

import numpy as np
import pytest

from lulc_helpers import allocator

BUFFER_BYTES = 40 * 2**20  # above glibc's largest dynamic mmap threshold (32 MiB), within a thread's 64 MiB heap
DASK_NANNY_ENVIRONMENT = {"MALLOC_TRIM_THRESHOLD_": "65536"}  # distributed.nanny.pre-spawn-environ
BLOCK_ARRAY_BYTES = 59 * 2**20  # a streamed block's reflectance or probabilities: 10 x 1216 x 1216 float32

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


def pages_faulted_again() -> int:
    """Pages this thread faults in when it allocates three block-sized arrays a second time (0: all reused)."""
    faults = []
    for _ in range(2):
        before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
        arrays = [np.ones(BLOCK_ARRAY_BYTES // 8) for _ in range(3)]
        del arrays
        faults.append(resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before)
    return faults[1]


def pages_faulted_again_in_a_new_thread() -> int:
    """As `pages_faulted_again`, in a thread other than the main one, as a Dask worker's task runs."""
    faults = []
    thread = threading.Thread(target=lambda: faults.append(pages_faulted_again()))
    thread.start()
    thread.join()
    return faults[0]


def counted_in_fresh_process(statement: str, env: dict, count: str = "freshly_mapped_bytes") -> int:
    """What a function of this module returns in a new Python process with `env`, after `statement`."""
    code = f"from tests import test_allocator\n{statement}\nprint(test_allocator.{count}())"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    inherited = {name: value for name, value in os.environ.items() if not name.startswith("MALLOC_")}
    result = subprocess.run([sys.executable, "-c", code], env={**inherited, "PYTHONPATH": root, **env},
                            capture_output=True, text=True, check=True)
    return int(result.stdout.split()[-1])


@needs_glibc
def test_keep_large_buffers_overrides_the_environment_dask_gives_its_workers():
    assert counted_in_fresh_process("pass", DASK_NANNY_ENVIRONMENT) >= BUFFER_BYTES
    assert counted_in_fresh_process("from lulc_helpers import allocator; assert allocator.keep_large_buffers()",
                                    DASK_NANNY_ENVIRONMENT) == 0


@needs_glibc
def test_the_malloc_environment_does_the_same_from_a_process_start():
    assert counted_in_fresh_process("pass", allocator.MALLOC_ENVIRONMENT) == 0


@needs_glibc
def test_a_thread_reuses_large_buffers_only_with_the_malloc_environment():
    """The thresholds alone leave a new thread's arena mapping and unmapping its heaps; MALLOC_ARENA_MAX=1 does not."""
    thresholds_only = "from lulc_helpers import allocator; assert allocator.keep_large_buffers()"
    faulted_again = "pages_faulted_again_in_a_new_thread"
    assert counted_in_fresh_process(thresholds_only, DASK_NANNY_ENVIRONMENT, faulted_again) > 100  # about 800 here
    assert counted_in_fresh_process(thresholds_only, allocator.MALLOC_ENVIRONMENT, faulted_again) < 20


@needs_glibc
def test_importing_the_package_changes_nothing():
    assert counted_in_fresh_process("import lulc_helpers.runtime, lulc_helpers.streaming", {}) >= BUFFER_BYTES
