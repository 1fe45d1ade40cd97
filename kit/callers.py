"""From the rollup to callers of the global endpoint: who, where they run, how urgent.

A caller is (account_id, principal_arn, caller_tool, workload_region). Its workload Region is
the serving Region when a global call was served locally; else the Region where the
principal's own non-STS activity concentrates; else the Region of its Regional STS calls;
else the Region where its other global calls were served locally; else the Region of its AWS
source addresses; else unknown ('').
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable, Hashable

import numpy as np
import pandas as pd

from kit.fixes import fix_for, version_tuple
from kit.ipranges import AWS, OUTSIDE, PRIVATE, IpRanges, classify_ip
from kit.regions import GLOBAL_ENDPOINT_REGION, is_opt_in, regional_endpoint
from kit.rollup import Rollup
from kit.useragent import ClientTool, parse_user_agent

CALLER_KEY = ["account_id", "principal_arn", "caller_tool", "workload_region"]
ORIGIN_DEFAULT = "aws-default-region"
ORIGIN_OPT_IN = "aws-opt-in-region"
ORIGIN_OUTSIDE = "outside-aws"
ORIGIN_UNKNOWN = "unknown"
PRIORITIES = ("P1", "P2", "P3")


@lru_cache(maxsize=65536)
def tool_of(user_agent: str) -> ClientTool:
    """The parsed user agent (cached: a few distinct strings repeat millions of times)."""
    return parse_user_agent(user_agent)


def per_value(values: pd.Series, func: Callable[[Any], Any]) -> np.ndarray:
    """``func`` of every value, computed once per distinct value (rollups repeat a few values)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    results = np.empty(len(uniques), dtype=object)
    results[:] = [func(value) for value in uniques]
    return results[codes]


def per_pair(first: pd.Series, second: pd.Series, func: Callable[[Hashable, Hashable], Any]) -> np.ndarray:
    """``func(a, b)`` of every row's pair of values, computed once per distinct pair."""
    first_codes, first_values = pd.factorize(first, use_na_sentinel=False)
    second_codes, second_values = pd.factorize(second, use_na_sentinel=False)
    codes, pairs = pd.factorize(first_codes.astype("int64") * len(second_values) + second_codes)
    results = np.empty(len(pairs), dtype=object)
    results[:] = [func(first_values[pair // len(second_values)], second_values[pair % len(second_values)])
                  for pair in pairs]
    return results[codes]


def home_regions(rollup: Rollup, ranges: IpRanges | None) -> dict[tuple[str, str], str]:
    """Per (account, principal): where it runs when no locally served call says so."""
    homes: dict[tuple[str, str], str] = {}
    calls = rollup.sts_calls
    regional = calls[calls.endpoint == "regional"].rename(columns={"event_region": "region"})
    served_locally = calls[(calls.endpoint == "global") & ~calls.serving_region.isin(["", GLOBAL_ENDPOINT_REGION])]
    served_locally = served_locally.rename(columns={"serving_region": "region"})
    addresses = calls[["account_id", "principal_arn", "source_ip", "calls"]].copy()
    addresses["region"] = per_value(addresses.source_ip, lambda ip: classify_ip(ip, ranges)[1])
    # Lowest precedence first: later sources overwrite earlier ones.
    for table in (addresses[addresses.region != ""], served_locally, regional, rollup.activity):
        if table.empty:
            continue
        totals = table.groupby(["account_id", "principal_arn", "region"], as_index=False).calls.sum()
        totals = totals.sort_values(["calls", "region"], ascending=[False, True], kind="stable")
        top = totals.drop_duplicates(["account_id", "principal_arn"])
        homes.update(zip(zip(top.account_id, top.principal_arn), top.region))
    return homes


def assign(table: pd.DataFrame, served: pd.Series, homes: dict[tuple[str, str], str]) -> pd.DataFrame:
    """Add ``caller_tool`` and ``workload_region`` to rows of global calls served in ``served``."""
    out = table.copy()
    out["caller_tool"] = per_value(out.user_agent, lambda agent: tool_of(agent).tool)
    home = per_pair(out.account_id, out.principal_arn, lambda account, arn: homes.get((account, arn), ""))
    served_values = served.to_numpy(dtype=object)
    out["workload_region"] = np.where(served_values != GLOBAL_ENDPOINT_REGION, served_values, home)
    return out


def global_calls(rollup: Rollup, homes: dict[tuple[str, str], str]) -> pd.DataFrame:
    """The caller-minute rows of global calls, with caller key columns."""
    rows = rollup.sts_calls[rollup.sts_calls.endpoint == "global"]
    served = rows.serving_region.where(rows.serving_region != "", GLOBAL_ENDPOINT_REGION)
    out = assign(rows, served, homes)
    out["served"] = served.to_numpy()
    out["post_change"] = (rows.serving_region != "").to_numpy()
    return out


def global_seconds(rollup: Rollup, homes: dict[tuple[str, str], str]) -> pd.DataFrame:
    """Per-second counts of global calls, with caller key columns."""
    rows = rollup.seconds[rollup.seconds.bucket == "global"]
    return assign(rows, rows.bucket_region, homes)


def origin(served_locally: bool, ip_classes: set[str], workload: str) -> str:
    """Where the caller runs, as far as the evidence goes (see README, "Origins")."""
    if served_locally:
        return ORIGIN_DEFAULT
    if OUTSIDE in ip_classes:
        return ORIGIN_OUTSIDE
    if is_opt_in(workload):
        return ORIGIN_OPT_IN
    if workload and ip_classes & {PRIVATE, AWS}:
        return ORIGIN_DEFAULT
    return ORIGIN_UNKNOWN


def priority(origin_: str, workload: str, served_now_: str) -> str:
    """P1: still served in us-east-1 for a workload elsewhere; P3: runs in us-east-1; P2: the rest."""
    if origin_ in (ORIGIN_OUTSIDE, ORIGIN_OPT_IN):
        return "P1"
    if workload == GLOBAL_ENDPOINT_REGION:
        return "P3"
    if origin_ == ORIGIN_DEFAULT and served_now_ == GLOBAL_ENDPOINT_REGION:
        return "P1"
    return "P2"


def _join(values: pd.Series) -> str:
    return ";".join(sorted(value for value in values.unique() if value))


def _join_some(values: pd.Series, most: int = 5) -> str:
    """Up to ``most`` distinct values, then how many more (laptops change address daily)."""
    distinct = sorted(value for value in values.unique() if value)
    more = f";(+{len(distinct) - most} more)" if len(distinct) > most else ""
    return ";".join(distinct[:most]) + more


def _oldest(group: pd.DataFrame) -> pd.Series:
    """The oldest client version a caller used, and one user agent of that version."""
    versions = group.groupby("caller_version").calls.sum()
    numbered = [version for version in versions.index if version[:1].isdigit()] or list(versions.index)
    oldest = min(numbered, key=version_tuple)
    agents = group[group.caller_version == oldest].groupby("user_agent").calls.sum()
    return pd.Series({"caller_version": oldest, "user_agent": agents.idxmax()})


def served_now(calls: pd.DataFrame) -> pd.DataFrame:
    """The Region that served each caller's latest global call since the 2025 change ('' if none)."""
    post = calls[calls.post_change]
    latest = post.loc[post.groupby(CALLER_KEY).last_seen.idxmax(), CALLER_KEY + ["served"]]
    return latest.rename(columns={"served": "served_now"})


def build_callers(rollup: Rollup, ranges: IpRanges | None, homes: dict[tuple[str, str], str],
                  seconds: pd.DataFrame) -> pd.DataFrame:
    """One row per caller of the global endpoint, with priority, risks and the fix
    (``homes`` from ``home_regions``, ``seconds`` from ``global_seconds``)."""
    calls = global_calls(rollup, homes)
    if calls.empty:
        return pd.DataFrame(columns=CALLER_COLUMNS)
    calls["caller_version"] = per_value(calls.user_agent, lambda agent: tool_of(agent).version)
    calls["ip_class"] = per_value(calls.source_ip, lambda ip: classify_ip(ip, ranges)[0])
    grouped = calls.groupby(CALLER_KEY, sort=True)
    callers = grouped.agg(
        principal_type=("principal_type", "first"),
        global_calls=("calls", "sum"),
        error_calls=("errors", "sum"),
        first_seen=("first_seen", "min"),
        last_seen=("last_seen", "max"),
        served_in=("served", _join),
        event_names=("event_name", _join),
        source_ips=("source_ip", _join_some),
        ip_classes=("ip_class", _join),
        post_change_calls=("post_change", "sum"),
    ).reset_index()
    versions = grouped[["caller_version", "user_agent", "calls"]].apply(_oldest).reset_index()
    callers = callers.merge(versions, on=CALLER_KEY)
    callers = callers.merge(served_now(calls), on=CALLER_KEY, how="left").fillna({"served_now": ""})
    peaks = (seconds.groupby(CALLER_KEY + ["second"]).calls.sum()
             .groupby(level=CALLER_KEY).max().rename("peak_rps").reset_index())
    callers = callers.merge(peaks, on=CALLER_KEY, how="left")
    callers["peak_rps"] = callers.peak_rps.fillna(0).astype("int64")
    return _judge(callers)


def _judge(callers: pd.DataFrame) -> pd.DataFrame:
    """Add origin, priority, target endpoint, risks and the fix to aggregated callers."""
    locally = callers.served_in.map(lambda served: any(r != GLOBAL_ENDPOINT_REGION for r in served.split(";") if r))
    callers["origin"] = [origin(local, set(classes.split(";")), workload)
                         for local, classes, workload in zip(locally, callers.ip_classes, callers.workload_region)]
    callers["priority"] = [priority(o, w, now) for o, w, now in
                           zip(callers.origin, callers.workload_region, callers.served_now)]
    callers["target_endpoint"] = callers.workload_region.map(regional_endpoint)
    callers["risks"] = [";".join(risk_codes(row)) for row in callers.itertuples()]
    fixes = [fix_for(tool_of(agent), workload or None)
             for agent, workload in zip(callers.user_agent, callers.workload_region)]
    callers["action"] = [fix.action for fix in fixes]
    callers["fix"] = [fix.fix for fix in fixes]
    callers["region_note"] = [fix.region_note for fix in fixes]
    order = callers.priority.map(PRIORITIES.index)
    callers = callers.assign(_order=order).sort_values(
        ["_order", "account_id", "global_calls", "principal_arn"], ascending=[True, True, False, True])
    return callers[CALLER_COLUMNS].reset_index(drop=True)


def risk_codes(caller) -> list[str]:
    """Risk codes of one aggregated caller row (the ``quota`` code is added by the quota check)."""
    codes = []
    if caller.origin == ORIGIN_OPT_IN:
        codes.append("opt-in-region")
    if caller.origin == ORIGIN_OUTSIDE:
        codes.append("outside-aws")
    if (caller.origin == ORIGIN_DEFAULT and caller.served_now == GLOBAL_ENDPOINT_REGION
            and caller.workload_region != GLOBAL_ENDPOINT_REGION):
        codes.append("custom-dns")
    if caller.origin == ORIGIN_UNKNOWN:
        codes.append("origin-unknown")
    if not caller.workload_region:
        codes.append("region-unknown")
    if caller.post_change_calls == 0:
        codes.append("pre-2025-only")
    if caller.error_calls:
        codes.append("errors")
    return codes


CALLER_COLUMNS = [
    "account_id", "principal_arn", "principal_type", "caller_tool", "caller_version", "user_agent",
    "global_calls", "error_calls", "first_seen", "last_seen", "peak_rps", "served_in", "served_now", "origin",
    "workload_region", "target_endpoint", "priority", "risks", "action", "fix", "region_note",
    "event_names", "source_ips",
]
