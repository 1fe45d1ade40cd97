"""kit.synth: the sample trail, checked by reading its files back (not the generator's internals)."""
from __future__ import annotations

import gzip
import hashlib
import ipaddress
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kit.synth import SAMPLE_END, SAMPLE_START, write_samples

ORG = "o-a1b2c3d4e5"
PAYMENTS, DATA, CI, IDENTITY = "111122223333", "222233334444", "333344445555", "444455556666"
C1 = f"arn:aws:iam::{PAYMENTS}:role/payments-api"
C2 = f"arn:aws:iam::{PAYMENTS}:role/payments-ledger"
C3 = f"arn:aws:iam::{PAYMENTS}:role/settlement-batch"
C4 = f"arn:aws:iam::{DATA}:role/hk-ingest"
C5 = f"arn:aws:iam::{DATA}:role/report-lambda"
C6 = f"arn:aws:iam::{DATA}:role/eks-etl"
C7 = f"arn:aws:iam::{CI}:role/github-deploy"
C8 = f"arn:aws:iam::{CI}:user/alice"
C9 = f"arn:aws:iam::{IDENTITY}:role/sso-broker"
C10 = f"arn:aws:iam::{DATA}:role/nightly-export"
C11 = f"arn:aws:iam::{PAYMENTS}:user/legacy-batch"
C12 = f"arn:aws:iam::{CI}:role/developer"
C13 = f"arn:aws:iam::{DATA}:role/aws:ec2-instance"
C14 = f"arn:aws:iam::{PAYMENTS}:role/seoul-billing"
C17 = f"arn:aws:iam::{CI}:user/perf-harness"
DEPLOY_TARGET = f"arn:aws:iam::{IDENTITY}:role/deploy-target"

LOG_NAME = re.compile(
    r"^(\d{12})_CloudTrail_([a-z0-9-]+)_(\d{4})(\d{2})(\d{2})T\d{4}Z_[A-Za-z0-9]{16}\.json(\.gz)?$")
FIELD_ORDER = ("eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion",
               "sourceIPAddress", "userAgent", "errorCode", "errorMessage", "requestParameters",
               "responseElements", "additionalEventData", "requestID", "eventID", "readOnly", "resources",
               "eventType", "managementEvent", "recipientAccountId", "sharedEventID", "eventCategory",
               "tlsDetails")
BASE_FIELDS = {"eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion",
               "sourceIPAddress", "userAgent", "requestParameters", "responseElements", "requestID", "eventID",
               "readOnly", "eventType", "recipientAccountId"}
MODERN_FIELDS = BASE_FIELDS | {"managementEvent", "eventCategory"}
BURST_COUNTS = {
    **{(C2, f"2025-07-15T14:00:0{s}Z"): 400 for s in range(5)},
    **{(C1, f"2025-07-15T14:00:0{s}Z"): 250 for s in range(5)},
    **{(C1, f"2025-07-20T09:00:0{s}Z"): 320 for s in range(3)},
    **{(C2, f"2025-07-20T09:00:0{s}Z"): 50 for s in range(3)},
}
THROTTLED_COUNTS = {(C17, f"2025-08-12T03:00:0{s}Z"): calls for s, calls in enumerate((160, 672, 705, 118))}
"""C17's load test: past 600 calls in a second, STS throttles (the evidence of breakage is checked in
tests/test_samples_breakage.py)."""


@dataclass
class Trail:
    """What a tolerant reader finds in OUT/trail."""

    out: Path
    records: list[tuple[Path, dict[str, Any]]] = field(default_factory=list)
    broken: dict[str, str] = field(default_factory=dict)
    digests: list[Path] = field(default_factory=list)
    log_files: int = 0


def read_trail(out: Path) -> Trail:
    """Every valid event of every log file, and why the other files are broken."""
    trail = Trail(out)
    for path in sorted((out / "trail").rglob("*")):
        if not path.is_file():
            continue
        if "CloudTrail-Digest" in path.parts:
            trail.digests.append(path)
            continue
        relative = path.relative_to(out).as_posix()
        try:
            data = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
        except EOFError:
            trail.broken[relative] = "truncated gzip"
            continue
        try:
            document = json.loads(data)
        except ValueError:
            trail.broken[relative] = "not JSON"
            continue
        records = document.get("Records") if isinstance(document, dict) else None
        if not isinstance(records, list):
            trail.broken[relative] = "no Records"
            continue
        valid = [record for record in records if isinstance(record, dict) and "eventTime" in record]
        if len(valid) == len(records):
            trail.log_files += 1
        else:
            trail.broken[relative] = "bad records"
        trail.records += [(path, record) for record in valid]
    return trail


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("samples")
    write_samples(folder)
    return folder


@pytest.fixture(scope="module")
def trail(out: Path) -> Trail:
    return read_trail(out)


@pytest.fixture(scope="module")
def events(trail: Trail) -> list[dict[str, Any]]:
    return [record for _, record in trail.records]


def principal(record: dict[str, Any]) -> str:
    """Role or user ARN behind an event (service name for AWS services)."""
    identity = record["userIdentity"]
    if identity["type"] == "AssumedRole":
        return identity["sessionContext"]["sessionIssuer"]["arn"]
    if identity["type"] == "WebIdentityUser":
        return record["requestParameters"]["roleArn"]
    return identity.get("arn") or identity["invokedBy"]


def sts_of(events: list[dict[str, Any]], arn: str | None = None) -> list[dict[str, Any]]:
    """STS events (of one principal)."""
    return [e for e in events if e["eventSource"] == "sts.amazonaws.com" and (arn is None or principal(e) == arn)]


def details(record: dict[str, Any]) -> dict[str, str] | None:
    return record.get("additionalEventData", {}).get("RequestDetails")


def host(record: dict[str, Any]) -> str | None:
    return record.get("tlsDetails", {}).get("clientProvidedHostHeader")


def in_burst(record: dict[str, Any]) -> bool:
    return (principal(record), record["eventTime"]) in BURST_COUNTS


def sha256_of_files(root: Path) -> dict[str, str]:
    return {path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(root.rglob("*")) if path.is_file()}


def test_same_seed_gives_byte_identical_output(out: Path, tmp_path: Path) -> None:
    write_samples(tmp_path, seed=2025)
    first, second = sha256_of_files(out), sha256_of_files(tmp_path)
    assert len(first) > 1000
    assert first == second


def test_output_is_small_and_in_the_s3_layout(out: Path, trail: Trail) -> None:
    files = [path for path in out.rglob("*") if path.is_file()]
    assert sum(path.stat().st_size for path in files) < 6_000_000
    assert (out / "ip-ranges.json").is_file() and (out / "manifest.json").is_file()
    for path, record in trail.records:
        parts = path.relative_to(out / "trail").parts
        match = LOG_NAME.match(parts[-1])
        assert match, parts[-1]
        account, region, year, month, day = match.groups()[:5]
        assert parts[:-1] == ("AWSLogs", ORG, account, "CloudTrail", region, year, month, day)
        assert (record["recipientAccountId"], record["awsRegion"]) == (account, region)
        assert record["eventTime"][:10] == f"{year}-{month}-{day}"
        assert SAMPLE_START <= record["eventTime"] < SAMPLE_END


def test_manifest_matches_the_files(out: Path, trail: Trail, events: list[dict[str, Any]]) -> None:
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["log_files"] == trail.log_files
    assert manifest["events_written"] == len(events) == sum(manifest["events_by_caller"].values())
    assert manifest["events_by_account"] == dict(sorted(Counter(e["recipientAccountId"] for e in events).items()))
    assert sorted(manifest["malformed_files"]) == sorted(trail.broken)
    assert manifest["digest_files"] == [path.relative_to(out).as_posix() for path in trail.digests]


def test_every_sts_record_has_the_cloudtrail_fields_in_order(events: list[dict[str, Any]]) -> None:
    records = sts_of(events)
    assert len(records) > 5000
    for record in records:
        assert list(record) == [name for name in FIELD_ORDER if name in record]
        if record["eventVersion"] == "1.05":
            assert principal(record) == C11 and BASE_FIELDS <= set(record) and "tlsDetails" not in record
            continue
        assert record["eventVersion"] == "1.08" and MODERN_FIELDS <= set(record)
        assert ("tlsDetails" in record) == (record["userIdentity"]["type"] != "AWSService")
        assert ("additionalEventData" in record) == (record["eventTime"] >= "2025-04-01"
                                                     or record["eventName"] == "AssumeRoleWithWebIdentity")


def test_request_details_appear_on_2025_04_01_and_match_the_host(events: list[dict[str, Any]]) -> None:
    before = [e for e in sts_of(events) if e["eventTime"] < "2025-04-01"]
    after = [e for e in sts_of(events) if e["eventTime"] >= "2025-04-01"]
    assert before and after
    assert not any(details(e) for e in before)
    for record in after:
        request = details(record)
        assert request is not None and set(request) == {"awsServingRegion", "endpointType"}
        name = host(record)
        if name == "sts.amazonaws.com" or (name or "").startswith("sts-global."):
            assert request["endpointType"] == "global" and record["awsRegion"] == "us-east-1"
        else:
            assert request["endpointType"] == "regional"
            assert request["awsServingRegion"] == record["awsRegion"]
            assert name in (None, f"sts.{record['awsRegion']}.amazonaws.com")


@pytest.mark.parametrize("arn, local_from, region", [
    (C1, "2025-04-15", "eu-west-1"),
    (C3, "2025-04-01", "eu-north-1"),
    (C6, "2025-04-15", "eu-central-1"),
    (C4, None, "ap-east-1"),
    (C9, None, "us-west-2"),
    (C5, None, "us-east-1"),
    (C7, None, None),
    (C8, None, None),
    (C10, None, None),
    (C12, None, "eu-west-1"),
    (C13, None, None),
    (C14, None, "ap-northeast-2"),
])
def test_global_calls_are_served_where_the_rollout_says(events: list[dict[str, Any]], arn: str,
                                                        local_from: str | None, region: str | None) -> None:
    served = [(e["eventTime"], details(e)["awsServingRegion"])
              for e in sts_of(events, arn) if e["eventTime"] >= "2025-04-01"]
    assert served and all(e["awsRegion"] == "us-east-1" for e in sts_of(events, arn))
    assert any(time >= "2025-08-01" for time, _ in served)
    for time, serving in served:
        expected = region if local_from and time >= local_from else "us-east-1"
        assert serving == expected, time
    early = {"us-east-1"} if local_from != "2025-04-01" else set()
    assert {serving for _, serving in served} == early | ({region} if local_from else set())


def test_settlement_batch_alternates_host_headers_after_its_rollout(events: list[dict[str, Any]]) -> None:
    before = {host(e) for e in sts_of(events, C3) if e["eventTime"] < "2025-04-01"}
    after = Counter(host(e) for e in sts_of(events, C3) if e["eventTime"] >= "2025-04-01")
    assert before == {"sts.amazonaws.com"}
    assert set(after) == {"sts.amazonaws.com", "sts-global.eu-north-1.amazonaws.com"}
    assert 0.3 < after["sts-global.eu-north-1.amazonaws.com"] / sum(after.values()) < 0.5


def test_regional_caller_uses_its_regional_endpoint(events: list[dict[str, Any]]) -> None:
    records = sts_of(events, C2)
    assert records
    assert {(e["awsRegion"], host(e)) for e in records} == {("eu-west-1", "sts.eu-west-1.amazonaws.com")}


def test_cross_account_assume_role_is_logged_twice_with_a_shared_id(events: list[dict[str, Any]]) -> None:
    shared = [e for e in sts_of(events) if "sharedEventID" in e]
    assert all(principal(e) == C7 and e["requestParameters"]["roleArn"] == DEPLOY_TARGET for e in shared)
    twins = defaultdict(list)
    for record in shared:
        twins[record["sharedEventID"]].append(record)
    assert len(twins) > 50
    for pair in twins.values():
        assert len(pair) == 2
        first, second = pair
        assert {first["recipientAccountId"], second["recipientAccountId"]} == {CI, IDENTITY}
        assert first["eventID"] != second["eventID"] and first["requestID"] == second["requestID"]
        assert first["userIdentity"] == second["userIdentity"] and first["userIdentity"]["accountId"] == CI
    calls = [e for e in sts_of(events, C7) if e["eventName"] == "AssumeRole"]
    assert len(calls) == 2 * len(twins)


def test_bursts_have_exact_per_second_counts_and_are_the_only_busy_seconds(events: list[dict[str, Any]]) -> None:
    per_second = Counter((principal(e), e["eventTime"]) for e in sts_of(events))
    assert {key: count for key, count in per_second.items() if count > 20} == BURST_COUNTS | THROTTLED_COUNTS
    burst = [e for e in sts_of(events) if in_burst(e)]
    assert not any("errorCode" in e for e in burst)
    throttled = Counter((principal(e), e["eventTime"]) for e in sts_of(events, C17) if "errorCode" in e)
    assert throttled == {key: calls - 600 for key, calls in THROTTLED_COUNTS.items() if calls > 600}
    assert {(principal(e), e["awsRegion"], details(e)["endpointType"], details(e)["awsServingRegion"])
            for e in burst} == {(C1, "us-east-1", "global", "eu-west-1"), (C2, "eu-west-1", "regional", "eu-west-1")}


def test_malformed_files_and_the_digest_are_in_the_trail_tree(out: Path, trail: Trail) -> None:
    assert sorted(trail.broken.values()) == ["bad records", "no Records", "not JSON", "truncated gzip"]
    for relative in trail.broken:
        parts = Path(relative).parts
        assert parts[:3] == ("trail", "AWSLogs", ORG) and parts[4] == "CloudTrail" and parts[6] == "2025"
    mixed = next(out / name for name, reason in trail.broken.items() if reason == "bad records")
    records = json.loads(gzip.decompress(mixed.read_bytes()))["Records"]
    assert [type(r).__name__ for r in records] == ["dict", "str", "dict"]
    assert "eventTime" in records[0] and "eventTime" not in records[2]
    assert len(trail.digests) == 1
    assert trail.digests[0].parts[-7:-4] == (IDENTITY, "CloudTrail-Digest", "us-east-1")
    digest = json.loads(gzip.decompress(trail.digests[0].read_bytes()))
    assert digest["awsAccountId"] == IDENTITY and "Records" not in digest and digest["logFiles"] == []


def test_ip_ranges_list_only_the_aws_networks_callers_use(out: Path, events: list[dict[str, Any]]) -> None:
    ranges = json.loads((out / "ip-ranges.json").read_text())
    assert "sample" in ranges["_comment"].lower() and ranges["ipv6_prefixes"] == []
    prefixes = {(p["ip_prefix"], p["region"]) for p in ranges["prefixes"]}
    assert prefixes == {("3.80.0.0/12", "us-east-1"), ("18.162.0.0/16", "ap-east-1")}
    networks = {ipaddress.ip_network(prefix): region for prefix, region in prefixes}

    def aws_region_of(address: str) -> str | None:
        return next((r for net, r in networks.items() if ipaddress.ip_address(address) in net), None)

    assert {aws_region_of(e["sourceIPAddress"]) for e in sts_of(events, C4)} == {"ap-east-1"}
    assert {aws_region_of(e["sourceIPAddress"]) for e in sts_of(events, C5)} == {"us-east-1"}
    c7_addresses = {e["sourceIPAddress"] for e in sts_of(events, C7)}
    assert c7_addresses and all(a.startswith("20.55.12.") and aws_region_of(a) is None for a in c7_addresses)


def test_activity_shows_workload_regions(events: list[dict[str, Any]]) -> None:
    activity = Counter((principal(e), e["eventSource"], e["awsRegion"])
                       for e in events if e["eventSource"] != "sts.amazonaws.com")
    iam, s3 = activity[(C7, "iam.amazonaws.com", "us-east-1")], activity[(C7, "s3.amazonaws.com", "eu-west-1")]
    assert iam > s3 > 100
    assert {key for key in activity if key[0] == C7} == {(C7, "iam.amazonaws.com", "us-east-1"),
                                                        (C7, "s3.amazonaws.com", "eu-west-1")}
    assert activity[(C6, "s3.amazonaws.com", "eu-central-1")] > 100
    assert activity[(C4, "kinesis.amazonaws.com", "ap-east-1")] > 100
    assert not any(key[0] in (C8, C10, C11) for key in activity)


def test_web_identity_caller_has_no_account_or_arn(events: list[dict[str, Any]]) -> None:
    records = sts_of(events, C6)
    assert records and {e["eventName"] for e in records} == {"AssumeRoleWithWebIdentity"}
    for record in records:
        identity = record["userIdentity"]
        assert identity["type"] == "WebIdentityUser" and "accountId" not in identity and "arn" not in identity
        assert identity["userName"] == "system:serviceaccount:etl:runner"
        assert record["recipientAccountId"] == DATA


def test_nightly_and_legacy_callers(events: list[dict[str, Any]]) -> None:
    nightly = sts_of(events, C10)
    assert len(nightly) > 150 and all(e["eventTime"][11:13] == "02" for e in nightly)
    assert max(Counter(e["eventTime"][:10] for e in nightly).values()) == 1
    legacy = sts_of(events, C11)
    assert len(legacy) == 6
    assert all(e["eventTime"].startswith("2025-03") and e["eventVersion"] == "1.05" for e in legacy)
    assert not any("tlsDetails" in e or "additionalEventData" in e for e in legacy)


@pytest.mark.parametrize("arn, share", [(C1, (0.6, 0.95)), (C4, (0.6, 0.95)), (C8, (0.2, 0.5))])
def test_callers_call_a_few_times_on_some_days(events: list[dict[str, Any]], arn: str,
                                               share: tuple[float, float]) -> None:
    per_day = Counter(e["eventTime"][:10] for e in sts_of(events, arn) if not in_burst(e))
    assert share[0] < len(per_day) / 184 < share[1]
    assert set(per_day.values()) <= set(range(4, 9))


def test_payments_api_is_sometimes_denied(events: list[dict[str, Any]]) -> None:
    assume = [e for e in sts_of(events, C1) if e["eventName"] == "AssumeRole" and not in_burst(e)]
    denied = [e for e in sts_of(events, C1) if "errorCode" in e]
    assert all(e["errorCode"] == "AccessDenied" and e["eventName"] == "AssumeRole" for e in denied)
    assert all("payments-reader" in e["errorMessage"] and e["responseElements"] is None for e in denied)
    assert 0.01 < len(denied) / len(assume) < 0.06


def test_aws_services_assume_roles_in_every_account_without_tls(events: list[dict[str, Any]]) -> None:
    service = [e for e in events if e["userIdentity"]["type"] == "AWSService"]
    assert {e["recipientAccountId"] for e in service} == {PAYMENTS, DATA, CI, IDENTITY}
    for record in service:
        invoked = record["userIdentity"]["invokedBy"]
        assert invoked in ("lambda.amazonaws.com", "ecs-tasks.amazonaws.com")
        assert record["sourceIPAddress"] == record["userAgent"] == invoked
        assert record["eventName"] == "AssumeRole" and "tlsDetails" not in record


def test_a_busy_hour_is_split_into_files_of_at_most_1000_records(trail: Trail) -> None:
    per_file = Counter(path for path, record in trail.records if record["eventTime"].startswith("2025-07-15T14"))
    ledger_files = {path for path, record in trail.records
                    if principal(record) == C2 and record["eventTime"].startswith("2025-07-15T14:00")}
    assert len(ledger_files) >= 2
    assert max(per_file.values()) <= 1000


def test_instance_credentials_are_one_stable_session_of_aws_ec2_instance(events: list[dict[str, Any]]) -> None:
    identities = {json.dumps(e["userIdentity"]["arn"]) for e in sts_of(events, C13)}
    assert identities == {'"arn:aws:sts::222233334444:assumed-role/aws:ec2-instance/i-0a1b2c3d4e5f60718"'}
    assert all(ipaddress.ip_address(e["sourceIPAddress"]) in ipaddress.ip_network("3.80.0.0/12")
               for e in sts_of(events, C13))


def test_laptop_and_home_addresses_are_public_and_outside_the_sample_aws_ranges(events: list[dict[str, Any]]) -> None:
    for arn, network in ((C8, "86.12.143.27/32"), (C12, "92.40.181.64/28")):
        addresses = {ipaddress.ip_address(e["sourceIPAddress"]) for e in sts_of(events, arn)}
        assert addresses and all(a in ipaddress.ip_network(network) and a.is_global for a in addresses)
