"""The SQL rules equal the Python rules of kit.events on hand-made edge cases (both dialects)."""
from __future__ import annotations

import pytest

from aws_endpoints import serve, assert_same_rollup, aws_env  # noqa: F401
from builders import activity, role_session, sts, user, write_trail
from kit.engines import collect
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
    ]


@pytest.fixture(scope="module")
def trail(tmp_path_factory):
    root = tmp_path_factory.mktemp("rules")
    write_trail(root / "AWSLogs" / A / "CloudTrail" / "us-east-1" / "2025" / "07" / "01" / "f.json", records())
    return root


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
        assert_same_rollup(got, expected)
        assert len(got.report.skipped) >= (7 if not accounts else 8)
