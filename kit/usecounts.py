"""The uses of access keys in opt-in Regions, merged across batches, as compact arrays.

A batch counts its uses in a dict (``kit.signalcounts``): (access key hash, Region, rejected) ->
[events, first, last, smallest non-empty eventID]. Merged, they are arrays instead, about 120 bytes
a key instead of 500 as dict entries (keys are sessions: they grow with the days read). A batch's
entries, and a row of -1 event for each use taken out again (a duplicate), wait in parts; the parts
are compacted with the merged rows (sorted by key and example; events summed, the earliest first,
the latest last, the smallest example) once they outnumber ``FOLD_SHARE`` of them, and before they
are read. Examples are numpy strings (``EXAMPLE``), not Python objects: one kept per key and batch
would pin the memory of the batch's freed objects around it (bench/RESULTS.md). The smallest is by
numpy's order, which is Python's for every eventID without a NUL character (numpy compares such
strings only up to it; the example is then the first merged among those equal up to there).
"""
from __future__ import annotations

import numpy as np

from kit import secondcounts
from kit.sortedruns import run_starts

FOLD_SHARE = 0.25
FOLD_ROWS = 1 << 14
"""Rows waiting in parts are compacted once they outnumber ``FOLD_SHARE`` of the merged rows and this
(1 << 16 held 5 MB waiting at 11.4 M events)."""
NO_EXAMPLE = "\U0010ffff"
"""Stands for '' (no eventID) while the smallest example is taken: above every eventID."""
EXAMPLE = np.dtypes.StringDType()
"""Variable-width strings held by numpy (no Python object per example)."""
COLUMNS = ("hashes", "regions", "rejected", "events", "first", "last", "examples")
Rows = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


_NO_ROWS: Rows = (np.zeros(0, np.uint64), np.zeros(0, np.int16), np.zeros(0, bool), np.zeros(0, np.int64),
                  np.zeros(0, secondcounts.TIME), np.zeros(0, secondcounts.TIME), np.zeros(0, EXAMPLE))
"""No rows."""


class MergedUses:
    """The uses of the batches merged so far."""

    def __init__(self) -> None:
        self._regions: dict[str, int] = {}
        """Region -> its code in the rows."""
        self._rows: Rows = _NO_ROWS
        """Compacted: one row per key, sorted by hash, Region code, rejected."""
        self._parts: list[Rows] = []
        self._taken: list[tuple] = []
        """Keys of uses taken out since the last part was made."""

    def add(self, uses: dict[tuple, list]) -> None:
        """Fold a batch's sealed uses in: (key hash, Region, rejected) -> [events, first, last, example]."""
        if uses:
            self._flush_taken()
            events, first, last, examples = zip(*uses.values())
            self._parts.append((*self._key_columns(list(uses)), np.array(events, np.int64),
                                secondcounts.times_of(first), secondcounts.times_of(last),
                                np.array([example or NO_EXAMPLE for example in examples], EXAMPLE)))
            self._compact_when_due()

    def take(self, key: tuple) -> None:
        """One event fewer for ``key`` (a key folded in already: its times and example stay)."""
        self._taken.append(key)

    def kept(self) -> tuple[Rows, list[str]]:
        """The rows (``COLUMNS``; Regions as codes, examples ``NO_EXAMPLE`` where there is none) of the
        keys with events left, sorted by hash, Region code, rejected; and the Region of each code."""
        self._compact()
        kept = self._rows[3] > 0
        return tuple(column[kept] for column in self._rows), list(self._regions)  # type: ignore[return-value]

    def _flush_taken(self) -> None:
        """The keys taken out become a part of -1 event rows (times that widen nothing, no example)."""
        if self._taken:
            taken, self._taken = self._taken, []
            self._parts.append((*self._key_columns(taken), np.full(len(taken), -1, np.int64),
                                np.full(len(taken), np.iinfo(secondcounts.TIME).max, secondcounts.TIME),
                                np.zeros(len(taken), secondcounts.TIME), np.full(len(taken), NO_EXAMPLE, EXAMPLE)))

    def _key_columns(self, keys: list[tuple]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The hash, Region code and rejected flag of each key (new Regions get a code)."""
        codes = self._regions
        return (np.array([key[0] for key in keys], np.uint64),
                np.array([codes.setdefault(key[1], len(codes)) for key in keys], np.int16),
                np.array([key[2] for key in keys], bool))

    def _compact_when_due(self) -> None:
        if sum(len(part[0]) for part in self._parts) > max(len(self._rows[0]) * FOLD_SHARE, FOLD_ROWS):
            self._compact()

    def _compact(self) -> None:
        """Fold the waiting parts into the compacted rows, a column at a time: each column of the rows
        and the parts is let go once joined, and each joined one once put in order and summed (175,000
        rows of 13 MB took 16 MB more at the peak, against 35 MB joined all at once: bench/RESULTS.md)."""
        self._flush_taken()
        if not self._parts:
            return
        tables = [list(table) for table in (self._rows, *self._parts)]
        self._rows, self._parts = _NO_ROWS, []
        joined = []
        for index in range(len(COLUMNS)):
            joined.append(np.concatenate([table[index] for table in tables]))
            for table in tables:
                table[index] = None
        del tables
        hashes, regions, rejected, events, first, last, examples = joined
        del joined
        order = np.lexsort((examples, rejected, regions, hashes))  # a key's smallest example first
        hashes, regions, rejected = hashes[order], regions[order], rejected[order]
        starts = run_starts(hashes, regions, rejected)
        hashes, regions, rejected = hashes[starts], regions[starts], rejected[starts]
        events = np.add.reduceat(events[order], starts)
        first = np.minimum.reduceat(first[order], starts)
        last = np.maximum.reduceat(last[order], starts)
        examples = examples[order[starts]]
        self._rows = (hashes, regions, rejected, events, first, last, examples)
