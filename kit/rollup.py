"""The rollup: the small tables every engine returns, and what the engine read to make them.

Engines (trail files, CloudTrail Lake, Athena) turn raw events into these three tables;
everything after (callers, quota, plan, charts) is pandas over them.

``sts_calls``  one row per STS caller and minute (and host, source IP, event name...):
               ``calls``, ``errors``, ``first_seen``, ``last_seen`` (its texts categorical).
``activity``   non-STS calls per principal and Region (global services left out).
``seconds``    STS calls per caller, quota bucket and second, for the peak-second maths
               (its texts categorical: a code per row, each text once; its calls int32; so are
               ``throttled``'s). An engine that counts them as numbers (the local engine) gives
               them as ``kit.codedseconds.CodedSeconds``, which the plan reads as they are: the
               table is made of them only when it is read (notebooks, the stored rollup).
``signals``    evidence of breakage per caller, signal, endpoint and Region (``kit.signals``).
``throttled``  throttled STS calls per caller, quota bucket and second (the ``seconds`` columns).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, Sequence

import numpy as np
import pandas as pd

from kit.codedseconds import CodedSeconds
from kit.readreport import ReadReport
from kit.secondcounts import since_1970

STS_CALL_KEYS = ("account_id", "principal_arn", "principal_type", "user_agent", "source_ip",
                 "event_name", "host", "endpoint", "event_region", "serving_region", "minute")
STS_CALL_COLUMNS = STS_CALL_KEYS + ("calls", "errors", "first_seen", "last_seen")
ACTIVITY_COLUMNS = ("account_id", "principal_arn", "region", "calls")
SECOND_KEYS = ("account_id", "principal_arn", "user_agent", "bucket", "bucket_region", "second")
SECOND_COLUMNS = SECOND_KEYS + ("calls",)
SECOND_KEY_COLUMNS = list(SECOND_KEYS[:-1])
"""The columns that key a caller's per-second rows (``kit.codedseconds.CodedSeconds``)."""
SIGNAL_KEYS = ("account_id", "principal_arn", "user_agent", "signal", "endpoint", "region")
SIGNAL_COLUMNS = SIGNAL_KEYS + ("events", "sessions", "first_seen", "last_seen", "example_event_id")
"""``kit.signals``: events and distinct issued sessions per caller (the issuing caller for the token
signals), signal, endpoint and Region, their first and last eventTime and the smallest eventID."""
THROTTLED_COLUMNS = SECOND_COLUMNS
CODED_TABLES = (SECOND_COLUMNS, STS_CALL_COLUMNS)
"""Tables whose text columns are categorical (a small code per row, each text once): ``seconds`` and
``throttled``, a row per caller and second, and ``sts_calls``, a row per caller and minute; millions or
hundreds of thousands of rows and a few hundred distinct texts (at 8 bytes a row and text column,
``sts_calls`` held 40 MB of pointers at 3.4 M events: bench/RESULTS.md)."""
NARROW_COUNT_TABLES = (SECOND_COLUMNS,)
"""Tables whose counts are ``CODED_COUNT``: calls of one key in one second."""
CODED_COUNT = "int32"
"""The counts of coded tables: calls of one key in one second (hundreds, not billions), 4 bytes a row,
the plan's own type for them (``kit.codedseconds.CALLS``: read without a copy)."""

_TIME_COLUMNS = ("minute", "first_seen", "last_seen", "second")
_INT_COLUMNS = ("calls", "errors", "events", "sessions")


@dataclass
class Rollup:
    """The rollup tables plus the read report."""

    sts_calls: pd.DataFrame
    activity: pd.DataFrame
    second_rows: pd.DataFrame | CodedSeconds
    """The ``seconds`` table, or its rows as numbers (read them as ``seconds`` or ``coded_seconds``)."""
    report: ReadReport
    signals: pd.DataFrame = field(default_factory=lambda: frame([], SIGNAL_COLUMNS))
    throttled: pd.DataFrame = field(default_factory=lambda: frame([], THROTTLED_COLUMNS))
    _seconds: pd.DataFrame | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def seconds(self) -> pd.DataFrame:
        """The ``seconds`` table (made once from the rows as numbers when an engine gave those)."""
        if isinstance(self.second_rows, pd.DataFrame):
            return self.second_rows
        if self._seconds is None:
            rows = self.second_rows
            self._seconds = seconds_frame(rows.key_tuples(SECOND_KEY_COLUMNS), rows.key, rows.times, rows.calls)
        return self._seconds

    def coded_seconds(self) -> CodedSeconds:
        """The per-second rows as numbers, each (account, principal, user agent, bucket, Region) once: as
        the engine gave them, or made of the ``seconds`` table."""
        if isinstance(self.second_rows, CodedSeconds):
            return self.second_rows
        return CodedSeconds.of(self.second_rows, SECOND_KEY_COLUMNS)


def frame(values: list[Sequence[Any]], columns: tuple[str, ...]) -> pd.DataFrame:
    """A rollup table from one sequence of values per column (none: no rows), with the kit's
    column order and dtypes (times as UTC timestamps)."""
    data = {}
    for column, column_values in zip(columns, values or [()] * len(columns)):
        series = pd.Series(column_values, dtype=object)
        if column in _TIME_COLUMNS:
            data[column] = pd.to_datetime(series, utc=True, format="ISO8601")
        elif column in _INT_COLUMNS:
            data[column] = series.astype(CODED_COUNT if columns in NARROW_COUNT_TABLES else "int64")
        elif columns in CODED_TABLES:
            data[column] = series.fillna("").astype(str).astype("category")
        else:
            data[column] = series.fillna("").astype(str)
    return pd.DataFrame(data, columns=list(columns))


def counts_frame(counts: dict[tuple, int], columns: tuple[str, ...]) -> pd.DataFrame:
    """A rollup table from counts per key (the key's fields, then the count), ``frame``'s dtypes
    also when there are none."""
    return frame([*zip(*counts), tuple(counts.values())] if counts else [], columns)


def key_columns(keys: Sequence[tuple], width: int, codes: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per column of ``keys`` (tuples of ``width`` values; None or NaN read as ''): the distinct texts
    of the keys that rows use (``codes``, each row's key), sorted, and the place of each key's text
    among them (0 for a key no row uses) in the smallest signed integers that hold it (a categorical's
    codes)."""
    used = np.zeros(len(keys), bool)
    used[codes] = True
    columns = []
    for index in range(width):
        texts, places = sorted_texts(np.array(list(map(itemgetter(index), keys)), dtype=object)[used])
        place_of_key = np.zeros(len(keys), np.min_scalar_type(-len(texts)))
        place_of_key[used] = places
        columns.append((texts, place_of_key))
    return columns


def sorted_texts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct texts of ``values`` (an object array; None or NaN read as ''), sorted, and where each
    value's text is among them, found by hashing, so that only the distinct texts are converted and
    sorted (``np.unique`` sorts them all: 6x slower for a column of a few texts over 700k keys)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    texts = pd.Series(uniques, dtype=object).fillna("").astype(str).to_numpy(dtype=object)
    order = np.array(sorted(range(len(texts)), key=texts.__getitem__), dtype=np.intp)
    texts = texts[order]
    new = np.ones(len(texts), bool)  # False where None or NaN became a text already there
    new[1:] = texts[1:] != texts[:-1]
    rank = np.empty(len(order), np.intp)
    rank[order] = np.cumsum(new) - 1
    return texts[new], rank[codes]


def key_ranks(columns: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """The place of each key of ``key_columns`` among them all, compared as tuples of text."""
    order = np.lexsort([places for _, places in reversed(columns)])
    ranks = np.empty(len(order), np.intp)
    ranks[order] = np.arange(len(order))
    return ranks


def coded_frame(columns: tuple[str, ...], keys: list[tuple[np.ndarray, np.ndarray]], codes: np.ndarray,
                values: dict[str, np.ndarray]) -> pd.DataFrame:
    """A coded rollup table (``CODED_TABLES``) from compact rows, with the dtypes of ``frame``: ``keys``
    (``key_columns``) holds the first columns of the key ``codes`` of each row, ``values`` the others
    (times in seconds since 1970, UTC, or as datetime64[us], UTC). The arrays of ``values`` become the
    table's: they are taken out of the dict as their columns are made, seconds turned into
    microseconds in place."""
    sample = [["1970-01-01T00:00:00"] if column in _TIME_COLUMNS else [0] if column in _INT_COLUMNS else [""]
              for column in columns]
    dtypes = frame(sample if len(codes) else [], columns).dtypes  # what ``frame`` gives rows like these
    data = {}
    for column, (texts, place_of_key) in zip(columns, keys):
        data[column] = pd.Series(pd.Categorical.from_codes(
            place_of_key[codes], pd.Index(texts, dtype=dtypes[column].categories.dtype))) if len(codes) else \
            pd.Series([], dtype=dtypes[column])
    for column in list(values):
        column_values = values.pop(column)
        if column in _TIME_COLUMNS and column_values.dtype != "M8[us]":
            seconds = column_values.astype(np.int64, copy=False)
            column_values = np.multiply(seconds, 10 ** 6, out=seconds).view("M8[us]")
        data[column] = pd.Series(column_values, dtype=dtypes[column])
    return pd.DataFrame(data, columns=list(columns), copy=False)  # the columns are new: no copy of each


def seconds_frame(keys: Sequence[tuple], codes: np.ndarray, times: np.ndarray, calls: np.ndarray) -> pd.DataFrame:
    """The ``seconds`` table from compact rows (see kit.secondcounts): ``keys[code]`` holds the
    first five columns, ``times`` are ``kit.secondcounts.TIME`` values; the dtypes of ``frame``."""
    return coded_frame(SECOND_COLUMNS, key_columns(keys, len(SECOND_KEY_COLUMNS), codes), codes,
                       {"second": since_1970(times), "calls": calls})


def sts_calls_frame(columns: list[tuple[np.ndarray, np.ndarray]], rows: dict[str, np.ndarray]) -> pd.DataFrame:
    """The ``sts_calls`` table from compact rows (see kit.stscounts), in the order of their keys (compared
    as tuples of text), then of the rows given (by minute): an order that does not depend on how the
    input was cut into batches. ``columns`` (``key_columns`` of the keys) hold the first ten columns;
    ``rows`` (``kit.events.Aggregator.sts_rows``) each row's key (``codes``), then ``minute``, ``calls``,
    ``errors``, ``first_seen`` and ``last_seen`` (times in seconds since 1970, UTC); the dtypes of
    ``frame``. ``rows`` is emptied: each of its arrays is put in order in place of the one given, and then
    becomes the table's (at most one column held twice)."""
    codes = rows.pop("codes")
    order = np.argsort(key_ranks(columns)[codes], kind="stable")
    codes = codes[order]
    for name in list(rows):
        rows[name] = rows[name][order]
    del order
    return coded_frame(STS_CALL_COLUMNS, columns, codes, rows)
