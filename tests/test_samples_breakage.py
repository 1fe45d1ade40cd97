"""The evidence of breakage the shipped samples carry (issue 15), read with gzip and json only.

kit/synth.py C16..C20 put the cases of kit/signals.py into data/samples (and C16, C18 carry on in the
later states). This module reads the trail files as they are, checks that each case is there in the
shape the contract needs, and counts every signal with its own small implementation of the rules of
kit/signals.py (nothing on the counting path comes from kit): the figures every engine must report.
``pytest -s`` prints them.
"""
from __future__ import annotations

import gzip
import json
import re
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest

DATA = Path(__file__).resolve().parent.parent / "data"
STATES = {  # state -> (window start, window end)
    "samples": ("2025-03-01T00:00:00Z", "2025-09-01T00:00:00Z"),
    "samples-later": ("2025-09-01T00:00:00Z", "2025-10-01T00:00:00Z"),
    "samples-latest": ("2025-10-01T00:00:00Z", "2025-11-01T00:00:00Z"),
}
PAYMENTS, DATA_PLATFORM, CI = "111122223333", "222233334444", "333344445555"
FEED = f"arn:aws:iam::{DATA_PLATFORM}:role/hk-settlement-feed"  # C16
PUBLISHER = f"arn:aws:iam::{DATA_PLATFORM}:role/hk-feed-publisher"  # the role of C16's sessions
HARNESS = f"arn:aws:iam::{CI}:user/perf-harness"  # C17
GDPR = f"arn:aws:iam::{PAYMENTS}:role/gdpr-export"  # C18
ZURICH = f"arn:aws:iam::{CI}:role/zurich-bootstrap"  # C19
DASHBOARD = f"arn:aws:iam::{DATA_PLATFORM}:user/dashboard-builder"  # C20

# --- the rules of kit/signals.py, written again ----------------------------------------------------

TOKEN_IN_USE, TOKEN_REJECTED = "token-v1-in-use", "token-rejected"
REGION_DISABLED, THROTTLED, SIGNATURE_REGION, SCP_DENY = ("region-disabled", "sts-throttled", "signature-region",
                                                          "scp-deny")
DEFAULT_REGIONS = {"us-east-1", "us-east-2", "us-west-1", "us-west-2", "ap-south-1", "ap-northeast-1",
                   "ap-northeast-2", "ap-northeast-3", "ap-southeast-1", "ap-southeast-2", "ca-central-1",
                   "eu-central-1", "eu-west-1", "eu-west-2", "eu-west-3", "eu-north-1", "sa-east-1"}
REGION_CODE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")


def opt_in(region: Any) -> bool:
    return isinstance(region, str) and region not in DEFAULT_REGIONS and bool(REGION_CODE.match(region))


def sts_signal(code: str, message: str) -> str:
    if not code and not message:
        return ""
    if code == "RegionDisabledException":
        return REGION_DISABLED
    if code in ("Throttling", "ThrottlingException") or message.startswith("Rate exceeded"):
        return THROTTLED
    if code == "SignatureDoesNotMatch" and "Credential should be scoped to a valid region" in message:
        return SIGNATURE_REGION
    if code in ("AccessDenied", "AccessDeniedException") and "explicit deny in a service control policy" in message:
        return SCP_DENY
    return ""


def rejected(code: str, message: str) -> bool:
    return code in ("InvalidClientTokenId", "UnrecognizedClientException") or message.startswith(
        "The security token included in the request is invalid")


def text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def host_of(record: dict[str, Any]) -> str:
    return text(obj(record.get("tlsDetails")).get("clientProvidedHostHeader"))


def details_of(record: dict[str, Any]) -> dict[str, Any]:
    return obj(obj(record.get("additionalEventData")).get("RequestDetails"))


def endpoint_of(record: dict[str, Any]) -> str:
    kind = details_of(record).get("endpointType")
    if kind in ("global", "regional"):
        return kind
    host = host_of(record)
    return "global" if host == "sts.amazonaws.com" or host.startswith("sts-global.") else "regional"


def bucket_region(record: dict[str, Any]) -> str:
    if endpoint_of(record) == "regional":
        return text(record.get("awsRegion"))
    return text(details_of(record).get("awsServingRegion")) or "us-east-1"


def principal_of(record: dict[str, Any]) -> str:
    identity = obj(record.get("userIdentity"))
    kind, arn = text(identity.get("type")), text(identity.get("arn"))
    if kind == "AssumedRole":
        if ":assumed-role/aws:ec2-instance/" in arn:
            return arn
        issuer = text(obj(obj(identity.get("sessionContext")).get("sessionIssuer")).get("arn"))
        if issuer:
            return issuer
        account, role = arn.split(":")[4], arn.split(":", 5)[5].split("/")[1]
        return f"arn:aws:iam::{account}:role/{role}"
    if kind == "WebIdentityUser":
        return text(obj(record.get("requestParameters")).get("roleArn")) or text(identity.get("userName"))
    return arn


def account_of(record: dict[str, Any]) -> str:
    identity = obj(record.get("userIdentity"))
    principal = principal_of(record)
    from_arn = principal.split(":")[4] if principal.count(":") >= 5 else ""
    return text(identity.get("accountId")) or from_arn or text(record.get("recipientAccountId"))


def aws_for_you(record: dict[str, Any]) -> bool:
    identity = obj(record.get("userIdentity"))
    source = text(record.get("sourceIPAddress"))
    return (source == "AWS Internal" or source.endswith(".amazonaws.com")
            or text(record.get("userAgent")).startswith("aws-internal/")
            or identity.get("type") == "AWSService" or bool(text(identity.get("invokedBy"))))


def utc(value: Any) -> str | None:
    try:
        moment = datetime.fromisoformat(text(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- reading the files --------------------------------------------------------------------------------

def log_records(trail: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """(file, record) of every record of every readable log file (digests and broken files skipped)."""
    for path in sorted(trail.rglob("*")):
        if not path.is_file() or "CloudTrail-Digest" in path.parts:
            continue
        try:
            data = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
            document = json.loads(data)
        except (OSError, EOFError, ValueError):
            continue
        records = document.get("Records") if isinstance(document, dict) else None
        for record in records if isinstance(records, list) else []:
            if isinstance(record, dict):
                yield path, record


def window_events(trail: Path, start: str, end: str) -> list[dict[str, Any]]:
    """The events of the window, each eventID once (events without one all kept)."""
    seen: set[str] = set()
    events = []
    for _, record in log_records(trail):
        time = utc(record.get("eventTime"))
        if time is None or not start <= time < end:
            continue
        event_id = text(record.get("eventID"))
        if event_id:
            if event_id in seen:
                continue
            seen.add(event_id)
        events.append({**record, "eventTime": time})
    return events


# --- the reference count ------------------------------------------------------------------------------

Key = tuple[str, str, str, str, str, str]  # account, principal, user agent, signal, endpoint, Region


def caller_sts_calls(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """STS calls of callers: not AWS acting for you, with a host header; a cross-account twin once
    (the caller's copy; the other account's only when the caller's is missing)."""
    calls = [e for e in events if e.get("eventSource") == "sts.amazonaws.com" and not aws_for_you(e) and host_of(e)]
    callers_copies = {e["sharedEventID"] for e in calls
                      if text(e.get("sharedEventID")) and text(e.get("recipientAccountId")) in ("", account_of(e))}
    kept, resource_copies = [], set()
    for call in calls:
        shared = text(call.get("sharedEventID"))
        if shared and text(call.get("recipientAccountId")) not in ("", account_of(call)):
            if shared in callers_copies or shared in resource_copies:
                continue
            resource_copies.add(shared)
        kept.append(call)
    return kept


def reference(trail: Path, start: str, end: str) -> tuple[dict[Key, dict[str, Any]], Counter]:
    """Every signal row (events, sessions, first and last seen, example eventID) and the throttled
    calls per (account, principal, user agent, endpoint, bucket Region, second)."""
    events = window_events(trail, start, end)
    rows: dict[Key, dict[str, Any]] = {}
    keys: dict[Key, set[str]] = defaultdict(set)

    def count(key: Key, event: dict[str, Any], issued_key: str = "") -> None:
        row = rows.setdefault(key, {"events": 0, "first": event["eventTime"], "last": event["eventTime"],
                                    "example": ""})
        row["events"] += 1
        row["first"], row["last"] = min(row["first"], event["eventTime"]), max(row["last"], event["eventTime"])
        event_id = text(event.get("eventID"))
        if event_id and (not row["example"] or event_id < row["example"]):
            row["example"] = event_id
        if issued_key:
            keys[key].add(issued_key)

    throttled: Counter = Counter()
    issued: dict[str, tuple[tuple[str, str, str], str]] = {}
    for call in caller_sts_calls(events):
        caller = (account_of(call), principal_of(call), text(call.get("userAgent")))
        signal = sts_signal(text(call.get("errorCode")), text(call.get("errorMessage")))
        if signal:
            count((*caller, signal, endpoint_of(call), bucket_region(call)), call)
            if signal == THROTTLED:
                throttled[(*caller, endpoint_of(call), bucket_region(call), call["eventTime"])] += 1
        key = text(obj(obj(call.get("responseElements")).get("credentials")).get("accessKeyId"))
        if endpoint_of(call) == "global" and not call.get("errorCode") and key:
            issued[key] = (caller, text(call.get("eventID")))
    uses: dict[str, dict[str, Any]] = {}  # one per sharedEventID (its smallest eventID), else per event
    for index, event in enumerate(events):
        key = text(obj(event.get("userIdentity")).get("accessKeyId"))
        if key not in issued or not opt_in(event.get("awsRegion")) or text(event.get("eventID")) == issued[key][1]:
            continue
        shared = text(event.get("sharedEventID"))
        slot = f"shared:{shared}" if shared else f"event:{index}"
        if slot not in uses or text(event.get("eventID")) < text(uses[slot].get("eventID")):
            uses[slot] = event
    for use in uses.values():
        key = text(use["userIdentity"]["accessKeyId"])
        caller, region = issued[key][0], text(use["awsRegion"])
        count((*caller, TOKEN_IN_USE, "global", region), use, key)
        if rejected(text(use.get("errorCode")), text(use.get("errorMessage"))):
            count((*caller, TOKEN_REJECTED, "global", region), use, key)
    for key, row in rows.items():
        row["sessions"] = len(keys.get(key, ()))
    return rows, throttled


@pytest.fixture(scope="module")
def samples() -> list[tuple[Path, dict[str, Any]]]:
    return list(log_records(DATA / "samples" / "trail"))


@pytest.fixture(scope="module")
def events(samples: list[tuple[Path, dict[str, Any]]]) -> list[dict[str, Any]]:
    return [record for _, record in samples]


def sts_of(events: list[dict[str, Any]], principal: str) -> list[dict[str, Any]]:
    return [e for e in events if e["eventSource"] == "sts.amazonaws.com" and principal_of(e) == principal]


# --- the cases as the contract needs them --------------------------------------------------------------

def test_issued_keys_of_global_calls_are_used_in_ap_east_1_and_refused_after_the_token_change(events):
    issuing = [e for e in sts_of(events, FEED) if e["eventName"] == "AssumeRole"]
    assert len(issuing) > 50 and not any("errorCode" in e for e in issuing)
    for call in issuing:
        assert host_of(call) == "sts.amazonaws.com" and call["awsRegion"] == "us-east-1"
        assert call["eventVersion"] >= "1.08" and details_of(call) == {"awsServingRegion": "us-east-1",
                                                                       "endpointType": "global"}
    sessions = {e["responseElements"]["credentials"]["accessKeyId"]: e["responseElements"] for e in issuing}
    assert len(sessions) == len(issuing)  # one key per issuance
    assert all(re.fullmatch(r"ASIA[A-Z2-7]{16}", key) for key in sessions)
    uses = [e for e in events if e["userIdentity"].get("accessKeyId") in sessions]
    assert {e["eventSource"] for e in uses} == {"sqs.amazonaws.com", "kinesis.amazonaws.com"}
    for use in uses:
        identity, issued = use["userIdentity"], sessions[use["userIdentity"]["accessKeyId"]]
        assert identity["type"] == "AssumedRole" and identity["arn"] == issued["assumedRoleUser"]["arn"]
        assert identity["principalId"] == issued["assumedRoleUser"]["assumedRoleId"]
        assert identity["sessionContext"]["sessionIssuer"]["arn"] == PUBLISHER
        assert host_of(use).endswith(f"{use['awsRegion']}.amazonaws.com")
    hong_kong = [e for e in uses if e["awsRegion"] == "ap-east-1"]
    refused = Counter((e["errorCode"], e["errorMessage"]) for e in hong_kong if "errorCode" in e)
    assert set(refused) == {("InvalidClientTokenId", "The security token included in the request is invalid."),
                            ("UnrecognizedClientException", "The security token included in the request is invalid.")}
    assert sum(refused.values()) > 100
    worked = [e for e in hong_kong if "errorCode" not in e]
    assert len(worked) > 50 and max(e["eventTime"] for e in worked) < "2025-08-11"
    assert min(e["eventTime"] for e in hong_kong if "errorCode" in e) >= "2025-08-11"
    elsewhere = [e for e in uses if e["awsRegion"] != "ap-east-1"]  # v1 tokens work there: never counted
    assert elsewhere and {e["awsRegion"] for e in elsewhere} == {"eu-central-1"}
    assert not any("errorCode" in e for e in elsewhere)


def test_a_use_on_another_accounts_queue_is_logged_in_both_accounts(events):
    copies = defaultdict(list)
    for event in events:
        if event["eventSource"] == "sqs.amazonaws.com" and "sharedEventID" in event:
            copies[event["sharedEventID"]].append(event)
    assert len(copies) > 10
    for pair in copies.values():
        assert {e["recipientAccountId"] for e in pair} == {DATA_PLATFORM, PAYMENTS} and len(pair) == 2
        assert pair[0]["eventID"] != pair[1]["eventID"] and pair[0]["userIdentity"] == pair[1]["userIdentity"]
        assert pair[0]["awsRegion"] == "ap-east-1" and "errorCode" not in pair[0]


def test_one_file_of_refused_uses_is_delivered_twice(samples):
    files_by_id = defaultdict(list)
    for path, record in samples:
        if record.get("errorCode") == "InvalidClientTokenId":
            files_by_id[record["eventID"]].append((path, record))
    twice = {event_id: copies for event_id, copies in files_by_id.items() if len(copies) > 1}
    assert twice
    for copies in twice.values():
        (first_path, first), (second_path, second) = copies
        assert first == second and first_path != second_path and first_path.parent == second_path.parent
    manifest = json.loads((DATA / "samples" / "manifest.json").read_text())
    redelivered = DATA / "samples" / manifest["redelivered_files"][0]
    assert {path for copies in twice.values() for path, _ in copies} >= {redelivered}


def test_a_throttled_burst_passes_the_quota_of_one_bucket(events):
    calls = [e for e in sts_of(events, HARNESS)]
    per_second = Counter(e["eventTime"] for e in calls)
    throttled = Counter(e["eventTime"] for e in calls if e.get("errorCode"))
    assert {(e["errorCode"], e["errorMessage"]) for e in calls if e.get("errorCode")} == {
        ("ThrottlingException", "Rate exceeded")}
    burst = {second: per_second[second] for second in sorted(per_second) if per_second[second] > 20}
    assert burst == {"2025-08-12T03:00:00Z": 160, "2025-08-12T03:00:01Z": 672, "2025-08-12T03:00:02Z": 705,
                     "2025-08-12T03:00:03Z": 118}
    assert dict(throttled) == {second: calls - 600 for second, calls in burst.items() if calls > 600}
    assert {(e["awsRegion"], endpoint_of(e), bucket_region(e)) for e in calls} == {("us-east-1", "global",
                                                                                    "us-east-1")}


def test_global_assume_role_is_denied_by_an_scp_keyed_on_the_requested_region(events):
    denied = [e for e in events if e.get("errorCode") == "AccessDenied"
              and "explicit deny in a service control policy" in e["errorMessage"]]
    assert len(denied) > 10 and {principal_of(e) for e in denied} == {GDPR}
    for call in denied:
        assert call["eventName"] == "AssumeRole" and endpoint_of(call) == "global" and call["awsRegion"] == "us-east-1"
        assert call["errorMessage"] == (
            f"User: {call['userIdentity']['arn']} is not authorized to perform: sts:AssumeRole on resource: "
            f"arn:aws:iam::{PAYMENTS}:role/eu-customer-data-reader with an explicit deny in a service control policy")
    assert all("errorCode" not in e for e in sts_of(events, GDPR) if e["eventName"] == "GetCallerIdentity")
    policy = json.loads(json.loads((DATA / "samples" / "policies" / "scp-payments-gdpr-eu-only.json").read_text())
                        ["Policy"]["Content"])["Statement"][0]
    assert policy["Effect"] == "Deny" and policy["Condition"]["StringNotLike"] == {"aws:RequestedRegion": "eu-*"}
    assert "scp-payments-gdpr-eu-only.json" in (DATA / "samples" / "policies" / "mapping.yaml").read_text()


def test_regional_calls_to_a_disabled_opt_in_region(events):
    disabled = [e for e in events if e.get("errorCode") == "RegionDisabledException"]
    assert 2 <= len(disabled) <= 10 and {principal_of(e) for e in disabled} == {ZURICH}
    for call in disabled:
        assert (call["awsRegion"], host_of(call), endpoint_of(call)) == (
            "eu-central-2", "sts.eu-central-2.amazonaws.com", "regional") and opt_in(call["awsRegion"])
        assert call["errorMessage"] == (f"STS is not activated in this region for account:{CI}. Your account "
                                        "administrator can activate STS in this region using the IAM Console.")


def test_signatures_scoped_to_the_wrong_region(events):
    failed = [e for e in events if e.get("errorCode") == "SignatureDoesNotMatch"]
    assert failed and {principal_of(e) for e in failed} == {DASHBOARD}
    assert {e["errorMessage"] for e in failed} == {
        "Credential should be scoped to a valid region, not 'eu-central-1'. "}
    assert {e["eventTime"][:10] for e in failed} <= {"2025-07-08", "2025-07-09", "2025-07-10", "2025-07-11"}
    after = [e for e in sts_of(events, DASHBOARD) if e["eventTime"] > "2025-07-12"]
    assert after and not any("errorCode" in e for e in after)  # rolled back
    assert {endpoint_of(e) for e in failed} == {"global"}


# --- the counts every engine must find ---------------------------------------------------------------

EXPECTED = {  # state -> {(principal, signal, endpoint, Region): (events, sessions, first, last, example eventID)}
    "samples": {
        (FEED, TOKEN_IN_USE, "global", "ap-east-1"): (407, 80, "2025-07-01T05:52:12Z", "2025-08-31T06:20:07Z",
                                                      "0070faa0-bdca-e0c6-326a-41c1e05f01ff"),
        (FEED, TOKEN_REJECTED, "global", "ap-east-1"): (237, 26, "2025-08-11T05:25:20Z", "2025-08-31T06:20:07Z",
                                                        "0070faa0-bdca-e0c6-326a-41c1e05f01ff"),
        (ZURICH, REGION_DISABLED, "regional", "eu-central-2"): (5, 0, "2025-06-03T19:15:29Z", "2025-06-04T19:41:52Z",
                                                                "1dea5f05-99b1-9d6d-fefd-fdb860149b59"),
        (HARNESS, THROTTLED, "global", "us-east-1"): (177, 0, "2025-08-12T03:00:01Z", "2025-08-12T03:00:02Z",
                                                     "03cea6a8-dbac-ffab-3b20-51130e7d21f7"),
        (DASHBOARD, SIGNATURE_REGION, "global", "us-east-1"): (3, 0, "2025-07-08T21:34:23Z", "2025-07-10T22:02:11Z",
                                                               "6181546f-cd39-d265-a95e-49351e2926aa"),
        (GDPR, SCP_DENY, "global", "us-east-1"): (24, 0, "2025-08-19T21:01:56Z", "2025-08-31T21:18:01Z",
                                                 "0ca6b524-eef6-003a-6376-24aeeff46f67"),
    },
    "samples-later": {  # C16 and C18 carry on, refused and denied; the one-off cases are in the samples only
        (FEED, TOKEN_IN_USE, "global", "ap-east-1"): (315, 35, "2025-09-01T05:50:22Z", "2025-09-30T06:16:50Z",
                                                      "0000dc0e-95c8-25cd-50eb-aef5a428f4a2"),
        (FEED, TOKEN_REJECTED, "global", "ap-east-1"): (315, 35, "2025-09-01T05:50:22Z", "2025-09-30T06:16:50Z",
                                                        "0000dc0e-95c8-25cd-50eb-aef5a428f4a2"),
        (GDPR, SCP_DENY, "global", "us-east-1"): (39, 0, "2025-09-02T21:01:44Z", "2025-09-29T21:48:51Z",
                                                 "01c2ac90-d57a-3558-92f3-038e19fa348c"),
    },
    "samples-latest": {
        (FEED, TOKEN_IN_USE, "global", "ap-east-1"): (411, 45, "2025-10-02T05:13:10Z", "2025-10-31T06:10:12Z",
                                                      "02362156-9b45-a22f-74ae-c7d77d820c2a"),
        (FEED, TOKEN_REJECTED, "global", "ap-east-1"): (411, 45, "2025-10-02T05:13:10Z", "2025-10-31T06:10:12Z",
                                                        "02362156-9b45-a22f-74ae-c7d77d820c2a"),
        (GDPR, SCP_DENY, "global", "us-east-1"): (45, 0, "2025-10-01T20:12:24Z", "2025-10-31T20:57:39Z",
                                                 "011252c3-ae0f-b82c-0674-dfeed065f384"),
    },
}
EXPECTED_THROTTLED = {  # state -> {second: throttled calls} (all C17's, in ci-tools' global bucket, us-east-1)
    "samples": {"2025-08-12T03:00:01Z": 72, "2025-08-12T03:00:02Z": 105},
    "samples-later": {},
    "samples-latest": {},
}
CALLER = {FEED: (DATA_PLATFORM, "aws-sdk-kotlin/"), HARNESS: (CI, "Boto3/1.26.90"), GDPR: (PAYMENTS, "Boto3/1.28.62"),
          ZURICH: (CI, "APN/1.0 HashiCorp/1.0 Terraform/1.9.5"), DASHBOARD: (DATA_PLATFORM, "aws-sdk-php/3.281.6")}
"""Account and user agent start of each caller a signal belongs to (for the token signals: the issuer)."""


def _table(rows: dict[Key, dict[str, Any]]) -> str:
    lines = [f"{'signal':17} {'principal':52} {'endpoint':8} {'region':13} {'events':>6} {'sessions':>8}  "
             f"first_seen           last_seen            example_event_id"]
    for key in sorted(rows, key=lambda key: (key[3], key[1], key[5])):
        row = rows[key]
        lines.append(f"{key[3]:17} {key[1]:52} {key[4]:8} {key[5]:13} {row['events']:6} {row['sessions']:8}  "
                     f"{row['first']} {row['last']} {row['example']}")
    return "\n".join(lines)


@pytest.mark.parametrize("state", list(STATES))
def test_reference_counts_of_every_signal(state):
    start, end = STATES[state]
    rows, throttled = reference(DATA / state / "trail", start, end)
    print(f"\n{state} ({start} to {end}):\n{_table(rows)}")
    totals = Counter()
    for key, row in rows.items():
        totals[key[3]] += row["events"]
    print("per signal:", dict(sorted(totals.items())), "| throttled seconds:", len(throttled))
    got = {(key[1], key[3], key[4], key[5]): (row["events"], row["sessions"], row["first"], row["last"],
                                               row["example"]) for key, row in rows.items()}
    assert got == EXPECTED[state]
    for account, principal, agent, *_ in rows:
        assert account == CALLER[principal][0] and agent.startswith(CALLER[principal][1])
    assert {key[-1]: calls for key, calls in throttled.items()} == EXPECTED_THROTTLED[state]
    assert {key[:5] for key in throttled} <= {(*key[:3], key[4], key[5]) for key in rows if key[3] == THROTTLED}
    assert sum(throttled.values()) == totals[THROTTLED]


@pytest.mark.parametrize("state", list(STATES))
def test_the_local_engine_finds_the_reference_counts(state):
    """The kit's own engine agrees with the reference above; the SQL and Logs Insights engines are
    held equal to it on the samples (tests/test_signals_sql.py, tests/test_logs_insights.py)."""
    from kit.engines import collect
    from kit.params import validate

    start, end = STATES[state]
    rollup = collect(validate({"source": "local", "path": str(DATA / state / "trail"), "start": start, "end": end,
                               "cache": False}))
    got = {(row.principal_arn, row.signal, row.endpoint, row.region):
           (row.events, row.sessions, f"{row.first_seen:%Y-%m-%dT%H:%M:%SZ}", f"{row.last_seen:%Y-%m-%dT%H:%M:%SZ}",
            row.example_event_id) for row in rollup.signals.itertuples()}
    assert got == EXPECTED[state]
    throttled = {f"{second:%Y-%m-%dT%H:%M:%SZ}": calls for second, calls in zip(rollup.throttled.second,
                                                                               rollup.throttled.calls)}
    assert throttled == EXPECTED_THROTTLED[state]
