"""From the rollup to callers of the global endpoint: who, where they run, how urgent.

A caller is (account_id, principal_arn, caller_tool, workload_region). Its workload Region is
the serving Region when a global call was served locally; else the Region where the
principal's own non-STS activity concentrates; else the Region of its Regional STS calls;
else the Region where its other global calls were served locally; else the Region of its AWS
source addresses; else unknown (''). Each caller also says in words why its origin and priority
are what they are (``origin_evidence``, ``priority_reason``).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Hashable

import numpy as np
import pandas as pd

from kit.addressuse import KindUse, SourceAddresses, address_use
from kit.fixes import Fix, fix_for, version_tuple
from kit.ipranges import AWS, OUTSIDE, PRIVATE, SERVICE
from kit.regions import GLOBAL_ENDPOINT_REGION, is_opt_in, regional_endpoint
from kit.codedseconds import (CodedSeconds, distinct_pairs, factorize, first_appearances, group_reduce, peaks_of,
                              plain_rows, rows_part, text_codes)
from kit.rollup import Rollup
from kit.sortedruns import run_starts
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


def address_regions(sources: SourceAddresses) -> pd.Categorical:
    """The AWS Region of every row's source address ('' when not an AWS address), as a categorical (an
    address a call: hundreds of thousands of rows)."""
    regions, region_of_text = np.unique(np.array([found.region for found in sources.classes], dtype=object),
                                        return_inverse=True)
    return pd.Categorical.from_codes(region_of_text[sources.codes], pd.Index(regions, dtype=str))


def per_pair(first: pd.Series, second: pd.Series, func: Callable[[Hashable, Hashable], Any]) -> np.ndarray:
    """``func(a, b)`` of every row's pair of values, computed once per distinct pair."""
    first_codes, first_values = pd.factorize(first, use_na_sentinel=False)
    second_codes, second_values = pd.factorize(second, use_na_sentinel=False)
    codes, pairs = pd.factorize(first_codes.astype("int64") * len(second_values) + second_codes)
    results = np.empty(len(pairs), dtype=object)
    results[:] = [func(first_values[pair // len(second_values)], second_values[pair % len(second_values)])
                  for pair in pairs]
    return results[codes]


class Homes(dict):
    """(account, principal) -> workload Region; ``source`` says which evidence gave each one."""

    def __init__(self) -> None:
        super().__init__()
        self.source: dict[tuple[str, str], str] = {}


def home_regions(rollup: Rollup, sources: SourceAddresses) -> Homes:
    """Per (account, principal): where it runs when no locally served call says so (``sources``: the
    source addresses of ``rollup.sts_calls``)."""
    homes = Homes()
    calls = rollup.sts_calls
    principal = ["account_id", "principal_arn"]  # the columns read, taken before the rows (memory)
    regional = calls.loc[(calls.endpoint == "regional").to_numpy(), principal + ["event_region", "calls"]]
    regional = regional.rename(columns={"event_region": "region"})
    served_locally = calls.loc[((calls.endpoint == "global") & ~calls.serving_region.isin(["", GLOBAL_ENDPOINT_REGION]))
                               .to_numpy(), principal + ["serving_region", "calls"]]
    served_locally = served_locally.rename(columns={"serving_region": "region"})
    aws = calls[["account_id", "principal_arn", "calls"]].assign(region=address_regions(sources))
    # Lowest precedence first: later sources overwrite earlier ones.
    for table, source in ((aws[aws.region != ""], "AWS address"), (served_locally, "other calls served locally"),
                          (regional, "Regional STS calls"), (rollup.activity, "activity")):
        if table.empty:
            continue
        totals = table.groupby(["account_id", "principal_arn", "region"], as_index=False).calls.sum()
        totals = totals.sort_values(["calls", "region"], ascending=[False, True], kind="stable")
        top = totals.drop_duplicates(["account_id", "principal_arn"])
        keys = list(zip(top.account_id, top.principal_arn))
        homes.update(zip(keys, top.region))
        homes.source.update(dict.fromkeys(keys, source))
    return homes


def assign(table: pd.DataFrame, served: pd.Series, homes: dict[tuple[str, str], str]) -> pd.DataFrame:
    """Add ``caller_tool`` and ``workload_region`` to rows of global calls served in ``served``."""
    out = table.copy(deep=False)  # copy-on-write: the rows are not copied, the new columns are its own
    out["caller_tool"] = per_value(out.user_agent, lambda agent: tool_of(agent).tool)
    home = per_pair(out.account_id, out.principal_arn, lambda account, arn: homes.get((account, arn), ""))
    served_values = served.to_numpy(dtype=object)
    out["workload_region"] = np.where(served_values != GLOBAL_ENDPOINT_REGION, served_values, home)
    return out


def global_calls(rollup: Rollup, homes: dict[tuple[str, str], str]) -> pd.DataFrame:
    """The caller-minute rows of global calls, with caller key columns."""
    return _with_caller_key(rollup.sts_calls[rollup.sts_calls.endpoint == "global"], homes)


def _with_caller_key(rows: pd.DataFrame, homes: dict[tuple[str, str], str]) -> pd.DataFrame:
    """Rows of global calls with caller key columns, ``served`` (the serving Region, us-east-1 before
    the change) and ``post_change`` (logged since the change)."""
    serving = rows.serving_region.to_numpy(dtype=object)
    post_change = serving != ""
    served = pd.Series(np.where(post_change, serving, GLOBAL_ENDPOINT_REGION), index=rows.index, dtype=object)
    out = assign(rows, served, homes)
    out["served"] = served.to_numpy()
    out["post_change"] = post_change
    return out


MAX_GROUP = 1 << 62
"""Numbers ``detail_rows`` combines the key columns' codes into before it numbers them again."""
DETAIL_KEY = ["account_id", "principal_arn", "principal_type", "user_agent", "event_name", "serving_region"]
"""What ``build_callers`` reads of a global call's ``sts_calls`` key row by row (its source address is
read per caller, ``kit.addressuse``; the rest is the minute)."""


def detail_rows(rollup: Rollup, homes: dict[tuple[str, str], str]) -> tuple[pd.DataFrame, np.ndarray]:
    """The global calls of ``sts_calls`` summed over their minutes: one row per distinct ``DETAIL_KEY``
    with ``calls``, ``errors``, the first and last time, ``rows`` (caller-minute rows summed), and
    the positions in ``sts_calls`` of its first row (``first_row``) and of its first row at its last
    time (``latest_row``), which keep ``build_callers``' choices among ties those of the minute rows;
    with caller key columns (``_with_caller_key``). Rows are grouped by the text columns' categorical
    codes (no text hashed), numbered in the order they first appear, and summed per group in numpy
    (``ufunc.at``: no sort). Also the detail row of each
    global call's row of ``sts_calls`` (``global_rows``), in their order."""
    sts = rollup.sts_calls
    global_at = global_rows(sts)
    group, groups = _detail_numbers(sts, global_at)
    first = first_appearances(group)
    latest = _first_where(group, groups, _is_extreme(sts.last_seen.array.asi8[global_at], group, groups, np.maximum))
    earliest = _first_where(group, groups, _is_extreme(sts.first_seen.array.asi8[global_at], group, groups, np.minimum))
    summed = pd.DataFrame({column: group_reduce(np.add, sts[column].to_numpy()[global_at], group, groups, 0)
                           for column in ("calls", "errors")})
    summed = summed.assign(first_seen=sts.first_seen.array[global_at[earliest]],
                           last_seen=sts.last_seen.array[global_at[latest]], rows=np.bincount(group, minlength=groups))
    keys = sts[DETAIL_KEY].iloc[global_at[first]].reset_index(drop=True)  # first rows only
    del global_at  # not held through _with_caller_key (8 bytes a global row)
    keys = keys.astype(dict.fromkeys(DETAIL_KEY, "str"))  # a caller's texts as plain texts from here on
    detail = pd.concat([keys, summed], axis=1).assign(first_row=first, latest_row=latest)
    return _with_caller_key(detail, homes), group


def _detail_numbers(sts: pd.DataFrame, global_at: np.ndarray) -> tuple[np.ndarray, int]:
    """The ``DETAIL_KEY`` group of each row ``global_at`` of ``sts`` (numbered by first appearance), and how
    many: the columns' categorical codes combined into one number in place, numbered again only when it
    would pass ``MAX_GROUP``."""
    group, width = np.zeros(len(global_at), np.int64), 1  # the columns' codes so far as one number, below ``width``
    for column in DETAIL_KEY:
        codes, texts = text_codes(sts[column])  # the categorical codes, no text read
        if width * max(len(texts), 1) > MAX_GROUP:  # numbered again (the number would not fit)
            group, distinct = factorize(group)
            width = len(distinct)
        group *= max(len(texts), 1)
        group += codes[global_at]
        width *= max(len(texts), 1)
    group, distinct = factorize(group)  # numbered by first appearance
    return group, len(distinct)


def _is_extreme(values: np.ndarray, group: np.ndarray, groups: int, extreme: np.ufunc) -> np.ndarray:
    """Per row: its value (int64) is the ``extreme`` (``np.maximum`` or ``np.minimum``) of its group's."""
    bound = np.iinfo(np.int64)
    best = group_reduce(extreme, values, group, groups, bound.min if extreme is np.maximum else bound.max)
    return values == best[group]


def _first_where(group: np.ndarray, groups: int, chosen: np.ndarray) -> np.ndarray:
    """Per group: the position of its first row that is ``chosen`` (each group has one)."""
    positions = np.flatnonzero(chosen)
    return group_reduce(np.minimum, positions, group[positions], groups, len(group))


def global_rows(sts_calls: pd.DataFrame) -> np.ndarray:
    """The positions of the rows of global calls in ``sts_calls``."""
    return np.flatnonzero((sts_calls.endpoint == "global").to_numpy())


def global_seconds(seconds: CodedSeconds, homes: dict[tuple[str, str], str]) -> CodedSeconds:
    """Per-second counts of global calls (of ``Rollup.coded_seconds``), their keys with caller key columns."""
    keys = seconds.keys
    global_keys = (keys.bucket == "global").to_numpy()
    return seconds.rows_where(global_keys).with_keys(assign(keys, keys.bucket_region, homes))


@dataclass(frozen=True)
class Judgement:
    """A caller's origin or priority and the evidence, in words, that decided it."""

    value: str
    evidence: str


def _first(addresses: list[KindUse], kinds: set[str]) -> str:
    """The most used address of ``kinds`` in words, and how many more there are."""
    matching = [(ip, found, count) for ip, found, count in addresses if found.kind in kinds]
    if not matching:
        return ""
    others = sum(count for _, _, count in matching) - 1
    more = f" (+{others} more)" if others else ""
    return matching[0][1].describe(matching[0][0]) + more


def origin(served_locally: list[str], addresses: list[KindUse], workload: str,
           workload_source: str) -> Judgement:
    """Where the caller runs, as far as the evidence goes (see README, "Origins").

    ``served_locally``: Regions other than us-east-1 that served its global calls; ``addresses``:
    per kind of source address it used, the most used one, its class and how many of that kind, most
    used first; ``workload_source``: which evidence gave the workload Region."""
    if served_locally:
        return Judgement(ORIGIN_DEFAULT, f"served locally in {', '.join(served_locally)}")
    outside = _first(addresses, {OUTSIDE})
    if outside:
        return Judgement(ORIGIN_OUTSIDE, outside)
    where = f"workload in {workload} ({workload_source})" if workload else "workload Region unknown"
    if is_opt_in(workload):
        return Judgement(ORIGIN_OPT_IN, f"workload in opt-in Region {workload} ({workload_source})")
    inside = _first(addresses, {PRIVATE, AWS})
    if workload and inside:
        return Judgement(ORIGIN_DEFAULT, f"{inside}; {where}")
    named = inside or _first(addresses, {SERVICE}) or "no source address"
    return Judgement(ORIGIN_UNKNOWN, f"{named}; {where}")


def priority(origin_: str, workload: str, served_now_: str) -> Judgement:
    """P1: still served in us-east-1 for a workload elsewhere; P3: runs in us-east-1; P2: the rest."""
    if origin_ == ORIGIN_OUTSIDE:
        return Judgement("P1", "outside AWS: served in us-east-1 whatever its Region")
    if origin_ == ORIGIN_OPT_IN:
        return Judgement("P1", "opt-in Region: served in us-east-1")
    if served_now_ == GLOBAL_ENDPOINT_REGION and workload and workload != GLOBAL_ENDPOINT_REGION:
        return Judgement("P1", f"served in us-east-1 since the change for a workload in {workload}")
    if workload == GLOBAL_ENDPOINT_REGION:
        return Judgement("P3", "workload in us-east-1: moving changes no serving Region")
    if not workload:
        return Judgement("P2", "workload Region unknown")
    if served_now_:
        return Judgement("P2", f"served locally in {served_now_} since the change")
    return Judgement("P2", "no call since the change: today's serving Region unknown")


def joined_texts(values: pd.Series, group: np.ndarray, groups: int) -> list[str]:
    """Per group (``group``: the group number, below ``groups``, of each of ``values``' texts): its distinct
    non-empty texts, sorted, joined by ';'."""
    codes, texts = pd.factorize(values, sort=True)
    group_of_pair, code_of_pair, _ = distinct_pairs(group, codes, len(texts))  # by group, then text order
    parts: list[list[str]] = [[] for _ in range(groups)]
    for number, code in zip(group_of_pair.tolist(), code_of_pair.tolist()):
        if texts[code]:
            parts[number].append(texts[code])
    return [";".join(texts_of_group) for texts_of_group in parts]


def oldest_versions(calls: pd.DataFrame, caller: np.ndarray, callers: int) -> pd.DataFrame:
    """Per caller (``caller``: the caller number, below ``callers``, of each row of ``calls``): the oldest
    client version it used (``caller_version``: by ``version_tuple`` among the versions that start with a
    digit, among all when none does; ties to the first in text order) and its user agent of that version
    with the most ``calls`` (ties to the first in text order)."""
    version_of_row, versions = pd.factorize(calls.caller_version, sort=True)
    ranked = sorted(range(len(versions)),
                    key=lambda code: (not versions[code][:1].isdigit(), version_tuple(versions[code]), code))
    rank = np.empty(len(versions), np.int64)
    rank[ranked] = np.arange(len(versions))
    row_rank = rank[version_of_row]
    best = group_reduce(np.minimum, row_rank, caller, callers, len(versions))
    oldest = row_rank == best[caller]
    agent_of_row, agents = pd.factorize(calls.user_agent, sort=True)
    pair_caller, pair_agent, pair_of_row = distinct_pairs(caller[oldest], agent_of_row[oldest], len(agents))
    pair_calls = np.bincount(pair_of_row, weights=calls.calls.to_numpy()[oldest], minlength=len(pair_caller))
    order = np.lexsort((pair_agent, -pair_calls, pair_caller))  # per caller: the most calls, then text order
    top = order[run_starts(pair_caller[order])]
    return pd.DataFrame({"caller_version": versions[np.array(ranked, np.int64)[best]],
                         "user_agent": agents[pair_agent[top]]})


def served_now(calls: pd.DataFrame) -> pd.DataFrame:
    """The Region that served each caller's latest global call since the 2025 change ('' if none);
    among rows as late, the first in ``latest_row`` order (``detail_rows``)."""
    post = calls[calls.post_change].sort_values("latest_row", kind="stable")
    latest = post.loc[post.groupby(CALLER_KEY).last_seen.idxmax(), CALLER_KEY + ["served"]]
    return latest.rename(columns={"served": "served_now"})


def build_callers(rollup: Rollup, sources: SourceAddresses, homes: Homes, seconds: CodedSeconds) -> pd.DataFrame:
    """One row per caller of the global endpoint, with priority, risks and the fix (``sources``: the
    source addresses of ``rollup.sts_calls``; ``homes`` from ``home_regions``, ``seconds`` from
    ``global_seconds``)."""
    calls, detail_of_row = detail_rows(rollup, homes)
    if calls.empty:
        return pd.DataFrame(columns=CALLER_COLUMNS)
    calls["caller_version"] = per_value(calls.user_agent, lambda agent: tool_of(agent).version)
    calls["post_change_rows"] = calls.rows.where(calls.post_change, 0)
    grouped = calls.groupby(CALLER_KEY, sort=True)
    callers = grouped.agg(
        principal_type=("principal_type", "first"),
        global_calls=("calls", "sum"),
        error_calls=("errors", "sum"),
        first_seen=("first_seen", "min"),
        last_seen=("last_seen", "max"),
        post_change_calls=("post_change_rows", "sum"),
    ).reset_index()
    caller_of_detail = grouped.ngroup().to_numpy()  # the callers' rows' order
    callers["served_in"] = joined_texts(calls.served, caller_of_detail, len(callers))
    callers["event_names"] = joined_texts(calls.event_name, caller_of_detail, len(callers))
    caller_of_row = caller_of_detail.astype(np.int32)[detail_of_row]  # of each global call's row
    del detail_of_row  # 8 bytes a global call's row, 4 in its place
    used = address_use(sources, rollup.sts_calls.calls.to_numpy(), global_rows(rollup.sts_calls), caller_of_row,
                       len(callers))
    del caller_of_row
    callers = callers.assign(source_ips=used.listed, addresses=used.by_kind)
    callers = callers.assign(**oldest_versions(calls, caller_of_detail, len(callers)))
    callers = callers.merge(served_now(calls), on=CALLER_KEY, how="left").fillna({"served_now": ""})
    callers = callers.merge(caller_peaks(seconds), on=CALLER_KEY, how="left")
    callers["peak_rps"] = callers.peak_rps.fillna(0).astype("int64")
    return _judge(callers, homes)


def caller_peaks(seconds: CodedSeconds) -> pd.DataFrame:
    """Per caller: its busiest second of global calls (``peak_rps``)."""
    top = peaks_of([rows_part(seconds, CALLER_KEY)], seconds.time_dtype, "peak_rps", tuple(CALLER_KEY))
    return top[CALLER_KEY + ["peak_rps"]].sort_values(CALLER_KEY).reset_index(drop=True)


def _workload_source(caller, homes: Homes) -> str:
    """Which evidence gave a caller's workload Region."""
    if caller.workload_region and caller.workload_region in caller.served_in.split(";") \
            and caller.workload_region != GLOBAL_ENDPOINT_REGION:
        return "served locally"
    return homes.source.get((caller.account_id, caller.principal_arn), "")


_JUDGED = ["account_id", "principal_arn", "served_in", "addresses", "workload_region", "served_now",
           "post_change_calls", "error_calls", "user_agent", "event_names"]
"""What ``_judge`` reads of a caller."""


def _judge(callers: pd.DataFrame, homes: Homes) -> pd.DataFrame:
    """Add origin, priority (each with its evidence), target endpoint, risks and the fix to aggregated callers."""
    rows = plain_rows(callers, _JUDGED)
    origins = [origin([r for r in row.served_in.split(";") if r and r != GLOBAL_ENDPOINT_REGION],
                      row.addresses, row.workload_region, _workload_source(row, homes))
               for row in rows]
    callers["origin"] = [judged.value for judged in origins]
    callers["origin_evidence"] = [judged.evidence for judged in origins]
    priorities = [priority(judged.value, row.workload_region, row.served_now) for judged, row in zip(origins, rows)]
    callers["priority"] = [judged.value for judged in priorities]
    callers["priority_reason"] = [judged.evidence for judged in priorities]
    callers["target_endpoint"] = callers.workload_region.map(regional_endpoint)
    callers["risks"] = [";".join(risk_codes(row, judged.value)) for row, judged in zip(rows, origins)]
    fixes: dict[tuple[str, str, str], Fix] = {}  # callers of one tool, Region and operations share a fix
    for row in rows:
        if (row.user_agent, row.workload_region, row.event_names) not in fixes:
            fixes[row.user_agent, row.workload_region, row.event_names] = fix_for(
                tool_of(row.user_agent), row.workload_region or None, operations=set(row.event_names.split(";")))
    chosen = [fixes[row.user_agent, row.workload_region, row.event_names] for row in rows]
    callers["action"] = [fix.action for fix in chosen]
    callers["fix"] = [fix.fix for fix in chosen]
    callers["region_note"] = [fix.region_note for fix in chosen]
    order = callers.priority.map(PRIORITIES.index)
    callers = callers.assign(_order=order).sort_values(
        ["_order", "account_id", "global_calls", "principal_arn"], ascending=[True, True, False, True])
    return callers[CALLER_COLUMNS].reset_index(drop=True)


def risk_codes(caller, origin_: str) -> list[str]:
    """Risk codes of one aggregated caller row whose origin is ``origin_`` (the ``quota`` code is added by
    the quota check)."""
    codes = []
    if origin_ == ORIGIN_OPT_IN:
        codes.append("opt-in-region")
    if origin_ == ORIGIN_OUTSIDE:
        codes.append("outside-aws")
    if (origin_ == ORIGIN_DEFAULT and caller.served_now == GLOBAL_ENDPOINT_REGION
            and caller.workload_region != GLOBAL_ENDPOINT_REGION):
        codes.append("custom-dns")
    if origin_ == ORIGIN_UNKNOWN:
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
    "origin_evidence", "workload_region", "target_endpoint", "priority", "priority_reason", "risks", "action", "fix",
    "region_note",
    "event_names", "source_ips",
]
