"""Before/after verdicts of one caller's move: does reporting its own Region change the decision?

Today the global endpoint reports ``aws:RequestedRegion = us-east-1``; after the move the call
reports the target Region. Outcomes, worst first:

- ``denied-after``: allowed today, denied after the move (an explicit Deny, or an allow-list
  that no longer allows it).
- ``allowed-only-via-us-east-1``: target Region unknown, and every other Region enabled by
  default would deny what us-east-1 allows.
- ``region-dependent``: target Region unknown, and some Regions enabled by default would deny it.
- ``allowed-after``: denied today, allowed after the move.
- ``unchanged``: the same decision before and after; findings name any Deny statement that
  would deny after the move but for its ``NotAction`` exemption (keep that exemption).
"""
from __future__ import annotations

from dataclasses import dataclass

from kit.policy.account import AccountPolicies
from kit.policy.evaluate import Decision, Request, decide, exemptions
from kit.regions import DEFAULT_REGIONS, GLOBAL_ENDPOINT_REGION

NOT_CONTROLLED_BY_POLICY = {
    # STS API Reference, GetCallerIdentity: "No permissions are required to perform this operation. If an
    # administrator attaches a policy to your identity that explicitly denies access to the
    # sts:GetCallerIdentity action, you can still perform this operation."
    "sts:getcalleridentity": "STS API Reference, GetCallerIdentity",
    # IAM User Guide, "Permissions for GetSessionToken": no permissions are required; policies cannot
    # control authentication operations, and listing the action in a policy does not change the outcome.
    "sts:getsessiontoken": "IAM User Guide, Permissions for GetSessionToken",
}
"""STS operations no policy can allow or deny (lower case), with the page that says so. Checked and left
out: GetAccessKeyInfo, GetFederationToken, DecodeAuthorizationMessage and the AssumeRole* operations
need a permission (their API Reference pages), so a Region condition can decide them."""

OUTCOMES = ("denied-after", "allowed-only-via-us-east-1", "region-dependent", "allowed-after", "unchanged")
RISKY = frozenset(OUTCOMES[:3])
_TODAY = f"allowed today only because the global endpoint reports {GLOBAL_ENDPOINT_REGION}"


@dataclass(frozen=True)
class Verdict:
    """The worst outcome over a caller's actions and one finding text per deciding statement."""

    outcome: str
    findings: tuple[str, ...]


def _why(decision: Decision, before: Decision) -> str:
    """'<policy> statement <sid>: denies' or the allow-list that no longer allows."""
    if decision.deny is not None:
        absent = sorted({c.key for c in decision.deny.statement.conditions} & set(decision.assumed_absent))
        assumes = f" (assuming the request has no {', '.join(absent)})" if absent else ""
        return f"{decision.deny.describe()}{assumes}: denies"
    layer = decision.missing_allow
    allowed_by = next((hit for hit in before.allows if hit.layer == layer.name), None)
    via = f"{allowed_by.describe()} allows it only in other Regions" if allowed_by else "no statement allows it"
    return f"{', '.join(p.label for p in layer.policies)} ({layer.name}): {via}; not allowed"


def _request(account: AccountPolicies, principal_arn: str, action: str) -> Request:
    return Request(action, {"aws:principalarn": (principal_arn,), "aws:principalaccount": (account.account_id,)})


def _grouped(pairs: list[tuple[str, str]], tail: str) -> list[str]:
    """'<why> <actions> <tail>' with the actions of the same reason joined."""
    reasons: dict[str, list[str]] = {}
    for why, action in pairs:
        reasons.setdefault(why, []).append(action)
    return [f"{why} {', '.join(actions)} {tail}" for why, actions in reasons.items()]


def policy_controlled(actions: list[str]) -> list[str]:
    """The actions a policy can allow or deny (``NOT_CONTROLLED_BY_POLICY`` left out)."""
    return [action for action in actions if action.lower() not in NOT_CONTROLLED_BY_POLICY]


def judge_move(account: AccountPolicies, principal_arn: str, actions: list[str], target: str) -> Verdict:
    """Verdict of moving ``actions`` from the global endpoint to the Regional endpoint of ``target``;
    actions no policy controls (GetCallerIdentity, GetSessionToken) are never denied or opened."""
    layers = account.layers(principal_arn)
    denied, opened, exempt = [], [], []
    for action in policy_controlled(actions):
        request = _request(account, principal_arn, action)
        before = decide(layers, request.with_region(GLOBAL_ENDPOINT_REGION))
        after = decide(layers, request.with_region(target))
        if after.allowed:
            today = set(exemptions(layers, request.with_region(GLOBAL_ENDPOINT_REGION)))
            exempt += [(f"{hit.describe()}: would deny", action)
                       for hit in exemptions(layers, request.with_region(target)) if hit not in today]
        if before.allowed and not after.allowed:
            denied.append((_why(after, before), action))
        elif after.allowed and not before.allowed:
            opened.append((_why(before, after), action))
    if denied:
        return Verdict("denied-after", tuple(_grouped(denied, f"in {target} after the move; {_TODAY}")))
    if opened:
        tail = f"in {GLOBAL_ENDPOINT_REGION} today; allowed in {target} after the move"
        return Verdict("allowed-after", tuple(_grouped(opened, tail)))
    return Verdict("unchanged", tuple(_grouped(exempt, f"in {target} after the move but for its NotAction "
                                                       "exemption; safe only while the exemption stays")))


def judge_unknown_target(account: AccountPolicies, principal_arn: str, actions: list[str]) -> Verdict:
    """For a caller whose Region is unknown: which Regions enabled by default would deny its calls."""
    others = sorted(DEFAULT_REGIONS - {GLOBAL_ENDPOINT_REGION})
    layers = account.layers(principal_arn)
    findings, everywhere = [], True
    for action in policy_controlled(actions):
        request = _request(account, principal_arn, action)
        before = decide(layers, request.with_region(GLOBAL_ENDPOINT_REGION))
        if not before.allowed:
            continue
        afters = {region: decide(layers, request.with_region(region)) for region in others}
        blocked = [region for region, decision in afters.items() if not decision.allowed]
        if blocked:
            everywhere &= len(blocked) == len(others)
            findings.append(f"{_why(afters[blocked[0]], before)} {action} in {', '.join(blocked)} "
                            f"(target Region unknown); {_TODAY}")
    if not findings:
        return Verdict("unchanged", ())
    return Verdict("allowed-only-via-us-east-1" if everywhere else "region-dependent", tuple(findings))
