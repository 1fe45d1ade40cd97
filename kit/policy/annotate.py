"""The policy and token columns of the caller table, its risk codes and summary.json's ``policy``.

Appended columns: ``policy_check`` (checked / not checked: <reason> / no policies given),
``policy_outcome`` (see kit.policy.moves), ``policy_findings`` (policy + statement + why, ' | '
joined) and ``token_note``. Risk codes added: ``requested-region-policy``, ``token-v1`` and
``region-config`` (the tool falls back to the global endpoint or fails without a Region).
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from kit.codedseconds import plain_rows
from kit.params import Params
from kit.policy.account import AccountPolicies
from kit.policy.moves import RISKY, Verdict, judge_move, judge_unknown_target
from kit.policy.offline import load_offline
from kit.regions import is_opt_in

POLICY_COLUMNS = ["policy_check", "policy_outcome", "policy_findings", "token_note"]
_READ = ["account_id", "principal_arn", "event_names", "workload_region", "target_endpoint", "risks", "region_note"]
"""The caller columns a caller's policy columns are made from."""
NO_POLICIES = "no policies given"
_LONGER = ("Regional endpoint session tokens are longer than v1 global-endpoint tokens: check systems that "
           "store tokens in fixed-size fields.")


def load_policies(params: Params, callers: pd.DataFrame) -> tuple[str, dict[str, AccountPolicies]]:
    """(source label, policies per caller account) for ``params.policy_source``."""
    principals = {account: sorted(set(group.principal_arn)) for account, group in callers.groupby("account_id")}
    if params.policy_source == "offline":
        return f"offline {params.policies}", load_offline(params.policies, principals)
    if params.policy_source == "live":
        from kit.policy.live import load_live  # boto3 only when asked for
        return "live", load_live(params, principals)
    return "none", {}


def check_of(policies: AccountPolicies | None) -> str:
    """The ``policy_check`` value of an account."""
    if policies is None:
        return NO_POLICIES
    if policies.problem:
        return f"not checked: {policies.problem}"
    return f"checked; identity policies not checked: {policies.identity_problem}" if policies.identity_problem \
        else "checked"


def token_note(policies: AccountPolicies | None, workload: str, moving: bool) -> str:
    """What the account's GlobalEndpointTokenVersion means for this caller."""
    version = policies.token_version if policies else None
    notes = []
    if version == "v1Token" and is_opt_in(workload):
        notes.append(f"GlobalEndpointTokenVersion is v1Token: global-endpoint tokens are not valid in opt-in "
                     f"{workload}; Regional tokens are (or set v2Token with SetSecurityTokenServicePreferences).")
    if moving:
        if version == "v2Token":
            notes.append("The account already gets v2 (long) tokens from the global endpoint; Regional tokens "
                         "are the same size.")
        else:
            unknown = "" if version else (f" (token version unknown: "
                                          f"{(policies.token_problem if policies else '') or 'not given'})")
            notes.append(_LONGER + unknown)
    return " ".join(notes)


def _verdict(policies: AccountPolicies, row: Any) -> Verdict:
    actions = [f"sts:{name}" for name in row.event_names.split(";") if name]
    if row.workload_region and row.target_endpoint:
        return judge_move(policies, row.principal_arn, actions, row.workload_region)
    return judge_unknown_target(policies, row.principal_arn, actions)


def _risks(row: Any, verdict: Verdict | None, version: str | None) -> str:
    codes = [code for code in row.risks.split(";") if code]
    if verdict is not None and verdict.outcome in RISKY:
        codes.append("requested-region-policy")
    if version == "v1Token" and is_opt_in(row.workload_region):
        codes.append("token-v1")
    if row.region_note:
        codes.append("region-config")
    return ";".join(codes)


def annotate(callers: pd.DataFrame, source: str, found: dict[str, AccountPolicies]) -> tuple[pd.DataFrame, dict]:
    """Callers with the policy columns and risk codes, and the summary's ``policy`` section."""
    out = callers.copy()
    rows = []
    for row in plain_rows(out, _READ):
        policies = found.get(row.account_id) if source != "none" else None
        checked = policies is not None and not policies.problem
        verdict = _verdict(policies, row) if checked else None
        version = policies.token_version if policies else None
        rows.append((check_of(policies), verdict.outcome if verdict else "",
                     " | ".join(verdict.findings) if verdict else "",
                     token_note(policies, row.workload_region, bool(row.target_endpoint)),
                     _risks(row, verdict, version)))
    for i, column in enumerate(POLICY_COLUMNS + ["risks"]):
        out[column] = [values[i] for values in rows] if rows else pd.Series(dtype="object")
    risky = out.policy_outcome.isin(RISKY)
    summary = {
        "source": source,
        "accounts_checked": sorted(a for a, p in found.items() if not p.problem),
        "accounts_not_checked": {a: p.problem for a, p in sorted(found.items()) if p.problem},
        "findings": int(sum(len(findings.split(" | ")) for findings in out.policy_findings[risky])),
        "callers_flagged": int(risky.sum()),
        "callers_safe_only_by_exemption": int(((out.policy_outcome == "unchanged") & (out.policy_findings != "")).sum()),
        "token_versions": {a: p.token_version for a, p in sorted(found.items()) if not p.problem},
    }
    return out, summary
