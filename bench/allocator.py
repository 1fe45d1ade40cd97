"""What glibc's mmap threshold costs a worker: the first batches of a trail read by ``read_batch`` in
a fresh process per setting, alternating (``python -m bench.allocator --path
bench/data/org-1000000/trail``).

The settings: glibc's own (the threshold rises to each large block freed), ``merging`` (fixed at
128 KiB, as ``kit.allocator.return_freed_arrays`` sets it in the process that merges) and ``worker``
(fixed at 32 MiB, as ``kit.allocator.reuse_freed_blocks`` sets it in the pool's workers). Prints the
median seconds and the largest peak RSS of each.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.run import ALL_TIME
from kit import allocator
from kit.engines.local import BATCH_BYTES, batches, read_batch
from kit.params import parse_time
from kit.trailfiles import discover

SETTINGS = ("glibc", "merging", "worker")
WINDOW = tuple(f"{day}T00:00:00Z" for day in ALL_TIME)
"""Every event (``read_batch`` takes the window as UTC texts)."""


def child(path: Path, setting: str, batch_count: int) -> dict[str, float]:
    """In this (fresh) process: read the first ``batch_count`` batches under ``setting``; seconds and
    peak RSS in MB."""
    if setting != "glibc":
        {"merging": allocator.return_freed_arrays, "worker": allocator.reuse_freed_blocks}[setting]()
    found = discover(path, parse_time("start", ALL_TIME[0]), parse_time("end", ALL_TIME[1]))
    work = [[trail_file.path for trail_file in batch] for _, batch in zip(range(batch_count),
                                                                          batches(found.files, BATCH_BYTES))]
    began = time.perf_counter()
    for paths in work:
        read_batch(paths, *WINDOW, (), None)
    return {"seconds": time.perf_counter() - began,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(argv: list[str] | None = None) -> int:
    """Command line: ``--path DIR [--batches N] [--runs R]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, required=True)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", choices=SETTINGS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.path, args.child, args.batches)))
        return 0
    measured: dict[str, list[dict[str, float]]] = {setting: [] for setting in SETTINGS}
    for run in range(args.runs):
        for setting in SETTINGS[run % len(SETTINGS):] + SETTINGS[:run % len(SETTINGS)]:
            done = subprocess.run([sys.executable, "-m", "bench.allocator", "--path", str(args.path), "--batches",
                                   str(args.batches), "--child", setting], capture_output=True, text=True, check=True)
            measured[setting].append(json.loads(done.stdout))
    print(f"| setting | median s ({args.runs} runs, {args.batches} batches) | peak RSS MB |\n|---|---:|---:|")
    for setting, runs in measured.items():
        print(f"| {setting} | {statistics.median(run['seconds'] for run in runs):.2f} | "
              f"{max(run['peak_mb'] for run in runs):.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
