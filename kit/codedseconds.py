"""Per-second STS calls as numbers, for the plan stage: each distinct key once, the rows as arrays.

The ``seconds`` rollup table repeats its key texts (account, principal, user agent, bucket, Region)
on every row: millions of rows, a few hundred keys. ``CodedSeconds`` keeps those keys once, in a
small frame to which the plan adds its own per-key columns (caller tool, workload Region), and per
row only a key number, the second and the calls. ``KeyedSeconds`` adds such rows up per key (a
bucket, a caller) and second: the quota maths (``kit.quota``) and the callers' peaks
(``kit.callers``) run on these arrays; no per-row copy of a text column is made.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


KEY = np.int32
"""A key number per row (keys are callers and buckets: thousands, not billions)."""
CALLS = np.int32
"""Calls of one key in one second (a quota is hundreds or thousands a second)."""


@dataclass(frozen=True)
class CodedSeconds:
    """Calls per key and second: ``keys`` (one row per distinct key), and per row ``key`` (a row
    number of ``keys``, int32), ``micros`` (int64 microseconds since 1970, UTC) and ``calls`` (int32):
    16 bytes a row."""

    keys: pd.DataFrame
    key: np.ndarray
    micros: np.ndarray
    calls: np.ndarray
    time_dtype: Any
    """The dtype of the seconds read (to give seconds back in it)."""

    @classmethod
    def of(cls, table: pd.DataFrame, columns: list[str]) -> "CodedSeconds":
        """The rows of a per-second table (``second``, ``calls`` and the text ``columns``), keyed by
        ``columns``; keys numbered in their sorted order."""
        number = np.zeros(len(table), np.int64)
        parts: list[np.ndarray] = []  # per distinct key so far: the code of its value in each column read
        distinct = []
        for column in columns:
            codes, values = _codes(table[column])
            size = max(len(values), 1)
            number, pairs = pd.factorize(number * size + codes)
            parts = [part[pairs // size] for part in parts] + [pairs % size]
            distinct.append(values)
        order = np.lexsort(parts[::-1]) if parts else np.zeros(0, np.intp)
        rank = np.empty(len(order), np.intp)
        rank[order] = np.arange(len(order))
        keys_frame = pd.DataFrame({column: values[part[order]] for column, values, part in zip(columns, distinct, parts)},
                                  columns=columns, dtype=object)
        return cls(keys_frame, rank[number].astype(KEY) if len(number) else number.astype(KEY),
                   pd.DatetimeIndex(table.second).as_unit("us").asi8, table.calls.to_numpy(dtype=CALLS),
                   table.second.dtype)

    def rows_where(self, keys: np.ndarray) -> "CodedSeconds":
        """The rows whose key is one of ``keys`` (a boolean per key); the keys frame unchanged."""
        kept = keys[self.key] if len(self.key) else np.zeros(0, bool)
        return CodedSeconds(self.keys, self.key[kept], self.micros[kept], self.calls[kept], self.time_dtype)

    def with_keys(self, keys: pd.DataFrame) -> "CodedSeconds":
        """The same rows with another keys frame (the same keys, more columns)."""
        return CodedSeconds(keys, self.key, self.micros, self.calls, self.time_dtype)

    def key_tuples(self, columns: list[str], present_only: bool = False) -> list[tuple]:
        """Per key number: its values of ``columns``; with ``present_only``, only of the keys some row has."""
        keys = self.keys.iloc[np.unique(self.key)] if present_only else self.keys
        return list(zip(*(keys[column] for column in columns))) if len(columns) else [()] * len(keys)

    def per_second(self, keys: np.ndarray) -> pd.Series:
        """Calls per second (indexed by second, sorted) of the rows whose key is one of ``keys``."""
        rows = self.rows_where(keys)
        seconds, at = np.unique(rows.micros, return_inverse=True)
        calls = np.bincount(at, weights=rows.calls, minlength=len(seconds)).astype(np.int64)
        return pd.Series(calls, index=pd.DatetimeIndex(_times(seconds, self.time_dtype), name="second"), name="calls",
                         dtype="int64")


def _times(micros: np.ndarray, dtype: Any) -> pd.Series:
    """Microseconds since 1970 as times of ``dtype`` (that of the seconds read)."""
    return pd.Series(pd.to_datetime(micros, unit="us", utc=True)).astype(dtype)


def _codes(column: pd.Series) -> tuple[np.ndarray, Any]:
    """(a number per row, the distinct values by number, sorted) of a text column; categorical columns
    give theirs without reading the rows."""
    if isinstance(column.dtype, pd.CategoricalDtype) and column.cat.categories.is_monotonic_increasing:
        return column.cat.codes.to_numpy(dtype=np.int64), column.cat.categories.to_numpy(dtype=object)
    codes, values = pd.factorize(column, sort=True)
    return codes.astype(np.int64, copy=False), np.asarray(values, dtype=object)


Part = tuple[list[tuple], np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]
"""Per-second rows to add up: the key of each key number, then per row its key number, second
(int64 microseconds since 1970, UTC) and calls, and which rows to take (None: all)."""
MICROS = 1_000_000


@dataclass(frozen=True)
class KeyedSeconds:
    """Calls per key (a bucket, a caller: a tuple of texts) and second, one row each, sorted by key
    then second; keys numbered in their sorted order."""

    keys: list[tuple]
    """The keys, by number."""
    key: np.ndarray
    """Per row: the number of its key."""
    seconds: np.ndarray
    """Per row (int64 microseconds since 1970, UTC)."""
    calls: np.ndarray
    """Per row (int32)."""
    time_dtype: object
    """The dtype of the seconds read (to give the peak seconds back in it)."""

    @classmethod
    def of(cls, parts: list[Part], time_dtype: object) -> "KeyedSeconds":
        """The calls of the rows of ``parts`` summed per key and second. Each row becomes one int64
        (its key number, then its second within the span of all rows), sorted with its calls: about
        32 bytes a row at the peak."""
        keys = sorted(set().union(*(part[0] for part in parts)))
        number = {key: index for index, key in enumerate(keys)}
        taken = [_taken(part) for part in parts]
        first = min((int(micros.min()) for _, micros, _ in taken if len(micros)), default=0)
        span = 1 + max(((int(micros.max()) - first) // MICROS for _, micros, _ in taken if len(micros)), default=0)
        packed = np.concatenate([np.zeros(0, np.int64)]
                                + [np.array([number[key] for key in part[0]], np.int64)[codes] * span
                                   + (micros - first) // MICROS for part, (codes, micros, _) in zip(parts, taken)])
        calls = np.concatenate([np.zeros(0, CALLS)] + [count for _, _, count in taken])
        del taken
        order = np.argsort(packed, kind="stable")
        packed = packed[order]
        calls = calls[order]
        del order
        starts = run_starts(packed)
        packed = packed[starts]
        return cls(keys, packed // span, (packed % span) * MICROS + first,
                   np.add.reduceat(calls, starts) if len(starts) else calls, time_dtype)

    def part(self) -> Part:
        """The rows as a part (to add them up with other rows)."""
        return self.keys, self.key, self.seconds, self.calls, None

    def series(self) -> dict[tuple, tuple[np.ndarray, np.ndarray]]:
        """(seconds, calls) per key."""
        starts = run_starts(self.key)
        ends = np.append(starts[1:], len(self.key))
        return {self.keys[int(self.key[first])]: (self.seconds[first:end], self.calls[first:end])
                for first, end in zip(starts.tolist(), ends.tolist())}

    def peaks(self, name: str, columns: tuple[str, ...] = ("account_id", "region")) -> pd.DataFrame:
        """Peak calls per key (named by ``columns``) and the first second it happened, highest first."""
        names = [*columns, name, f"{name}_second"]
        if not len(self.calls):
            return pd.DataFrame(columns=names)
        starts = run_starts(self.key)
        peak = np.maximum.reduceat(self.calls, starts)
        at_peak = np.flatnonzero(self.calls == np.repeat(peak, np.diff(np.append(starts, len(self.calls)))))
        first = at_peak[run_starts(self.key[at_peak])]
        keys = [self.keys[key] for key in self.key[first].tolist()]
        top = pd.DataFrame({**{column: [key[index] for key in keys] for index, column in enumerate(columns)},
                            name: peak, f"{name}_second": _times(self.seconds[first], self.time_dtype)})
        return top.sort_values([name, f"{name}_second"], ascending=[False, True], kind="stable")[names]


def run_starts(values: np.ndarray) -> np.ndarray:
    """Positions where runs of equal ``values`` (sorted) begin."""
    if not len(values):
        return np.zeros(0, np.intp)
    return np.flatnonzero(np.concatenate(([True], values[1:] != values[:-1])))


def _taken(part: Part) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The key numbers, seconds and calls of the rows a part takes."""
    _, codes, micros, calls, where = part
    return (codes, micros, calls) if where is None else (codes[where], micros[where], calls[where])


def rows_part(rows: CodedSeconds, columns: list[str], where: np.ndarray | None = None) -> Part:
    """A part of the per-second ``rows`` (those of the keys ``where`` is True for), keyed by ``columns``."""
    taken = where[rows.key] if where is not None and len(rows.key) else None
    return rows.key_tuples(columns), rows.key, rows.micros, rows.calls, taken
