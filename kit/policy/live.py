"""Live policies: SCPs from AWS Organizations and the token setting from IAM, through boto3.

Organizations: DescribeOrganization (SCPs never apply to the management account), ListRoots
(is the SCP policy type enabled?), ListParents (each account's path),
ListOrganizationalUnitsForParent (OU names), ListPoliciesForTarget and DescribePolicy (the SCPs),
all paginated where botocore has a paginator. IAM, for the credentials' account only:
GetAccountSummary (``GlobalEndpointTokenVersion``) and the managed and inline policies of the
callers' roles (permissions boundaries and session policies are not read). Access denied marks
accounts "not checked" with the missing permission named, never "no risk".
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from kit.errors import PolicyError
from kit.params import Params
from kit.policy.account import AccountPolicies, token_version
from kit.policy.document import Policy, parse_policy

ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
SCP = "SERVICE_CONTROL_POLICY"


def problem(error: Exception, client: Any) -> str:
    """Why a call failed, naming the missing permission for access denied."""
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        if code in ACCESS_DENIED:
            return f"missing permission {client.meta.service_model.service_name}:{error.operation_name}"
        return f"{error.operation_name} failed: {code}: {error.response.get('Error', {}).get('Message', '')}"
    return str(error)


def clients(params: Params) -> tuple[Any, Any, Any]:
    """Organizations, IAM and STS clients with the run's profile, Region and endpoint."""
    session = boto3.Session(profile_name=params.aws_profile, region_name=params.aws_region or "us-east-1")
    return tuple(session.client(name, endpoint_url=params.endpoint_url) for name in ("organizations", "iam", "sts"))


class Organization:
    """Read-only view of an organization's SCPs; each policy is described once."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.policies: dict[str, Policy] = {}
        self.names: dict[str, str] = {}
        self.management = ""

    def _pages(self, operation: str, key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        for page in self.client.get_paginator(operation).paginate(**kwargs):
            yield from page[key]

    def read_organization(self) -> bool:
        """Note the management account; whether the SCP policy type is enabled (else no SCP applies)."""
        self.management = self.client.describe_organization()["Organization"]["MasterAccountId"]
        roots = list(self._pages("list_roots", "Roots"))
        for root in roots:
            self.names[root["Id"]] = root.get("Name", root["Id"])
        return any(kind["Type"] == SCP and kind["Status"] == "ENABLED"
                   for root in roots for kind in root.get("PolicyTypes", []))

    def path(self, account: str) -> tuple[str, ...]:
        """Root first, then the OUs, then the account itself."""
        path, child = [account], account
        while True:
            parent = next(self._pages("list_parents", "Parents", ChildId=child))
            path.insert(0, parent["Id"])
            if parent["Type"] == "ROOT":
                break
            child = parent["Id"]
        for parent in path[:-2]:
            for unit in self._pages("list_organizational_units_for_parent", "OrganizationalUnits", ParentId=parent):
                self.names[unit["Id"]] = f"{unit.get('Name', unit['Id'])} OU ({unit['Id']})"
        return tuple(path)

    def scps(self, target: str) -> tuple[Policy, ...]:
        """The SCPs attached to a root, OU or account."""
        out = []
        for summary in self._pages("list_policies_for_target", "Policies", TargetId=target, Filter=SCP):
            if summary["Id"] not in self.policies:
                content = self.client.describe_policy(PolicyId=summary["Id"])["Policy"]["Content"]
                self.policies[summary["Id"]] = parse_policy(content, "scp", summary["Id"], summary.get("Name", ""))
            out.append(self.policies[summary["Id"]])
        return tuple(out)


def role_policies(iam: Any, role_arn: str) -> tuple[Policy, ...]:
    """The managed and inline policies of a role."""
    name = role_arn.rsplit("/", 1)[-1]
    out = []
    for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=name):
        for attached in page["AttachedPolicies"]:
            version = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]["DefaultVersionId"]
            document = iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=version)
            out.append(parse_policy(document["PolicyVersion"]["Document"], "identity", attached["PolicyName"]))
    for page in iam.get_paginator("list_role_policies").paginate(RoleName=name):
        for policy_name in page["PolicyNames"]:
            document = iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"]
            out.append(parse_policy(document, "identity", f"{name}/{policy_name}"))
    return tuple(out)


def read_identity(iam: Any, principals: Iterable[str]) -> tuple[dict[str, tuple[Policy, ...]], str]:
    """Policies of the roles among ``principals``, and why they could not be read ('' if they could)."""
    try:
        return {arn: role_policies(iam, arn) for arn in principals if ":role/" in arn}, ""
    except (ClientError, BotoCoreError) as error:
        return {}, problem(error, iam)


def read_token_version(iam: Any, sts: Any) -> tuple[str | None, str | None, str]:
    """(credentials' account, its token version, problem) from IAM GetAccountSummary."""
    try:
        account = sts.get_caller_identity()["Account"]
    except (ClientError, BotoCoreError) as error:
        return None, None, problem(error, sts)
    try:
        summary = iam.get_account_summary()["SummaryMap"]
    except (ClientError, BotoCoreError) as error:
        return account, None, problem(error, iam)
    version = token_version(summary.get("GlobalEndpointTokenVersion"))
    return account, version, "" if version else "GetAccountSummary has no GlobalEndpointTokenVersion"


def _account(org: Organization, iam: Any, account: str, principals: Iterable[str], enabled: bool,
             token: tuple[str | None, str | None, str]) -> AccountPolicies:
    path = org.path(account)
    scps = {target: org.scps(target) for target in path} if enabled and account != org.management else {}
    owner, version, trouble = token
    identity, identity_problem = read_identity(iam, principals) if owner == account else ({}, "")
    if owner != account:
        version, trouble = None, trouble or f"IAM reports only the credentials' account {owner}"
    return AccountPolicies(account, path, scps, dict(org.names), identity, token_version=version,
                           token_problem=trouble, identity_problem=identity_problem)


def _everyone(accounts: list[str], reason: str) -> dict[str, AccountPolicies]:
    return {account: AccountPolicies(account, problem=reason) for account in accounts}


def load_live(params: Params, principals: dict[str, list[str]]) -> dict[str, AccountPolicies]:
    """Policies of each account (``principals``: account -> caller ARNs); failures become ``problem``s."""
    accounts = list(principals)
    try:
        organizations, iam, sts = clients(params)
    except BotoCoreError as error:
        return _everyone(accounts, str(error))
    org = Organization(organizations)
    try:
        enabled = org.read_organization()
    except (ClientError, BotoCoreError) as error:
        return _everyone(accounts, problem(error, organizations))
    token = read_token_version(iam, sts)
    out = {}
    for account in accounts:
        try:
            out[account] = _account(org, iam, account, principals[account], enabled, token)
        except (ClientError, BotoCoreError) as error:
            out[account] = AccountPolicies(account, problem=problem(error, organizations))
        except PolicyError as error:
            out[account] = AccountPolicies(account, problem=str(error))
    return out
