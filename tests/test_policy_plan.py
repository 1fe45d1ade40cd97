"""The policy check in the samples' plan: one unsafe move and one that depends on an unknown Region, explained;
a move an SCP denies today and allows after; offline degradation; parameters."""
import json
import shutil

import pandas as pd
import pytest

from kit.breakage import BREAKAGE_COLUMNS
from kit.callers import CALLER_COLUMNS
from kit.errors import ParameterError
from kit.params import SAMPLES_DIR, validate
from kit.engines import collect
from kit.plan import make_plan, plan_from_rollup
from kit.policy.annotate import POLICY_COLUMNS
from kit.policy.moves import judge_move
from kit.policy.offline import load_offline
from kit.report import write_plan


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    plan = make_plan(validate({"quiet": True}))
    out = tmp_path_factory.mktemp("plan")
    write_plan(plan, out)
    return plan, out


@pytest.fixture(scope="module")
def rollup():
    """The samples' rollup, read once for the variants below."""
    return collect(validate({"quiet": True}))


def variant(rollup, **values):
    return plan_from_rollup(rollup, validate({"quiet": True, **values}))


def by_role(plan, role):
    return plan.callers[plan.callers.principal_arn.str.endswith(f"role/{role}")].iloc[0]


def test_samples_flag_exactly_the_sso_broker_move_with_the_deciding_statement(samples):
    plan, _ = samples
    flagged = plan.callers[plan.callers.risks.str.contains("requested-region-policy")]
    assert list(flagged.principal_arn) == ["arn:aws:iam::333344445555:user/perf-harness",
                                           "arn:aws:iam::444455556666:role/sso-broker"]
    row = flagged.iloc[1]
    assert row.policy_outcome == "denied-after" and row.workload_region == "us-west-2"
    assert row.policy_findings == (
        "scp p-ids4m8w1z 'DenyOutsideApprovedRegions' statement DenyOthers: denies sts:AssumeRole "
        "in us-west-2 after the move; allowed today only because the global endpoint "
        "reports us-east-1")
    harness = flagged.iloc[0]  # C17: outside AWS, no workload Region; ci-tools denies AssumeRole in ap-*
    assert harness.policy_outcome == "region-dependent" and harness.workload_region == ""
    assert harness.policy_findings.startswith("scp p-cit6h1j4c 'DenyAssumeRoleInApac' statement DenyAssumeInApac: "
                                              "denies sts:AssumeRole in ap-northeast-1, ")


def test_a_global_call_an_scp_denies_today_is_allowed_after_the_move(samples):
    row = by_role(samples[0], "gdpr-export")  # C18: its AssumeRole calls end in scp-deny
    assert row.policy_outcome == "allowed-after" and "requested-region-policy" not in row.risks
    assert row.policy_findings == ("scp p-pay4g8d2r 'GdprRolesStayInEu' statement GdprRolesStayInEu: denies "
                                   "sts:AssumeRole in us-east-1 today; allowed in eu-west-2 after the move")


def test_not_action_exempted_move_is_not_flagged_but_explained(samples):
    row = by_role(samples[0], "settlement-batch")
    assert row.workload_region == "eu-north-1" and "requested-region-policy" not in row.risks
    assert row.policy_outcome == "unchanged"
    assert "p-pay7x2kq9 'PaymentsRegionGuard'" in row.policy_findings and "NotAction exemption" in row.policy_findings


def test_token_and_region_config_codes(samples):
    plan, _ = samples
    assert "token-v1" in by_role(plan, "hk-ingest").risks.split(";")
    assert "not valid in opt-in ap-east-1" in by_role(plan, "hk-ingest").token_note
    assert [arn for arn, risks in zip(plan.callers.principal_arn, plan.callers.risks) if "token-v1" in risks] == \
        ["arn:aws:iam::222233334444:role/hk-ingest", "arn:aws:iam::222233334444:role/hk-settlement-feed"]
    assert "region-config" in by_role(plan, "sso-broker").risks.split(";")
    movers = plan.callers[plan.callers.target_endpoint != ""]
    assert movers.token_note.str.len().gt(0).all()
    assert set(plan.callers.policy_check) == {"checked"}


def test_plan_files_keep_the_columns_and_carry_the_policy(samples):
    plan, out = samples
    written = pd.read_csv(out / "plan.csv")
    assert list(written.columns) == CALLER_COLUMNS + ["wave"] + POLICY_COLUMNS + BREAKAGE_COLUMNS
    policy = plan.summary["policy"]
    assert policy["accounts_checked"] == ["111122223333", "222233334444", "333344445555", "444455556666"]
    assert policy["findings"] == 2 and policy["callers_flagged"] == 2 and policy["accounts_not_checked"] == {}
    assert policy["token_versions"]["222233334444"] == "v1Token"
    markdown = (out / "plan.md").read_text()
    assert "- Policies (checked): denied-after — scp p-ids4m8w1z 'DenyOutsideApprovedRegions' statement DenyOthers" \
        in markdown


def test_malformed_policy_marks_its_account_not_checked_and_the_plan_is_still_made(tmp_path, rollup):
    folder = tmp_path / "policies"
    shutil.copytree(SAMPLES_DIR / "policies", folder)
    (folder / "scp-identity-deny-outside-approved.json").write_text('{"Policy": {"Content": "{\\"Statement\\": [')
    plan = variant(rollup, policies=str(folder))
    broker = by_role(plan, "sso-broker")
    assert broker.policy_check.startswith("not checked: policy scp scp-identity-deny-outside-approved.json: "
                                          "not valid JSON")
    assert "requested-region-policy" not in broker.risks and broker.policy_outcome == ""
    assert set(plan.callers[plan.callers.account_id != "444455556666"].policy_check) == {"checked"}
    assert list(plan.policy["accounts_not_checked"]) == ["444455556666"]


@pytest.mark.parametrize("content, reason", [
    ('{"Statement": {"Sid": "Région", "Effect": "Deny", "Action": "*"}}'.encode("latin-1"),
     "scp-identity-deny-outside-approved.json: is not UTF-8"),
    (b"[" * 100_000, "scp-identity-deny-outside-approved.json: is nested too deeply"),
    (b'{"Statement": {"Effect": "Deny", "Action": "*", "Condition": [1]}}',
     "scp-identity-deny-outside-approved: statement 0: Condition must be an object of operators, got a list"),
])
def test_unreadable_policy_files_leave_the_plan_written(tmp_path, rollup, content, reason):
    folder = tmp_path / "policies"
    shutil.copytree(SAMPLES_DIR / "policies", folder)
    (folder / "scp-identity-deny-outside-approved.json").write_bytes(content)
    plan = variant(rollup, policies=str(folder), out_dir=str(tmp_path / "out"))
    broker = by_role(plan, "sso-broker")
    assert broker.policy_check.startswith("not checked: policy scp ") and reason in broker.policy_check
    assert set(plan.callers[plan.callers.account_id != "444455556666"].policy_check) == {"checked"}
    write_plan(plan, tmp_path / "out")
    assert "not checked: policy scp" in (tmp_path / "out" / "plan.csv").read_text()


def test_account_missing_from_the_mapping_is_not_checked(tmp_path, rollup):
    folder = tmp_path / "policies"
    shutil.copytree(SAMPLES_DIR / "policies", folder)
    mapping = folder / "mapping.yaml"
    mapping.write_text(mapping.read_text().replace('  "333344445555": {path: [r-a1b2, ou-a1b2-citools1]}\n', ""))
    plan = variant(rollup, policies=str(folder))
    assert set(plan.callers[plan.callers.account_id == "333344445555"].policy_check) == \
        {"not checked: account not in mapping.yaml"}


def test_policy_parameters():
    assert validate({}).policy_source == "offline" and validate({}).policies == SAMPLES_DIR / "policies"
    assert validate({"policy_source": "none"}).policies is None
    local = {"source": "local", "path": "/tmp", "start": "2025-07-01", "end": "2025-07-02"}
    assert validate(local).policy_source == "none"
    assert validate({**local, "policy_source": "live"}).policy_source == "live"
    with pytest.raises(ParameterError, match="'policy_source': 'scp' is not one of none, offline, live"):
        validate({"policy_source": "scp"})
    with pytest.raises(ParameterError, match="'policies': required for policy_source 'offline'"):
        validate({**local, "policy_source": "offline"})
    with pytest.raises(ParameterError, match="not a folder"):
        validate({"policies": "/does/not/exist"})


def test_no_policies_given_still_adds_token_and_region_notes(rollup):
    plan = variant(rollup, policy_source="none")
    assert set(plan.callers.policy_check) == {"no policies given"}
    assert "requested-region-policy" not in ";".join(plan.callers.risks)
    assert "region-config" in by_role(plan, "sso-broker").risks
    assert plan.policy["source"] == "none"


def test_offline_identity_and_vpc_endpoint_policies_are_layers(tmp_path):
    (tmp_path / "full.json").write_text('{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}')
    (tmp_path / "role.json").write_text('{"Statement": [{"Sid": "HomeOnly", "Effect": "Allow", "Action": "sts:*", '
                                        '"Resource": "*", "Condition": {"StringEquals": '
                                        '{"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}}}]}')
    (tmp_path / "vpce.json").write_text('{"Statement": [{"Sid": "NoWest2", "Effect": "Deny", "Action": "sts:*", '
                                        '"Resource": "*", "Condition": {"StringLike": {"aws:RequestedRegion": "*-west-2"}}},'
                                        '{"Effect": "Allow", "Action": "*", "Resource": "*"}]}')
    (tmp_path / "mapping.json").write_text(json.dumps({
        "management_account": "999999999999",
        "targets": {"r-1": ["full.json"], "999999999999": ["vpce.json"]},
        "accounts": {"111122223333": {"path": ["r-1"], "token_version": "v3"}, "999999999999": {"path": ["r-1"]}},
        "identity": {"arn:aws:iam::111122223333:role/app": ["role.json"]},
        "vpc_endpoints": {"111122223333": ["vpce.json"]}}))
    found = load_offline(tmp_path, ["111122223333", "999999999999"])
    account, management = found["111122223333"], found["999999999999"]
    assert account.token_version is None and account.token_problem == "unknown token_version 'v3'"
    assert [layer.name for layer in account.layers("arn:aws:iam::111122223333:role/app")] == [
        "SCPs on r-1", "identity policies of arn:aws:iam::111122223333:role/app", "VPC endpoint policies"]
    west2 = judge_move(account, "arn:aws:iam::111122223333:role/app", ["sts:AssumeRole"], "us-west-2")
    assert west2.outcome == "denied-after" and "vpc-endpoint vpce statement NoWest2: denies" in west2.findings[0]
    central = judge_move(account, "arn:aws:iam::111122223333:role/app", ["sts:AssumeRole"], "eu-central-1")
    assert "identity role statement HomeOnly allows it only in other Regions" in central.findings[0]
    assert judge_move(account, "arn:aws:iam::111122223333:role/other", ["sts:AssumeRole"], "eu-central-1").outcome \
        == "unchanged"
    assert management.scps == {} and management.layers("arn:aws:iam::999999999999:role/x") == ()


@pytest.mark.parametrize("text, fragment", [
    ("accounts: [1, 2]\n", "needs an 'accounts' section"),
    ("accounts: {}\ntargets: [a]\n", "'targets' must be a mapping"),
    ("accounts: {: [\n", "cannot be read"),
])
def test_malformed_mapping_marks_every_account_not_checked(tmp_path, text, fragment):
    (tmp_path / "mapping.yaml").write_text(text)
    found = load_offline(tmp_path, ["111122223333"])
    assert fragment in found["111122223333"].problem
    assert load_offline(tmp_path / "nowhere", ["111122223333"])["111122223333"].problem.endswith(
        "no mapping.yaml or mapping.yml or mapping.json found; add one that maps root/OU/account ids to policy files")
