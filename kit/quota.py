"""Quota separation: the global and Regional request buckets, now and after migration.

STS allows a number of requests per second per account and Region (600 by default), and the
global endpoint does not share that bucket with the Regional endpoints: each bucket has its own
quota, raised separately. Moving a caller off the global endpoint adds its calls to the Regional
bucket of its workload Region, second by second: the projected peak is the peak of the summed
series, not the sum of the peaks. Each quota.csv row carries its own bucket's ``quota`` and the
``other_bucket_quota`` of the same account and Region, so both are visible wherever one is.

The per-second maths runs on numpy arrays (``KeyedSeconds``: calls per bucket or caller and second,
summed and sorted), not on indexed pandas copies of the per-second rows: besides the rows it reads, it
holds a few arrays as long as those rows.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd

from kit.callers import CALLER_KEY
from kit.rollup import Rollup

QUOTA_COLUMNS = ["account_id", "region", "bucket", "peak_rps_now", "peak_second_now", "projected_peak_rps",
                 "projected_peak_second", "quota", "other_bucket_quota", "headroom_pct", "at_risk", "moving_callers"]
OTHER_BUCKET = {"regional": "global", "global": "regional"}

Part = tuple[list[pd.Series], pd.Series, pd.Series, np.ndarray | None]
"""Per-second rows to add up: their key columns (texts), second, calls, and which rows of those
columns to take (None: all)."""


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
    """Per row (int64)."""
    time_dtype: object
    """The dtype of the seconds read (to give the peak seconds back in it)."""

    @classmethod
    def of(cls, parts: list[Part]) -> "KeyedSeconds":
        """The calls of the rows of ``parts`` summed per key and second."""
        keys, key = _key_codes(parts)
        seconds = np.concatenate([_taken(pd.DatetimeIndex(second).as_unit("us").asi8, where)
                                  for _, second, _, where in parts])
        calls = np.concatenate([_taken(count.to_numpy(dtype=np.int64), where) for _, _, count, where in parts])
        order = np.lexsort((seconds, key))
        key, seconds, calls = key[order], seconds[order], calls[order]
        del order
        starts = _starts(key, seconds)
        return cls(keys, key[starts], seconds[starts], np.add.reduceat(calls, starts) if len(starts) else calls,
                   parts[0][1].dtype)

    def part(self) -> Part:
        """The rows as a part (to add them up with other rows)."""
        return ([pd.Series([key[index] for key in self.keys], dtype=object).take(self.key)
                 for index in range(len(self.keys[0]) if self.keys else 0)],
                self._times(self.seconds), pd.Series(self.calls), None)

    def _times(self, micros: np.ndarray) -> pd.Series:
        """Times as the seconds read were given."""
        return pd.Series(pd.to_datetime(micros, unit="us", utc=True)).astype(self.time_dtype)

    def series(self) -> dict[tuple, tuple[np.ndarray, np.ndarray]]:
        """(seconds, calls) per key."""
        starts = _starts(self.key)
        ends = np.append(starts[1:], len(self.key))
        return {self.keys[int(self.key[first])]: (self.seconds[first:end], self.calls[first:end])
                for first, end in zip(starts.tolist(), ends.tolist())}

    def peaks(self, name: str) -> pd.DataFrame:
        """Peak calls per key (account, Region) and the first second it happened, highest first."""
        columns = ["account_id", "region", name, f"{name}_second"]
        if not len(self.calls):
            return pd.DataFrame(columns=columns)
        starts = _starts(self.key)
        peak = np.maximum.reduceat(self.calls, starts)
        at_peak = np.flatnonzero(self.calls == np.repeat(peak, np.diff(np.append(starts, len(self.calls)))))
        first = at_peak[_starts(self.key[at_peak])]
        accounts, regions = zip(*(self.keys[key] for key in self.key[first].tolist()))
        top = pd.DataFrame({"account_id": accounts, "region": regions, name: peak,
                            f"{name}_second": self._times(self.seconds[first])})
        return top.sort_values([name, f"{name}_second"], ascending=[False, True], kind="stable")[columns]


def _key_codes(parts: list[Part]) -> tuple[list[tuple], np.ndarray]:
    """(the distinct keys sorted, the number of each row's key) of the rows of ``parts``, part after
    part; a column at a time, each text converted once (codes, not copies of the columns)."""
    codes = np.zeros(sum(len(part[2]) if part[3] is None else int(part[3].sum()) for part in parts), np.int64)
    distinct: list[tuple] = [()]
    for index in range(len(parts[0][0])):
        per_part = [(pd.factorize(columns[index], sort=True), where) for columns, _, _, where in parts]
        values = np.array(sorted(set().union(*(uniques for (_, uniques), _ in per_part))), dtype=object)
        column = np.concatenate([_taken(np.searchsorted(values, np.asarray(uniques, dtype=object))[part_codes], where)
                                 for (part_codes, uniques), where in per_part])
        step, pairs = pd.factorize(codes * max(len(values), 1) + column)
        order = np.argsort(pairs)
        rank = np.empty(len(pairs), np.int64)
        rank[order] = np.arange(len(pairs))
        codes = rank[step]
        distinct = [(*distinct[pair // len(values)], values[pair % len(values)]) for pair in pairs[order].tolist()]
    return (distinct if len(codes) else []), codes


def _taken(values: np.ndarray, where: np.ndarray | None) -> np.ndarray:
    """``values`` where ``where`` is True (all when None)."""
    return values if where is None else values[where]


def _starts(*sorted_keys: np.ndarray) -> np.ndarray:
    """Positions where runs of equal rows of ``sorted_keys`` (columns of one length) begin."""
    if not len(sorted_keys[0]):
        return np.zeros(0, np.intp)
    changed = np.zeros(len(sorted_keys[0]) - 1, bool)
    for keys in sorted_keys:
        changed |= keys[1:] != keys[:-1]
    return np.flatnonzero(np.concatenate(([True], changed)))


def _rows(table: pd.DataFrame, keys: list[str], where: np.ndarray | None = None) -> Part:
    """A part of the per-second rows of ``table`` (those ``where`` is True), keyed by ``keys``."""
    return [table[name] for name in keys], table.second, table.calls, where


@dataclass(frozen=True)
class Quotas:
    """The STS request quota of each bucket: a default and raised exceptions, keyed as
    ``kit.params`` reads ``--quota-overrides``: ``(account, region)`` for the Regional bucket and
    ``(account, "region/global")`` for the global one."""

    default: int = 600
    overrides: Mapping[tuple[str, str], int] = field(default_factory=dict)

    def of(self, account: str, region: str, bucket: str = "regional") -> int:
        """Requests per second allowed in one bucket (``regional`` or ``global``) of ``account`` and ``region``."""
        key = (account, region if bucket == "regional" else f"{region}/{bucket}")
        return self.overrides.get(key, self.default)


def regional_calls(rollup: Rollup) -> KeyedSeconds:
    """Regional STS calls per (account, Region) and second: the Regional buckets as they are."""
    seconds = rollup.seconds
    return KeyedSeconds.of([_rows(seconds[seconds.bucket == "regional"], ["account_id", "bucket_region"])])


def _moving(global_rows: pd.DataFrame) -> np.ndarray:
    """Where ``global_rows`` are calls of callers that move (a workload Region is known)."""
    return (global_rows.workload_region != "").to_numpy()


def quota_table(regional: KeyedSeconds, global_rows: pd.DataFrame, quotas: Quotas, threshold: float) -> pd.DataFrame:
    """One row per (account, Region, bucket) with peaks now and after every planned move
    (``global_rows``: per-second global calls with caller keys, from ``callers.global_seconds``)."""
    moving = _moving(global_rows)
    projected_regional = KeyedSeconds.of(
        [regional.part(), _rows(global_rows, ["account_id", "workload_region"], moving)] if len(regional.keys)
        else [_rows(global_rows, ["account_id", "workload_region"], moving)])
    callers, _ = _key_codes([_rows(global_rows, CALLER_KEY, moving)])
    movers = (pd.DataFrame([(account, region) for account, _, _, region in callers], columns=["account_id", "region"])
              .groupby(["account_id", "region"]).size().rename("moving_callers").reset_index())
    regional_table = (projected_regional.peaks("projected_peak_rps")
                      .merge(regional.peaks("peak_rps_now"), on=["account_id", "region"], how="outer")
                      .merge(movers, on=["account_id", "region"], how="left")
                      .assign(bucket="regional"))
    global_table = (KeyedSeconds.of([_rows(global_rows, ["account_id", "bucket_region"])]).peaks("peak_rps_now")
                    .merge(KeyedSeconds.of([_rows(global_rows, ["account_id", "bucket_region"], ~moving)])
                           .peaks("projected_peak_rps"), on=["account_id", "region"], how="left")
                    .assign(bucket="global", moving_callers=0))
    return quota_columns(regional_table, global_table, quotas, threshold)


def quota_columns(regional_table: pd.DataFrame, global_table: pd.DataFrame, quotas: Quotas,
                  threshold: float) -> pd.DataFrame:
    """quota.csv from the peaks of the Regional and global buckets: quotas, headroom and risk."""
    tables = [part for part in (regional_table, global_table) if not part.empty]
    if not tables:
        return pd.DataFrame(columns=QUOTA_COLUMNS)
    table = pd.concat(tables, ignore_index=True)
    for column in ("peak_rps_now", "projected_peak_rps", "moving_callers"):
        table[column] = table[column].fillna(0).astype("int64")
    table = table.rename(columns={"peak_rps_now_second": "peak_second_now",
                                  "projected_peak_rps_second": "projected_peak_second"})
    for column in ("peak_second_now", "projected_peak_second"):
        table[column] = pd.to_datetime(table[column], utc=True)
    rows = list(zip(table.account_id, table.region, table.bucket))
    table["quota"] = [quotas.of(account, region, bucket) for account, region, bucket in rows]
    table["other_bucket_quota"] = [quotas.of(account, region, OTHER_BUCKET[bucket]) for account, region, bucket in rows]
    table["headroom_pct"] = ((table.quota - table.projected_peak_rps) * 100 / table.quota).round(1)
    table["at_risk"] = table.projected_peak_rps >= threshold * table.quota
    return table.sort_values(["account_id", "region", "bucket"], ascending=[True, True, False])[
        QUOTA_COLUMNS].reset_index(drop=True)


def stage_moves(regional: KeyedSeconds, global_rows: pd.DataFrame, quotas: Quotas, threshold: float) -> pd.DataFrame:
    """Order the moves into each Regional bucket in waves that stay under the risk threshold.

    Callers are added heaviest first; a caller joins the current wave while the bucket's
    projected second-by-second peak stays below ``threshold`` of its quota, else it opens the next
    wave (to follow a quota increase or a spread of the load). A caller that breaks the limit
    on its own gets wave 0: it needs a quota increase before it moves.
    """
    callers = KeyedSeconds.of([_rows(global_rows, CALLER_KEY, _moving(global_rows))]).series()
    buckets = regional.series()
    by_bucket: dict[tuple[str, str], list[tuple]] = {}
    for key in callers:  # sorted keys: buckets in (account, Region) order
        by_bucket.setdefault((key[0], key[3]), []).append(key)
    rows = []
    for (account, region), keys in sorted(by_bucket.items()):
        limit = threshold * quotas.of(account, region)
        base_seconds, base_calls = buckets.get((account, region), (np.zeros(0, np.int64), np.zeros(0, np.int64)))
        times = np.unique(np.concatenate([base_seconds, *(callers[key][0] for key in keys)]))
        base = np.zeros(len(times), np.int64)
        base[np.searchsorted(times, base_seconds)] = base_calls
        base_peak = int(base.max()) if len(base_calls) else 0
        load, load_peak, wave = base.copy(), base_peak, 1
        for key in sorted(keys, key=lambda key: (-int(callers[key][1].max()), key)):
            at, calls = np.searchsorted(times, callers[key][0]), callers[key][1]
            candidate_peak = max(load_peak, int((load[at] + calls).max()))
            alone_peak = max(base_peak, int((base[at] + calls).max()))
            if alone_peak >= limit:
                rows.append((*key, 0, candidate_peak))
                continue
            if candidate_peak >= limit:
                wave += 1
                load, load_peak = base.copy(), alone_peak
            else:
                load_peak = candidate_peak
            load[at] += calls
            rows.append((*key, wave, load_peak))
    return pd.DataFrame(rows, columns=CALLER_KEY + ["wave", "bucket_peak_after_wave"])
