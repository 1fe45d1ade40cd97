"""The migration plan: callers, quota buckets and a summary, from any engine's rollup."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from kit import breakage
from kit.addressuse import SourceAddresses
from kit.callers import CALLER_KEY, PRIORITIES, build_callers, global_seconds, home_regions
from kit.codedseconds import CodedSeconds
from kit.engines import collect
from kit.errors import InputError
from kit.ipranges import AddressBook
from kit.params import Params
from kit.policy.annotate import annotate, load_policies
from kit.quota import Quotas, quota_table, regional_calls, stage_moves
from kit.rollup import Rollup


@dataclass
class Plan:
    """Everything a run produces: the tables behind plan.csv and quota.csv, and the summary."""

    params: Params
    rollup: Rollup
    callers: pd.DataFrame
    quota: pd.DataFrame
    stages: pd.DataFrame
    homes: dict[tuple[str, str], str]
    global_seconds: CodedSeconds
    """Per-second global calls with caller keys (shared by the quota maths and the notebooks)."""
    summary: dict[str, Any] = field(default_factory=dict)
    policy: dict[str, Any] = field(default_factory=dict)
    addresses: dict[str, Any] = field(default_factory=dict)
    """What classified source addresses: the bundled database (name, date) and any --ip-ranges file."""
    signals: pd.DataFrame = field(default_factory=lambda: breakage.signal_table(pd.DataFrame(), pd.DataFrame()))
    """signals.csv: evidence of breakage per caller, signal and Region (kit.breakage)."""


def mark_quota_risks(callers: pd.DataFrame, quota: pd.DataFrame) -> pd.DataFrame:
    """Add the ``quota`` risk code to callers that move into an at-risk Regional bucket."""
    risky = quota[(quota.bucket == "regional") & quota.at_risk & (quota.moving_callers > 0)]
    hit = set(zip(risky.account_id, risky.region))
    out = callers.copy()
    flagged = [(account, region) in hit for account, region in zip(out.account_id, out.workload_region)]
    out.loc[flagged, "risks"] = [";".join(filter(None, [risks, "quota"])) for risks in out.loc[flagged, "risks"]]
    return out


def plan_from_rollup(rollup: Rollup, params: Params) -> Plan:
    """Classify callers, check quotas and stage the moves (engine-independent)."""
    addresses = AddressBook(params.ip_ranges)
    sources = SourceAddresses.of(rollup.sts_calls, addresses)
    homes = home_regions(rollup, sources)
    coded = rollup.coded_seconds()
    seconds = global_seconds(coded, homes)
    regional = regional_calls(coded)
    del coded  # its rows live on in the rollup, in seconds (views where the global rows are consecutive) and regional
    callers = build_callers(rollup, sources, homes, seconds)
    quotas = Quotas(params.quota, params.quota_overrides)
    quota = quota_table(regional, seconds, quotas, params.risk_threshold)
    callers = mark_quota_risks(callers, quota)
    stages = stage_moves(regional, seconds, quotas, params.risk_threshold)
    callers = callers.merge(stages[CALLER_KEY + ["wave"]], on=CALLER_KEY, how="left")
    callers["wave"] = callers.wave.fillna(1).astype("int64")
    callers, policy = annotate(callers, *load_policies(params, callers))
    signals = breakage.signal_table(rollup.signals, callers)
    callers = breakage.apply(callers, signals)
    return Plan(params, rollup, callers, quota, stages, homes, seconds, policy=policy,
                addresses=addresses.describe(), signals=signals)


def summarize(plan: Plan, seconds: float) -> dict[str, Any]:
    """The summary.json content."""
    callers, quota = plan.callers, plan.quota
    at_risk = quota[quota.at_risk]
    return {
        "window": {"start": plan.params.to_dict()["start"], "end": plan.params.to_dict()["end"]},
        "source": plan.params.source,
        "accounts_filter": list(plan.params.accounts),
        **plan.rollup.report.to_dict(),
        "callers": int(len(callers)),
        "callers_per_priority": {p: int((callers.priority == p).sum()) for p in PRIORITIES},
        "global_calls": int(callers.global_calls.sum()) if len(callers) else 0,
        "accounts": sorted(set(callers.account_id)),
        "at_risk_buckets": [
            {"account_id": row.account_id, "region": row.region, "bucket": row.bucket,
             "peak_rps_now": int(row.peak_rps_now), "projected_peak_rps": int(row.projected_peak_rps),
             "quota": int(row.quota)}
            for row in at_risk.itertuples()
        ],
        "signals": breakage.summary(plan.signals),
        "policy": plan.policy,
        "address_database": plan.addresses,
        "duration_seconds": round(seconds, 3),
        "params": plan.params.to_dict(),
    }


def usable(rollup: Rollup, params: Params) -> Rollup:
    """``rollup`` when it holds events; else ``InputError`` saying what was read and skipped."""
    if rollup.sts_calls.empty and rollup.activity.empty:
        report = rollup.report
        raise InputError(f"no usable events between {params.to_dict()['start']} and {params.to_dict()['end']}: "
                         f"read {report.events_read:,} events, skipped {report.skipped_text()}"
                         + "".join(f"; {note}" for note in report.notes) + "; check --start/--end and --accounts")
    return rollup


def make_plan(params: Params, rollup: Rollup | None = None, began: float | None = None) -> Plan:
    """Build the plan from ``rollup``, or from the engine of ``params.source`` when None; the summary's
    duration counts from ``began`` (``time.perf_counter``; default: now)."""
    began = time.perf_counter() if began is None else began
    rollup = usable(collect(params) if rollup is None else rollup, params)
    plan = plan_from_rollup(rollup, params)
    plan.summary = summarize(plan, time.perf_counter() - began)
    return plan
