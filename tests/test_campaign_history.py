"""history.csv of a runs folder and the previous complete run, on the three sample states."""
from __future__ import annotations

import shutil
import tempfile

import pandas as pd
import pytest

from kit.campaign.history import ALL_ACCOUNTS, HISTORY_COLUMNS, previous_run, read_history, record_run
from kit.campaign.progress import sample_campaign
from kit.cli import main
from kit.errors import InputError
from test_campaign import LATER, LATEST

RUNS = ("20251001T000000Z", "20251101T000000Z", "20251201T000000Z")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A runs folder holding the samples, later and latest plans as consecutive runs."""
    root = tmp_path_factory.mktemp("runs")
    first, later, latest = (root / name for name in RUNS)
    assert main(["plan", "--out", str(first)]) == 0
    assert main(["plan", *LATER, "--out", str(later), "--compare", str(first)]) == 0
    assert main(["plan", *LATEST, "--out", str(latest), "--compare", str(later)]) == 0
    return root


def test_history_has_a_row_per_run_and_account(runs, tmp_path):
    root = shutil.copytree(runs, tmp_path / "runs")
    for name in RUNS:
        record_run(root / name, root)
    history = read_history(root)
    assert list(history.columns) == HISTORY_COLUMNS
    whole = history[history.account_id == ALL_ACCOUNTS].set_index("run")
    assert list(whole.index) == list(RUNS)
    assert list(whole.callers) == [16, 14, 15] and list(whole.P1) == [10, 9, 9]  # C16-C18, C20 in every state
    assert whole.loc[RUNS[1], ["new", "moved", "gone", "priority-up", "priority-down"]].tolist() == [1, 2, 1, 1, 1]
    assert whole.loc[RUNS[2], "regressed"] == 1
    per_account = history[history.account_id != ALL_ACCOUNTS].groupby("run")[["callers", "global_calls"]].sum()
    pd.testing.assert_frame_equal(per_account, whole[["callers", "global_calls"]], check_names=False)
    assert whole.loc[RUNS[0], "at_risk_buckets"] == 2  # eu-west-1 after the moves; ci-tools global (throttled)


def test_recording_a_run_again_replaces_its_rows(runs, tmp_path):
    root = shutil.copytree(runs, tmp_path / "runs")
    record_run(root / RUNS[0], root)
    once = (root / "history.csv").read_bytes()
    record_run(root / RUNS[0], root)
    assert (root / "history.csv").read_bytes() == once
    assert [path.name for path in root.iterdir() if path.name.startswith(".")] == []


def test_previous_run_is_the_latest_complete_one_before(runs, tmp_path):
    root = shutil.copytree(runs, tmp_path / "runs")
    assert previous_run(root) == root / RUNS[2]
    assert previous_run(root, before=RUNS[2]) == root / RUNS[1]
    (root / RUNS[1] / "summary.json").unlink()  # killed while renaming: incomplete
    assert previous_run(root, before=RUNS[2]) == root / RUNS[0]
    assert previous_run(root, before=RUNS[0]) is None
    assert previous_run(tmp_path / "nowhere") is None


def test_a_foreign_history_file_is_refused(runs, tmp_path):
    root = shutil.copytree(runs, tmp_path / "runs")
    (root / "history.csv").write_text("=cmd,other\n1,2\n")
    with pytest.raises(InputError, match="does not have the columns sts-kit writes"):
        record_run(root / RUNS[0], root)


def test_a_history_from_before_breakage_events_is_carried_on(runs, tmp_path):
    root = shutil.copytree(runs, tmp_path / "runs")
    record_run(root / RUNS[0], root)
    old = pd.read_csv(root / "history.csv", dtype=str, keep_default_na=False).drop(columns="breakage_events")
    old.to_csv(root / "history.csv", index=False)  # as an earlier kit wrote it
    old_plan = pd.read_csv(root / RUNS[1] / "plan.csv", dtype=str, keep_default_na=False)
    assert "breakage_events" in old_plan
    record_run(root / RUNS[1], root)
    history = read_history(root)
    assert list(history.columns) == HISTORY_COLUMNS
    first = history[(history.run == RUNS[0]) & (history.account_id == ALL_ACCOUNTS)]
    assert first.breakage_events.tolist() == [0]
    second = history[(history.run == RUNS[1]) & (history.account_id != ALL_ACCOUNTS)]
    assert second.breakage_events.sum() == old_plan.breakage_events.astype(int).sum()


def test_the_sample_campaign_is_read_and_leaves_no_folder_behind(runs, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where TemporaryDirectory makes its folders
    history, changes = sample_campaign()
    assert list(tmp_path.iterdir()) == []
    assert list(history[history.account_id == ALL_ACCOUNTS].run) == list(RUNS)
    compared = pd.read_csv(runs / RUNS[-1] / "changes.csv", dtype=str, keep_default_na=False)
    assert len(changes) and set(changes.change) == set(compared.change)
