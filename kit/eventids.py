"""Event ids as 64-bit hashes, and the set of those already counted (duplicates across batches).

A batch of the local engine hashes the ``eventID`` of every event it counted, and notes its day (of
``eventTime``, UTC); the parent checks each batch's hashes against those of earlier batches. A copy
of an event has its eventID and its day: an id is looked up as the two together, so a record that
reused an eventID on another day (CloudTrail makes none) would count as another event (within a
batch, the eventID alone decides: ``kit.events``). The newest hashes, up to ``MEMORY_IDS``, are held
in memory as a few sorted numpy arrays whose sizes at least halve from one to the next (merged as they
fill), so a lookup is a handful of binary searches.
Beyond that, the held hashes move to disk as one sorted run (``kit.spill.SpilledRuns``; the first
and last day of each run are kept) and into a Bloom filter of their day (``kit.bloom``, 1.5 bytes per
hash): a hash the filter of its day has surely never seen (all but about 1 in 180 new ones) needs no
disk read, the others are looked up exactly in the runs that hold ids of that day.

Trail files are read in the order of their delivery dates (``kit.trailfiles.TrailFiles.drain``), and
an event is delivered within a day or so: once the engine has moved past a day (``forget_before``), the
filters of the days before are dropped. A late id of such a day is still answered exactly, from the
runs on disk that hold ids of its day. So memory holds the filters of a few days, not of every id, and
the answers are exact at any size.
"""
from __future__ import annotations

from datetime import date
from typing import Iterator

import numpy as np

from kit import secondcounts
from kit.bloom import MAX_ITEMS, BloomFilter
from kit.sortedruns import run_starts
from kit.sortedset import SortedSet
from kit.spill import SpilledRuns
from kit.texthash import hash_texts

DAY = np.uint16
"""A day as days since 2005-01-01 (``kit.secondcounts.TIME_ORIGIN``): every window's days fit."""
FIRST_DAY = np.datetime64("2005-01-01", "D")
SECONDS_A_DAY = 86_400


hash_ids = hash_texts
"""The 64-bit hashes (uint64) of a list of event ids: the same in every process and run (cache entries)."""


def day_of(when: date) -> int:
    """The ``DAY`` value of a date."""
    return int((np.datetime64(when, "D") - FIRST_DAY).astype(np.int64))


def days_of(times: list[str]) -> np.ndarray:
    """The days (``DAY``) of times 'YYYY-MM-DDTHH:MM:SSZ' (``kit.events.utc_text``, in a window): their
    ``kit.secondcounts.TIME`` seconds, which count from the same first day, in whole days."""
    return (secondcounts.times_of(times) // SECONDS_A_DAY).astype(DAY)


MEMORY_IDS = 1 << 18
"""Hashes held in memory (2 MiB, and 10 bytes more each: the hash again and its day, to fill the filters
of their days when they move) before they move to disk (a lookup in runs this short is also faster
than in runs of 2 M: bench/RESULTS.md)."""
UNDATED_IDS = 1 << 15
"""Hashes held in memory, at most, when they come without days (sharedEventIDs: caller copies, settled
twins, uses logged in two accounts): no day passes for them, so they move to disk sooner instead
(0.6 MiB a set at most; at ``MEMORY_IDS`` the two of caller copies and settled twins held 4 MB at
11.4 M events)."""
FIRST_FILTER = 1 << 12
"""Hashes the first filter of a day is sized for at least; it is sized for twice the hashes of its day
that move to disk with it, and each next one of the day for at least twice the one before."""


class SeenIds:
    """Hashes of the event ids seen so far, each with its day (the ``days`` of ``add`` and ``contains``:
    ``DAY`` values, one per hash; none: every hash of day 0, and ``forget_before`` is never called)."""

    def __init__(self, memory_ids: int = MEMORY_IDS) -> None:
        self._memory = SortedSet()
        """The hashes in memory, in sorted runs (one set, not parts by top bits: a batch of a hundred ids
        paid a search of every part's runs, bench/RESULTS.md)."""
        self.memory_ids = memory_ids
        self._held = 0
        """Hashes in ``runs``."""
        self._held_days: list[tuple[np.ndarray, np.ndarray]] = []
        """The hashes in ``runs`` again, with their days, as added (for the filters, when they move)."""
        self._filters: dict[int, list[BloomFilter]] = {}
        """Per day: the filters of its hashes moved to disk, the newest (still filling) last."""
        self._on_disk_days = np.zeros(np.iinfo(DAY).max + 1, bool)
        """Per day: some hash of it moved to disk."""
        self._forgotten_before = 0
        """The days before this one have no filters any more (``forget_before``)."""
        self._spilled = SpilledRuns("hashes of the event ids counted")
        self._run_days: list[tuple[int, int]] = []
        """Per run on disk: the first and last day of its hashes."""

    @property
    def runs(self) -> list[np.ndarray]:
        """The hashes in memory, a sorted array a run, the longest first."""
        return self._memory.runs

    def contains(self, ids: np.ndarray, days: np.ndarray | None = None) -> np.ndarray:
        """True where an id of ``ids`` (uint64 hashes) was recorded before; records nothing."""
        days = _days(ids, days)
        ids = _keyed(ids, days)
        seen = self._on_disk(ids, days)
        order = np.argsort(ids)
        seen[order] |= self._memory.holds(ids[order])
        return seen

    def add(self, ids: np.ndarray, days: np.ndarray | None = None) -> np.ndarray:
        """Record ``ids`` (distinct uint64 hashes); True where an id had been recorded before."""
        limit = self.memory_ids if days is not None else min(self.memory_ids, UNDATED_IDS)
        days = _days(ids, days)
        ids = _keyed(ids, days)
        seen = self._on_disk(ids, days)
        order = np.argsort(ids)
        these = ids[order]  # sorted: the searches run a third faster (bench/RESULTS.md), the new run is made
        seen[order] = found = seen[order] | self._memory.holds(these)
        unseen = these[~found]
        self._memory.add(unseen)
        self._held += len(unseen)
        if not seen.all():
            self._held_days.append((ids[~seen], days[~seen]))
        if self._held > limit:
            self._move_to_disk()
        return seen

    def forget_before(self, day: int) -> None:
        """Drop the filters of the days before ``day`` (a ``DAY`` value): no more than a few lookups are
        expected for them (each then reads the runs of its day on disk)."""
        for old in [old for old in self._filters if old < day]:
            del self._filters[old]
        self._forgotten_before = max(self._forgotten_before, day)

    def _on_disk(self, ids: np.ndarray, days: np.ndarray) -> np.ndarray:
        """True where an id of ``ids`` is among the hashes moved to disk."""
        seen = np.zeros(len(ids), dtype=bool)
        if not self._run_days:
            return seen
        maybe = self._on_disk_days[days]  # no hash of a day never moved is on disk
        for day, rows in _by_day(days, maybe):
            if day >= self._forgotten_before:
                filters = self._filters[day]
                maybe[rows] = np.logical_or.reduce([bloom.may_contain(ids[rows]) for bloom in filters])
        candidates = np.flatnonzero(maybe)
        if not len(candidates):
            return seen
        wanted = days[candidates]
        low, high = int(wanted.min()), int(wanted.max())
        for run, (first, last) in enumerate(self._run_days):
            if first <= high and last >= low:  # the run holds ids of some day wanted
                inside = candidates[(wanted >= first) & (wanted <= last)]
                if len(inside):
                    seen[inside] |= self._spilled.contains(ids[inside], run)
        return seen

    def _move_to_disk(self) -> None:
        """Write the hashes held in memory to disk as one sorted run and add them to the filters of their days."""
        runs, held = self._memory.runs, self._held_days
        self._memory, self._held, self._held_days = SortedSet(), 0, []
        ids, days = (np.concatenate(column) for column in zip(*held))
        del held
        for day, rows in _by_day(days):
            self._add_to_filters(day, ids[rows])
        self._on_disk_days[days] = True
        self._run_days.append((int(days.min()), int(days.max())))
        del ids, days
        run = np.concatenate(runs)
        del runs
        run.sort(kind="stable")  # in place; the stable sort (timsort) merges the sorted runs
        self._spilled.append(run)

    def _add_to_filters(self, day: int, ids: np.ndarray) -> None:
        """Add ``ids`` of ``day`` to its newest filter, or to a new one when that one has no room (a day
        forgotten keeps none: its ids are looked up in the runs on disk)."""
        if day < self._forgotten_before:
            return
        filters = self._filters.setdefault(day, [])
        if not filters or filters[-1].room < len(ids):
            last = filters[-1].capacity if filters else 0
            filters.append(BloomFilter(min(max(2 * len(ids), 2 * last, FIRST_FILTER), MAX_ITEMS)))
        filters[-1].add(ids)

    def close(self) -> None:
        """Drop the hashes on disk."""
        self._spilled.close()

    @property
    def nbytes(self) -> int:
        """Bytes held in memory: the hashes not moved to disk (and their days) and, for those that were,
        the filters and the first hash of each block on disk."""
        return (sum(run.nbytes for run in self.runs)
                + sum(ids.nbytes + days.nbytes for ids, days in self._held_days)
                + sum(bloom.nbytes for filters in self._filters.values() for bloom in filters)
                + self._on_disk_days.nbytes + self._spilled.nbytes)


def _days(ids: np.ndarray, days: np.ndarray | None) -> np.ndarray:
    """``days``, or day 0 for every id when None."""
    return np.zeros(len(ids), DAY) if days is None else days


DAY_MIX = np.uint64(0x9E3779B97F4A7C15)
"""An odd 64-bit constant: a day times it, XORed into a hash, keys the hash by day (still uniform)."""


def _keyed(ids: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Each hash of ``ids`` keyed by its day (day 0: the hash as it is)."""
    return ids ^ (days.astype(np.uint64) * DAY_MIX)


def _by_day(days: np.ndarray, where: np.ndarray | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """(day, positions in ``days``) of each day ``days`` holds (only at positions ``where`` is True for)."""
    positions = np.flatnonzero(where) if where is not None else np.arange(len(days))
    order = positions[np.argsort(days[positions], kind="stable")]
    starts = run_starts(days[order])
    for first, end in zip(starts.tolist(), [*starts[1:].tolist(), len(order)]):
        yield int(days[order[first]]), order[first:end]
