"""The migration campaign on the sample states: changes.csv, --compare, --fail-on and report.html."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from builders import activity, role_session, sts, write_trail
from kit.cli import main
from kit.outputs import verify_set

DATA = Path(__file__).resolve().parent.parent / "data"
IP_RANGES = str(DATA / "samples" / "ip-ranges.json")
LATER = ["--source", "local", "--path", str(DATA / "samples-later" / "trail"), "--ip-ranges", IP_RANGES,
         "--start", "2025-09-01T00:00:00Z", "--end", "2025-10-01T00:00:00Z"]
LATEST = ["--source", "local", "--path", str(DATA / "samples-latest" / "trail"), "--ip-ranges", IP_RANGES,
          "--start", "2025-10-01T00:00:00Z", "--end", "2025-11-01T00:00:00Z"]
PAYMENTS_API = "arn:aws:iam::111122223333:role/payments-api"


def _changes(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "changes.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    """Three consecutive plans: the samples, the later state compared with them, the latest with the later."""
    root = tmp_path_factory.mktemp("campaign")
    first, later, latest = root / "1-samples", root / "2-later", root / "3-latest"
    assert main(["plan", "--out", str(first)]) == 0
    assert main(["plan", *LATER, "--out", str(later), "--compare", str(first)]) == 0
    assert main(["plan", *LATEST, "--out", str(latest), "--compare", str(later)]) == 0
    return first, later, latest


def test_two_consecutive_runs_show_every_change_kind(campaign):
    _, later, latest = campaign
    seen = {(row.change, row.principal_arn.rsplit("/", 1)[-1]) for row in
            pd.concat([_changes(later), _changes(latest)]).itertuples()}
    assert seen == {("moved", "payments-api"), ("moved", "hk-ingest"), ("gone", "alice"),
                    ("new", "log-collector"), ("priority-up", "eks-etl"), ("priority-down", "sso-broker"),
                    ("regressed", "payments-api")}


def test_moves_are_verified_and_windows_named(campaign):
    _, later, latest = campaign
    rows = _changes(later).set_index("change")
    assert re.search(r"0 global calls now; \d+ Regional STS calls by the same principal \(eu-west-1\)",
                     rows.loc["moved"].evidence.iloc[0])
    assert all("windows differ (before 2025-03-01T00:00:00Z" in text for text in _changes(later).evidence)
    new = rows.loc["new"]
    assert (new.before, new.after) == ("none", "P1")
    regressed = _changes(latest).iloc[0]
    assert (regressed.change, regressed.before, regressed.principal_arn) == ("regressed", "moved", PAYMENTS_API)
    assert not verify_set(latest)


def test_a_set_compared_with_itself_lists_nothing(campaign, tmp_path):
    _, later, _ = campaign
    assert main(["plan", *LATER, "--out", str(tmp_path), "--compare", str(later)]) == 0
    assert _changes(tmp_path).empty


@pytest.mark.parametrize("kinds, code, said", [
    ("new", 3, "found 1 new (--fail-on new)"),
    ("regressed,priority-up", 3, "found 1 priority-up (--fail-on regressed,priority-up)"),
    ("regressed,at-risk", 0, ""),
    ("p1", 3, "found 9 P1 callers (--fail-on p1)"),  # C16, C17, C18 and C20 carry on (kit.synthstates)
])
def test_fail_on_exits_3_with_one_line_after_writing_every_file(campaign, tmp_path, capsys, kinds, code, said):
    first, _, _ = campaign
    assert main(["plan", *LATER, "--out", str(tmp_path), "--compare", str(first), "--fail-on", kinds]) == code
    err = capsys.readouterr().err
    assert err == (f"sts-kit plan: {said}\n" if said else "")
    assert (tmp_path / "changes.csv").exists() and not verify_set(tmp_path)


def test_fail_on_at_risk_and_p1_without_compare(capsys, tmp_path):
    assert main(["plan", "--out", str(tmp_path), "--fail-on", "at-risk"]) == 3
    assert capsys.readouterr().err == "sts-kit plan: found 2 quota buckets at risk (--fail-on at-risk)\n"
    assert not (tmp_path / "changes.csv").exists() and not verify_set(tmp_path)


@pytest.mark.parametrize("extra, fragment", [
    (["--fail-on", "new"], "--fail-on new needs a previous run to compare with"),
    (["--fail-on", "new,everything"], "unknown kind everything"),
    (["--compare", "/does/not/exist"], "no such folder"),
])
def test_bad_campaign_options_exit_2_with_one_line(capsys, tmp_path, extra, fragment):
    assert main(["plan", "--out", str(tmp_path / "out"), *extra]) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_an_incomplete_previous_set_is_refused(campaign, tmp_path, capsys):
    first, _, _ = campaign
    broken = shutil.copytree(first, tmp_path / "broken")
    with (broken / "plan.csv").open("a") as file:
        file.write("tampered\n")
    assert main(["plan", *LATER, "--out", str(tmp_path / "out"), "--compare", str(broken)]) == 2
    err = capsys.readouterr().err
    assert "is not a complete set (plan.csv differs from summary.json)" in err and err.count("\n") == 1


def _trail(folder: Path, records: list) -> list[str]:
    write_trail(folder / "trail.json", records)
    return ["--source", "local", "--path", str(folder), "--start", "2025-07-01T00:00:00Z",
            "--end", "2025-08-01T00:00:00Z"]


def test_moved_needs_regional_calls_by_the_same_principal(tmp_path):
    """No global calls now is not enough: only Regional STS calls by the principal make it moved."""
    worker, other = (role_session("111122223333", name) for name in ("worker", "other"))
    before = [sts(worker, "2025-07-02T10:00:00Z", region="eu-west-1", ip="10.0.0.1"),
              activity(worker, "2025-07-02T10:01:00Z", "eu-west-1")]
    assert main(["plan", *_trail(tmp_path / "t1", before), "--out", str(tmp_path / "p1")]) == 0
    regional_elsewhere = [sts(other, "2025-07-03T10:00:00Z", host="sts.eu-west-1.amazonaws.com",
                              endpoint_type="regional", region="eu-west-1"),
                          activity(worker, "2025-07-03T10:01:00Z", "eu-west-1")]
    assert main(["plan", *_trail(tmp_path / "t2", regional_elsewhere), "--out", str(tmp_path / "p2"),
                 "--compare", str(tmp_path / "p1")]) == 0
    assert list(_changes(tmp_path / "p2").change) == ["gone"]
    regional_same = [sts(worker, "2025-07-03T10:00:00Z", host="sts.eu-west-1.amazonaws.com",
                         endpoint_type="regional", region="eu-west-1")]
    assert main(["plan", *_trail(tmp_path / "t3", regional_same + regional_elsewhere), "--out",
                 str(tmp_path / "p3"), "--compare", str(tmp_path / "p1")]) == 0
    assert list(_changes(tmp_path / "p3").change) == ["moved"]


def test_record_values_are_text_in_changes_and_reports(tmp_path):
    shady = role_session("111122223333", "<b>x</b>")
    shady["sessionContext"]["sessionIssuer"]["arn"] = "=HYPERLINK(\"http://evil\")"
    start = _trail(tmp_path / "t0", [sts(role_session("111122223333", "plain"), "2025-07-02T10:00:00Z")])
    assert main(["plan", *start, "--out", str(tmp_path / "p0")]) == 0
    now = _trail(tmp_path / "t1", [sts(shady, "2025-07-02T10:00:00Z"),
                                   sts(role_session("111122223333", "plain"), "2025-07-02T10:00:00Z")])
    assert main(["plan", *now, "--out", str(tmp_path / "p1"), "--compare", str(tmp_path / "p0")]) == 0
    text = (tmp_path / "p1" / "changes.csv").read_text()
    assert "'=HYPERLINK" in text and "\n=" not in text and ",=" not in text
    page = (tmp_path / "p1" / "report.html").read_text()
    assert "=HYPERLINK(&#34;http://evil&#34;)" in page and "<b>x</b>" not in page


def test_accounts_not_read_are_not_called_gone(campaign, tmp_path):
    first, _, _ = campaign
    assert main(["plan", "--accounts", "222233334444", "--out", str(tmp_path), "--compare", str(first)]) == 0
    assert _changes(tmp_path).empty
    summary = json.loads((tmp_path / "summary.json").read_text())
    skipped = {row["account_id"] for row in summary["campaign"]["not_listed"]}
    assert skipped == {"111122223333", "333344445555", "444455556666"}
