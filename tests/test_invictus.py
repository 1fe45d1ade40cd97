"""The plan on real, unedited CloudTrail logs (Invictus IR, MIT): what an analyst writes by hand.

One account, us-east-1 only, July 2023 (before the STS change). 64 STS events: 13
GetCallerIdentity calls by Terraform to sts.amazonaws.com, 25 calls to
sts.us-east-1.amazonaws.com (Stratus Red Team, Go SDK), 26 by AWS services (no host).
"""
from pathlib import Path

import pytest

from kit.params import validate
from kit.plan import make_plan

INVICTUS = Path(__file__).resolve().parent.parent / "data" / "invictus-aws-2023" / "CloudTrail"


@pytest.fixture(scope="module")
def plan():
    return make_plan(validate({"source": "local", "path": INVICTUS, "start": "2023-07-10",
                               "end": "2023-07-11", "quiet": True}))


def test_every_file_and_event_is_read(plan):
    assert (plan.summary["files_read"], plan.summary["files_invalid"], plan.summary["events_read"]) == (55, 0, 2900)
    assert plan.summary["events_skipped"]["STS call made by an AWS service for you (not a caller)"] == 26


def test_the_one_caller_is_terraform_in_us_east_1(plan):
    assert len(plan.callers) == 1
    caller = plan.callers.iloc[0]
    assert caller.principal_arn == "arn:aws:iam::123837392027:user/bert-jan"
    assert (caller.caller_tool, caller.caller_version) == ("terraform", "3.76.1")
    assert (caller.global_calls, caller.error_calls) == (13, 0)
    assert caller.event_names == "GetCallerIdentity"
    assert (caller.served_in, caller.workload_region, caller.priority) == ("us-east-1", "us-east-1", "P3")
    assert caller.risks == "pre-2025-only"
    assert caller.target_endpoint == "https://sts.us-east-1.amazonaws.com"
    assert 'sts_region = "us-east-1"' in caller.fix


def test_regional_callers_are_not_in_the_plan_but_fill_the_regional_bucket(plan):
    quota = plan.quota.set_index("bucket")
    assert quota.loc["regional", "peak_rps_now"] >= 1
    assert quota.loc["global", "peak_rps_now"] == plan.callers.peak_rps.iloc[0]
