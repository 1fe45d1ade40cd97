"""Judging single CloudTrail events and adding them up into the rollup, in Python.

The local engine runs ``Aggregator.add`` on every record; the SQL engines express the same
rules in ``kit/queries``. The rules (see README, "How events are judged"):

* a call is global when ``additionalEventData.RequestDetails.endpointType`` says so, or, on
  events from before 2025 that lack it, when the host header is ``sts.amazonaws.com`` or
  ``sts-global.<region>.amazonaws.com``; every other STS host is Regional;
* STS events with no host header are AWS services acting for you (never callers), or events
  too old to carry ``tlsDetails``: both are counted in the report and left out;
* a cross-account call logged in both accounts (same ``sharedEventID``) counts once, for the
  caller; the resource account's copy is used only when the caller's copy is missing.
"""
from __future__ import annotations

from typing import Any, Iterable

from kit.regions import GLOBAL_ENDPOINT_REGION, GLOBAL_SERVICE_SOURCES

STS_SOURCE = "sts.amazonaws.com"

SKIP_NOT_OBJECT = "record is not a JSON object"
SKIP_NO_TIME = "no eventTime"
SKIP_NO_SOURCE = "no eventSource"
SKIP_OUTSIDE_WINDOW = "outside the time window"
SKIP_ACCOUNT = "caller account not selected"
SKIP_SERVICE = "STS call made by an AWS service for you (not a caller)"
SKIP_SERVICE_ACTIVITY = "non-STS call made by an AWS service (no workload Region signal)"
SKIP_NO_HOST = "STS call without a host header (event version before 1.08): endpoint unknown"
SKIP_TWIN = "cross-account copy of a call counted in the caller's account"
SKIP_GLOBAL_SERVICE = "global-service event (says us-east-1 wherever the caller runs)"
SKIP_NO_PRINCIPAL = "no identifiable principal"


def endpoint_of(endpoint_type: str | None, host: str) -> str:
    """'global' or 'regional' for an STS call with a host header."""
    if endpoint_type in ("global", "regional"):
        return endpoint_type
    return "global" if host == "sts.amazonaws.com" or host.startswith("sts-global.") else "regional"


def role_of_session(arn: str) -> str:
    """The IAM role ARN behind an assumed-role session ARN (path unknown, so left out)."""
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[5].startswith("assumed-role/"):
        role = parts[5].split("/")[1]
        return f"arn:{parts[1]}:iam::{parts[4]}:role/{role}"
    return arn


def account_of_arn(arn: str) -> str:
    """The account id field of an ARN ('' when absent)."""
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 else ""


def principal_of(identity: dict[str, Any], request: Any) -> tuple[str, str]:
    """(principal ARN, identity type): the role behind a session, the user, or the target role."""
    kind = identity.get("type") or ""
    if kind in ("AssumedRole", "FederatedUser"):
        issuer = ((identity.get("sessionContext") or {}).get("sessionIssuer") or {}).get("arn")
        return issuer or role_of_session(identity.get("arn") or ""), kind
    if kind in ("WebIdentityUser", "SAMLUser"):
        role = request.get("roleArn") if isinstance(request, dict) else None
        return role or identity.get("userName") or "", kind
    arn = identity.get("arn")
    if arn:
        return arn, kind
    if kind == "Root" and identity.get("accountId"):
        return f"arn:aws:iam::{identity['accountId']}:root", kind
    principal_id = identity.get("principalId")
    return (f"principal:{principal_id}" if principal_id else ""), kind


class Aggregator:
    """Adds events into rollup dictionaries; partial aggregators merge with ``merge``."""

    def __init__(self, start: str, end: str, accounts: Iterable[str] = ()) -> None:
        self.start = start
        self.end = end
        self.accounts = frozenset(accounts)
        self.sts: dict[tuple, list] = {}
        self.seconds: dict[tuple, int] = {}
        self.activity: dict[tuple, int] = {}
        self.twins: dict[str, tuple] = {}
        self.caller_copies: set[str] = set()
        self.skipped: dict[str, int] = {}
        self.names: dict[str, str] = {}
        """One copy of each repeated key string (account, ARN, user agent...): keeps keys small."""
        self.events = 0
        self.outside: tuple[str, str] | None = None
        """Earliest and latest eventTime of the events outside the window."""

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without ``names`` (pickle keeps the sharing within one dump by itself)."""
        return {**self.__dict__, "names": {}}

    def _skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def add(self, records: list[Any]) -> None:
        """Judge and count every record of one trail file."""
        self.events += len(records)
        start, end = self.start, self.end
        add_sts, add_activity, skip = self._add_sts, self._add_activity, self._skip
        for record in records:
            if type(record) is not dict:
                skip(SKIP_NOT_OBJECT)
                continue
            get = record.get
            time = get("eventTime")
            if type(time) is not str or len(time) < 19:
                skip(SKIP_NO_TIME)
                continue
            if time < start or time >= end:
                skip(SKIP_OUTSIDE_WINDOW)
                self.outside = (min(self.outside[0], time), max(self.outside[1], time)) if self.outside else (time, time)
                continue
            source = get("eventSource")
            if source == STS_SOURCE:
                add_sts(record, time)
            elif not source:
                skip(SKIP_NO_SOURCE)
            elif source in GLOBAL_SERVICE_SOURCES:
                skip(SKIP_GLOBAL_SERVICE)
            else:
                add_activity(record)

    def _add_activity(self, record: dict[str, Any]) -> None:
        identity = record.get("userIdentity") or {}
        principal, kind = principal_of(identity, None)
        if kind == "AWSService" or (not principal and identity.get("invokedBy")):
            self._skip(SKIP_SERVICE_ACTIVITY)
            return
        account = identity.get("accountId") or record.get("recipientAccountId") or ""
        if not principal or (self.accounts and account not in self.accounts):
            self._skip(SKIP_NO_PRINCIPAL if not principal else SKIP_ACCOUNT)
            return
        key = (account, principal, record.get("awsRegion") or "")
        calls = self.activity.get(key)
        self.activity[key if calls else self._shared(key)] = (calls or 0) + 1

    def _add_sts(self, record: dict[str, Any], time: str) -> None:
        host = (record.get("tlsDetails") or {}).get("clientProvidedHostHeader") or ""
        identity = record.get("userIdentity") or {}
        if not host:
            service = (identity.get("type") == "AWSService" or identity.get("invokedBy")
                       or str(record.get("sourceIPAddress", "")).endswith(".amazonaws.com"))
            self._skip(SKIP_SERVICE if service else SKIP_NO_HOST)
            return
        request = record.get("requestParameters")
        principal, kind = principal_of(identity, request)
        account = identity.get("accountId") or account_of_arn(principal) or record.get("recipientAccountId") or ""
        if self.accounts and account not in self.accounts:
            self._skip(SKIP_ACCOUNT)
            return
        extra = record.get("additionalEventData")
        details = extra.get("RequestDetails") if type(extra) is dict else None
        details = details if type(details) is dict else {}
        endpoint = endpoint_of(details.get("endpointType"), host)
        serving = details.get("awsServingRegion") or ""
        region = record.get("awsRegion") or ""
        agent = record.get("userAgent") or ""
        key = (account, principal, kind, agent, record.get("sourceIPAddress") or "",
               record.get("eventName") or "", host, endpoint, region, serving, time[:16])
        bucket_region = region if endpoint == "regional" else (serving or GLOBAL_ENDPOINT_REGION)
        second = (account, principal, agent, endpoint, bucket_region, time[:19])
        failed = 1 if record.get("errorCode") else 0
        shared = record.get("sharedEventID")
        if shared:
            if (record.get("recipientAccountId") or account) != account:
                self.twins[shared] = (key, second, failed, time)
                return
            self.caller_copies.add(shared)
        self._count(key, second, failed, time)

    def _count(self, key: tuple, second: tuple, failed: int, time: str) -> None:
        entry = self.sts.get(key)
        if entry is None:
            self.sts[(*self._shared(key[:-1]), key[-1])] = [1, failed, time, time]
        else:
            entry[0] += 1
            entry[1] += failed
            if time < entry[2]:
                entry[2] = time
            elif time > entry[3]:
                entry[3] = time
        calls = self.seconds.get(second)
        if calls is None:
            self.seconds[(*self._shared(second[:-1]), second[-1])] = 1
        else:
            self.seconds[second] = calls + 1

    def _shared(self, key: tuple) -> tuple:
        """``key`` made of the single stored copy of each string."""
        names = self.names
        return tuple([names.setdefault(part, part) for part in key])

    def merge(self, other: "Aggregator") -> None:
        """Fold another partial aggregator (of other files) into this one."""
        self.events += other.events
        for key, (calls, errors, first, last) in other.sts.items():
            entry = self.sts.get(key)
            if entry is None:
                self.sts[key] = [calls, errors, first, last]
            else:
                entry[0] += calls
                entry[1] += errors
                entry[2] = min(entry[2], first)
                entry[3] = max(entry[3], last)
        for target, source in ((self.seconds, other.seconds), (self.activity, other.activity),
                               (self.skipped, other.skipped)):
            for key, count in source.items():
                target[key] = target.get(key, 0) + count
        if other.outside:
            spans = [span for span in (self.outside, other.outside) if span]
            self.outside = (min(s[0] for s in spans), max(s[1] for s in spans))
        self.caller_copies |= other.caller_copies
        self.twins.update(other.twins)

    def settle_twins(self) -> None:
        """Count resource-account copies whose caller-account copy never arrived; drop the rest."""
        for shared, (key, second, failed, time) in self.twins.items():
            if shared in self.caller_copies:
                self._skip(SKIP_TWIN)
            else:
                self._count(key, second, failed, time)
        self.twins.clear()
