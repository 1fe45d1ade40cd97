"""The STS calls per caller key and minute as compact arrays: the local engine's ``sts_calls`` rows.

A batch counts its calls per caller key (the code of its ten caller fields in a key table) and second
(``kit.events.Aggregator.per_second``). Sealed, they become per-minute rows (``from_seconds``): five
numpy arrays, 18 bytes a row:

* ``slots`` (int64): the caller key's code in a key table times the minutes of the time window,
  plus the minute's index in the window (``Layout``): one sortable number per (caller key, minute);
* ``calls`` and ``errors`` (int32);
* ``first`` and ``last`` (uint8): the second within that minute of the earliest and latest call.

The process that merges batches takes each batch's duplicates out of that batch's own rows
(``take_out``), drops the rows they leave with no calls, and keeps the rest on disk (``spilled``:
a caller key code and a minute instead of the slot, 18 bytes a row) until every batch is in; then
they are summed a range of codes at a time (``gathered``): equal slots summed in calls and errors
and widened (least first, greatest last), sorted by slot.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterable, NamedTuple

import numpy as np

from kit.sortedruns import run_starts

SLOT = np.int64
COUNT = np.int32
SECOND = np.uint8
CODE = np.int32
MINUTE = np.int32
SPILLED = (CODE, MINUTE, COUNT, COUNT, SECOND, SECOND)
"""The dtypes of the columns of rows on disk (``spilled``): the slot as its code and minute."""

Rows = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""(slots, calls, errors, first, last)."""


class Layout(NamedTuple):
    """How a slot holds a caller key code and a minute: ``code * span + minute - start``."""

    start: int
    """The window's first minute (minutes since 1970, UTC)."""
    span: int
    """Minutes from ``start`` to the window's last minute, both included."""

    @classmethod
    def of_window(cls, start: str, end: str) -> "Layout":
        """The layout of the window [``start``, ``end``) ('YYYY-MM-DDTHH:MM:SSZ')."""
        first, last = (int(datetime.strptime(time, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp())
                       // 60 for time in (start, end))
        return cls(first, last - first + 1)

    def codes(self, slots: np.ndarray) -> np.ndarray:
        """The caller key code of each slot."""
        return slots // self.span

    def minutes(self, slots: np.ndarray) -> np.ndarray:
        """The minute of each slot, in seconds since 1970 (UTC)."""
        return (slots % self.span + self.start) * 60


def empty() -> Rows:
    """No rows."""
    return np.zeros(0, SLOT), np.zeros(0, COUNT), np.zeros(0, COUNT), np.zeros(0, SECOND), np.zeros(0, SECOND)


def from_seconds(codes: np.ndarray, seconds: np.ndarray, calls: np.ndarray, errors: np.ndarray,
                 layout: Layout) -> tuple[Rows, np.ndarray]:
    """The per-minute rows of per-second rows (caller key ``codes``, ``seconds`` since 1970, UTC, each
    code and second once), sorted by slot, and the per-minute row of each per-second row."""
    if not len(codes):
        return empty(), np.zeros(0, np.intp)
    minutes = seconds // 60
    slots = codes.astype(SLOT) * layout.span + (minutes - layout.start)
    order = np.argsort(slots, kind="stable")
    slots, second = slots[order], (seconds - minutes * 60).astype(SECOND)[order]
    starts = run_starts(slots)
    new = np.zeros(len(slots), np.intp)
    new[starts] = 1
    row_of = np.empty(len(slots), np.intp)
    row_of[order] = np.cumsum(new) - 1
    return (slots[starts], np.add.reduceat(calls[order], starts).astype(COUNT),
            np.add.reduceat(errors[order], starts).astype(COUNT), np.minimum.reduceat(second, starts),
            np.maximum.reduceat(second, starts)), row_of


def take_out(rows: Rows, taken: np.ndarray, failed: np.ndarray) -> Rows:
    """``rows`` less one call at each position of ``taken`` (and one error where ``failed``); the
    times stay (a duplicate has the times of the copy kept)."""
    slots, calls, errors, first, last = rows
    calls, errors = calls.copy(), errors.copy()
    np.subtract.at(calls, taken, 1)
    np.subtract.at(errors, taken[failed], 1)
    return slots, calls, errors, first, last


def select(rows: Rows, kept: np.ndarray) -> Rows:
    """The rows where ``kept`` (a boolean mask or positions)."""
    return tuple(column[kept] for column in rows)  # type: ignore[return-value]


def compact(parts: list[Rows]) -> Rows:
    """The rows of every part as one row per slot, sorted by slot: calls and errors summed, least
    first, greatest last; rows of no calls dropped. Built a column at a time (memory)."""
    slots = np.concatenate([part[0] for part in parts]) if parts else empty()[0]
    if not len(slots):
        return empty()
    order = np.argsort(slots, kind="stable")
    slots = slots[order]
    starts = run_starts(slots)

    def reduced(index: int, reduce: np.ufunc) -> np.ndarray:
        column = np.concatenate([part[index] for part in parts])[order]
        return reduce.reduceat(column, starts).astype(column.dtype, copy=False)

    calls = reduced(1, np.add)
    kept = calls != 0
    return (slots[starts][kept], calls[kept], reduced(2, np.add)[kept], reduced(3, np.minimum)[kept],
            reduced(4, np.maximum)[kept])


def spilled(rows: Rows, layout: Layout) -> tuple[np.ndarray, ...]:
    """``rows`` as the columns kept on disk (``SPILLED``): each slot as its code and minute."""
    slots = rows[0]
    return (layout.codes(slots).astype(CODE), (slots % layout.span).astype(MINUTE), *rows[1:])


def gathered(groups: Iterable[tuple[np.ndarray, ...]], layout: Layout) -> Rows:
    """The rows kept on disk, given as groups of ``SPILLED`` columns that each hold every row of a range
    of codes (the ranges ascending), compacted group by group into rows sorted by slot."""
    parts = []
    for codes, minutes, *counts in groups:
        parts.append(compact([(codes.astype(SLOT) * layout.span + minutes, *counts)]))
    if not parts:
        return empty()
    return tuple(np.concatenate([part[index] for part in parts]) for index in range(5))  # type: ignore[return-value]


def recode(slots: np.ndarray, codes: np.ndarray, layout: Layout) -> np.ndarray:
    """``slots`` of a batch's key codes as slots of ``codes`` (the new code of each of the batch's)."""
    return codes[slots // layout.span].astype(SLOT) * layout.span + slots % layout.span
