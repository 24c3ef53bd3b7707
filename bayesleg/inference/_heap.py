"""Keep glibc's heap from shrinking between the chunks of a batch.

A batch is propagated in chunks, each allocating and freeing some megabytes
of tables.  With glibc's default settings, freeing a chunk's tables leaves a
free block at the top of the heap larger than the trim threshold (which glibc
raises only to twice the largest block it has had to map on its own), so the
heap is handed back to the system after every chunk and the next chunk's
tables fault in fresh zeroed pages: on the shipped model that was about half
of a batch's time (110,000 page faults for 5,000 cases).

So the first batch sets, once per process, the trim threshold to
``TRIM_THRESHOLD`` (the free memory the process may keep at the top of its heap)
and the mmap threshold to ``MMAP_THRESHOLD`` (glibc's own ceiling for it: blocks
above it are mapped apart and returned when freed, as before).  Nothing is
changed when the process is not on glibc, when its environment already sets
glibc's malloc options (``MALLOC_TRIM_THRESHOLD_``, ``MALLOC_MMAP_THRESHOLD_``,
``MALLOC_TOP_PAD_``, or ``GLIBC_TUNABLES`` naming ``glibc.malloc``), or when
``BAYESLEG_HEAP=system`` asks to leave the allocator alone.  Only speed
depends on it, never an answer.
"""

from __future__ import annotations

import os
import threading

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "keep_heap"]

#: Bytes of free heap top the process may keep.
TRIM_THRESHOLD = 128 << 20
#: Blocks larger than this are mapped on their own (glibc's dynamic maximum).
MMAP_THRESHOLD = 32 << 20

# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

_ENVIRONMENT = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_")

_lock = threading.Lock()
_decided = False
_applied = False


def keep_heap() -> bool:
    """Set glibc's thresholds once, as the module docstring says; return whether they were set."""
    global _decided, _applied
    if _decided:
        return _applied
    with _lock:
        if not _decided:
            _applied = _apply()
            _decided = True
    return _applied


def _apply() -> bool:
    import ctypes  # here, not at import: only a batch needs them
    import platform

    if os.environ.get("BAYESLEG_HEAP", "").strip().lower() == "system":
        return False
    if any(name in os.environ for name in _ENVIRONMENT):
        return False
    if "glibc.malloc" in os.environ.get("GLIBC_TUNABLES", ""):
        return False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    # The mmap threshold first: setting either turns glibc's own adjustment off.
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
