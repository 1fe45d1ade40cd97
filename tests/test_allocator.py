"""kit.allocator: freed arrays go back to the system in the merging process, stay for reuse in a worker (glibc)."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from kit import allocator

HELD_AFTER_FREE = textwrap.dedent("""
    import sys
    import numpy as np
    import psutil
    from kit.allocator import return_freed_arrays, reuse_freed_blocks

    set_up = {"merging": return_freed_arrays, "worker": reuse_freed_blocks}.get(sys.argv[1])
    assert set_up is None or set_up()
    rss = lambda: psutil.Process().memory_info().rss
    np.ones(1 << 17).sum()  # a 1 MiB block freed: glibc would raise its threshold to 1 MiB
    before = rss()
    arrays, pins = [], []
    for _ in range(200):  # 200 MiB of arrays, each followed by a small block that stays
        arrays.append(np.ones(1 << 17))
        pins.append(bytes(4000))
    del arrays
    print((rss() - before) >> 20)
""")

HELD_AT_THE_TOP = textwrap.dedent("""
    import sys
    import numpy as np
    import psutil
    from kit.allocator import WORKER_THRESHOLD, _fix_threshold, reuse_freed_blocks

    assert reuse_freed_blocks() if sys.argv[1] == "worker" else _fix_threshold(WORKER_THRESHOLD)
    rss = lambda: psutil.Process().memory_info().rss
    before = rss()
    block = np.ones(2 << 20)  # 16 MiB from the top of the heap (under the mmap threshold), touched
    del block
    print((rss() - before) >> 20)
""")

glibc_only = pytest.mark.skipif(allocator._mallopt() is None, reason="glibc's mallopt only")


def _held_mib(mode: str) -> int:
    """MiB still held by a fresh process after freeing 200 MiB of arrays interleaved with small blocks."""
    done = subprocess.run([sys.executable, "-c", HELD_AFTER_FREE, mode], capture_output=True, text=True, check=True)
    return int(done.stdout)


@glibc_only
def test_freed_arrays_are_given_back_in_the_merging_process_only():
    assert _held_mib("default") >= 150  # the mechanism the module is for: holes the heap keeps
    assert _held_mib("merging") <= 20
    assert _held_mib("worker") >= 150  # a worker keeps them, to make the next file's buffers from


@glibc_only
def test_a_worker_keeps_the_free_top_of_its_heap_whatever_its_parent_did():
    """Given back (trimmed), the next file's buffers would fault in fresh pages again: 0.07 -> 0.35 s of
    system time per worker at 1.1 M events when the parent had not raised glibc's thresholds before forking."""
    held = {mode: int(subprocess.run([sys.executable, "-c", HELD_AT_THE_TOP, mode], capture_output=True, text=True,
                                     check=True).stdout) for mode in ("mmap threshold only", "worker")}
    assert held["mmap threshold only"] <= 4 and held["worker"] >= 12, held


def test_without_glibc_nothing_is_set(monkeypatch):
    monkeypatch.setattr(allocator, "_mallopt", lambda: None)
    assert allocator.return_freed_arrays() is False and allocator.reuse_freed_blocks() is False
