"""Policies from strangers: wrong shapes, encodings and nesting give "not checked: reason", wildcards
match without backtracking, and operations no policy controls are never flagged."""
import json
import os
import re

import pandas as pd
import pytest

from kit.errors import PolicyError
from kit.policy.account import AccountPolicies
from kit.policy.annotate import annotate
from kit.policy.document import load_policy_file, parse_policy
from kit.policy.evaluate import matches
from kit.policy.moves import judge_move, judge_unknown_target
from kit.policy.offline import load_offline

ACCOUNT = "111122223333"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/app"
FULL = {"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}
REGION_LOCK = {"Statement": [{"Sid": "HomeOnly", "Effect": "Deny", "Action": "*", "Resource": "*",
                              "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["us-east-1"]}}}]}


def locked_account():
    policies = (parse_policy(FULL, "scp", "p-full"), parse_policy(REGION_LOCK, "scp", "p-lock", "RegionLock"))
    return AccountPolicies(ACCOUNT, ("r-1", ACCOUNT), {"r-1": policies})


# --- operations that no policy controls -------------------------------------------------------------

@pytest.mark.parametrize("action", ["sts:GetCallerIdentity", "STS:getcalleridentity", "sts:GetSessionToken"])
def test_operations_no_policy_controls_are_never_denied_by_a_move(action):
    assert judge_move(locked_account(), ROLE, [action], "eu-west-1").outcome == "unchanged"
    assert judge_move(locked_account(), ROLE, [action], "eu-west-1").findings == ()
    assert judge_unknown_target(locked_account(), ROLE, [action]).outcome == "unchanged"


def test_the_region_lock_still_denies_the_operations_it_controls():
    verdict = judge_move(locked_account(), ROLE, ["sts:GetCallerIdentity", "sts:AssumeRole"], "eu-west-1")
    assert verdict.outcome == "denied-after"
    assert verdict.findings[0].startswith("scp p-lock 'RegionLock' statement HomeOnly: denies sts:AssumeRole in")
    assert "GetCallerIdentity" not in verdict.findings[0]
    assert judge_unknown_target(locked_account(), ROLE, ["sts:AssumeRole"]).outcome == "allowed-only-via-us-east-1"


def test_a_caller_that_only_asks_who_it_is_gets_no_policy_risk():
    callers = pd.DataFrame([
        {"account_id": ACCOUNT, "principal_arn": ROLE, "workload_region": region,
         "target_endpoint": f"https://sts.{region}.amazonaws.com" if region else "", "event_names": names,
         "risks": "", "region_note": ""}
        for region, names in (("eu-west-1", "GetCallerIdentity"), ("", "GetCallerIdentity;GetSessionToken"),
                              ("eu-west-1", "AssumeRole;GetCallerIdentity"))])
    out, summary = annotate(callers, "offline test", {ACCOUNT: locked_account()})
    assert list(out.policy_outcome) == ["unchanged", "unchanged", "denied-after"]
    assert ["requested-region-policy" in risks for risks in out.risks] == [False, False, True]
    assert summary["callers_flagged"] == 1 and summary["callers_safe_only_by_exemption"] == 0


# --- wrong shapes ------------------------------------------------------------------------------------

DEEP = "[" * 200_000 + "]" * 200_000
WRONG_SHAPES = [
    ("Statement a string", {"Statement": "Allow everything"}, "statement 0 is not a JSON object but the text"),
    ("Statement a number", {"Statement": 7}, "statement 0 is not a JSON object but the number 7"),
    ("Condition a list", {"Statement": {"Effect": "Deny", "Action": "*", "Condition": [{"a": 1}]}},
     "Condition must be an object of operators, got a list"),
    ("operator block a string", {"Statement": {"Effect": "Deny", "Action": "*", "Condition": {"StringEquals": "x"}}},
     "StringEquals must map condition keys to values, got the text 'x'"),
    ("Effect a number", {"Statement": {"Effect": 1, "Action": "*"}}, "has Effect the number 1"),
    ("Action an object", {"Statement": {"Effect": "Allow", "Action": {"sts": "*"}}},
     "Action must be a string or a list of strings, got an object"),
    ("Resource a list of objects", {"Statement": {"Effect": "Allow", "Action": "*", "Resource": [{"a": "b"}]}},
     "Resource must be a string or a list of strings, got a list holding an object"),
    ("condition value a float", {"Statement": {"Effect": "Deny", "Action": "*",
                                               "Condition": {"NumericLessThan": {"k": 1.5}}}},
     "unknown condition operator 'NumericLessThan'"),
    ("condition values nested deeply", {"Statement": {"Effect": "Deny", "Action": "*", "Condition": {
        "StringEquals": {"aws:RequestedRegion": json.loads("[" * 500 + "]" * 500)}}}},
     "got a list holding a list"),
    ("Sid an object", {"Statement": {"Sid": {"x": 1}, "Effect": "Allow", "Action": "*"}},
     "Sid must be text, got an object"),
    ("Null with no value", {"Statement": {"Effect": "Deny", "Action": "*", "Condition": {"Null": {"k": []}}}},
     "Null k must be true or false"),
    ("deeply nested JSON text", DEEP, "nested too deeply"),
    ("document a list", [FULL], 'has no "Statement"'),
]


@pytest.mark.parametrize("document, reason", [case[1:] for case in WRONG_SHAPES], ids=[c[0] for c in WRONG_SHAPES])
def test_wrong_shapes_are_policy_errors_with_a_reason(document, reason):
    with pytest.raises(PolicyError, match=re.escape(reason)) as raised:
        parse_policy(document, "scp", "p-bad")
    assert "\n" not in str(raised.value) and len(str(raised.value)) < 400


def test_a_policy_with_whole_numbers_and_booleans_where_strings_belong_is_read_as_iam_reads_it():
    policy = parse_policy({"Statement": {"Sid": 3, "Effect": "Deny", "Action": "sts:*", "Condition": {
        "Bool": {"aws:SecureTransport": False}, "StringEquals": {"aws:PrincipalAccount": 111122223333}}}},
        "scp", "p-numbers")
    statement = policy.statements[0]
    assert statement.label == "3"
    assert [c.values for c in statement.conditions] == [("false",), ("111122223333",)]


# --- files: encodings and nesting ------------------------------------------------------------------------

def test_policy_files_in_other_encodings(tmp_path):
    text = json.dumps(FULL)
    (tmp_path / "bom.json").write_bytes(b"\xef\xbb\xbf" + text.encode())
    (tmp_path / "utf16.json").write_bytes(text.encode("utf-16"))  # what PowerShell's Out-File writes
    latin1 = '{"Statement": {"Sid": "Z\xfcrich", "Effect": "Allow", "Action": "*"}}'.encode("latin-1")
    (tmp_path / "latin1.json").write_bytes(latin1)
    assert load_policy_file(tmp_path / "bom.json", "scp").statements[0].effect == "Allow"
    assert load_policy_file(tmp_path / "utf16.json", "scp").statements[0].effect == "Allow"
    bad_byte = latin1.index(b"\xfc")
    with pytest.raises(PolicyError, match=rf"scp latin1.json: is not UTF-8, UTF-16 or UTF-32 text \(bad byte at {bad_byte}\)"):
        load_policy_file(tmp_path / "latin1.json", "scp")


def test_describe_policy_output_of_a_wrong_shape(tmp_path):
    (tmp_path / "summary-text.json").write_text(json.dumps({"Policy": {"PolicySummary": "p-1",
                                                                       "Content": json.dumps(FULL)}}))
    (tmp_path / "content-deep.json").write_text('{"Policy": {"PolicySummary": {"Id": ["x"]}, "Content": "'
                                                + "[" * 100_000 + '"}}')
    assert load_policy_file(tmp_path / "summary-text.json", "scp").id == "summary-text"
    with pytest.raises(PolicyError, match="content-deep: is nested too deeply"):
        load_policy_file(tmp_path / "content-deep.json", "scp")


def write_mapping(folder, text, files=None):
    (folder / "mapping.yaml").write_text(text)
    for name, content in (files or {}).items():
        (folder / name).write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())


@pytest.mark.parametrize("mapping, files, reason", [
    ("accounts: {'111122223333': {path: [r-1]}}\ntargets: {r-1: [bad.json]}\n",
     {"bad.json": b"{\"Statement\": \"\xff\"}"}, "policy scp bad.json: is not UTF-8"),
    ("accounts: {'111122223333': {path: [r-1]}}\ntargets: {r-1: [deep.json]}\n",
     {"deep.json": DEEP.encode()}, "policy scp deep.json: is nested too deeply"),
    ("accounts: {'111122223333': {path: " + "[" * 50_000 + "]" * 50_000 + "}}\n", {}, "mapping"),
    ("accounts: {'111122223333': {path: [[r-1]]}}\n", {}, "path: must be a list of ids or file names, got a list"),
    ("accounts: {'111122223333': {path: r-1}}\n", {}, "path: must be a list of ids or file names, got the text"),
    ("accounts: {'111122223333': {path: [r-1]}}\ntargets: {r-1: [../outside.json]}\n", {},
     "'../outside.json' is outside the policies folder"),
    ("accounts: {'111122223333': {path: [r-1]}}\ntargets: {r-1: {file: a.json}}\n", {},
     "must be a list of ids or file names, got an object"),
    ("accounts: [1, 2]\n", {}, "needs an 'accounts' section"),
    ("accounts: {'111122223333': {path: [r-1]}}\ntargets: {r-1: [missing.json]}\n", {},
     "policy scp missing.json: is missing or not a regular file"),
    ("accounts: {'111122223333': {path: [r-1]}}\ntargets: {r-1: [huge.json]}\n",
     {"huge.json": b" " * 1_000_001 + b"{}"}, "policy scp huge.json: is 1,000,003 bytes"),
])
def test_broken_offline_policies_mark_the_account_not_checked(tmp_path, mapping, files, reason):
    folder = tmp_path / "policies"
    folder.mkdir()
    write_mapping(folder, mapping, files)
    found = load_offline(folder, [ACCOUNT])
    assert reason in found[ACCOUNT].problem
    assert "\n" not in found[ACCOUNT].problem


def test_a_fifo_named_as_a_policy_is_refused_without_reading_it(tmp_path):
    write_mapping(tmp_path, "accounts: {'111122223333': {path: [r-1]}}\ntargets: {r-1: [pipe.json]}\n")
    os.mkfifo(tmp_path / "pipe.json")  # reading it would block for ever
    assert "pipe.json: is missing or not a regular file" in load_offline(tmp_path, [ACCOUNT])[ACCOUNT].problem


def test_aliases_in_the_mapping_are_refused_not_expanded(tmp_path):
    """A 'billion laughs' list of lists: str() of it would never finish; the shape check refuses it first."""
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(8))
    write_mapping(tmp_path, bomb + "accounts: {'111122223333': {path: *i}}\nnames: {r-1: *i}\n")
    found = load_offline(tmp_path, [ACCOUNT])
    assert "path: must be a list of ids or file names, got a list holding other values" in found[ACCOUNT].problem


def test_a_broken_policy_leaves_the_other_accounts_checked(tmp_path):
    write_mapping(tmp_path, "targets: {r-1: [full.json], '222233334444': [bad.json]}\naccounts:\n"
                            "  '111122223333': {path: [r-1]}\n  '222233334444': {path: [r-1]}\n",
                  {"full.json": FULL, "bad.json": {"Statement": {"Effect": "Deny", "Action": "*", "Condition": []}}})
    found = load_offline(tmp_path, [ACCOUNT, "222233334444"])
    assert found[ACCOUNT].problem == ""
    assert found["222233334444"].problem.startswith("policy scp bad: statement 0: Condition must be an object")


# --- wildcard matching without backtracking ----------------------------------------------------------------

def reference(pattern, value, ignore_case=False):
    """The regular-expression reading of an IAM wildcard, for small inputs only (it backtracks)."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(body, value, re.DOTALL | (re.IGNORECASE if ignore_case else 0)) is not None


SMALL = [("", ""), ("", "a"), ("*", ""), ("*", "abc"), ("?", ""), ("?", "a"), ("a*", "a"), ("*a", "ba"),
         ("a*b*c", "abc"), ("a*b*c", "acb"), ("a*?", "a"), ("a*?", "ab"), ("*?*?*", "a"), ("*?*?*", "ab"),
         ("**a**", "xax"), ("a?c*", "abcde"), ("a?c*", "ac"), ("*aab", "aaab"), ("*ab*ab", "abab"),
         ("*ab*ab", "aab"), ("arn:aws:iam::*:role/*", "arn:aws:iam::111122223333:role/app"),
         ("arn:aws:iam::*:role/*", "arn:aws:iam::111122223333:user/app"), ("US-*", "us-east-1"), ("*.", "a")]


@pytest.mark.parametrize("pattern, value", SMALL)
@pytest.mark.parametrize("ignore_case", [False, True])
def test_wildcards_agree_with_the_regular_expression_reading(pattern, value, ignore_case):
    assert matches(pattern, value, ignore_case) == reference(pattern, value, ignore_case)


ADVERSARIAL = [  # (pattern, value, expected): each backtracks for seconds or more in a regex engine
    ("a*" * 40 + "b", "a" * 20_000, False),
    ("a*" * 40 + "a", "a" * 20_000, True),
    ("*a" * 40 + "*b", "a" * 20_000, False),
    ("*?" * 40 + "*b", "x" * 20_000 + "b", True),
    ("arn:aws:s3:::" + "*a" * 100 + "*z", "arn:aws:s3:::" + "a" * 50_000, False),
    ("*" * 1_000 + "needle", "hay" * 30_000 + "needle", True),
]


@pytest.mark.parametrize("pattern, value, expected", ADVERSARIAL, ids=range(len(ADVERSARIAL)))
def test_adversarial_patterns_give_the_right_answer(pattern, value, expected):
    """Correctness only; bench/policy_wildcards.py prints the time (tens of seconds before)."""
    assert matches(pattern, value) is expected
    assert matches(pattern.upper(), value.upper(), ignore_case=True) is expected
