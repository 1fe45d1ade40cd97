"""Distinct 64-bit values, each with a number when given, held in numpy arrays: 8 bytes a value (and 4
for its number), no Python object per value, exact.

The values are kept in sorted runs, each at most half as long as the one before: a new batch of values
is a run of its own, merged with the ones before while it is longer than half of them, so a lookup is a
binary search per run (a few) and a value is merged about log2(n) times.
"""
from __future__ import annotations

import numpy as np

NUMBER = np.uint32
"""The numbers' dtype."""


class SortedSet:
    """Distinct uint64 values, each with a number (``NUMBER``) when they are added with numbers (all or none)."""

    def __init__(self) -> None:
        self._runs: list[tuple[np.ndarray, np.ndarray | None]] = []
        """(values, sorted; their numbers or None), each run at most half as long as the one before."""

    @property
    def runs(self) -> list[np.ndarray]:
        """The values, a sorted array a run, the longest first."""
        return [run for run, _ in self._runs]

    def find(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where each of ``values`` (uint64, any order) is held, and its number (0 where not held, or for
        values added without)."""
        order = np.argsort(values)
        held, numbers = np.zeros(len(values), bool), np.zeros(len(values), NUMBER)
        held[order], numbers[order] = self._search(values[order])
        return held, numbers

    def holds(self, ordered: np.ndarray) -> np.ndarray:
        """Where each of ``ordered`` (uint64, sorted) is held."""
        return self._search(ordered)[0]

    def _search(self, ordered: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``find`` of sorted values: searched in order, each search starts near the last."""
        held = np.zeros(len(ordered), bool)
        numbers = np.zeros(len(ordered), NUMBER)
        for run, run_numbers in self._runs:
            at = np.minimum(np.searchsorted(run, ordered), len(run) - 1)
            hit = run[at] == ordered
            held |= hit
            if run_numbers is not None:
                numbers[hit] = run_numbers[at[hit]]
        return held, numbers

    def add(self, values: np.ndarray, numbers: np.ndarray | None = None) -> None:
        """Hold ``values`` (uint64, distinct, sorted, none held yet), with their ``numbers`` if the set's have some."""
        if not len(values):
            return  # no empty run: the searches need a last element
        self._runs.append((values, None if numbers is None else numbers.astype(NUMBER)))
        while len(self._runs) > 1 and len(self._runs[-1][0]) * 2 > len(self._runs[-2][0]):
            (later, later_numbers), (earlier, earlier_numbers) = self._runs.pop(), self._runs.pop()
            merged = np.concatenate([earlier, later])
            if earlier_numbers is None:
                merged.sort(kind="stable")  # two sorted runs: timsort merges them in one pass
                self._runs.append((merged, None))
            else:
                order = np.argsort(merged, kind="stable")
                self._runs.append((merged[order], np.concatenate([earlier_numbers, later_numbers])[order]))
