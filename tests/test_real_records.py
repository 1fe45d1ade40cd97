"""Every STS record of the public CloudTrail records in data/real/ (see its manifest.yaml), judged by hand.

Each expectation below was written by reading the record against the rules (README "How events
are judged" and the judging contract of issue 9), not by running the kit: global or Regional,
the caller's account and principal, or why it is not a caller. Each record is fed alone through
the local engine (so the judgement of one record never depends on another), then the whole
folder goes through ``make_plan`` for what only the plan shows.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from builders import write_trail
from kit.engines import collect
from kit.events import SKIP_NO_HOST, SKIP_SERVICE, STS_SOURCE
from kit.params import validate
from kit.plan import make_plan

REAL = Path(__file__).resolve().parent.parent / "data" / "real"
DERIVED = REAL / "derived"
WINDOW = {"start": "2014-01-01", "end": "2027-01-01"}


def regional(account, principal, errors=0):
    return ("regional", account, principal, errors)


def global_(account, principal, errors=0):
    return ("global", account, principal, errors)


def skipped(reason):
    return ("skipped", reason)


WHO = "607481580000"
STRATUS = "stratus-red-team/aws."
EXPECTED = {  # (file under derived/, index in Records) -> judgement
    # A role chain from a home ISP address through sts.amazonaws.com, 2021 (no endpointType): global.
    ("whodunnit/README.json", 0): global_(WHO, f"arn:aws:iam::{WHO}:role/whodunnit-e2e-Secondary"),  # caller's copy
    ("whodunnit/README.json", 1): global_(WHO, f"arn:aws:iam::{WHO}:role/whodunnit-e2e-Initial"),
    ("whodunnit/README.json", 2): global_(WHO, f"arn:aws:iam::{WHO}:user/asteele"),
    # AWS documentation examples: no tlsDetails at all, so the endpoint cannot be known.
    ("iam-user-guide/cloudtrail-integration.json", 1): skipped(SKIP_NO_HOST),  # IAMUser copy, cross-account
    ("iam-user-guide/cloudtrail-integration.json", 2): skipped(SKIP_NO_HOST),  # AWSAccount copy of the same call
    ("iam-user-guide/cloudtrail-integration.json", 3): skipped(SKIP_NO_HOST),  # role chaining
    # Panther fixtures.
    ("panther-analysis/aws_cloudtrail_useraccesskeyauth.json", 1):
        regional("187901811700", "arn:aws:iam::187901811700:user/exposed.user"),  # sts.us-east-1 host, ISP address
    ("panther-analysis/aws_iam_assume_role_blocklist_ignored.json", 0): skipped(SKIP_NO_HOST),
    ("panther-analysis/aws_iam_assume_role_blocklist_ignored.json", 1): skipped(SKIP_NO_HOST),
    ("panther-analysis/aws_iam_assume_role_blocklist_ignored.json", 2): skipped(SKIP_NO_HOST),  # ExpiredToken
    ("panther-analysis/aws_sts_getcalleridentity_trufflehog.json", 0): skipped(SKIP_NO_HOST),
    ("panther-analysis/aws_sts_getcalleridentity_trufflehog.json", 1): skipped(SKIP_NO_HOST),
    ("panther-analysis/aws_sts_getcalleridentity_trufflehog.json", 2): skipped(SKIP_NO_HOST),
    ("panther-analysis/aws_sts_getcalleridentity_trufflehog.json", 3): skipped(SKIP_NO_HOST),
    ("panther-analysis/aws_sts_getsessiontoken_misuse.json", 0): skipped(SKIP_NO_HOST),
    ("panther-analysis/aws_sts_getsessiontoken_misuse.json", 1): skipped(SKIP_NO_HOST),  # AccessDenied
    ("panther-analysis/aws_sts_getsessiontoken_misuse.json", 2): skipped(SKIP_NO_HOST),
    ("panther-analysis/aws_sts_getsessiontoken_misuse.json", 3): skipped(SKIP_NO_HOST),
    ("panther-analysis/role_assumed_by_aws_service.json", 0): skipped(SKIP_SERVICE),  # invokedBy lambda
    ("panther-analysis/role_assumed_by_user.json", 0): skipped(SKIP_SERVICE),  # the same event again
    # Stratus Red Team detonations: every call went to sts.<Region>.amazonaws.com (anonymized Regions).
    (STRATUS + "credential-access.ec2-get-password-data.json", 30):
        regional("457448411975", "arn:aws:iam::457448411975:user/christophe"),
    (STRATUS + "credential-access.ec2-get-password-data.json", 31):
        regional("457448411975", "arn:aws:iam::457448411975:user/christophe"),
    (STRATUS + "credential-access.ec2-get-password-data.json", 32):
        regional("457448411975", "arn:aws:iam::457448411975:user/christophe", errors=1),  # AccessDenied
    (STRATUS + "credential-access.ec2-get-password-data.json", 33):
        regional("457448411975", "arn:aws:iam::457448411975:user/christophe", errors=1),  # AccessDenied
    (STRATUS + "credential-access.ec2-steal-instance-credentials.json", 5):  # a role session named after an instance
        regional("017622104382", "arn:aws:iam::017622104382:role/stratus-red-team-ec2-steal-credentials-role"),
    (STRATUS + "defense-evasion.organizations-leave.json", 0):
        regional("307578594326", "arn:aws:iam::307578594326:user/christophe"),
    (STRATUS + "defense-evasion.organizations-leave.json", 2):
        regional("307578594326", "arn:aws:iam::307578594326:user/christophe"),
    (STRATUS + "discovery.ec2-download-user-data.json", 6):
        regional("321848314756", "arn:aws:iam::321848314756:user/christophe"),
    (STRATUS + "discovery.ec2-download-user-data.json", 7):
        regional("321848314756", "arn:aws:iam::321848314756:user/christophe"),
    (STRATUS + "discovery.ec2-download-user-data.json", 8):
        regional("321848314756", "arn:aws:iam::321848314756:user/christophe", errors=1),
    (STRATUS + "discovery.ec2-download-user-data.json", 9):
        regional("321848314756", "arn:aws:iam::321848314756:user/christophe", errors=1),
    (STRATUS + "execution.ec2-launch-unusual-instances.json", 1):  # sourceIPAddress "06.237.252.245"
        regional("900138736586", "arn:aws:iam::900138736586:user/christophe"),
    (STRATUS + "execution.ec2-launch-unusual-instances.json", 2):
        regional("900138736586", "arn:aws:iam::900138736586:user/christophe"),
    (STRATUS + "persistence.iam-create-user-login-profile.json", 0):
        regional("070411556318", "arn:aws:iam::070411556318:user/christophe"),
    (STRATUS + "persistence.sts-federation-token.json", 0):
        regional("742491224508", "arn:aws:iam::742491224508:user/stratus-red-team-user-federation-user"),
    (STRATUS + "persistence.sts-federation-token.json", 1):  # the FederatedUser: the user behind it
        regional("742491224508", "arn:aws:iam::742491224508:user/stratus-red-team-user-federation-user"),
}
ISSUE_9_RULES = {
    # R3: only the resource account's copy (type AWSAccount, principalId ROLEID:session) -> the role id.
    ("panther-analysis/aws_ec2_many_passwors_read_attempts.json", 2):
        regional("111122223333", "principal:SAMPLE_PRINCIPAL_ID"),
}


def records(relative: str) -> list:
    return json.loads((DERIVED / relative).read_text())["Records"]


def sts_records() -> list[tuple[str, int]]:
    """(file, index) of every STS record in the derived trail files that parse."""
    found = []
    for path in sorted(DERIVED.rglob("*.json")):
        try:
            content = records(str(path.relative_to(DERIVED)))
        except json.JSONDecodeError:
            continue
        found += [(str(path.relative_to(DERIVED)), index) for index, record in enumerate(content)
                  if isinstance(record, dict) and record.get("eventSource") == STS_SOURCE]
    return found


def judge(tmp_path: Path, record: dict) -> tuple:
    """The engine's judgement of one record alone: its STS rollup row, or why it was skipped."""
    write_trail(tmp_path / "trail" / "one.json", [record])
    rollup = collect(validate({"source": "local", "path": tmp_path / "trail", **WINDOW, "quiet": True,
                               "cache": False, "workers": 1}))
    rows = rollup.sts_calls
    if len(rows):
        assert len(rows) == 1 and int(rows.calls.iloc[0]) == 1
        row = rows.iloc[0]
        return (row.endpoint, row.account_id, row.principal_arn, int(row.errors))
    reasons = [reason for reason, count in rollup.report.skipped.items() if count]
    assert len(reasons) == 1, rollup.report.skipped
    return skipped(reasons[0])


def test_every_sts_record_has_an_expectation():
    assert sorted(sts_records()) == sorted([*EXPECTED, *ISSUE_9_RULES])


@pytest.mark.parametrize("where", list(EXPECTED), ids=[f"{file}#{index}" for file, index in EXPECTED])
def test_each_sts_record_is_judged_as_read_by_hand(tmp_path, where):
    file, index = where
    assert judge(tmp_path, records(file)[index]) == EXPECTED[where]


@pytest.mark.parametrize("where", list(ISSUE_9_RULES), ids=[f"{file}#{index}" for file, index in ISSUE_9_RULES])
def test_sts_records_judged_by_the_issue_9_rules(tmp_path, where):
    file, index = where
    assert judge(tmp_path, records(file)[index]) == ISSUE_9_RULES[where]


@pytest.fixture(scope="module")
def plan():
    return make_plan(validate({"source": "local", "path": DERIVED, **WINDOW, "quiet": True, "cache": False}))


def test_the_whole_folder_is_read_and_the_broken_examples_named(plan):
    summary = plan.summary
    assert summary["files_read"] == len(list(DERIVED.rglob("*.json"))) - 2
    assert sorted(Path(name).name for name in summary["invalid_files"]) == [
        "cloudtrail-integration-unparseable-0.json", "cloudtrail-integration-unparseable-1.json"]
    # Every event with a repeated eventID is one the rules skip anyway (no host header, AWS service,
    # global-service sign-in): however duplicates are counted, these reasons cover the same 24 events.
    skipped_events = summary["events_skipped"]
    assert sum(count for reason, count in skipped_events.items()
               if reason in (SKIP_NO_HOST, SKIP_SERVICE) or reason.startswith(("duplicate", "global-service"))) == 24


def test_the_callers_are_the_role_chain_through_the_global_endpoint(plan):
    callers = plan.callers.set_index("principal_arn")
    assert sorted(callers.index) == sorted(expected[2] for expected in EXPECTED.values() if expected[0] == "global")
    assert set(callers.account_id) == {WHO} and list(callers.global_calls) == [1, 1, 1]
    assert set(callers.served_in) == {"us-east-1"}  # before 2025: no awsServingRegion, the global endpoint's home
    assert set(callers.event_names) == {"AssumeRole"}


def test_an_isp_address_is_outside_aws_and_p1_out_of_the_box(plan):
    """101.176.82.246 is a home ISP address: outside AWS with no --ip-ranges given, so priority P1."""
    assert set(plan.callers.origin) == {"outside-aws"} and set(plan.callers.priority) == {"P1"}


def test_regional_buckets_hold_the_regional_calls(plan):
    peaks = {(row.account_id, row.region, row.bucket): int(row.peak_rps_now) for row in plan.quota.itertuples()}
    assert peaks == {
        ("017622104382", "us-north-2r", "regional"): 1, ("070411556318", "ap-central-2r", "regional"): 1,
        ("111122223333", "us-east-1", "regional"): 1, ("187901811700", "us-east-1", "regional"): 1,
        ("307578594326", "euiso-south-3r", "regional"): 1, ("321848314756", "apiso-westcentral-3r", "regional"): 2,
        ("457448411975", "apiso-northsouth-3r", "regional"): 2, (WHO, "us-east-1", "global"): 3,
        ("742491224508", "ap-isob-east-1r", "regional"): 1, ("900138736586", "ca-south-3r", "regional"): 1}


def test_the_manifest_names_every_published_file_and_its_licence():
    manifest = yaml.safe_load((REAL / "manifest.yaml").read_text())
    for folder, source in manifest["sources"].items():
        assert source["licence"] and source["repository"].startswith("https://github.com/")
        published = sorted(p.name for p in (REAL / folder).iterdir() if p.name not in ("LICENSE", "LICENSE.txt", "NOTICE"))
        assert published == sorted(Path(entry["path"]).name for entry in source["files"])
        assert any((REAL / folder / name).exists() for name in ("LICENSE", "LICENSE.txt"))


def test_the_derived_records_are_the_published_ones_unchanged():
    for published in (REAL / "stratus-red-team").glob("*.json"):
        assert records(f"stratus-red-team/{published.name}") == json.loads(published.read_text())
    for published in (REAL / "panther-analysis").glob("*.yml"):
        tests = yaml.safe_load(published.read_text())["Tests"]
        assert records(f"panther-analysis/{published.stem}.json") == [test["Log"] for test in tests]
    readme = (REAL / "whodunnit" / "README.md").read_text()
    trails = records("whodunnit/README.json")
    assert len(trails) == 3 and all(f'"eventID": "{record["eventID"]}"' in readme for record in trails)
