"""Per-second STS calls as numbers, for the plan stage: each distinct key once, the rows as arrays.

The ``seconds`` rollup table repeats its key texts (account, principal, user agent, bucket, Region)
on every row: millions of rows, a few hundred keys. ``CodedSeconds`` keeps those keys once, in a
small frame to which the plan adds its own per-key columns (caller tool, workload Region), and per
row only a key number, the second and the calls. ``KeyedSeconds`` adds such rows up per key (a
bucket, a caller) and second, a group of keys (or of seconds) at a time where only each key's peak is
needed: the quota maths (``kit.quota``) and the callers' peaks (``kit.callers``) run on these
arrays; no per-row copy of a text column is made.
"""
from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np
import pandas as pd

from kit.secondcounts import TIME, TIME_ORIGIN, since_1970, since_origin
from kit.sortedruns import run_starts

KEY = np.int32
"""A summed row's key number (keys are callers and buckets: thousands, not billions)."""
CALLS = np.int32
"""Calls of one key in one second (a quota is hundreds or thousands a second)."""
FACTORIZE_HINT = 1024
"""Distinct values ``factorize`` makes room for at first (keys: thousands, rows: millions)."""


@dataclass(frozen=True)
class CodedSeconds:
    """Calls per key and second: ``keys`` (one row per distinct key), and per row ``key`` (a row
    number of ``keys``, the smallest unsigned integers that hold them: two bytes for up to 65,536 keys),
    ``times`` (``kit.secondcounts.TIME``: seconds since 2005, UTC, 4 bytes) and ``calls`` (int32 as a
    table holds them, read without a copy; from the local engine, the fewest bytes that hold them:
    ``kit.secondcounts.calls_type``): 6 to 10 bytes a row (a table's microseconds take 8). Sums of calls
    are made in int32 (``CALLS``) whatever their type."""

    keys: pd.DataFrame
    key: np.ndarray
    times: np.ndarray
    calls: np.ndarray
    time_dtype: Any
    """The dtype of the seconds read (to give seconds back in it)."""

    @classmethod
    def of(cls, table: pd.DataFrame, columns: list[str]) -> "CodedSeconds":
        """The rows of a per-second table (``second``, ``calls`` and the text ``columns``), keyed by
        ``columns``; keys numbered in their sorted order. Consecutive rows of one key (the local engine
        writes each key's seconds together) are numbered once, as a run."""
        coded = [text_codes(table[column]) for column in columns]
        starts = run_starts(*(codes for codes, _ in coded))
        number = np.zeros(len(starts), np.int64)
        parts: list[np.ndarray] = []  # per distinct key so far: the code of its value in each column read
        distinct = []
        for codes, values in coded:
            size = max(len(values), 1)
            number, pairs = factorize(number * size + codes[starts])
            parts = [part[pairs // size] for part in parts] + [pairs % size]
            distinct.append(values)
        del coded
        order = np.lexsort(parts[::-1]) if parts else np.zeros(0, np.intp)
        rank = np.empty(len(order), np.intp)
        rank[order] = np.arange(len(order))
        keys_frame = pd.DataFrame({column: values[part[order]] for column, values, part in zip(columns, distinct, parts)},
                                  columns=columns, dtype=object)
        key = np.repeat(rank.astype(np.min_scalar_type(max(len(rank) - 1, 0)))[number],
                        np.diff(np.append(starts, len(table))))
        return cls(keys_frame, key, _times_of(table.second), table.calls.to_numpy(dtype=CALLS), table.second.dtype)

    @classmethod
    def from_keys(cls, keys: list[tuple], columns: list[str], codes: np.ndarray, times: np.ndarray,
                  calls: np.ndarray) -> "CodedSeconds":
        """The rows of an engine that counts them as numbers: ``keys[code]`` holds the values of ``columns``
        of the rows whose code is ``code``; ``times`` (``TIME``) and ``calls`` (int32) are taken as they
        are. Numbered as ``of`` numbers the rows of the table ``kit.rollup.seconds_frame`` makes of them:
        keys that have rows only, in their sorted order."""
        used = np.zeros(len(keys), bool)
        used[codes] = True
        used_codes = np.flatnonzero(used)
        kept = [keys[code] for code in used_codes.tolist()]
        order = sorted(range(len(kept)), key=kept.__getitem__)
        rank = np.zeros(len(keys), np.min_scalar_type(max(len(kept) - 1, 0)))
        rank[used_codes[order]] = np.arange(len(kept))
        keys_frame = pd.DataFrame([kept[index] for index in order] or None, columns=columns, dtype=object)
        return cls(keys_frame, rank[codes], times, calls, pd.DatetimeTZDtype("us", "UTC"))

    def rows_where(self, keys: np.ndarray) -> "CodedSeconds":
        """The rows whose key is one of ``keys`` (a boolean per key); the keys frame unchanged. Rows that
        are consecutive (the local engine writes the global bucket's first) are views, not copies."""
        kept = keys[self.key] if len(self.key) else np.zeros(0, bool)
        count = int(np.count_nonzero(kept))
        first = int(kept.argmax()) if count else 0
        if kept[first:first + count].all():
            rows = slice(first, first + count)
            return CodedSeconds(self.keys, self.key[rows], self.times[rows], self.calls[rows], self.time_dtype)
        return CodedSeconds(self.keys, self.key[kept], self.times[kept], self.calls[kept], self.time_dtype)

    def with_keys(self, keys: pd.DataFrame) -> "CodedSeconds":
        """The same rows with another keys frame (the same keys, more columns)."""
        return CodedSeconds(keys, self.key, self.times, self.calls, self.time_dtype)

    def present(self) -> np.ndarray:
        """Per key: some row has it."""
        present = np.zeros(len(self.keys), bool)
        present[self.key] = True
        return present

    def key_tuples(self, columns: list[str], where: np.ndarray | None = None) -> list[tuple]:
        """Per key number: its values of ``columns``; with ``where`` (a boolean per key), only of those keys."""
        keys = self.keys if where is None else self.keys[where]
        return list(zip(*(keys[column].tolist() for column in columns))) if len(columns) else [()] * len(keys)

    def per_second(self, keys: np.ndarray) -> pd.Series:
        """Calls per second (indexed by second, sorted) of the rows whose key is one of ``keys``."""
        rows = self.rows_where(keys)
        seconds, at = np.unique(rows.times, return_inverse=True)
        calls = np.bincount(at, weights=rows.calls, minlength=len(seconds)).astype(np.int64)
        return pd.Series(calls, index=pd.DatetimeIndex(_times(seconds, self.time_dtype), name="second"), name="calls",
                         dtype="int64")


def factorize(values: Any) -> tuple[np.ndarray, Any]:
    """``pd.factorize(values, use_na_sentinel=False)`` into a hashtable that starts at ``FACTORIZE_HINT``
    entries and grows as needed (pandas sizes it to the number of values: 16 bytes a value)."""
    return pd.factorize(values, use_na_sentinel=False, size_hint=FACTORIZE_HINT)


def plain_rows(table: pd.DataFrame, columns: Sequence[str] | None = None) -> list[tuple]:
    """The rows of ``table`` (of ``columns``, all when None) as named tuples of their columns' ``tolist()``
    values: ``itertuples`` reads a text column one element at a time, 0.3 s of plan.md for 6,000 callers."""
    columns = list(table.columns if columns is None else columns)
    row = namedtuple("Row", columns, rename=True)  # type: ignore[misc]
    return list(map(row._make, zip(*(table[column].tolist() for column in columns))))


def distinct_pairs(first: np.ndarray, second: np.ndarray,
                   width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct (``first``, ``second``) pairs of rows (``second`` below ``width``), sorted by first then
    second (``unique_inverse`` of one number a pair): each pair's first, its second, and each row's pair."""
    width = max(width, 1)
    pairs, pair_of_row = unique_inverse(first.astype(np.int64) * width + second)
    return pairs // width, pairs % width, pair_of_row


def unique_inverse(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)`` found by hashing (``factorize``): only the distinct
    values are sorted (rows: millions, distinct values: thousands), and the rows' numbers are the one
    array a row holds."""
    codes, distinct = factorize(values)
    order = np.argsort(distinct, kind="stable")
    rank = np.empty(len(order), np.intp)
    rank[order] = np.arange(len(order))
    return distinct[order], rank[codes]


def group_reduce(reduce: np.ufunc, values: np.ndarray, group: np.ndarray, groups: int, initial: Any) -> np.ndarray:
    """Per group (``group``: the group number, below ``groups``, of each of ``values``): ``reduce``
    (``np.minimum``, ``np.maximum``, ``np.add``) of its values, starting from ``initial``, in their dtype
    (``ufunc.at``: the rows need no sort)."""
    reduced = np.full(groups, initial, values.dtype)
    reduce.at(reduced, group, values)
    return reduced


def first_appearances(numbers: np.ndarray) -> np.ndarray:
    """The position of the first row of each number, for numbers given in the order they first appear
    (``factorize``'s): a row is a first when its number is above every number before it."""
    if not len(numbers):
        return np.zeros(0, np.intp)
    first = np.empty(len(numbers), bool)
    first[0] = True
    np.greater(numbers[1:], np.maximum.accumulate(numbers)[:-1], out=first[1:])
    return np.flatnonzero(first)


def _times(times: np.ndarray, dtype: Any) -> pd.Series:
    """``TIME`` values as times of ``dtype`` (that of the seconds read)."""
    return pd.Series(pd.to_datetime(since_1970(times), unit="s", utc=True)).astype(dtype)


def _times_of(seconds: pd.Series) -> np.ndarray:
    """A table's times (UTC, whole seconds) as ``TIME`` values; ``ValueError`` for a time before 2005 or
    after 2100 (no window holds one: ``kit.params.WINDOW_BOUNDS``)."""
    whole = seconds.to_numpy("datetime64[us]").view(np.int64) // 1_000_000  # seconds since 1970
    if len(whole) and (whole.min() < TIME_ORIGIN or whole.max() > TIME_ORIGIN + np.iinfo(TIME).max):
        raise ValueError("a per-second row's time is outside 2005-2100")
    return since_origin(whole)


def text_codes(column: pd.Series) -> tuple[np.ndarray, Any]:
    """(a number per row, the distinct values by number, sorted) of a text column; categorical columns
    give theirs without reading the rows."""
    if isinstance(column.dtype, pd.CategoricalDtype) and column.cat.categories.is_monotonic_increasing:
        return column.cat.codes.to_numpy(), column.cat.categories.to_numpy(dtype=object)
    codes, values = pd.factorize(column, sort=True)
    return codes.astype(np.int64, copy=False), np.asarray(values, dtype=object)


Part = tuple[list[tuple], np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]
"""Per-second rows to add up: the key of each key number, then per row its key number, second
(``TIME``) and calls, and which rows to take (None: all)."""
GROUP_ROWS = 250_000
"""Rows ``KeyedSeconds.in_groups`` sums at a time (about 28 MB at the peak, whatever the rows in all)."""


def row_groups(counts: np.ndarray, rows: int) -> np.ndarray:
    """The group of each item of ``counts`` (its rows), items in order, about ``rows`` rows a group: the
    rows of the items before it, divided by ``rows`` (a group can reach twice that, an item of more has
    one of its own)."""
    return (np.cumsum(counts) - counts) // rows


def group_ranges(counts: np.ndarray, rows: int) -> list[tuple[int, int]]:
    """The items of ``counts`` cut as ``row_groups`` cuts them: [first, end) of each group, in order."""
    firsts = run_starts(row_groups(counts, rows)).tolist()
    return list(zip(firsts, [*firsts[1:], len(counts)]))


@dataclass(frozen=True)
class KeyedSeconds:
    """Calls per key (a bucket, a caller: a tuple of texts) and second, one row each, sorted by key
    then second; keys numbered in their sorted order."""

    keys: list[tuple]
    """The keys, by number."""
    key: np.ndarray
    """Per row: the number of its key (int32)."""
    seconds: np.ndarray
    """Per row (``TIME``)."""
    calls: np.ndarray
    """Per row (int32)."""
    time_dtype: object
    """The dtype of the seconds read (to give the peak seconds back in it)."""

    @classmethod
    def of(cls, parts: list[Part], time_dtype: object,
           numbered: tuple[list[tuple], list[np.ndarray]] | None = None) -> "KeyedSeconds":
        """The calls of the rows of ``parts`` summed per key and second. Each row becomes one int64
        (its key number, then its second within the span of all rows), sorted with its calls: about
        28 bytes a row at the peak. ``numbered``: the keys of ``_numbered(parts)`` when already made
        (``in_groups`` sums its groups with the numbers of all keys)."""
        keys, lookups = numbered or _numbered(parts)
        bounds = [_bounds(part) for part in parts]
        first = min((low for low, _ in filter(None, bounds)), default=0)
        span = 1 + max((high - first for _, high in filter(None, bounds)), default=0)
        packed, calls = _joined([_packed(part, lookup, first, span) for part, lookup in zip(parts, lookups)])
        order = np.argsort(packed, kind="stable")
        packed = packed[order]
        calls = calls[order]
        del order
        starts = run_starts(packed)
        calls = np.add.reduceat(calls, starts, dtype=CALLS) if len(starts) else calls.astype(CALLS)
        packed = packed[starts]
        del starts
        key = (packed // span).astype(KEY)
        packed %= span
        packed += first
        return cls(keys, key, packed.astype(TIME), calls, time_dtype)

    @classmethod
    def in_groups(cls, parts: list[Part], time_dtype: object, rows: int = GROUP_ROWS) -> Iterator["KeyedSeconds"]:
        """``of`` of ``parts`` a group of keys at a time, about ``rows`` rows a group: each has every key
        and the summed rows of its group's keys, keys in order. A group of more rows (a key that has
        more) is summed a range of seconds at a time instead: a key then has rows in several groups, so
        only what each group gives of it (its peak) can be taken."""
        keys, lookups = _numbered(parts)
        counts = np.zeros(len(keys), np.int64)
        for (names, codes, _, _, where), lookup in zip(parts, lookups):
            per_code = np.zeros(len(names), np.int64)
            np.add.at(per_code, codes if where is None else codes[where], 1)
            np.add.at(counts, lookup, per_code)
        group = row_groups(counts, rows)
        for index in np.unique(group[counts > 0]).tolist() or [0]:
            in_group = group == index
            taken = [_within(part, in_group[lookup]) for part, lookup in zip(parts, lookups)]
            if counts[in_group].sum() <= rows:
                yield cls.of(taken, time_dtype, (keys, lookups))
                continue
            taken = [_spanned(part) for part in taken]
            for low, high in _time_ranges(taken, rows):
                yield cls.of([_between(part, low, high) for part in taken], time_dtype, (keys, lookups))
            del taken

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
                            name: peak.astype(np.int64),
                            f"{name}_second": _times(self.seconds[first], self.time_dtype)})
        return top.sort_values([name, f"{name}_second"], ascending=[False, True], kind="stable")[names]


def peaks_of(parts: list[Part], time_dtype: object, name: str,
             columns: tuple[str, ...] = ("account_id", "region")) -> pd.DataFrame:
    """``KeyedSeconds.of(parts, time_dtype).peaks(name, columns)``, summed a group of keys (or of one key's
    seconds) at a time: a key's peak is the highest of its groups', at the earliest second."""
    tops = []
    for group in KeyedSeconds.in_groups(parts, time_dtype):
        tops.append(group.peaks(name, columns))
        del group  # its rows are freed before the next group's are summed
    top = pd.concat(tops, ignore_index=True).sort_values([name, f"{name}_second"], ascending=[False, True],
                                                         kind="stable")
    return top.drop_duplicates(list(columns), keep="first")


def _bounds(part: Part) -> tuple[int, int] | None:
    """The first and last time (``TIME``) of the rows a part takes; None when it takes none."""
    _, _, times, _, where = part
    if where is None:
        return (int(times.min()), int(times.max())) if len(times) else None
    if not where.any():
        return None
    return (int(times.min(initial=np.iinfo(TIME).max, where=where)),
            int(times.max(initial=np.iinfo(TIME).min, where=where)))


def _numbered(parts: list[Part]) -> tuple[list[tuple], list[np.ndarray]]:
    """The keys of all ``parts``, sorted (a key's number is its place), and per part the number of each of
    its keys."""
    keys = sorted(set().union(*(part[0] for part in parts)))
    number = {key: index for index, key in enumerate(keys)}
    return keys, [np.array([number[key] for key in part[0]], np.int64) for part in parts]


def _packed(part: Part, lookup: np.ndarray, first: int, span: int) -> tuple[np.ndarray, np.ndarray]:
    """(key number * ``span`` + second since ``first``, calls) of the rows a part takes (``lookup``: the
    number of each of its keys), each column taken as it is used and worked on in place (20 bytes a row
    taken at the peak)."""
    names, codes, times, calls, where = part
    taken = slice(None) if where is None else where
    packed = lookup[codes[taken]]
    packed *= span
    packed += np.subtract(times[taken], first, dtype=np.int64)  # a new array: the part's own times stay
    return packed, calls[taken]


def _within(part: Part, keep: np.ndarray) -> Part:
    """The part, taking only the rows whose key number ``keep`` (a boolean per key number) is True for."""
    names, codes, times, calls, where = part
    taken = keep[codes]
    if where is not None:
        taken &= where  # in place: a boolean per row of all the rows, held once
    return names, codes, times, calls, taken


TIME_BINS = 4096
"""Ranges of seconds whose rows ``_time_ranges`` counts to cut a large key's seconds into groups."""
CHUNK_ROWS = 1 << 20
"""Rows compared with a time at a time (``_time_ranges``, ``_between``): their temporaries stay small."""


def _time_ranges(parts: list[Part], rows: int) -> list[tuple[int, int]]:
    """Ranges [low, high) of seconds (``TIME``) that each hold about ``rows`` of the rows ``parts`` take
    (some), more when a range of 1 / ``TIME_BINS`` of their span holds more; ascending, covering them all."""
    bounds = [bound for bound in map(_bounds, parts) if bound]
    first, last = min(low for low, _ in bounds), max(high for _, high in bounds)
    width = -(-(last - first + 1) // TIME_BINS)
    per_bin = np.zeros(TIME_BINS, np.int64)
    for _, _, times, _, where in parts:
        for start in range(0, len(times), CHUNK_ROWS):
            chunk = times[start:start + CHUNK_ROWS]
            if where is not None:
                chunk = chunk[where[start:start + CHUNK_ROWS]]
            per_bin += np.bincount((chunk - np.uint32(first)) // np.uint32(width), minlength=TIME_BINS)
    ends = np.cumsum(per_bin)
    cuts = np.unique(np.searchsorted(ends, np.arange(rows, int(ends[-1]), rows)) + 1)
    edges = np.unique([first, *(first + cuts * width).tolist(), last + 1]).tolist()
    edges = [edge for edge in edges if edge <= last] + [last + 1]  # the last bins may lie past ``last``
    return list(zip(edges[:-1], edges[1:]))


def _spanned(part: Part) -> Part:
    """The part cut to the rows from the first to the last it takes (views: a key's rows lie together
    when the rows are sorted by key)."""
    names, codes, times, calls, where = part
    if where is None or not len(where):
        return part
    first, end = int(where.argmax()), len(where) - int(where[::-1].argmax())
    if not where[first]:
        first = end = 0
    return names, codes[first:end], times[first:end], calls[first:end], where[first:end]


def _between(part: Part, low: int, high: int) -> Part:
    """The part, taking only the rows it takes whose second is in [``low``, ``high``)."""
    names, codes, times, calls, where = part
    taken = np.ones(len(times), bool) if where is None else where.copy()
    for start in range(0, len(times), CHUNK_ROWS):
        chunk = times[start:start + CHUNK_ROWS]
        taken[start:start + CHUNK_ROWS] &= (chunk >= low) & (chunk < high)
    return names, codes, times, calls, taken


def _joined(packs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """The packed rows and the calls of all parts, one array each (a single part's as they are)."""
    if len(packs) == 1:
        return packs[0]
    return (np.concatenate([np.zeros(0, np.int64), *(packed for packed, _ in packs)]),
            np.concatenate([np.zeros(0, CALLS), *(calls for _, calls in packs)]))


def rows_part(rows: CodedSeconds, columns: list[str], where: np.ndarray | None = None) -> Part:
    """A part of the per-second ``rows`` (those of the keys ``where`` is True for), keyed by ``columns``."""
    taken = where[rows.key] if where is not None and len(rows.key) else None
    return rows.key_tuples(columns), rows.key, rows.times, rows.calls, taken
