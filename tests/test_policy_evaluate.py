"""The Region-aware policy evaluator: a table of policy documents and decisions, and malformed policies."""
import json

import pytest

from kit.errors import PolicyError
from kit.policy.account import AccountPolicies
from kit.policy.document import load_policy_file, parse_policy
from kit.policy.evaluate import Layer, Request, decide
from kit.policy.moves import judge_move, judge_unknown_target

FULL = parse_policy({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}, "scp", "p-FullAWSAccess")
ROLE = "arn:aws:iam::111122223333:role/app"
ADMIN = "arn:aws:iam::111122223333:role/Admin"


def deny(condition, action="*", key="Action"):
    return {"Sid": "D", "Effect": "Deny", key: action, "Resource": "*", "Condition": condition}


def region(operator, values):
    return {operator: {"aws:RequestedRegion": values}}


def allowed(statements, action, requested, principal=ROLE, full=True):
    policy = parse_policy({"Version": "2012-10-17", "Statement": statements}, "scp", "p-test")
    layer = Layer("SCPs on ou-x", (FULL, policy) if full else (policy,))
    return decide((layer,), Request(action, {"aws:principalarn": (principal,)}).with_region(requested)).allowed


APPROVED = ["us-east-1", "eu-west-1"]
CASES = [
    # (id, statements, action, requested Region, allowed?[, principal])
    ("not-equals list denies elsewhere", [deny(region("StringNotEquals", APPROVED))], "sts:AssumeRole", "us-west-2", False),
    ("not-equals list allows listed", [deny(region("StringNotEquals", APPROVED))], "sts:AssumeRole", "eu-west-1", True),
    ("not-equals allows us-east-1 (global endpoint today)", [deny(region("StringNotEquals", APPROVED))],
     "sts:GetCallerIdentity", "us-east-1", True),
    ("NotAction sts:* exempts STS", [deny(region("StringNotEquals", APPROVED), ["sts:*", "iam:*"], "NotAction")],
     "sts:AssumeRole", "eu-north-1", True),
    ("NotAction sts:* still denies S3", [deny(region("StringNotEquals", APPROVED), ["sts:*"], "NotAction")],
     "s3:GetObject", "eu-north-1", False),
    ("NotAction without sts denies STS", [deny(region("StringNotEquals", APPROVED), ["iam:*", "organizations:*"],
                                               "NotAction")], "sts:AssumeRole", "us-west-2", False),
    ("Action wildcard sts:Assume*", [deny(region("StringEquals", "us-west-2"), "sts:Assume*")],
     "sts:AssumeRoleWithWebIdentity", "us-west-2", False),
    ("sts:Assume* leaves GetCallerIdentity", [deny(region("StringEquals", "us-west-2"), "sts:Assume*")],
     "sts:GetCallerIdentity", "us-west-2", True),
    ("actions are case-insensitive", [deny(region("StringEquals", ["us-west-2"]), "STS:assumerole")],
     "sts:AssumeRole", "us-west-2", False),
    ("sts:* in Action", [deny(region("StringEquals", ["us-west-2"]), ["s3:*", "sts:*"])],
     "sts:AssumeRole", "us-west-2", False),
    ("StringLike eu-* matches", [deny(region("StringLike", "eu-*"))], "sts:AssumeRole", "eu-north-1", False),
    ("StringLike ? matches one character", [deny(region("StringLike", ["us-west-?"]))], "sts:AssumeRole",
     "us-west-2", False),
    ("StringLike ? needs exactly one", [deny(region("StringLike", ["us-west-?"]))], "sts:AssumeRole",
     "us-west-10", True),
    ("StringNotLike wildcards allow-list", [deny(region("StringNotLike", ["eu-*", "us-east-1"]))],
     "sts:AssumeRole", "eu-central-1", True),
    ("StringNotLike wildcards deny outside", [deny(region("StringNotLike", ["eu-*", "us-east-1"]))],
     "sts:AssumeRole", "ap-east-1", False),
    ("StringEquals is case-sensitive", [deny(region("StringEquals", "US-WEST-2"))], "sts:AssumeRole", "us-west-2",
     True),
    ("StringEqualsIgnoreCase", [deny(region("StringEqualsIgnoreCase", "US-WEST-2"))], "sts:AssumeRole", "us-west-2",
     False),
    ("condition keys are case-insensitive", [deny({"StringEquals": {"AWS:REQUESTEDREGION": "us-west-2"}})],
     "sts:AssumeRole", "us-west-2", False),
    ("IfExists with the key present", [deny(region("StringNotEqualsIfExists", APPROVED))], "sts:AssumeRole",
     "us-west-2", False),
    ("IfExists with a missing key holds", [deny({"StringEqualsIfExists": {"aws:PrincipalTag/team": "x"}})],
     "sts:AssumeRole", "us-west-2", False),
    ("missing key: positive operator fails", [deny({"StringEquals": {"aws:PrincipalTag/team": "x"}})],
     "sts:AssumeRole", "us-west-2", True),
    ("missing key: negated operator holds", [deny({"StringNotEquals": {"aws:PrincipalTag/team": "x"}})],
     "sts:AssumeRole", "us-west-2", False),
    ("ForAnyValue:StringEquals", [deny(region("ForAnyValue:StringEquals", ["us-west-2", "us-west-1"]))],
     "sts:AssumeRole", "us-west-2", False),
    ("ForAnyValue:StringNotLike", [deny(region("ForAnyValue:StringNotLike", ["eu-*"]))], "sts:AssumeRole",
     "us-west-2", False),
    ("ForAllValues:StringEquals present", [deny(region("ForAllValues:StringEquals", ["eu-west-1"]))],
     "sts:AssumeRole", "us-west-2", True),
    ("ForAllValues on a missing key holds", [deny({"ForAllValues:StringEquals": {"aws:TagKeys": ["x"]}})],
     "sts:AssumeRole", "eu-west-1", False),
    ("ForAnyValue on a missing key fails", [deny({"ForAnyValue:StringEquals": {"aws:TagKeys": ["x"]}})],
     "sts:AssumeRole", "eu-west-1", True),
    ("operators AND together", [deny({**region("StringNotEquals", APPROVED),
                                      "ArnNotLike": {"aws:PrincipalARN": "arn:aws:iam::*:role/Admin"}})],
     "sts:AssumeRole", "us-west-2", False),
    ("ArnNotLike exempts the admin role", [deny({**region("StringNotEquals", APPROVED),
                                                 "ArnNotLike": {"aws:PrincipalARN": "arn:aws:iam::*:role/Admin"}})],
     "sts:AssumeRole", "us-west-2", True, ADMIN),
    ("Null true on a missing key", [deny({"Null": {"aws:PrincipalTag/team": "true"}})], "sts:AssumeRole",
     "eu-west-1", False),
    ("Bool on a missing key fails", [deny({"Bool": {"aws:ViaAWSService": "false"}})], "sts:AssumeRole",
     "eu-west-1", True),
    ("second statement decides", [{"Effect": "Allow", "Action": "*", "Resource": "*"},
                                  deny(region("StringEquals", "us-west-2"))], "sts:AssumeRole", "us-west-2", False),
    ("statement object, not list", deny(region("StringEquals", "us-west-2")), "sts:AssumeRole", "us-west-2", False),
]
CASES = [case if len(case) == 6 else (*case, ROLE) for case in CASES]  # the principal defaults to ROLE
ALLOW_LIST = [
    ("allow-list allows us-east-1", "us-east-1", True),
    ("allow-list no longer allows us-west-2", "us-west-2", False),
    ("allow-list wildcard eu-*", "eu-north-1", True),
]


@pytest.mark.parametrize("name, statements, action, requested, expected, principal", CASES, ids=[c[0] for c in CASES])
def test_decision_table(name, statements, action, requested, expected, principal):
    assert allowed(statements, action, requested, principal) is expected


@pytest.mark.parametrize("name, requested, expected", ALLOW_LIST, ids=[c[0] for c in ALLOW_LIST])
def test_allow_list_scp_without_full_access(name, requested, expected):
    statements = [{"Effect": "Allow", "Action": "sts:*", "Resource": "*",
                   "Condition": region("StringLike", ["us-east-1", "eu-*"])}]
    assert allowed(statements, "sts:AssumeRole", requested, full=False) is expected


def test_every_level_of_the_path_must_allow():
    only_sts = parse_policy({"Statement": [{"Effect": "Allow", "Action": "sts:*", "Resource": "*"}]}, "scp", "p-sts")
    layers = (Layer("SCPs on Root", (FULL,)), Layer("SCPs on ou-x", (only_sts,)))
    assert decide(layers, Request("sts:AssumeRole", {}).with_region("eu-west-1")).allowed
    refused = decide(layers, Request("s3:GetObject", {}).with_region("eu-west-1"))
    assert not refused.allowed and refused.missing_allow.name == "SCPs on ou-x"


@pytest.mark.parametrize("document, fragment", [
    ('{"Statement": [', "not valid JSON"),
    ({"Statement": [{"Action": "*", "Resource": "*"}]}, "statement 0 has no Effect"),
    ({"Statement": [{"Sid": "S1", "Effect": "Permit", "Action": "*"}]}, "statement S1 has Effect 'Permit'"),
    ({"Statement": [deny({"StringEqualz": {"aws:RequestedRegion": "x"}})]}, "unknown condition operator 'StringEqualz'"),
    ({"Statement": [deny({"ForSomeValues:StringEquals": {"aws:RequestedRegion": "x"}})]}, "unknown set operator"),
    ({"Statement": [{"Effect": "Deny", "Resource": "*"}]}, "neither Action nor NotAction"),
    ({"Statement": [{"Effect": "Deny", "Action": "*", "NotAction": "s3:*"}]}, "both Action and NotAction"),
    ({"Version": "2012-10-17"}, "has no \"Statement\""),
    ({"Statement": [deny({"StringEquals": {"aws:RequestedRegion": {"a": 1}}})]}, "must be a string or a list"),
])
def test_malformed_policies_name_the_policy(document, fragment):
    with pytest.raises(PolicyError) as caught:
        parse_policy(document if isinstance(document, str) else json.dumps(document), "scp", "p-broken", "Broken")
    assert str(caught.value).startswith("policy scp p-broken 'Broken': ") and fragment in str(caught.value)


def test_exported_describe_policy_files_keep_id_and_name(tmp_path):
    content = json.dumps({"Statement": [deny(region("StringNotEquals", APPROVED))]})
    (tmp_path / "x.json").write_text(json.dumps({"Policy": {"PolicySummary": {"Id": "p-12345678", "Name": "Guard"},
                                                            "Content": content}}))
    policy = load_policy_file(tmp_path / "x.json", "scp")
    assert (policy.id, policy.name, policy.label) == ("p-12345678", "Guard", "scp p-12345678 'Guard'")
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(PolicyError, match="policy scp bad.json: not valid JSON"):
        load_policy_file(tmp_path / "bad.json", "scp")


def account_with(*statements, full=True):
    policy = parse_policy({"Statement": list(statements)}, "scp", "p-guard", "Guard")
    return AccountPolicies("111122223333", ("r-1", "ou-1", "111122223333"),
                           {"r-1": (FULL,), "ou-1": (FULL, policy) if full else (policy,)})


def test_move_denied_after_names_policy_and_statement():
    account = account_with(deny(region("StringNotEquals", APPROVED), ["iam:*"], "NotAction"))
    verdict = judge_move(account, ROLE, ["sts:AssumeRole", "sts:GetCallerIdentity"], "us-west-2")
    assert verdict.outcome == "denied-after"
    assert verdict.findings == ("scp p-guard 'Guard' statement D: denies sts:AssumeRole in "
                                "us-west-2 after the move; allowed today only because the global endpoint reports "
                                "us-east-1",)


def test_move_denied_after_by_an_allow_list_names_the_allow_statement():
    account = account_with({"Sid": "OnlyHome", "Effect": "Allow", "Action": "*", "Resource": "*",
                            "Condition": region("StringEquals", APPROVED)}, full=False)
    verdict = judge_move(account, ROLE, ["sts:AssumeRole"], "us-west-2")
    assert verdict.outcome == "denied-after"
    assert "statement OnlyHome allows it only in other Regions" in verdict.findings[0]


def test_move_safe_thanks_to_not_action_says_so():
    account = account_with(deny(region("StringNotEquals", APPROVED), ["sts:*", "iam:*"], "NotAction"))
    verdict = judge_move(account, ROLE, ["sts:AssumeRole"], "eu-north-1")
    assert verdict.outcome == "unchanged" and "but for its NotAction exemption" in verdict.findings[0]
    assert judge_move(account, ROLE, ["sts:AssumeRole"], "eu-west-1").findings == ()


def test_move_out_of_a_denied_us_east_1_is_allowed_after():
    account = account_with(deny(region("StringEquals", "us-east-1")))
    assert judge_move(account, ROLE, ["sts:AssumeRole"], "eu-west-1").outcome == "allowed-after"


def test_unknown_target_lists_the_regions_that_would_deny():
    only_home = account_with(deny(region("StringNotEquals", "us-east-1")))
    assert judge_unknown_target(only_home, ROLE, ["sts:AssumeRole"]).outcome == "allowed-only-via-us-east-1"
    some = judge_unknown_target(account_with(deny(region("StringNotEquals", APPROVED))), ROLE, ["sts:AssumeRole"])
    assert some.outcome == "region-dependent" and "eu-west-1," not in some.findings[0]
    assert "us-west-2" in some.findings[0]
