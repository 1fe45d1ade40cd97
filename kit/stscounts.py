"""The STS calls per caller key and minute as compact arrays: the local engine's ``sts_calls`` rows.

A batch counts its calls per caller key (the code of its ten caller fields in a key table) and second
(``kit.events.Aggregator.per_second``). Sealed, they become per-minute rows (``from_seconds``): five
numpy arrays, 18 bytes a row:

* ``slots`` (int64): the caller key's code in a key table times the minutes of the time window,
  plus the minute's index in the window (``Layout``): one sortable number per (caller key, minute);
* ``calls`` and ``errors`` (int32);
* ``first`` and ``last`` (uint8): the second within that minute of the earliest and latest call.

Across batches, rows wait in parts that are compacted (sorted by slot, equal slots summed in calls
and errors and widened: least first, greatest last) and folded into the merged rows (``fold``: new
rows inserted one column at a time); rows of no calls are dropped. Duplicates found in a later
batch are taken out of that batch's own rows before it is merged (``take_out``); a row they empty
is kept (it widens the times of the merged row of its slot) only when the merged rows have its slot,
else dropped.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import NamedTuple

import numpy as np

from kit import secondcounts
from kit.sortedruns import run_starts

SLOT = np.int64
COUNT = np.int32
SECOND = np.uint8

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


def sort(rows: Rows) -> Rows:
    """The rows ordered by slot (equal slots keep their order)."""
    return select(rows, np.argsort(rows[0], kind="stable"))


def compact(parts: list[Rows], drop_empty: bool = True) -> Rows:
    """The rows of every part as one row per slot, sorted by slot: calls and errors summed, least
    first, greatest last; rows of no calls dropped unless not ``drop_empty``. Built a column at a
    time (memory)."""
    slots = np.concatenate([part[0] for part in parts]) if parts else empty()[0]
    if not len(slots):
        return empty()
    order = np.argsort(slots, kind="stable")
    slots = slots[order]
    starts = np.flatnonzero(np.concatenate(([True], slots[1:] != slots[:-1])))

    def reduced(index: int, reduce: np.ufunc) -> np.ndarray:
        column = np.concatenate([part[index] for part in parts])[order]
        return reduce.reduceat(column, starts).astype(column.dtype, copy=False)

    calls = reduced(1, np.add)
    kept = calls != 0 if drop_empty else slice(None)
    return (slots[starts][kept], calls[kept], reduced(2, np.add)[kept], reduced(3, np.minimum)[kept],
            reduced(4, np.maximum)[kept])


def fold(merged: list[np.ndarray], rows: Rows) -> None:
    """Add compacted ``rows`` to the compacted rows ``merged`` ([slots, calls, errors, first, last],
    updated in place: equal slots summed and widened in its own arrays, new rows inserted)."""
    if not len(merged[0]) or not len(rows[0]):
        merged[:] = compact([tuple(merged), rows])  # type: ignore[list-item]
        return
    columns = [*merged[1:], merged[0]]
    merged.clear()  # the old columns are freed one by one as their copies are made
    _fold_sorted(columns[-1], rows[0], columns, [*rows[1:], rows[0]], [np.add, np.add, np.minimum, np.maximum, None])
    merged.extend((columns[-1], *columns[:-1]))


def _fold_sorted(keys: np.ndarray, new_keys: np.ndarray, columns: list[np.ndarray], new_columns: list[np.ndarray],
                 reducers: list[np.ufunc | None]) -> None:
    """Fold rows of distinct ascending int64 ``new_keys`` (values in ``new_columns``) into rows of distinct
    ascending ``keys`` (values in ``columns``, a list updated in place): a new row whose key is there is
    reduced into that row (``reducers[i]`` on column i, in place; None keeps the value), the others are
    inserted, one column at a time (an old column can be freed before the next is copied). The first
    column counts calls: rows left with none are dropped."""
    where = np.searchsorted(keys, new_keys)
    found = where < len(keys)
    found[found] = keys[where[found]] == new_keys[found]
    del keys
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


def recode(slots: np.ndarray, keys: dict[tuple, int], table: dict[tuple, int], layout: Layout) -> np.ndarray:
    """``slots`` of codes into the key table ``keys`` as slots of codes into ``table`` (new keys are
    added to it)."""
    codes = secondcounts.recode(slots // layout.span, keys, table).astype(SLOT)
    return codes * layout.span + slots % layout.span


def holds(sorted_slots: np.ndarray, slots: np.ndarray) -> np.ndarray:
    """Whether each of ``slots`` is in ``sorted_slots`` (ascending)."""
    where = np.minimum(np.searchsorted(sorted_slots, slots), max(len(sorted_slots) - 1, 0))
    return sorted_slots[where] == slots if len(sorted_slots) else np.zeros(len(slots), bool)


def key_order(rows: Rows, keys: list[tuple], layout: Layout) -> np.ndarray:
    """Positions that put compacted ``rows`` in the order of their caller keys (``keys[code]``,
    compared as tuples of text), then of their minutes: an order that does not depend on how the
    input was cut into batches."""
    ranks = np.empty(len(keys), SLOT)
    ranks[sorted(range(len(keys)), key=keys.__getitem__)] = np.arange(len(keys), dtype=SLOT)
    return np.argsort(ranks[layout.codes(rows[0])], kind="stable")
