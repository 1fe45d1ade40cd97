"""Give freed memory back to the system while the local engine reads (glibc only).

glibc serves an allocation of at least its *mmap threshold* (128 KiB at start) with its own pages,
returned when freed; smaller ones come from the heap. Each time such a block is freed, glibc raises
the threshold to its size (up to 32 MiB), so from then on numpy arrays of up to that size come from
the heap, between long-lived objects, where freed space stays held by the process. The rollup's
arrays are rebuilt from batch to batch (merged, compacted), so the heap fills with holes. Fixing the
threshold turns the raising off: every array of 128 KiB or more gets its own pages and gives them
back when freed (bench/RESULTS.md: peak RSS of the parent at 11.4 M events 506 → 419 MB).

That suits the process that merges; a worker instead makes and frees the same buffers file after
file (decompressed text, records, a batch's arrays), which fresh pages would make 10% slower: its
threshold is fixed at glibc's highest, where the raising would take it anyway, and so is the free
space its heap keeps at the top rather than give back (twice that, as the raising sets it; a parent
that imported little before forking had raised nothing: bench/RESULTS.md). Both settings last
as long as their process: a notebook kernel that read trail files with workers keeps the first.
"""
from __future__ import annotations

import ctypes
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
"""glibc's ``mallopt`` parameter numbers for the trim and mmap thresholds (malloc.h)."""
MERGING_THRESHOLD = 128 * 1024
"""The threshold of the process that merges: glibc's starting value."""
WORKER_THRESHOLD = 32 * 1024 * 1024
"""The threshold of a worker: glibc's highest (64-bit)."""


def _mallopt() -> ctypes._CFuncPtr | None:
    """glibc's ``mallopt``, or None on another C library or system."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)  # the C library this process runs on
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # glibc: musl and others have no such function
    except (OSError, AttributeError):
        return None
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt


def _fix_threshold(size: int, trim: int | None = None) -> bool:
    """Fix glibc's mmap threshold at ``size`` (and its trim threshold at ``trim`` when given) for this
    process and those it forks from now on; True when set (False where there is no glibc: nothing changes)."""
    mallopt = _mallopt()
    return bool(mallopt and mallopt(M_MMAP_THRESHOLD, size) == 1 and (trim is None or mallopt(M_TRIM_THRESHOLD, trim) == 1))


def return_freed_arrays() -> bool:
    """In the process that merges: every array of 128 KiB or more gives its pages back when freed."""
    return _fix_threshold(MERGING_THRESHOLD)


def reuse_freed_blocks() -> bool:
    """In a worker (its pool's initializer): blocks under 32 MiB are reused from the heap, which keeps
    up to twice that free at its top (as glibc's raising would set it)."""
    return _fix_threshold(WORKER_THRESHOLD, trim=2 * WORKER_THRESHOLD)
