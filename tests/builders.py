"""Tiny hand-made CloudTrail records and trail files for rule tests (independent of kit.synth)."""
from __future__ import annotations

import gzip
import itertools
import json
from pathlib import Path
from typing import Any

_ids = itertools.count(1)


def role_session(account: str, role: str, session: str = "s") -> dict[str, Any]:
    """userIdentity of an assumed-role session."""
    return {"type": "AssumedRole", "principalId": f"AROAEXAMPLE:{session}",
            "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}", "accountId": account,
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": f"arn:aws:iam::{account}:role/{role}",
                                                 "accountId": account, "userName": role}}}


def user(account: str, name: str) -> dict[str, Any]:
    """userIdentity of an IAM user."""
    return {"type": "IAMUser", "arn": f"arn:aws:iam::{account}:user/{name}", "accountId": account,
            "principalId": "AIDAEXAMPLE", "userName": name}


def sts(identity: dict[str, Any], time: str, host: str | None = "sts.amazonaws.com", *,
        endpoint_type: str | None = None, serving: str | None = None, region: str = "us-east-1",
        name: str = "GetCallerIdentity", agent: str = "Boto3/1.26.0 Python/3.10 Linux/5 Botocore/1.29.0",
        ip: str = "10.0.0.1", recipient: str | None = None, error: str | None = None,
        shared: str | None = None, version: str = "1.08", request: dict | None = None) -> dict[str, Any]:
    """One STS event; ``endpoint_type``/``serving`` add additionalEventData.RequestDetails."""
    record: dict[str, Any] = {
        "eventVersion": version, "userIdentity": identity, "eventTime": time,
        "eventSource": "sts.amazonaws.com", "eventName": name, "awsRegion": region,
        "sourceIPAddress": ip, "userAgent": agent, "requestParameters": request,
        "eventID": f"00000000-0000-0000-0000-{next(_ids):012d}",
        "recipientAccountId": recipient or identity.get("accountId", ""),
    }
    if host is not None:
        record["tlsDetails"] = {"tlsVersion": "TLSv1.3", "clientProvidedHostHeader": host}
    if endpoint_type:
        record["additionalEventData"] = {"RequestDetails": {"endpointType": endpoint_type,
                                                            "awsServingRegion": serving or region}}
    if error:
        record["errorCode"] = error
    if shared:
        record["sharedEventID"] = shared
    return record


def activity(identity: dict[str, Any], time: str, region: str, source: str = "s3.amazonaws.com") -> dict[str, Any]:
    """One non-STS event."""
    return {"eventVersion": "1.08", "userIdentity": identity, "eventTime": time, "eventSource": source,
            "eventName": "GetObject", "awsRegion": region, "sourceIPAddress": "10.0.0.1",
            "userAgent": "x", "recipientAccountId": identity.get("accountId", "")}


def write_trail(path: Path, records: list[Any]) -> Path:
    """Write a trail file (gzip when the name ends in .gz)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps({"Records": records}).encode()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def repeated(record: dict[str, Any], times: int) -> list[dict[str, Any]]:
    """``times`` distinct events like ``record`` (each its own eventID: not duplicates)."""
    return [{**record, "eventID": f"{record.get('eventID', 'event')}-{copy}"} for copy in range(times)]
