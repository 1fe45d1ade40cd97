"""The per-second STS counts as compact arrays: a code per caller key, seconds since 1970, calls.

A batch counts its calls per (caller key, second) in a dict; sealed, they become three numpy arrays
(``codes`` into the batch's key table, ``times``, ``calls``) of 16 bytes a row, merged across batches
by concatenating and summing equal (code, time) rows after a sort. Taking a duplicate out again
is a row of -1 calls; rows that sum to zero are dropped when compacting.
"""
from __future__ import annotations

import numpy as np

CODE = np.int32
TIME = np.int64
CALLS = np.int32


def empty() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """No rows: (codes, times, calls)."""
    return np.zeros(0, CODE), np.zeros(0, TIME), np.zeros(0, CALLS)


def from_counts(counts: dict[tuple, int], table: dict[tuple, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows of ``counts`` (keyed by caller key + 'YYYY-MM-DDTHH:MM:SS'); caller keys get codes in
    ``table`` (new keys are added to it)."""
    if not counts:
        return empty()
    codes = np.fromiter((table.setdefault(key[:-1], len(table)) for key in counts), CODE, len(counts))
    times = np.array([key[-1] for key in counts], dtype="datetime64[s]").view(TIME)
    calls = np.fromiter(counts.values(), CALLS, len(counts))
    return codes, times, calls


def compact(codes: np.ndarray, times: np.ndarray, calls: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One row per (code, time), sorted by code then time, with the calls summed; zero sums dropped."""
    if not len(codes):
        return empty()
    order = np.lexsort((times, codes))
    codes, times, calls = codes[order], times[order], calls[order]
    starts = np.flatnonzero(np.concatenate(([True], (codes[1:] != codes[:-1]) | (times[1:] != times[:-1]))))
    summed = np.add.reduceat(calls, starts).astype(CALLS)
    kept = summed != 0
    return codes[starts][kept], times[starts][kept], summed[kept]


def recode(codes: np.ndarray, keys: dict[tuple, int], table: dict[tuple, int]) -> np.ndarray:
    """``codes`` into the key table ``keys`` as codes into ``table`` (new keys are added to it)."""
    if not len(codes):
        return np.zeros(0, CODE)
    mapping = np.zeros(len(keys), CODE)
    for key, code in keys.items():
        mapping[code] = table.setdefault(key, len(table))
    return mapping[codes]
