"""Rebuild data/real/derived/ from the files as published: wrap their records into trail files.

Records are copied unchanged; only the container changes to CloudTrail's ``{"Records": [...]}``:
- stratus-red-team: each detonation log (a bare JSON list) becomes one trail file;
- panther-analysis: the ``Log`` of every test of a rule file becomes one trail file, in test order;
- whodunnit: the ``Trails`` of the README's example output become one trail file;
- iam-user-guide: the JSON examples of the page that parse become one trail file; the STS
  examples that do not parse as published are wrapped as text, so they stay invalid files.
Run from the repository root: ``python data/real/derive.py``.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

REAL = Path(__file__).resolve().parent
DERIVED = REAL / "derived"


def trail(path: Path, records: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"Records": records}, indent=1) + "\n")


def main() -> None:
    for published in sorted((REAL / "stratus-red-team").glob("*.json")):
        trail(DERIVED / "stratus-red-team" / published.name, json.loads(published.read_text()))
    for published in sorted((REAL / "panther-analysis").glob("*.yml")):
        tests = yaml.safe_load(published.read_text()).get("Tests") or []
        trail(DERIVED / "panther-analysis" / f"{published.stem}.json", [test["Log"] for test in tests])
    readme = (REAL / "whodunnit" / "README.md").read_text()
    output = next(json.loads(block) for block in re.findall(r"```json\n(.*?)```", readme, re.S) if '"Trails"' in block)
    trail(DERIVED / "whodunnit" / "README.json", output["Trails"])
    page = (REAL / "iam-user-guide" / "cloudtrail-integration.md").read_text()
    examples, broken = [], []
    for block in re.findall(r"```\n(.*?)```", page, re.S):
        try:
            examples.append(json.loads(block))
        except json.JSONDecodeError:
            if '"eventSource": "sts.amazonaws.com"' in block:
                broken.append(block)
    trail(DERIVED / "iam-user-guide" / "cloudtrail-integration.json", examples)
    for index, block in enumerate(broken):
        target = DERIVED / "iam-user-guide" / f"cloudtrail-integration-unparseable-{index}.json"
        target.write_text('{"Records": [' + block + "]}\n")


if __name__ == "__main__":
    main()
