"""Tables behind the notebooks' charts: plain pandas over a plan (engine-independent)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from kit.callers import CALLER_KEY, global_calls
from kit.fieldgaps import ROLLOUT
from kit.plan import Plan
from kit.quota import Quotas
from kit.regions import GLOBAL_ENDPOINT_REGION, is_opt_in

ROLLOUT_DATE = pd.Timestamp(ROLLOUT)
"""By then AWS served global calls locally in every Region enabled by default (eu-north-1 first)."""


WEEKLY_KINDS = {"global_us_east_1": "global, served in us-east-1", "global_local": "global, served locally",
                "regional": "Regional"}


def caller_region_label(origin: str, workload: str) -> str:
    """How a caller's location is shown: its Region, 'outside AWS' or 'unknown'."""
    if origin == "outside-aws":
        return "outside AWS"
    return workload or "unknown"


CALLER_GROUPS = ("default Regions", "opt-in Regions", "outside AWS", "unknown")
"""How the heatmap's rows are grouped, in this order."""


def caller_group(label: str) -> str:
    """The group of a caller-location label: default Regions, opt-in Regions, outside AWS or unknown."""
    if label in ("outside AWS", "unknown"):
        return label
    return "opt-in Regions" if is_opt_in(label) else "default Regions"


def _labelled_global_calls(plan: Plan, since_change: bool) -> pd.DataFrame:
    """Global calls with ``caller_region`` (a Region, 'outside AWS' or 'unknown') and the caller's risks."""
    rows = global_calls(plan.rollup, plan.homes)
    if since_change:
        rows = rows[rows.post_change]
    callers = plan.callers.set_index(CALLER_KEY)
    keys = list(zip(*(rows[column] for column in CALLER_KEY)))
    return rows.assign(caller_region=[caller_region_label(callers.origin.get(key, "unknown"), key[3]) for key in keys],
                       risks=[callers.risks.get(key, "") for key in keys])


def serving_matrix(plan: Plan, since_change: bool = True) -> pd.DataFrame:
    """Global calls by caller location (rows, grouped as in ``CALLER_GROUPS``) and serving Region (columns)."""
    rows = _labelled_global_calls(plan, since_change)
    matrix = pd.crosstab(rows.caller_region, rows.served, values=rows.calls, aggfunc="sum").fillna(0).astype("int64")
    order = sorted(matrix.index, key=lambda label: (CALLER_GROUPS.index(caller_group(label)), label))
    return matrix.reindex(order)


_REASONS = (("opt-in-region", "opt-in Region"), ("outside-aws", "outside AWS"), ("custom-dns", "custom DNS"),
            ("origin-unknown", "origin unknown"))


def us_east_1_reasons(plan: Plan, since_change: bool = True) -> dict[str, str]:
    """Per caller location: why its global calls were served in us-east-1 (for the heatmap)."""
    rows = _labelled_global_calls(plan, since_change)
    rows = rows[rows.served == GLOBAL_ENDPOINT_REGION]
    reasons = {}
    for label, part in rows.groupby("caller_region"):
        risks = set(";".join(part.risks).split(";"))
        named = [text for risk, text in _REASONS if risk in risks]
        if label == GLOBAL_ENDPOINT_REGION:
            named = ["home Region"]
        elif not named and part.minute.max() < ROLLOUT_DATE:
            named = ["during the rollout"]
        reasons[label] = ", ".join(named) or "not known"
    return reasons


def weekly_share(plan: Plan) -> pd.DataFrame:
    """Per account and week: Regional calls, global calls served locally and global calls served in us-east-1."""
    calls = plan.rollup.sts_calls
    served_locally = (calls.endpoint == "global") & ~calls.serving_region.isin(["", GLOBAL_ENDPOINT_REGION])
    kind = pd.Series("regional", index=calls.index).mask(calls.endpoint == "global", "global_us_east_1")
    kind = kind.mask(served_locally, "global_local")
    weekly = (calls.assign(week=calls.minute.dt.tz_localize(None).dt.to_period("W").dt.start_time, kind=kind)
              .pivot_table(index=["account_id", "week"], columns="kind", values="calls", aggfunc="sum",
                           fill_value=0)
              .reindex(columns=list(WEEKLY_KINDS), fill_value=0).reset_index())
    weekly.columns.name = None
    weekly["global_share_pct"] = (100 * (weekly.global_local + weekly.global_us_east_1)
                                  / weekly[list(WEEKLY_KINDS)].sum(axis=1)).round(1)
    return weekly


def served_away_from_home(plan: Plan) -> pd.DataFrame:
    """Callers whose latest global call was served in us-east-1 although they run elsewhere."""
    callers = plan.callers
    away = (callers.served_now == GLOBAL_ENDPOINT_REGION) & (callers.workload_region != GLOBAL_ENDPOINT_REGION)
    return callers.loc[away, ["account_id", "principal_arn", "caller_tool", "origin", "workload_region",
                              "served_now", "global_calls", "priority"]].reset_index(drop=True)


def projection_series(plan: Plan, account: str, region: str, around: int = 20) -> pd.DataFrame:
    """Second by second around the projected peak of a Regional bucket: calls now and after the moves."""
    seconds = plan.rollup.coded_seconds()
    keys = seconds.keys
    regional = seconds.per_second(((keys.bucket == "regional") & (keys.account_id == account)
                                   & (keys.bucket_region == region)).to_numpy())
    movers = plan.global_seconds.keys
    moving = plan.global_seconds.per_second(((movers.account_id == account) & (movers.workload_region == region))
                                            .to_numpy())
    table = pd.DataFrame({"regional_now": regional, "moving_global": moving}).fillna(0).astype("int64")
    table["projected"] = table.regional_now + table.moving_global
    if table.empty:
        return table
    peak = table.projected.idxmax()
    index = pd.date_range(peak - pd.Timedelta(seconds=around), peak + pd.Timedelta(seconds=around), freq="s")
    return table.reindex(index, fill_value=0).rename_axis("second")


def throttled_buckets(plan: Plan) -> pd.DataFrame:
    """The buckets (account, endpoint, Region) whose STS calls were throttled: throttled calls,
    seconds with throttling, the worst second and the bucket's quota."""
    throttled = plan.rollup.throttled
    columns = ["account_id", "bucket", "region", "throttled_calls", "throttled_seconds", "worst_second", "quota"]
    if throttled.empty:
        return pd.DataFrame(columns=columns)
    per_second = throttled.groupby(["account_id", "bucket", "bucket_region", "second"]).calls.sum().reset_index()
    grouped = per_second.sort_values(["calls", "second"], ascending=[False, True]).groupby(
        ["account_id", "bucket", "bucket_region"], sort=True)
    table = grouped.agg(throttled_calls=("calls", "sum"), throttled_seconds=("second", "nunique"),
                        worst_second=("second", "first")).reset_index().rename(columns={"bucket_region": "region"})
    quotas = Quotas(plan.params.quota, plan.params.quota_overrides)
    table["quota"] = [quotas.of(account, region, bucket)
                      for account, region, bucket in zip(table.account_id, table.region, table.bucket)]
    return table[columns]


def throttled_series(plan: Plan, account: str, bucket: str, region: str, around: int = 5) -> pd.DataFrame:
    """Second by second around a bucket's worst throttled burst (its throttled seconds within a
    minute of the worst one, ``around`` seconds either side): every STS call of the bucket
    (``calls``, throttled ones included, as CloudTrail logs them) and the throttled ones."""
    def of_bucket(keys: pd.DataFrame) -> np.ndarray:
        return ((keys.account_id == account) & (keys.bucket == bucket) & (keys.bucket_region == region)).to_numpy()

    throttled_rows = plan.rollup.throttled
    throttled = throttled_rows[of_bucket(throttled_rows)].groupby("second").calls.sum()
    seconds = plan.rollup.coded_seconds()
    table = pd.DataFrame({"calls": seconds.per_second(of_bucket(seconds.keys)), "throttled": throttled}
                         ).fillna(0).astype("int64")
    if throttled.empty:
        return table.iloc[0:0].rename_axis("second")
    worst = throttled.sort_values(ascending=False, kind="stable").index[0]
    burst = throttled.index[abs(throttled.index - worst) <= pd.Timedelta(minutes=1)]
    index = pd.date_range(burst.min() - pd.Timedelta(seconds=around), burst.max() + pd.Timedelta(seconds=around),
                          freq="s")
    return table.reindex(index, fill_value=0).rename_axis("second")


def broken_callers(plan: Plan) -> pd.DataFrame:
    """The plan's callers with evidence of breakage, live breakage first."""
    callers = plan.callers
    rows = callers[callers.breakage != ""].sort_values("breakage_events", ascending=False, kind="stable")
    return rows[["account_id", "principal_arn", "caller_tool", "priority", "breakage_events", "breakage",
                 "priority_reason"]].reset_index(drop=True)
