"""Event ids as 64-bit hashes, and the set of those already counted (duplicates across batches).

A batch of the local engine hashes the ``eventID`` of every event it counted; the parent checks
each batch's hashes against those of earlier batches. The newest hashes, up to ``MEMORY_IDS``, are
held in memory, cut into parts by their top bits; each part is a few sorted numpy arrays whose sizes
at least halve from one to the next (merged as they fill), so a lookup is a handful of binary
searches. Beyond that, the held hashes move to disk as one sorted run (``kit.spill.SpilledRuns``)
and into a Bloom filter (``kit.bloom``, 1.5 bytes per hash): a hash the filter has surely never seen
(all but about 1 in 180 new ones) needs no disk read, the others are looked up exactly in the
runs. Memory is 8 bytes per id up to ``MEMORY_IDS``, then about 1.5 bytes per id; the answers are
exact at any size. Filters are sized from the ids expected (the share of the input merged so far):
the first for half of those still to come, as an estimate made early can be far over; each next one,
made when the one before is full, for all still to come (and never smaller than twice the one
before, should estimates keep falling short).
"""
from __future__ import annotations

from typing import Iterator

import numpy as np
import pandas as pd

from kit.bloom import MAX_ITEMS, BloomFilter
from kit.spill import SpilledRuns

HASH_KEY = "sts-kit-event-id"
"""Fixed 16-byte SipHash key: the same id hashes the same in every process and run (cache entries)."""


def hash_ids(ids: list[str]) -> np.ndarray:
    """The 64-bit hashes (uint64) of ``ids``."""
    if not ids:
        return np.zeros(0, dtype=np.uint64)
    return pd.util.hash_array(np.asarray(ids, dtype=object), hash_key=HASH_KEY, categorize=False)


PART_BITS = 6
"""The hashes in memory are cut into 2 ** PART_BITS parts by their top bits (hashes spread evenly):
a merge copies one part's runs, not every hash held."""
MEMORY_IDS = 1 << 19
"""Hashes held in memory (4 MiB) before they move to disk (a lookup in runs this short is also
faster than in runs of 2 M: bench/RESULTS.md)."""
FIRST_FILTER = 1 << 20
"""Hashes the first Bloom filter is sized for at least; each next one holds at least twice as many."""


class SeenIds:
    """Hashes of the event ids seen so far."""

    def __init__(self, memory_ids: int = MEMORY_IDS, first_filter: int = FIRST_FILTER) -> None:
        self.parts: list[list[np.ndarray]] = [[] for _ in range(1 << PART_BITS)]
        """Per part: sorted, distinct hashes in runs, each at least twice as long as the next."""
        self.memory_ids = memory_ids
        self.first_filter = first_filter
        self._held = 0
        """Hashes in ``parts``."""
        self._filters: list[BloomFilter] = []
        """The filters of the hashes moved to disk, the newest (still filling) last."""
        self._spilled = SpilledRuns("hashes of the event ids counted")
        self._expected = 0
        """How many ids are expected in all (``expect``), for sizing the next filter."""

    def expect(self, share: float) -> None:
        """Say that the ids recorded so far come from ``share`` (0 to 1) of the input."""
        if share > 0:
            self._expected = int((self._held + self._spilled.rows) / min(share, 1.0))

    def contains(self, ids: np.ndarray) -> np.ndarray:
        """True where an id of ``ids`` (uint64 hashes) was recorded before; records nothing."""
        seen = self._on_disk(ids)
        for part, rows in _by_part(ids):
            seen[rows] |= _in_runs(self.parts[part], ids[rows])
        return seen

    def add(self, ids: np.ndarray) -> np.ndarray:
        """Record ``ids`` (distinct uint64 hashes); True where an id had been recorded before."""
        seen = self._on_disk(ids)
        for part, rows in _by_part(ids):
            runs, these = self.parts[part], ids[rows]
            seen[rows] = found = seen[rows] | _in_runs(runs, these)
            unseen = these[~found]
            if not len(unseen):
                continue  # no empty run: the searches need a last element
            runs.append(np.sort(unseen))
            self._held += len(unseen)
            while len(runs) > 1 and len(runs[-2]) < 2 * len(runs[-1]):
                last = runs.pop()
                runs[-1] = np.sort(np.concatenate((runs[-1], last)), kind="stable")
        if self._held > self.memory_ids:
            self._move_to_disk()
        return seen

    def _on_disk(self, ids: np.ndarray) -> np.ndarray:
        """True where an id of ``ids`` is among the hashes moved to disk."""
        seen = np.zeros(len(ids), dtype=bool)
        if not self._filters:
            return seen
        maybe = np.zeros(len(ids), dtype=bool)
        for bloom in self._filters:
            maybe |= bloom.may_contain(ids)
        candidates = np.flatnonzero(maybe)
        seen[candidates] = self._spilled.contains(ids[candidates])
        return seen

    def _move_to_disk(self) -> None:
        """Write the hashes held in memory to disk as one sorted run (the parts in the order of their
        top bits, each sorted: sorted as a whole) and add them to the newest filter, a part at a time."""
        if not self._filters or self._filters[-1].full:
            self._filters.append(BloomFilter(self._next_filter_size()))
        bloom, parts = self._filters[-1], self.parts  # a filter takes a whole run, even one that fills it past its size
        self.parts, self._held = [[] for _ in range(1 << PART_BITS)], 0

        def sorted_parts() -> Iterator[np.ndarray]:
            for index, runs in enumerate(parts):
                if runs:
                    parts[index] = []  # freed once written
                    part = np.sort(np.concatenate(runs)) if len(runs) > 1 else runs[0]
                    bloom.add(part)
                    yield part
        self._spilled.append(sorted_parts())

    def _next_filter_size(self) -> int:
        """Hashes the next filter is sized for (see the module's docstring)."""
        to_come = max(self._expected - self._spilled.rows, 0)
        wanted = to_come // 2 if not self._filters else to_come + to_come // 8
        return min(max(self.first_filter << len(self._filters), wanted), MAX_ITEMS)

    def close(self) -> None:
        """Drop the hashes on disk."""
        self._spilled.close()

    @property
    def nbytes(self) -> int:
        """Bytes held in memory: the hashes not moved to disk and, for those that were, the filters
        and the first hash of each block on disk."""
        return (sum(run.nbytes for runs in self.parts for run in runs)
                + sum(bloom.nbytes for bloom in self._filters) + self._spilled.nbytes)


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
