"""What the plan's words mean, for people who read plan.md and the account reports: a short legend
of priorities, risks and waves, and the action wave 0 needs (a quota increase, computed from the
quota table)."""
from __future__ import annotations

import math
from typing import Iterable

import pandas as pd

PRIORITIES = {
    "P1": "served in us-east-1 for a workload that runs elsewhere (outside AWS, an opt-in Region, or a "
          "Region whose global calls still go to us-east-1, e.g. custom DNS): it depends on us-east-1; move first. "
          "Also any caller whose calls CloudTrail shows failing today (live breakage)",
    "P2": "the rest: served in its own Region since the 2025 change, or the evidence cannot tell (workload "
          "Region unknown, no call since the change)",
    "P3": "the workload runs in us-east-1: moving changes no serving Region",
}
PRIORITY_NOTE = "each caller's `priority_reason` in plan.csv names the evidence that decided it"

RISKS = {
    "opt-in-region": "runs in an opt-in Region, where global calls are never served locally",
    "outside-aws": "calls from outside AWS; the Region to move to must be chosen",
    "custom-dns": "custom DNS in the VPC: global calls go to us-east-1",
    "origin-unknown": "where the caller runs could not be told",
    "region-unknown": "no workload Region could be inferred: determine it before moving",
    "pre-2025-only": "no call since the 2025 change: where it is served today is not known",
    "errors": "some of its calls failed",
    "quota": "moving it puts a Regional quota bucket at risk",
    "requested-region-policy": "a policy would deny the call once it reports its own Region",
    "token-v1": "relies on version 1 global tokens from an opt-in Region",
    "region-config": "the tool falls back to the global endpoint, or fails, without a configured Region",
    "token-v1-in-use": "sessions it got from the global endpoint were used in an opt-in Region (they fail there "
                       "unless the account issues version 2 tokens)",
    "token-rejected": "an opt-in Region refused sessions it got from the global endpoint (live breakage)",
    "region-disabled": "STS refused its calls: the Region is not enabled or STS is not activated there (live breakage)",
    "sts-throttled": "STS throttled its calls (live breakage; see the throttled seconds in notebook 3)",
    "signature-region": "its requests were signed for the wrong Region (live breakage)",
    "scp-deny": "a service control policy denied its STS calls (live breakage)",
}

WAVES = {
    "0": "breaks its Regional bucket on its own: request a quota increase before it moves",
    "1, 2, …": "moves that together keep the bucket under the risk threshold; finish one wave before the next",
}


def legend_markdown(risks: Iterable[str] | None = None) -> str:
    """A short Markdown legend of priorities, risks and waves; ``risks`` limits the risks listed to
    those that occur (all when None)."""
    wanted = list(RISKS) if risks is None else [name for name in RISKS if name in set(risks)]
    lines = ["**How to read this plan**", "", "Priorities:"]
    lines += [f"- **{name}**: {text}" for name, text in PRIORITIES.items()]
    lines += [f"- {PRIORITY_NOTE[:1].upper() + PRIORITY_NOTE[1:]}."]
    if wanted:
        lines += ["", "Risks:"]
        lines += [f"- `{name}`: {RISKS[name]}" for name in wanted]
    lines += ["", "Waves:"]
    lines += [f"- **{name}**: {text}" for name, text in WAVES.items()]
    return "\n".join(lines) + "\n"


def risks_in(column: pd.Series) -> set[str]:
    """The risk names found in a ``risks`` column (semicolon-separated)."""
    return {risk for cell in column.dropna() for risk in str(cell).split(";") if risk}


def required_quota(projected_peak: int, threshold: float) -> int:
    """The smallest quota (requests/s) under which ``projected_peak`` stays below ``threshold`` of it."""
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    return math.floor(projected_peak / threshold) + 1


def wave_zero_sentence(quota: pd.DataFrame, account: str, region: str, threshold: float) -> str:
    """'request a quota increase to at least N rps in REGION before moving', from the Regional bucket's
    projected peak in the quota table."""
    bucket = quota[(quota.account_id == account) & (quota.region == region) & (quota.bucket == "regional")]
    if bucket.empty:
        raise KeyError(f"no Regional bucket for {account} in {region} in the quota table")
    row = bucket.iloc[0]
    needed = required_quota(int(row.projected_peak_rps), threshold)
    return (f"request a quota increase to at least {needed:,} rps in {region} before moving "
            f"(projected peak {int(row.projected_peak_rps):,} rps against {int(row.quota):,} rps today; "
            f"at risk from {threshold:.0%})")


def wave_zero_actions(stages: pd.DataFrame, quota: pd.DataFrame, threshold: float) -> dict[tuple[str, str], str]:
    """For each (account, Region) with a wave-0 caller in ``stages`` (plan.stages): its sentence."""
    zero = stages[stages.wave == 0]
    pairs = sorted(set(zip(zero.account_id, zero.workload_region)))
    return {(account, region): wave_zero_sentence(quota, account, region, threshold) for account, region in pairs}
