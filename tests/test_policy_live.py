"""The live policy source: real boto3 clients against moto's Organizations and IAM in server mode on
loopback, with tests/local_aws.py for what moto lacks (token version 2, access denied)."""
import json

import pandas as pd
import pytest

from kit.params import validate
from kit.policy.annotate import annotate
from kit.policy.live import load_live
from local_aws import LocalAws, moto_on_loopback

MANAGEMENT = "123456789012"  # moto's default account: the organization's management account
DENY = {"Version": "2012-10-17", "Statement": [{
    "Sid": "DenyOthers", "Effect": "Deny", "NotAction": ["iam:*", "organizations:*"], "Resource": "*",
    "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}}}]}


def document(statements):
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


@pytest.fixture(scope="module")
def aws():
    """Dummy credentials in-process only, no shared config files, and a moto server on 127.0.0.1."""
    with pytest.MonkeyPatch.context() as patch, moto_on_loopback(patch) as url:
        yield url


@pytest.fixture(scope="module")
def org(aws):
    """An organization: root (FullAWSAccess) > identity OU (FullAWSAccess + DenyOutsideApprovedRegions) > account."""
    import boto3

    client = boto3.client("organizations", endpoint_url=aws, region_name="us-east-1")
    client.create_organization(FeatureSet="ALL")
    root = client.list_roots()["Roots"][0]["Id"]
    client.enable_policy_type(RootId=root, PolicyType="SERVICE_CONTROL_POLICY")
    unit = client.create_organizational_unit(ParentId=root, Name="identity")["OrganizationalUnit"]["Id"]
    account = client.create_account(Email="identity@example.com", AccountName="identity")["CreateAccountStatus"]["AccountId"]
    client.move_account(AccountId=account, SourceParentId=root, DestinationParentId=unit)
    policy = client.create_policy(Content=json.dumps(DENY), Description="regions", Name="DenyOutsideApprovedRegions",
                                  Type="SERVICE_CONTROL_POLICY")["Policy"]["PolicySummary"]["Id"]
    client.attach_policy(PolicyId=policy, TargetId=unit)
    iam = boto3.client("iam", endpoint_url=aws, region_name="us-east-1")
    iam.create_role(RoleName="sso-broker", AssumeRolePolicyDocument=document([]))
    managed = iam.create_policy(PolicyName="ReadOnly", PolicyDocument=document(
        [{"Effect": "Allow", "Action": ["s3:Get*"], "Resource": "*"}]))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="sso-broker", PolicyArn=managed)
    iam.put_role_policy(RoleName="sso-broker", PolicyName="sts-home", PolicyDocument=document([
        {"Sid": "StsAtHome", "Effect": "Allow", "Action": "sts:*", "Resource": "*",
         "Condition": {"StringEquals": {"aws:RequestedRegion": "us-east-1"}}}]))
    return {"root": root, "ou": unit, "account": account, "policy": policy}


def caller(account, region="us-west-2"):
    return pd.DataFrame([{"account_id": account, "principal_arn": f"arn:aws:iam::{account}:role/sso-broker",
                          "workload_region": region, "target_endpoint": f"https://sts.{region}.amazonaws.com",
                          "event_names": "AssumeRole;GetCallerIdentity", "risks": "", "region_note": ""}])


def test_scps_along_the_path_and_the_token_version_from_moto(aws, org):
    found = load_live(validate({"policy_source": "live", "endpoint_url": aws}),
                      {org["account"]: [], MANAGEMENT: []})
    member, management = found[org["account"]], found[MANAGEMENT]
    assert member.problem == "" and member.path == (org["root"], org["ou"], org["account"])
    assert [p.id for p in member.scps[org["ou"]]] == ["p-FullAWSAccess", org["policy"]]
    assert member.names[org["ou"]] == f"identity OU ({org['ou']})"
    assert management.path == (org["root"], MANAGEMENT) and management.scps == {}  # SCPs skip the management account
    assert management.token_version == "v1Token"  # moto always reports 1
    assert member.token_version is None and "only the credentials' account" in member.token_problem


def test_live_findings_name_the_scp_statement(aws, org):
    found = load_live(validate({"policy_source": "live", "endpoint_url": aws}), {org["account"]: []})
    table, summary = annotate(caller(org["account"]), "live", found)
    row = table.iloc[0]
    assert row.policy_check == "checked" and row.policy_outcome == "denied-after"
    assert f"scp {org['policy']} 'DenyOutsideApprovedRegions' statement DenyOthers: denies sts:AssumeRole" \
        in row.policy_findings
    assert "requested-region-policy" in row.risks and summary["callers_flagged"] == 1
    assert annotate(caller(org["account"], "eu-west-1"), "live", found)[0].iloc[0].policy_outcome == "unchanged"


def test_token_version_two_from_a_local_iam_endpoint(aws, org):
    with LocalAws(aws, token_version=2) as local:
        found = load_live(validate({"policy_source": "live", "endpoint_url": local.url}),
                          {org["account"]: [], MANAGEMENT: []})
    assert found[MANAGEMENT].token_version == "v2Token"
    assert {"DescribeOrganization", "ListRoots", "ListParents", "ListOrganizationalUnitsForParent",
            "ListPoliciesForTarget", "DescribePolicy", "GetAccountSummary"} <= set(local.seen)


@pytest.mark.parametrize("denied, permission", [
    ("ListPoliciesForTarget", "organizations:ListPoliciesForTarget"),
    ("ListParents", "organizations:ListParents"),
    ("ListRoots", "organizations:ListRoots"),
    ("DescribeOrganization", "organizations:DescribeOrganization"),
])
def test_access_denied_is_not_checked_never_no_risk(aws, org, denied, permission):
    with LocalAws(aws, deny=(denied,)) as local:
        found = load_live(validate({"policy_source": "live", "endpoint_url": local.url}), {org["account"]: []})
    assert found[org["account"]].problem == f"missing permission {permission}"
    table, summary = annotate(caller(org["account"]), "live", found)
    row = table.iloc[0]
    assert row.policy_check == f"not checked: missing permission {permission}"
    assert row.policy_outcome == "" and "requested-region-policy" not in row.risks
    assert summary["accounts_not_checked"] == {org["account"]: f"missing permission {permission}"}


def test_denied_token_read_names_the_iam_permission(aws, org):
    with LocalAws(aws, deny=("GetAccountSummary",)) as local:
        found = load_live(validate({"policy_source": "live", "endpoint_url": local.url}), {MANAGEMENT: []})
    assert found[MANAGEMENT].problem == "" and found[MANAGEMENT].token_version is None
    assert found[MANAGEMENT].token_problem == "missing permission iam:GetAccountSummary"


def test_unknown_profile_degrades_to_not_checked(aws):
    found = load_live(validate({"policy_source": "live", "aws_profile": "nosuchprofile", "endpoint_url": aws}),
                      {MANAGEMENT: []})
    assert "nosuchprofile" in found[MANAGEMENT].problem


ROLE = f"arn:aws:iam::{MANAGEMENT}:role/sso-broker"


def test_identity_policies_of_the_callers_role(aws, org):
    found = load_live(validate({"policy_source": "live", "endpoint_url": aws}), {MANAGEMENT: [ROLE]})
    assert [p.id for p in found[MANAGEMENT].identity[ROLE]] == ["ReadOnly", "sso-broker/sts-home"]
    row = annotate(caller(MANAGEMENT), "live", found)[0].iloc[0]
    assert row.policy_outcome == "denied-after"
    assert "identity sso-broker/sts-home statement StsAtHome allows it only in other Regions" in row.policy_findings


def test_denied_identity_read_keeps_the_scp_check(aws, org):
    with LocalAws(aws, deny=("ListAttachedRolePolicies",)) as local:
        found = load_live(validate({"policy_source": "live", "endpoint_url": local.url}), {MANAGEMENT: [ROLE]})
    row = annotate(caller(MANAGEMENT), "live", found)[0].iloc[0]
    assert row.policy_check == "checked; identity policies not checked: missing permission iam:ListAttachedRolePolicies"
