"""What finding duplicates across batches costs the parent: ``SeenIds.add`` of random 64-bit hashes
in batches the size of a 4 MB batch of trail files (``python -m bench.seenids --ids 3400000``).

Prints the median seconds of ``--runs`` runs. Run it from another tree's folder (``cd /tmp/base &&
PYTHONPATH=/path/to/repo python -m bench.seenids``) to time that tree's ``kit.eventids``.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from kit.eventids import SeenIds

BATCH_IDS = 38_000
"""Events in a 4 MB batch of the generated orgs' files."""


def seconds(ids: int, seed: int) -> float:
    """Time to add ``ids`` random hashes (distinct but for a chance of 1 in millions), batch by batch,
    to an empty set."""
    hashes = np.random.default_rng(seed).integers(0, 2**64 - 1, ids, dtype=np.uint64, endpoint=True)
    batches = [hashes[start:start + BATCH_IDS] for start in range(0, ids, BATCH_IDS)]
    seen = SeenIds()
    began = time.perf_counter()
    for batch in batches:
        seen.add(batch)
    return time.perf_counter() - began


def main(argv: list[str] | None = None) -> int:
    """Command line: ``--ids N --runs R``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, default=3_400_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    median = statistics.median(seconds(args.ids, run) for run in range(args.runs))
    print(f"SeenIds.add: {args.ids:,} ids in batches of {BATCH_IDS:,}: {median:.2f} s (median of {args.runs})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
