"""Output files: whole or absent, one consistent set, one writer per folder, record values kept as data."""
from __future__ import annotations

import csv
import hashlib
import html
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from builders import sts, user, write_trail
from kit.codedseconds import plain_rows
from kit.errors import OutputError
from kit.outputs import PAUSE_ENV, csv_bytes, folder_lock, inert_cell, verify_set, write_set
from kit.params import validate
from kit.plan import make_plan
from kit.report import account_report, md_prose, md_text, plan_files, plan_markdown, write_outputs

ROOT = Path(__file__).resolve().parent.parent
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _digests(folder: Path) -> dict[str, str]:
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def _trail(folder: Path, records: list) -> Path:
    write_trail(folder / "f.json", records)
    return folder


def _plan_argv(trail: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "kit", "plan", "--source", "local", "--path", str(trail), "--start", "2025-07-01",
            "--end", "2025-07-02", "--quiet", "--out", str(out), *extra]


@pytest.fixture
def two_accounts(tmp_path: Path) -> Path:
    return _trail(tmp_path / "trail", [sts(user("111122223333", "alice"), "2025-07-01T10:00:00Z"),
                                       sts(user("222233334444", "bob"), "2025-07-01T11:00:00Z")])


def test_summary_is_written_last_and_names_every_file_with_size_and_sha256(tmp_path):
    paths = write_set(tmp_path, {"plan.csv": b"a\n1\n", "reports/111122223333.md": b"# r\n"}, {"callers": 1})
    assert [path.name for path in paths] == ["plan.csv", "111122223333.md", "summary.json"]
    listing = json.loads((tmp_path / "summary.json").read_text())["files"]
    assert listing["plan.csv"] == {"bytes": 4, "sha256": hashlib.sha256(b"a\n1\n").hexdigest()}
    assert verify_set(tmp_path) == []
    (tmp_path / "plan.csv").write_bytes(b"a\n")  # cut
    assert verify_set(tmp_path) == ["plan.csv differs from summary.json"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left


def test_a_new_set_removes_the_files_of_the_previous_one_it_does_not_write_and_nothing_else(tmp_path):
    write_set(tmp_path, {"plan.csv": b"1", "reports/111122223333.md": b"old"}, {})
    (tmp_path / "notes.txt").write_text("mine")
    write_set(tmp_path, {"plan.csv": b"2"}, {})
    assert not (tmp_path / "reports" / "111122223333.md").exists()
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert verify_set(tmp_path) == []


def test_a_second_plan_into_the_same_out_leaves_no_mix(two_accounts, tmp_path):
    out = tmp_path / "out"
    plan = make_plan(validate({"source": "local", "path": two_accounts, "start": "2025-07-01", "end": "2025-07-02",
                               "quiet": True}))
    write_outputs(plan, out, reports=True)
    assert sorted(p.name for p in (out / "reports").iterdir()) == ["111122223333.md", "222233334444.md"]
    subprocess.run(_plan_argv(two_accounts, out, "--accounts", "222233334444"), check=True, cwd=ROOT)
    assert not (out / "reports" / "111122223333.md").exists()
    assert verify_set(out) == []


def test_a_writer_killed_between_files_leaves_the_previous_complete_set(two_accounts, tmp_path):
    out = tmp_path / "out"
    subprocess.run(_plan_argv(two_accounts, out), check=True, cwd=ROOT)
    before = _digests(out)
    writer = subprocess.Popen(_plan_argv(two_accounts, out, "--accounts", "222233334444"), cwd=ROOT,
                              env={**os.environ, PAUSE_ENV: "30"}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not list(out.glob(".plan.csv.*.tmp")) and time.monotonic() < deadline and writer.poll() is None:
            time.sleep(0.05)
        assert list(out.glob(".plan.csv.*.tmp")), "the writer never paused between files"
        writer.kill()
    finally:
        writer.kill()
        writer.wait()
    assert writer.returncode == -signal.SIGKILL
    visible = {name: digest for name, digest in _digests(out).items() if not Path(name).name.startswith(".")}
    assert visible == before and verify_set(out) == []
    subprocess.run(_plan_argv(two_accounts, out), check=True, cwd=ROOT)  # the next writer clears the leftovers
    assert not list(out.glob(".*.tmp")) and verify_set(out) == []


def test_ctrl_c_while_writing_keeps_the_previous_set_and_says_nothing_was_written(two_accounts, tmp_path):
    out = tmp_path / "out"
    subprocess.run(_plan_argv(two_accounts, out), check=True, cwd=ROOT)
    before = _digests(out)
    writer = subprocess.Popen(_plan_argv(two_accounts, out, "--accounts", "222233334444"), cwd=ROOT, text=True,
                              env={**os.environ, PAUSE_ENV: "30"}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not list(out.glob(".plan.csv.*.tmp")) and time.monotonic() < deadline and writer.poll() is None:
        time.sleep(0.05)
    writer.send_signal(signal.SIGINT)
    _, err = writer.communicate(timeout=30)
    assert writer.returncode == 130 and err == "sts-kit plan: interrupted; nothing written\n"
    assert _digests(out) == before


def test_a_second_writer_of_the_same_out_exits_2_with_one_line(two_accounts, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with folder_lock(out):
        done = subprocess.run(_plan_argv(two_accounts, out), cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 2
    assert "is being written by another sts-kit" in done.stderr and done.stderr.count("\n") == 1
    assert list(out.iterdir()) == []


def test_the_lock_is_reentrant_in_a_process_and_a_folder_it_created_is_removed_when_left_empty(tmp_path):
    with folder_lock(tmp_path / "new") as folder:
        with folder_lock(folder):
            assert folder.is_dir()
    assert not (tmp_path / "new").exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is a file"):
        with folder_lock(tmp_path / "file"):
            pass


@pytest.mark.parametrize("value, expected", [
    ("=HYPERLINK(\"http://x\",\"y\")", "'=HYPERLINK(\"http://x\",\"y\")"), ("+1", "'+1"), ("-2+3", "'-2+3"),
    ("@SUM(1)", "'@SUM(1)"), ("\tx", "'\tx"), ("\rx", "'\rx"), ("aws-cli/2", "aws-cli/2"), (5, 5), ("", ""),
])
def test_cells_a_spreadsheet_would_evaluate_are_made_inert(value, expected):
    assert inert_cell(value) == expected


def test_hostile_record_values_stay_data_in_every_file(tmp_path):
    hostile = user("111122223333", "alice")
    hostile.update(accountId="../../x", arn="arn:aws:iam::../../x:user/<img src=x onerror=alert(1)>")
    linked = user("222233334444", "[bob](https://evil.example)")
    trail = _trail(tmp_path / "trail", [
        sts(hostile, "2025-07-01T10:00:00Z", agent='=HYPERLINK("https://evil.example","click")'),
        sts(linked, "2025-07-01T10:00:00Z", agent="@SUM(1+1)\nnew line"),
        sts(user("333344445555", "carol"), "2025-07-01T10:00:00Z", agent="-2+3 tool/1.0")])
    out = tmp_path / "run" / "out"
    plan = make_plan(validate({"source": "local", "path": trail, "start": "2025-07-01", "end": "2025-07-02",
                               "quiet": True}))
    write_outputs(plan, out, reports=True)
    assert sorted(p.name for p in (out / "reports").iterdir()) == ["222233334444.md", "333344445555.md"]
    assert sorted(p.name for p in tmp_path.rglob("x.md")) == []
    assert json.loads((out / "summary.json").read_text())["reports_not_written"] == {
        "../../x": "not a 12-digit account id"}
    for name in ("plan.csv", "quota.csv"):
        with open(out / name, newline="") as file:
            cells = [cell for row in csv.reader(file) for cell in row]
        assert cells and not [cell for cell in cells if cell.startswith(FORMULA_STARTS)], name
    markdown = (out / "plan.md").read_text()
    assert "<img" not in markdown and "](https://" not in markdown and "\nnew line" not in markdown
    assert "&lt;img src=x onerror=alert(1)&gt;" in markdown


@pytest.mark.parametrize("value, fragment", [
    ("<script>x</script>", "&lt;script&gt;"), ("[a](b)", "\\[a\\](b)"), ("a|b", "a\\|b"),
    ("https://e.example", "https&#58;//"), ("one\ntwo", "one two"), ("*bold*", "\\*bold\\*"),
])
def test_markdown_values_render_as_text(value, fragment):
    assert fragment in md_text(value)


def _escaped_first_way(text: str) -> str:
    """md_text as the kit first wrote it: html.escape, then a backslash before each of \\`*_[]|."""
    text = re.sub(r"([\\`*_\[\]|])", r"\\\1", html.escape(" ".join(text.split()), quote=False))
    return re.sub(r"(?i)(://|www\.)", lambda m: m.group(1).replace(":", "&#58;").replace(".", "&#46;"), text)


def test_markdown_escaping_equals_the_first_way_over_random_texts():
    draw = random.Random(14)
    alphabet = "ab:/.wW &<>\"'\\`*_[]|#\n\té€😀"
    texts = ["".join(draw.choice(alphabet) for _ in range(draw.randrange(40))) for _ in range(5000)]
    texts += ["http://www.x", "a&amp;b", "&lt;", "WwW.x", "\\\\"]
    assert [md_text(text) for text in texts] == [_escaped_first_way(text) for text in texts]
    assert [md_text(text) for text in texts] == [_escaped_first_way(text) for text in texts]  # from the memo now


def test_rows_read_as_itertuples_reads_them():
    table = pd.DataFrame({"text": pd.array(["a", None, "c"], dtype="string"), "kind": pd.Categorical(["x", "y", "x"]),
                          "when": pd.to_datetime(["2025-07-01T10:00:00Z", None, "2025-07-02T00:00:00Z"]),
                          "count": pd.array([1, None, 3], dtype="Int64"), "rate": [0.5, float("nan"), 2.0],
                          "flag": [True, False, True], "not an identifier": [1, 2, 3]})
    ours, pandas_own = plain_rows(table), list(table.itertuples(index=False))
    written = [list(map(format, row)) for row in ours]  # as the report's f-strings write them
    assert written == [list(map(format, row)) for row in pandas_own]
    assert ours[0]._fields == pandas_own[0]._fields


def test_each_accounts_section_is_made_once_and_reads_as_made_alone():
    plan = make_plan(validate({"source": "samples", "quiet": True}))
    files, _ = plan_files(plan, reports=True)
    reports = {name: text for name, text in files.items() if name.startswith("reports/")}
    assert len(reports) == 4 and files["plan.md"] == plan_markdown(plan).encode()
    assert reports == {f"reports/{account}.md": account_report(plan, account).encode()
                       for account in sorted(set(plan.callers.account_id))}


def test_categorical_and_string_columns_are_made_inert_too():
    table = pd.DataFrame({"tool": pd.Categorical(["=cmd|' /C calc'!A0", "aws-cli"]),
                          "agent": pd.array(["@SUM(1)", "x"], dtype="string"), "calls": [-1, 2]})
    text = csv_bytes(table).decode()
    assert text.splitlines() == ["tool,agent,calls", "'=cmd|' /C calc'!A0,'@SUM(1),-1", "aws-cli,x,2"]


def test_only_the_kits_own_leftovers_are_cleared(tmp_path):
    (tmp_path / ".plan.csv.abcd1234.tmp").write_text("cut")
    (tmp_path / ".mine.abcd1234.tmp").write_text("keep")
    write_set(tmp_path, {"plan.csv": b"1"}, {})
    assert sorted(p.name for p in tmp_path.iterdir()) == [".mine.abcd1234.tmp", "plan.csv", "summary.json"]


def test_the_kits_own_code_spans_survive_and_values_inside_them_stay_literal():
    text = md_prose("Set `sts_regional_endpoints = regional` for <b>x</b> [a](https://e.example) or `x` y`")
    assert text.startswith("Set `sts_regional_endpoints = regional` for &lt;b&gt;x&lt;/b&gt; \\[a\\]")
    assert text.endswith("or `x` y\\`") and "https&#58;" in text


def test_report_names_need_exactly_twelve_ascii_digits():
    from kit.params import ACCOUNT_ID

    assert [bool(ACCOUNT_ID.match(value)) for value in ("111122223333", "111122223333\n", "١١١١٢٢٢٢٣٣٣٣",
                                                         "11112222333", "../111122223333")] == [
        True, False, False, False, False]
