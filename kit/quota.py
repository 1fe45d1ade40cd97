"""Quota separation: the global and Regional request buckets, now and after migration.

STS allows a number of requests per second per account and Region (600 by default), and the
global endpoint does not share that bucket with the Regional endpoints: each bucket has its own
quota, raised separately. Moving a caller off the global endpoint adds its calls to the Regional
bucket of its workload Region, second by second: the projected peak is the peak of the summed
series, not the sum of the peaks. Each quota.csv row carries its own bucket's ``quota`` and the
``other_bucket_quota`` of the same account and Region, so both are visible wherever one is.

The per-second maths runs on numpy arrays (``kit.codedseconds``: a number per key, calls per bucket
or caller and second, summed and sorted), not on pandas copies of the per-second rows: besides the
rows it reads, the peaks hold a few arrays of numbers as long as a group of those rows
(``kit.codedseconds.GROUP_ROWS``; a bucket of more rows is summed a range of seconds at a time), the
waves about 12 bytes a row of one bucket's moving callers (their whole series: each wave adds them up).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd

from kit.callers import CALLER_KEY
from kit.codedseconds import CALLS, GROUP_ROWS, CodedSeconds, KeyedSeconds, group_ranges, peaks_of, rows_part
from kit.secondcounts import TIME
from kit.sortedruns import run_firsts, run_starts

QUOTA_COLUMNS = ["account_id", "region", "bucket", "peak_rps_now", "peak_second_now", "projected_peak_rps",
                 "projected_peak_second", "quota", "other_bucket_quota", "headroom_pct", "at_risk", "moving_callers"]
OTHER_BUCKET = {"regional": "global", "global": "regional"}


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


def regional_calls(seconds: CodedSeconds) -> KeyedSeconds:
    """Regional STS calls per (account, Region) and second: the Regional buckets as they are
    (``seconds``: the rollup's ``seconds`` as ``Rollup.coded_seconds`` gives them)."""
    regional = (seconds.keys.bucket == "regional").to_numpy()
    return KeyedSeconds.of([rows_part(seconds, ["account_id", "bucket_region"], regional)], seconds.time_dtype)


def _moving(global_rows: CodedSeconds) -> np.ndarray:
    """Per key of ``global_rows``: its caller moves (a workload Region is known)."""
    return (global_rows.keys.workload_region != "").to_numpy()


def quota_table(regional: KeyedSeconds, global_rows: CodedSeconds, quotas: Quotas, threshold: float) -> pd.DataFrame:
    """One row per (account, Region, bucket) with peaks now and after every planned move
    (``global_rows``: per-second global calls with caller keys, from ``callers.global_seconds``)."""
    moving = _moving(global_rows)
    time_dtype = global_rows.time_dtype
    projected = peaks_of([regional.part(), rows_part(global_rows, ["account_id", "workload_region"], moving)],
                         time_dtype, "projected_peak_rps")
    callers = sorted(set(global_rows.key_tuples(CALLER_KEY, moving & global_rows.present())))
    movers = (pd.DataFrame([(account, region) for account, _, _, region in callers], columns=["account_id", "region"])
              .groupby(["account_id", "region"]).size().rename("moving_callers").reset_index())
    regional_table = (projected
                      .merge(regional.peaks("peak_rps_now"), on=["account_id", "region"], how="outer")
                      .merge(movers, on=["account_id", "region"], how="left")
                      .assign(bucket="regional"))
    global_table = (peaks_of([rows_part(global_rows, ["account_id", "bucket_region"])], time_dtype, "peak_rps_now")
                    .merge(peaks_of([rows_part(global_rows, ["account_id", "bucket_region"], ~moving)], time_dtype,
                                    "projected_peak_rps"), on=["account_id", "region"], how="left")
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


def stage_moves(regional: KeyedSeconds, global_rows: CodedSeconds, quotas: Quotas, threshold: float) -> pd.DataFrame:
    """Order the moves into each Regional bucket in waves that stay under the risk threshold.

    Callers are added heaviest first; a caller joins the current wave while the bucket's
    projected second-by-second peak stays below ``threshold`` of its quota, else it opens the next
    wave (to follow a quota increase or a spread of the load). A caller that breaks the limit
    on its own gets wave 0: it needs a quota increase before it moves. One bucket at a time, each
    caller's calls are placed on the bucket's seconds straight from the rows of its keys: besides
    the rows, a bucket holds about 12 bytes a row of its callers (not the 28 of summing them by sorting).
    """
    buckets = regional.series()
    rows_of = _rows_of_keys(global_rows)
    moving = _moving(global_rows)
    movers: dict[tuple[str, str], dict[tuple, list[int]]] = {}
    for number, key in enumerate(global_rows.key_tuples(CALLER_KEY)):
        if moving[number] and number in rows_of:
            movers.setdefault((key[0], key[3]), {}).setdefault(key, []).append(number)
    rows = []
    for (account, region), callers in sorted(movers.items()):
        parts = {caller: [rows_of[number] for number in numbers] for caller, numbers in callers.items()}
        rows += _waves(parts, global_rows, buckets.get((account, region)), threshold * quotas.of(account, region))
    return pd.DataFrame(rows, columns=CALLER_KEY + ["wave", "bucket_peak_after_wave"])


def _rows_of_keys(rows: CodedSeconds) -> dict[int, np.ndarray | slice]:
    """Per key number that has rows: where they are in ``rows`` (a slice when they lie together, as
    the local engine gives them; else their positions)."""
    starts = run_starts(rows.key)
    numbers = rows.key[starts]
    if len(np.unique(numbers)) < len(numbers):  # some key's rows are apart
        order = np.argsort(rows.key, kind="stable")
        starts = run_starts(rows.key[order])
        ends = np.append(starts[1:], len(order))
        return {int(rows.key[order[start]]): order[start:end] for start, end in zip(starts.tolist(), ends.tolist())}
    ends = np.append(starts[1:], len(rows.key))
    return {number: slice(start, end) for number, start, end in zip(numbers.tolist(), starts.tolist(), ends.tolist())}


def _waves(callers: dict[tuple, list[np.ndarray | slice]], rows: CodedSeconds,
           bucket: tuple[np.ndarray, np.ndarray] | None, limit: float) -> list[tuple]:
    """``stage_moves``' rows (caller key, wave, bucket peak) of one Regional bucket: its own calls
    (``bucket``: seconds and calls, None for none) and the callers moving into it (their rows in ``rows``)."""
    base_seconds, base_calls = bucket if bucket is not None else (np.zeros(0, TIME), np.zeros(0, CALLS))
    times = np.concatenate([base_seconds, *(rows.times[where] for parts in callers.values() for where in parts)])
    times.sort()
    times = run_firsts(times)  # the bucket's seconds (``np.unique`` hashes first: 12x slower)
    series = dict(zip(callers, _on_seconds(times, rows, list(callers.values()))))
    base = np.zeros(len(times), CALLS)  # a bucket's calls in a second: int32, as the rows count them
    base[_positions(times, base_seconds)] = base_calls
    base_peak = int(base.max()) if len(base_calls) else 0
    load, load_peak, wave = base.copy(), base_peak, 1
    out = []
    for caller in sorted(series, key=lambda caller: (-int(series[caller][1].max()), caller)):
        at, calls = series[caller]
        candidate_peak = max(load_peak, int((load[at] + calls).max()))
        alone_peak = max(base_peak, int((base[at] + calls).max()))
        if alone_peak >= limit:
            out.append((*caller, 0, candidate_peak))
            continue
        if candidate_peak >= limit:
            wave += 1
            load, load_peak = base.copy(), alone_peak
        else:
            load_peak = candidate_peak
        load[at] += calls
        out.append((*caller, wave, load_peak))
    return out


def _on_seconds(times: np.ndarray, rows: CodedSeconds,
                callers: list[list[np.ndarray | slice]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each caller's calls per second, from the rows of its keys (``callers``: per caller, where they
    are in ``rows``): (positions in ``times``, which holds every second of them, distinct and ascending;
    the calls summed at each). A caller whose rows are one run of ascending seconds (one key, as the
    local engine gives it) is placed as it is; the others (thousands in a bucket, at times) are summed
    together, in one sort of (caller, second) numbers per group of callers of about ``GROUP_ROWS`` rows,
    whose seconds and calls are gathered only then (a caller's rows are a slice of ``rows`` as the
    local engine gives them: no position of each row is made)."""
    series: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for number, parts in enumerate(callers):
        if len(parts) == 1 and isinstance(parts[0], slice) and _ascending(rows.times[parts[0]]):
            at = _positions(times, rows.times[parts[0]])
            series[number] = (at, rows.calls[parts[0]].astype(CALLS))
    summed = [number for number in range(len(callers)) if number not in series]
    sizes = np.array([sum(len(rows.times[part]) if isinstance(part, slice) else len(part) for part in callers[number])
                      for number in summed], np.int64)
    for first, last in group_ranges(sizes, GROUP_ROWS):
        numbers = summed[first:last]
        series.update(zip(numbers, _summed_per_caller(times, rows, [callers[number] for number in numbers],
                                                      sizes[first:last])))
    return [series[number] for number in range(len(callers))]


POSITION_ROWS = 1 << 18
"""Seconds placed at a time by ``_positions`` (numpy's search gives 8 bytes a second: 2 MB at a time)."""


def _positions(times: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """Where each of ``seconds`` is in ``times`` (distinct, ascending, holding them all), as int32."""
    at = np.empty(len(seconds), np.int32)
    for start in range(0, len(seconds), POSITION_ROWS):
        at[start:start + POSITION_ROWS] = np.searchsorted(times, seconds[start:start + POSITION_ROWS])
    return at


def _ascending(seconds: np.ndarray) -> bool:
    """True when every second is later than the one before (distinct, in order)."""
    return bool((seconds[1:] > seconds[:-1]).all())


def _summed_per_caller(times: np.ndarray, rows: CodedSeconds, callers: list[list[np.ndarray | slice]],
                       sizes: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """``_on_seconds`` of a group of callers (``callers``: where each one's rows are, ``sizes`` their
    counts)."""
    parts = [part for where in callers for part in where]
    width = max(len(times), 1)
    numbers = np.repeat(np.arange(len(callers), dtype=np.int64) * width, sizes)
    numbers += np.searchsorted(times, np.concatenate([rows.times[part] for part in parts]))  # (caller, second)
    order = np.argsort(numbers, kind="stable")
    numbers = numbers[order]
    starts = run_starts(numbers)
    summed = np.add.reduceat(np.concatenate([rows.calls[part] for part in parts])[order], starts, dtype=CALLS)
    numbers = numbers[starts]
    at = (numbers % width).astype(np.int32)
    bounds = np.searchsorted(numbers, np.arange(len(callers) + 1, dtype=np.int64) * width).tolist()
    return [(at[begin:end], summed[begin:end]) for begin, end in zip(bounds[:-1], bounds[1:])]
