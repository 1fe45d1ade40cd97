"""Event ids as 64-bit hashes, and the set of those already counted (duplicates across batches).

A batch of the local engine hashes the ``eventID`` of every event it counted; the parent checks
each batch's hashes against those of earlier batches. The set is a few sorted numpy arrays whose
sizes at least halve from one to the next (merged as they fill), so a lookup is a handful of
binary searches and memory is 8 bytes per event id plus one merge's temporary copy.
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


class SeenIds:
    """Hashes of the event ids seen so far."""

    def __init__(self) -> None:
        self.runs: list[np.ndarray] = []
        """Sorted, distinct hashes; each run at least twice as long as the next."""

    def contains(self, ids: np.ndarray) -> np.ndarray:
        """True where an id of ``ids`` (uint64 hashes) was recorded before; records nothing."""
        seen = np.zeros(len(ids), dtype=bool)
        for run in self.runs:
            where = np.minimum(np.searchsorted(run, ids), len(run) - 1)
            seen |= run[where] == ids
        return seen

    def add(self, ids: np.ndarray) -> np.ndarray:
        """Record ``ids`` (distinct uint64 hashes); True where an id had been recorded before."""
        seen = self.contains(ids)
        unseen = ids[~seen]
        if not len(unseen):
            return seen  # no empty run: the searches above need a last element
        self.runs.append(np.sort(unseen))
        while len(self.runs) > 1 and len(self.runs[-2]) < 2 * len(self.runs[-1]):
            last = self.runs.pop()
            self.runs[-1] = np.sort(np.concatenate((self.runs[-1], last)), kind="stable")
        return seen

    @property
    def nbytes(self) -> int:
        """Bytes held by the hashes."""
        return sum(run.nbytes for run in self.runs)
