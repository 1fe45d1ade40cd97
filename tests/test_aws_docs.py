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


def table_rows(text: str) -> dict[str, str]:
    """``--source`` name -> its row, for the rows of markdown tables that start with a source name."""
    return {match[1]: match[0] for match in re.finditer(r"^\| `([a-z-]+)` \|.*$", text, re.MULTILINE)}


@pytest.mark.parametrize("document", ["README.md", "docs/aws-engines.md"])
def test_the_engine_tables_cover_every_source_with_cost_and_permissions(document):
    from kit.params import SOURCES

    rows = table_rows((ROOT / document).read_text())
    assert set(SOURCES) <= set(rows), f"{document} lacks a row for {set(SOURCES) - set(rows)}"
    for source, policy in [(source, ENGINES[source][0]) for source in ENGINES]:
        row = rows[source]
        assert policy in row and (ROOT / "docs" / "iam" / policy).is_file(), (document, source)
        assert "UNCONFIRMED" in row or "as `athena`" in row, (document, source)
    assert all("none" in rows[source] or "nothing" in rows[source] for source in ("samples", "local"))


def test_the_make_targets_named_in_the_readme_exist():
    makefile = (ROOT / "Makefile").read_text()
    for target in set(re.findall(r"`make ([a-z-]+)`", (ROOT / "README.md").read_text())):
        assert re.search(rf"^{target}:", makefile, re.MULTILINE), target
