"""The IAM policies shipped in docs/iam cover every AWS operation the engines call."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def actions(policy: Path) -> set[str]:
    statements = json.loads(policy.read_text())["Statement"]
    found: set[str] = set()
    for statement in statements:
        assert statement["Effect"] == "Allow" and statement["Resource"]
        listed = statement["Action"]
        found.update([listed] if isinstance(listed, str) else listed)
    return found


def called(module: Path) -> set[str]:
    """The AWS operations a module calls (``client.start_query(`` -> ``StartQuery``)."""
    names = re.findall(r"\.client\.([a-z_]+)\(", module.read_text())
    return {"".join(part.title() for part in name.split("_")) for name in names}


ENGINES = {"lake": ("lake-policy.json", "cloudtrail", "lake", 4), "athena": ("athena-policy.json", "athena", "athena", 5),
           "security-lake": ("security-lake-policy.json", "athena", "athena", 5),
           "logs-insights": ("logs-insights-policy.json", "logs", "logs_insights", 3)}
"""Source -> its policy file, service prefix, engine module and the number of operations it calls."""


@pytest.mark.parametrize("engine", ENGINES)
def test_the_policy_allows_every_call_of_its_engine(engine):
    policy, prefix, module, count = ENGINES[engine]
    allowed = actions(ROOT / "docs" / "iam" / policy)
    calls = called(ROOT / "kit" / "engines" / f"{module}.py")
    assert len(calls) == count
    assert {f"{prefix}:{name}" for name in calls} <= allowed
    assert not any(action.endswith("*") for action in allowed)


def test_the_permissions_named_in_errors_are_in_the_policies():
    named, allowed = set(), set()
    for policy, _, module, _ in ENGINES.values():
        named |= set(re.findall(r'calling\("([a-z]+:[A-Za-z]+)"\)', (ROOT / "kit" / "engines" / f"{module}.py").read_text()))
        allowed |= actions(ROOT / "docs" / "iam" / policy)
    assert len(named) == 12 and named <= allowed


def test_the_athena_policy_covers_glue_and_both_s3_locations():
    allowed = actions(ROOT / "docs" / "iam" / "athena-policy.json")
    assert {"glue:GetTable", "glue:GetDatabase", "glue:GetPartitions", "s3:GetObject", "s3:ListBucket",
            "s3:PutObject", "s3:GetBucketLocation"} <= allowed
