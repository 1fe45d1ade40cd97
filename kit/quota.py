"""Quota separation: the global and Regional request buckets, now and after migration.

STS allows a number of requests per second per account and Region (600 by default), and the
global endpoint does not share that bucket with the Regional endpoints: each bucket has its own
quota, raised separately. Moving a caller off the global endpoint adds its calls to the Regional
bucket of its workload Region, second by second: the projected peak is the peak of the summed
series, not the sum of the peaks. Each quota.csv row carries its own bucket's ``quota`` and the
``other_bucket_quota`` of the same account and Region, so both are visible wherever one is.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import pandas as pd

from kit.callers import CALLER_KEY
from kit.rollup import Rollup

QUOTA_COLUMNS = ["account_id", "region", "bucket", "peak_rps_now", "peak_second_now", "projected_peak_rps",
                 "projected_peak_second", "quota", "other_bucket_quota", "headroom_pct", "at_risk", "moving_callers"]
BUCKET_KEY = ["account_id", "region", "second"]


def _series(table: pd.DataFrame, region_column: str) -> pd.Series:
    """Calls per (account, region, second)."""
    return table.rename(columns={region_column: "region"}).groupby(BUCKET_KEY).calls.sum()


def _peaks(series: pd.Series, name: str) -> pd.DataFrame:
    """Peak calls per (account, region) and the first second it happened."""
    if series.empty:
        return pd.DataFrame(columns=["account_id", "region", name, f"{name}_second"])
    frame = series.rename(name).reset_index().sort_values([name, "second"], ascending=[False, True])
    top = frame.drop_duplicates(["account_id", "region"])
    return top.rename(columns={"second": f"{name}_second"})[["account_id", "region", name, f"{name}_second"]]


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


def regional_calls(rollup: Rollup) -> pd.Series:
    """Regional STS calls per (account, Region, second): the Regional buckets as they are."""
    seconds = rollup.seconds
    return _series(seconds[seconds.bucket == "regional"], "bucket_region")


def quota_table(regional: pd.Series, global_rows: pd.DataFrame, quotas: Quotas, threshold: float) -> pd.DataFrame:
    """One row per (account, Region, bucket) with peaks now and after every planned move
    (``global_rows``: per-second global calls with caller keys, from ``callers.global_seconds``)."""
    moving = global_rows[global_rows.workload_region != ""]
    staying = global_rows[global_rows.workload_region == ""]
    projected_regional = pd.concat([regional, _series(moving, "workload_region")]).groupby(level=BUCKET_KEY).sum()
    movers = (moving.drop_duplicates(CALLER_KEY).groupby(["account_id", "workload_region"]).size()
              .rename("moving_callers").reset_index().rename(columns={"workload_region": "region"}))
    regional_table = (_peaks(projected_regional, "projected_peak_rps")
                      .merge(_peaks(regional, "peak_rps_now"), on=["account_id", "region"], how="outer")
                      .merge(movers, on=["account_id", "region"], how="left")
                      .assign(bucket="regional"))
    global_table = (_peaks(_series(global_rows, "bucket_region"), "peak_rps_now")
                    .merge(_peaks(_series(staying, "bucket_region"), "projected_peak_rps"),
                           on=["account_id", "region"], how="left")
                    .assign(bucket="global", moving_callers=0))
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


def stage_moves(regional: pd.Series, global_rows: pd.DataFrame, quotas: Quotas, threshold: float) -> pd.DataFrame:
    """Order the moves into each Regional bucket in waves that stay under the risk threshold.

    Callers are added heaviest first; a caller joins the current wave while the bucket's
    projected second-by-second peak stays below ``threshold`` of its quota, else it opens the next
    wave (to follow a quota increase or a spread of the load). A caller that breaks the limit
    on its own gets wave 0: it needs a quota increase before it moves.
    """
    moving = global_rows[global_rows.workload_region != ""]
    rows = []
    for (account, region), group in moving.groupby(["account_id", "workload_region"]):
        limit = threshold * quotas.of(account, region)
        base = regional[(account, region)] if (account, region) in regional.index.droplevel(2) else pd.Series(dtype="int64")
        per_caller = {key: part.groupby("second").calls.sum() for key, part in group.groupby(CALLER_KEY)}
        order = sorted(per_caller, key=lambda key: (-per_caller[key].max(), key))
        load, wave = base.copy(), 1
        for key in order:
            candidate = load.add(per_caller[key], fill_value=0)
            alone = base.add(per_caller[key], fill_value=0).max()
            if alone >= limit:
                rows.append((*key, 0, int(candidate.max())))
                continue
            if candidate.max() >= limit:
                wave += 1
                load = base.add(per_caller[key], fill_value=0)
            else:
                load = candidate
            rows.append((*key, wave, int(load.max())))
    return pd.DataFrame(rows, columns=CALLER_KEY + ["wave", "bucket_peak_after_wave"])
