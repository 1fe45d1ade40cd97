"""Event ids as 64-bit hashes, and the set of those already counted (duplicates across batches).

A batch of the local engine hashes the ``eventID`` of every event it counted; the parent checks
each batch's hashes against those of earlier batches. The set is cut into parts by the hashes' top
bits; each part is a few sorted numpy arrays whose sizes at least halve from one to the next
(merged as they fill), so a lookup is a handful of binary searches and memory is 8 bytes per
event id plus the temporary copy of one part's merge.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

HASH_KEY = "sts-kit-event-id"
"""Fixed 16-byte SipHash key: the same id hashes the same in every process and run (cache entries)."""


def hash_ids(ids: list[str]) -> np.ndarray:
    """The 64-bit hashes (uint64) of ``ids``."""
    if not ids:
        return np.zeros(0, dtype=np.uint64)
    return pd.util.hash_array(np.asarray(ids, dtype=object), hash_key=HASH_KEY, categorize=False)


PART_BITS = 6
"""The set is cut into 2 ** PART_BITS parts by the hashes' top bits (hashes spread evenly): a merge
copies one part's runs, not every hash seen."""


class SeenIds:
    """Hashes of the event ids seen so far."""

    def __init__(self) -> None:
        self.parts: list[list[np.ndarray]] = [[] for _ in range(1 << PART_BITS)]
        """Per part: sorted, distinct hashes in runs, each at least twice as long as the next."""

    def contains(self, ids: np.ndarray) -> np.ndarray:
        """True where an id of ``ids`` (uint64 hashes) was recorded before; records nothing."""
        seen = np.zeros(len(ids), dtype=bool)
        for part, rows in _by_part(ids):
            seen[rows] = _in_runs(self.parts[part], ids[rows])
        return seen

    def add(self, ids: np.ndarray) -> np.ndarray:
        """Record ``ids`` (distinct uint64 hashes); True where an id had been recorded before."""
        seen = np.zeros(len(ids), dtype=bool)
        for part, rows in _by_part(ids):
            runs, these = self.parts[part], ids[rows]
            seen[rows] = found = _in_runs(runs, these)
            unseen = these[~found]
            if not len(unseen):
                continue  # no empty run: the searches need a last element
            runs.append(np.sort(unseen))
            while len(runs) > 1 and len(runs[-2]) < 2 * len(runs[-1]):
                last = runs.pop()
                runs[-1] = np.sort(np.concatenate((runs[-1], last)), kind="stable")
        return seen

    @property
    def nbytes(self) -> int:
        """Bytes held by the hashes."""
        return sum(run.nbytes for runs in self.parts for run in runs)


def _by_part(ids: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """(part, positions in ``ids``) of every part that ``ids`` has hashes in, in the order of their
    hashes (binary searches of sorted hashes in a run are a third faster: bench/RESULTS.md)."""
    order = np.argsort(ids)
    parts = (ids[order] >> np.uint64(64 - PART_BITS)).astype(np.intp)
    bounds = np.searchsorted(parts, np.arange((1 << PART_BITS) + 1))
    return [(part, order[bounds[part]:bounds[part + 1]]) for part in range(1 << PART_BITS)
            if bounds[part] < bounds[part + 1]]


def _in_runs(runs: list[np.ndarray], ids: np.ndarray) -> np.ndarray:
    """True where an id of ``ids`` is in one of ``runs`` (sorted, none empty)."""
    seen = np.zeros(len(ids), dtype=bool)
    for run in runs:
        where = np.minimum(np.searchsorted(run, ids), len(run) - 1)
        seen |= run[where] == ids
    return seen
