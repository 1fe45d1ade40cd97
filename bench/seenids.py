"""What finding duplicates across batches costs the parent: ``SeenIds.add`` of random 64-bit hashes
in batches the size of a 1 MB batch of trail files, ``kit.engines.local.BATCH_BYTES``
(``python -m bench.seenids --ids 3400000``).

Prints the median seconds of ``--runs`` runs and the memory the set holds at the end. Run it from another tree's folder (``cd /tmp/base &&
PYTHONPATH=/path/to/repo python -m bench.seenids``) to time that tree's ``kit.eventids``.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from kit.eventids import SeenIds

BATCH_IDS = 9_500
"""Events in a 1 MB batch of the generated orgs' files."""


def seconds(ids: int, seed: int) -> tuple[float, int]:
    """Time to add ``ids`` random hashes (distinct but for a chance of 1 in millions), batch by batch,
    to an empty set, and the bytes it holds then."""
    hashes = np.random.default_rng(seed).integers(0, 2**64 - 1, ids, dtype=np.uint64, endpoint=True)
    batches = [hashes[start:start + BATCH_IDS] for start in range(0, ids, BATCH_IDS)]
    seen = SeenIds()
    began = time.perf_counter()
    for done, batch in enumerate(batches, 1):
        seen.add(batch)
        if hasattr(seen, "expect"):  # as the local engine says how much of the input was merged
            seen.expect(done / len(batches))
    return time.perf_counter() - began, seen.nbytes


def main(argv: list[str] | None = None) -> int:
    """Command line: ``--ids N --runs R``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, default=3_400_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    times, held = zip(*(seconds(args.ids, run) for run in range(args.runs)))
    print(f"SeenIds.add: {args.ids:,} ids in batches of {BATCH_IDS:,}: {statistics.median(times):.2f} s "
          f"(median of {args.runs}), {max(held) / 1e6:.0f} MB held")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
