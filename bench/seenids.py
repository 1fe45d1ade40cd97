"""What finding duplicates across batches costs the parent: ``SeenIds.add`` of random 64-bit hashes
in batches the size of a 1 MB batch of trail files, ``kit.engines.local.BATCH_BYTES``, the days of
their events going forward as trail files come by date (``python -m bench.seenids --ids 3400000``).

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


IDS_PER_DAY = 62_000
"""Event ids a day in the generated 11.4 M org (184 days)."""
LATE_DAYS = 2
"""As ``kit.engines.local.LATE_DAYS``."""


def seconds(ids: int, seed: int) -> tuple[float, int]:
    """Time to add ``ids`` random hashes (distinct but for a chance of 1 in millions), ``IDS_PER_DAY`` a
    day, batch by batch, to an empty set, as the engine does (days forgotten as they pass, or, in a tree
    from before that, the share merged said), and the bytes it holds then."""
    hashes = np.random.default_rng(seed).integers(0, 2**64 - 1, ids, dtype=np.uint64, endpoint=True)
    days = (np.arange(ids) // IDS_PER_DAY).astype(np.uint16)
    starts = range(0, ids, BATCH_IDS)
    seen = SeenIds()
    began = time.perf_counter()
    for done, start in enumerate(starts, 1):
        if hasattr(seen, "forget_before"):
            seen.add(hashes[start:start + BATCH_IDS], days[start:start + BATCH_IDS])
            seen.forget_before(int(days[start]) - LATE_DAYS)
        else:
            seen.add(hashes[start:start + BATCH_IDS])
            seen.expect(done / len(starts))
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
