"""The per-second STS counts as compact arrays: a code per caller key, seconds since 2005, calls.

A batch counts its calls per caller and second (``kit.events.Aggregator.per_second``); sealed, the
calls per ``seconds`` key (the code of five of the caller's fields in the batch's key table) and
second become three numpy arrays (``codes``, ``times``, ``calls``) of 12 bytes a row: a time
is 32 bits, counted from ``TIME_ORIGIN``, the earliest a window can start. The process that
merges batches keeps their rows on disk (``kit.spill``) until every batch is in, then sums them a
range of codes, or of one busy code's days, at a time (``compact``: sorted by code then time, equal
rows summed) into arrays made once (``gathered``), the calls in the fewest bytes that hold them
(``calls_type``: one where no key makes more than 255 calls in a second). Taking a duplicate out
again is a row of -1 calls; rows that sum to zero are dropped.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from kit.callerkeys import table_codes
from kit.sortedruns import run_starts

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


def times_of(times: Sequence[str]) -> np.ndarray:
    """``TIME`` values of times 'YYYY-MM-DDTHH:MM:SSZ' (``kit.events.utc_text``: 20 ASCII characters,
    in a window), parsed as one array of bytes."""
    text = np.frombuffer("".join(times).encode("ascii"), np.uint8).reshape(-1, 20)[:, :19]
    return since_origin(np.ascontiguousarray(text).view("S19").ravel().astype("datetime64[s]").view(np.int64))


def texts_of(times: np.ndarray) -> list[str]:
    """``TIME`` values as times 'YYYY-MM-DDTHH:MM:SSZ' (``times_of`` the other way)."""
    return [f"{text}Z" for text in since_1970(times).astype("datetime64[s]").astype(str).tolist()]


def compact(codes: np.ndarray, times: np.ndarray, calls: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One row per (code, time), sorted by code then time, with the calls summed; zero sums dropped."""
    if not len(codes):
        return empty()
    keys = codes.astype(np.int64) << 32 | times.astype(np.int64)  # codes are never negative
    order = np.argsort(keys, kind="stable")  # timsort: fast on the runs of times rows come in
    keys = keys[order]
    starts = run_starts(keys)
    del keys
    summed = np.add.reduceat(calls[order], starts).astype(CALLS)
    kept = summed != 0
    first = order[starts[kept]]
    return codes[first], times[first], summed[kept]


CALLS_TYPES = (np.uint8, np.uint16, CALLS)
"""The types the summed per-second calls are held in, narrowest first (``calls_type``)."""


def calls_type(calls: np.ndarray, at_least: np.dtype | type = np.uint8) -> np.dtype:
    """The first of ``CALLS_TYPES`` that holds ``calls`` (summed per-second calls) and every value of
    ``at_least``: 1 byte a row instead of 4 where no key makes more than 255 calls in a second (a quota
    is hundreds or thousands a second for all keys together)."""
    low, high = (int(calls.min()), int(calls.max())) if len(calls) else (0, 0)
    return np.dtype(next(dtype for dtype in CALLS_TYPES if dtype is CALLS or (
        np.can_cast(at_least, dtype) and np.iinfo(dtype).min <= low and high <= np.iinfo(dtype).max)))


def gathered(groups: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]], capacity: int,
             code_type: np.dtype | type = CODE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The compacted rows of ``groups`` (rows of disjoint ranges of (code, time), ascending; at most
    ``capacity`` rows in all), written into arrays made once: no copy of every row is ever held twice,
    unless summing left far fewer rows than ``capacity`` (then the arrays are cut to size); the codes as
    ``code_type`` (a dtype that holds them all), the calls as ``calls_type`` of them all (the array made
    wider, copied, when a group holds more calls than it can)."""
    merged = [np.empty(capacity, code_type), np.empty(capacity, TIME), np.empty(capacity, np.uint8)]
    filled = 0
    for group in groups:
        codes, times, calls = compact(*group)
        wider = calls_type(calls, merged[2].dtype)
        if wider != merged[2].dtype:
            merged[2] = merged[2].astype(wider)
        merged[0][filled:filled + len(codes)] = codes
        merged[1][filled:filled + len(codes)] = times
        merged[2][filled:filled + len(codes)] = calls
        filled += len(codes)
    cut = filled < capacity * 7 // 8
    codes, times, calls = (column[:filled].copy() if cut else column[:filled] for column in merged)
    return codes, times, calls


def recode(codes: np.ndarray, keys: dict[tuple, int], table: dict[tuple, int]) -> np.ndarray:
    """``codes`` into the key table ``keys`` as codes into ``table`` (new keys are added to it)."""
    if not len(codes):
        return np.zeros(0, CODE)
    mapping = np.zeros(len(keys), CODE)
    mapping[np.fromiter(keys.values(), np.int64, len(keys))] = table_codes(keys, table)
    return mapping[codes]
