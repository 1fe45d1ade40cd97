"""The SQL rules equal the Python rules of kit.events on hand-made edge cases (both dialects):
duplicates within and across files, AWS acting for you, stable principals, fields of unexpected
types and eventTimes with offsets or impossible values."""
from __future__ import annotations

import pytest

from aws_endpoints import RECORD_LEVEL, serve, assert_same_rollup, aws_env  # noqa: F401
from builders import activity, role_session, sts, user, write_trail
from kit import events
from kit.engines import collect, local
from kit.localaws.athena_server import AthenaService
from kit.localaws.lake_server import STORE_ID, LakeService
from kit.params import validate

A, B = "111122223333", "222233334444"
T = "2025-07-01T10:00:00Z"


def records() -> list:
    federated = {"type": "FederatedUser", "arn": f"arn:aws:sts::{A}:federated-user/bob", "accountId": A}
    bare_session = {"type": "AssumedRole", "arn": f"arn:aws:sts::{A}:assumed-role/deploy/ci-42", "accountId": A}
    web = {"type": "WebIdentityUser", "userName": "system:serviceaccount:app", "principalId": "oidc:app"}
    root = {"type": "Root", "accountId": B, "principalId": B}
    anonymous = {"type": "Unknown", "principalId": "AIDAONLYID"}
    service = {"type": "AWSService", "invokedBy": "ec2.amazonaws.com"}
    alice = user(A, "alice")
    return [
        sts(role_session(A, "app"), T, endpoint_type="global", serving="eu-north-1", region="us-east-1"),
        sts(bare_session, "2025-07-01T10:00:01Z", host="sts-global.eu-west-1.amazonaws.com"),
        sts(federated, "2025-07-01T10:00:02Z", host="sts.eu-west-1.amazonaws.com", region="eu-west-1"),
        sts(web, "2025-07-01T10:00:03Z", name="AssumeRoleWithWebIdentity", recipient=B,
            request={"roleArn": f"arn:aws:iam::{B}:role/web", "roleSessionName": "s"}),
        sts(root, "2025-07-01T10:00:04Z", error="AccessDenied"),
        sts(anonymous, "2025-07-01T10:00:05Z", endpoint_type="regional", region="eu-west-1",
            host="sts.eu-west-1.amazonaws.com"),
        sts(service, "2025-07-01T10:00:06Z", host=None),
        sts(alice, "2025-07-01T10:00:07Z", host=None),
        sts(alice, "2025-07-01T10:00:08Z", host=None, ip="eks.amazonaws.com"),
        sts(alice, "2025-07-01T10:00:09Z", shared="twin-1"),
        sts(alice, "2025-07-01T10:00:09Z", shared="twin-1", recipient=B),
        sts(alice, "2025-07-01T10:00:10Z", shared="lone-1", recipient=B),
        sts(user(B, "carol"), "2025-07-01T10:00:11Z"),
        sts(alice, "2025-07-01T00:00:00Z"),
        sts(alice, "2025-07-02T00:00:00Z"),
        activity(alice, T, "eu-west-1"),
        activity(role_session(A, "app"), T, "eu-north-1", source="ec2.amazonaws.com"),
        activity(web, T, "eu-west-1"),
        activity(alice, T, "us-east-1", source="iam.amazonaws.com"),
        activity(service, T, "eu-west-1"),
        activity({"type": "Unknown", "invokedBy": "x.amazonaws.com"}, T, "eu-west-1"),
        activity({"type": "Unknown"}, T, "eu-west-1"),
        {**activity(alice, T, "eu-west-1"), "eventSource": ""},
        activity(user(B, "carol"), T, "eu-west-1"),
        *odd_records(),
    ]


def resource_copy(session: str, shared: str | None) -> dict:
    """The resource account's copy of a call made from account B into A (no caller copy exists)."""
    identity = {"type": "AWSAccount", "principalId": f"AROAEXAMPLE:{session}", "accountId": B}
    return sts(identity, "2025-07-01T10:01:00Z", name="AssumeRole", recipient=A, shared=shared,
               request={"roleArn": f"arn:aws:iam::{A}:role/target", "roleSessionName": session})


def instance(instance_id: str) -> dict:
    """userIdentity of instance credentials (the instance's own aws:ec2-instance session)."""
    return {"type": "AssumedRole", "principalId": f"AROAEC2:{instance_id}", "accountId": A,
            "arn": f"arn:aws:sts::{A}:assumed-role/aws:ec2-instance/{instance_id}",
            "sessionContext": {"sessionIssuer": {"type": "Role", "accountId": A,
                                                 "arn": f"arn:aws:iam::{A}:role/aws:ec2-instance"}}}


def odd_records() -> list:
    """R1-R4 cases: AWS acting for you, stable principals, odd shapes, odd times, repeated ids."""
    alice = user(A, "alice")
    console = sts(alice, "2025-07-01T10:02:00Z", name="AssumeRoleWithSAML", ip="AWS Internal",
                  agent="aws-internal/3 aws-sdk-java/1.12.1 Linux/5 OpenJDK_64-Bit_Server_VM/25", host="sts.amazonaws.com")
    agent_only = sts(alice, "2025-07-01T10:02:01Z", agent="aws-internal/3 aws-sdk-java/1.12.1")
    service = sts({"type": "AWSService", "invokedBy": "lambda.amazonaws.com"}, "2025-07-01T10:02:02Z")
    invoked = sts({**role_session(A, "app"), "invokedBy": "cloudformation.amazonaws.com"}, "2025-07-01T10:02:03Z")
    service_ip = sts(alice, "2025-07-01T10:02:04Z", ip="eks.amazonaws.com")
    tls_text = {**sts(alice, "2025-07-01T10:03:00Z"), "tlsDetails": "TLSv1.3"}
    region_list = {**sts(alice, "2025-07-01T10:03:01Z"), "awsRegion": ["us-east-1"]}
    account_object = sts({**user(A, "dave"), "accountId": {"id": A}}, "2025-07-01T10:03:02Z")
    context_text = sts({**role_session(A, "ops"), "sessionContext": "none"}, "2025-07-01T10:03:03Z")
    identity_text = {**sts(alice, "2025-07-01T10:03:04Z"), "userIdentity": "alice"}
    agent_number = {**sts(alice, "2025-07-01T10:03:05Z"), "userAgent": 42, "errorCode": {"code": "x"}}
    details_text = {**sts(alice, "2025-07-01T10:03:06Z"), "additionalEventData": "global"}
    twice = sts(role_session(A, "twice"), "2025-07-01T10:04:00Z", endpoint_type="global", serving="us-east-1")
    return [
        console, agent_only, service, invoked, service_ip,
        resource_copy("session-a", "lone-2"), resource_copy("session-b", "lone-3"), resource_copy("session-c", None),
        sts(instance("i-0aaaaaaaaaaaaaaa1"), "2025-07-01T10:01:01Z"),
        sts(instance("i-0aaaaaaaaaaaaaaa1"), "2025-07-01T10:01:02Z"),
        sts(instance("i-0bbbbbbbbbbbbbbb2"), "2025-07-01T10:01:03Z"),
        activity(instance("i-0bbbbbbbbbbbbbbb2"), T, "eu-west-1"),
        tls_text, region_list, account_object, context_text, identity_text, agent_number, details_text,
        sts(alice, "2025-07-01T25:00:00Z"), sts(alice, "2025-02-30T10:00:00Z"), sts(alice, "yesterday"),
        sts(alice, "2025-07-01T10:05:00.250Z"),
        sts(alice, "2025-07-01 10:07:00.000000000"),  # a SIEM export's form: no zone means UTC
        sts(alice, "2025-07-02T01:30:00+02:00"),  # 23:30Z on the 1st: inside
        sts(alice, "2025-07-01T01:00:00+02:00"),  # 23:00Z on 30 June: outside
        sts(alice, "2025-06-30T23:30:00-02:00"),  # 01:30Z on the 1st: inside
        sts(alice, "2025-07-01T23:30:00-02:00"),  # 01:30Z on the 2nd: outside
        twice, twice, {**activity(alice, T, "eu-west-1"), "eventID": "activity-1"},
        {**activity(alice, T, "eu-west-1"), "eventID": "activity-1"},
    ]


@pytest.fixture(scope="module")
def trail(tmp_path_factory):
    root = tmp_path_factory.mktemp("rules")
    day = root / "AWSLogs" / A / "CloudTrail" / "us-east-1" / "2025" / "07" / "01"
    first = records()
    write_trail(day / "f.json", first)
    write_trail(day / "g.json", [*first[:3], *first[-6:], sts(user(A, "erin"), "2025-07-01T10:06:00Z")])
    (day / "h.json").write_bytes((day / "f.json").read_bytes())  # a redelivered file
    return root


def local_rollup(trail, window, monkeypatch, batch_bytes):
    monkeypatch.setattr(local, "BATCH_BYTES", batch_bytes)
    return collect(validate({"source": "local", "path": trail, "cache": False, **window}))


def test_the_python_rules_on_the_edge_cases(trail, monkeypatch):
    window = {"start": "2025-07-01T00:00:00Z", "end": "2025-07-02T00:00:00Z"}
    one = local_rollup(trail, window, monkeypatch, local.BATCH_BYTES)
    assert_same_rollup(local_rollup(trail, window, monkeypatch, 1), one, ())  # one batch per file
    skipped = one.report.skipped
    with_ids = sum(1 for record in records() if "eventID" in record)
    outside = 1 + 2  # 2025-07-02T00:00:00Z and two offset times
    copies = with_ids - outside - 3  # h.json repeats every event of f.json with an id and a good time
    assert skipped[events.SKIP_DUPLICATE] == 2 + copies + 8  # 2 within f.json, 8 in g.json
    assert skipped[events.SKIP_BAD_TIME] == 3 * 2 and skipped[events.SKIP_SERVICE] == 7
    assert skipped[events.SKIP_OUTSIDE_WINDOW] == 3 * 2 + 1  # 3 in f.json and h.json, 1 in g.json
    principals = one.sts_calls.groupby("principal_arn").calls.sum()
    assert principals["principal:AROAEXAMPLE"] == 3
    assert principals[f"arn:aws:sts::{A}:assumed-role/aws:ec2-instance/i-0aaaaaaaaaaaaaaa1"] == 2
    assert principals[f"arn:aws:sts::{A}:assumed-role/aws:ec2-instance/i-0bbbbbbbbbbbbbbb2"] == 1
    assert principals[f"arn:aws:iam::{A}:role/twice"] == 1
    times = set(one.sts_calls.first_seen.dt.strftime("%H:%M:%S"))
    assert {"23:30:00", "01:30:00", "10:05:00"} <= times and "23:00:00" not in times
    assert one.report.to_dict()["duplicates_dropped"] == skipped[events.SKIP_DUPLICATE]


@pytest.mark.parametrize("accounts", ["", A])
@pytest.mark.parametrize("engine", ["lake", "athena"])
def test_sql_rules_equal_the_python_rules(engine, accounts, trail, aws_env):
    window = {"start": "2025-07-01T00:00:00Z", "end": "2025-07-02T00:00:00Z", "accounts": accounts}
    expected = collect(validate({"source": "local", "path": trail, **window}))
    service = LakeService(trail) if engine == "lake" else AthenaService(trail)
    extra = ({"event_data_store": STORE_ID} if engine == "lake" else
             {"database": "cloudtrail", "table": "cloudtrail_logs", "output_location": "s3://r/"})
    for _, url in serve(service):
        got = collect(validate({"source": engine, "endpoint_url": url, "aws_region": "us-east-1", **extra, **window}))
        record_level = RECORD_LEVEL | ({events.SKIP_BAD_TIME} if engine == "lake" else set())
        assert_same_rollup(got, expected, record_level)
        reasons = set(got.report.skipped)
        assert len(reasons) >= (8 if not accounts else 9) and events.SKIP_DUPLICATE in reasons
        assert (events.SKIP_BAD_TIME in reasons) == (engine == "athena")
