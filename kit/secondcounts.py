"""The per-second STS counts as compact arrays: a code per caller key, seconds since 2005, calls.

A batch counts its calls per (code of the caller key in the batch's key table, second) in a dict;
sealed, they become three numpy arrays (``codes``, ``times``, ``calls``) of 12 bytes a row: a time
is 32 bits, counted from ``TIME_ORIGIN``, the earliest a window can start. Across
batches, rows wait in parts that are compacted (sorted by code then time, equal rows summed) and folded into the
merged rows (``fold``: sums added in place, new rows inserted; a copy of one column at a time, not of
everything). Taking a duplicate out again is a row of -1 calls; rows that sum to zero are dropped.
"""
from __future__ import annotations

from operator import itemgetter
from typing import Sequence

import numpy as np

CODE = np.int32
TIME = np.uint32
CALLS = np.int32
TIME_ORIGIN = 1_104_537_600
"""2005-01-01T00:00:00Z in seconds since 1970: ``kit.params.WINDOW_BOUNDS`` holds every window from
there to 2100, whose seconds all fit in ``TIME``."""


def since_origin(seconds: np.ndarray) -> np.ndarray:
    """Seconds since 1970 (UTC, in a window) as ``TIME`` values."""
    return (np.asarray(seconds, np.int64) - TIME_ORIGIN).astype(TIME)


def since_1970(times: np.ndarray) -> np.ndarray:
    """``TIME`` values as seconds since 1970 (int64)."""
    return times.astype(np.int64) + TIME_ORIGIN


def empty() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """No rows: (codes, times, calls)."""
    return np.zeros(0, CODE), np.zeros(0, TIME), np.zeros(0, CALLS)


def from_counts(counts: dict[tuple[int, str], int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows of ``counts`` (keyed by the code of a caller key and a time 'YYYY-MM-DDTHH:MM:SSZ')."""
    if not counts:
        return empty()
    codes = np.fromiter(map(itemgetter(0), counts), CODE, len(counts))
    times = times_of(list(map(itemgetter(1), counts)))
    calls = np.fromiter(counts.values(), CALLS, len(counts))
    return codes, times, calls


def times_of(times: Sequence[str]) -> np.ndarray:
    """``TIME`` values of times 'YYYY-MM-DDTHH:MM:SSZ' (``kit.events.utc_text``: 20 ASCII characters,
    in a window), parsed as one array of bytes."""
    text = np.frombuffer("".join(times).encode("ascii"), np.uint8).reshape(-1, 20)[:, :19]
    return since_origin(np.ascontiguousarray(text).view("S19").ravel().astype("datetime64[s]").view(np.int64))


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


KEY_CHUNK = 1 << 20
"""Merged rows whose int64 keys are made at a time when new rows are placed among them (memory)."""


def fold(merged: list[np.ndarray], rows: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    """Add compacted ``rows`` to the compacted rows ``merged`` ([codes, times, calls], updated in
    place: calls summed in its own array, new rows inserted, zero sums dropped)."""
    codes, times, calls = merged
    if len(codes) and len(rows[0]):
        low = min(int(times.min()), int(rows[1].min()))
        span = max(int(times.max()), int(rows[1].max())) - low + 1
        if (max(int(codes[-1]), int(rows[0][-1])) + 1) * span < 2 ** 63:  # one int64 key per row
            where, found = _positions(codes, times, rows[0].astype(np.int64) * span + (rows[1] - low), span, low)
            columns = [calls, codes, times]
            del codes, times, calls
            merged.clear()  # the old columns are freed one by one as their copies are made
            fold_at(where, found, columns, [rows[2], *rows[:2]], [np.add, None, None])
            merged.extend((columns[1], columns[2], columns[0]))
            return
    merged[:] = compact(*(np.concatenate((mine, theirs)) for mine, theirs in zip(merged, rows)))


def _positions(codes: np.ndarray, times: np.ndarray, new_keys: np.ndarray, span: int,
               low: int) -> tuple[np.ndarray, np.ndarray]:
    """Where rows of distinct ascending keys ``new_keys`` (code * ``span`` + time - ``low``) go among
    the rows (``codes``, ``times``) sorted by code then time, and whether their key is there; the
    merged rows' keys are made ``KEY_CHUNK`` rows at a time, never all at once."""
    def keys(rows: slice | np.ndarray) -> np.ndarray:
        return codes[rows].astype(np.int64) * span + (times[rows] - low)

    starts = np.arange(0, len(codes), KEY_CHUNK)
    chunk_of = np.maximum(np.searchsorted(keys(starts), new_keys, side="right") - 1, 0)
    bounds = np.searchsorted(chunk_of, np.arange(len(starts) + 1))
    where = np.empty(len(new_keys), np.intp)
    for chunk, start in enumerate(starts.tolist()):
        first, last = bounds[chunk], bounds[chunk + 1]
        if first < last:
            where[first:last] = start + np.searchsorted(keys(slice(start, start + KEY_CHUNK)), new_keys[first:last])
    found = where < len(codes)
    found[found] = keys(where[found]) == new_keys[found]
    return where, found


def fold_sorted(keys: np.ndarray, new_keys: np.ndarray, columns: list[np.ndarray], new_columns: list[np.ndarray],
                reducers: list[np.ufunc | None]) -> None:
    """Fold rows of distinct ascending int64 ``new_keys`` (values in ``new_columns``) into rows of
    distinct ascending ``keys`` (values in ``columns``, a list updated in place): see ``fold_at``."""
    where = np.searchsorted(keys, new_keys)
    found = where < len(keys)
    found[found] = keys[where[found]] == new_keys[found]
    del keys
    fold_at(where, found, columns, new_columns, reducers)


def fold_at(where: np.ndarray, found: np.ndarray, columns: list[np.ndarray], new_columns: list[np.ndarray],
            reducers: list[np.ufunc | None]) -> None:
    """Fold new rows (values in ``new_columns``) into sorted rows (values in ``columns``, a list
    updated in place), each new row going at ``where`` (``found``: a row of its key is there): a
    found row is reduced into that row (``reducers[i]`` on column i, in place; None keeps the value),
    the others are inserted, one column at a time (an old column can be freed before the next is
    copied). The first column counts calls: rows left with none are dropped."""
    at = where[found]
    for column, new_column, reduce in zip(columns, new_columns, reducers):
        if reduce is not None:
            column[at] = reduce(column[at], new_column[found])
    added = ~found
    at = where[added]
    for index, new_column in enumerate(new_columns):
        columns[index] = np.insert(columns[index], at, new_column[added])
    kept = columns[0] != 0
    if not kept.all():
        for index, column in enumerate(columns):
            columns[index] = column[kept]
