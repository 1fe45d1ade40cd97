"""The progress notebook's data and charts: history.csv of the runs folder (plus the run being
made, before ``sts-kit run`` records it), the latest changes, a burn-down per account, and a
sample campaign built from the three sample states for the workshop."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from kit.callers import PRIORITIES
from kit.outputs import HELD_LOCK_ENV
from kit.campaign.history import ALL_ACCOUNTS, is_complete_run, previous_run, read_history, record_run, run_rows

PRIORITY_COLOURS = {"P1": "#c0392b", "P2": "#e67e22", "P3": "#95a5a6"}


def run_in_progress(out_dir: Path) -> Path | None:
    """``out_dir`` when this kernel runs inside ``sts-kit run`` writing to it (the runner hands its
    lock on the run folder to the kernels), else None."""
    _, _, held = os.environ.get(HELD_LOCK_ENV, "").partition(":")
    return Path(out_dir) if held and Path(held) == Path(out_dir).resolve() else None


def campaign_history(runs_root: Path, current_run: Path | None = None) -> pd.DataFrame:
    """history.csv of ``runs_root``, with ``current_run``'s rows added when it is complete and not
    recorded yet (the progress notebook runs before ``sts-kit run`` records the run)."""
    history = read_history(runs_root)
    if current_run is not None and is_complete_run(current_run) and current_run.name not in set(history.run):
        history = pd.concat([history, run_rows(current_run)], ignore_index=True)
    return history


def latest_changes(runs_root: Path) -> tuple[str, pd.DataFrame]:
    """The newest complete run's name and its changes.csv (no rows when it compared with nothing)."""
    run = previous_run(runs_root)
    if run is None or not (run / "changes.csv").exists():
        return (run.name if run else ""), pd.DataFrame()
    return run.name, pd.read_csv(run / "changes.csv", dtype=str, keep_default_na=False)


def per_day(rows: pd.DataFrame) -> pd.Series:
    """Global calls per day of each row's window."""
    days = (pd.to_datetime(rows.window_end, utc=True) - pd.to_datetime(rows.window_start, utc=True)).dt.days
    return rows.global_calls.astype(float) / days.where(days > 0)


def burn_down(history: pd.DataFrame) -> Figure:
    """Per account (one panel each, the whole campaign first): callers per priority stacked per run
    (bars, left axis) and global calls per day of the run's window (line, right axis: windows of
    different lengths stay comparable)."""
    accounts = [ALL_ACCOUNTS] + sorted(set(history.account_id) - {ALL_ACCOUNTS})
    runs = list(dict.fromkeys(history.run))
    figure, axes = plt.subplots(len(accounts), 1, figsize=(8, 2.3 * len(accounts)), sharex=True, squeeze=False)
    for panel, account in zip(axes[:, 0], accounts):
        rows = history[history.account_id == account].set_index("run").reindex(runs)
        rows = rows.assign(per_day=per_day(rows)).fillna({"per_day": 0, **{p: 0 for p in PRIORITIES}})
        bottom = pd.Series(0, index=rows.index, dtype=float)
        for priority in PRIORITIES:
            panel.bar(range(len(runs)), rows[priority], bottom=bottom, color=PRIORITY_COLOURS[priority],
                      label=priority, width=0.6)
            bottom += rows[priority]
        panel.set_ylabel("callers")
        panel.set_title("all accounts" if account == ALL_ACCOUNTS else f"account {account}", loc="left", fontsize=10)
        panel.yaxis.get_major_locator().set_params(integer=True)
        calls = panel.twinx()
        calls.plot(range(len(runs)), rows.per_day, color="black", marker="o")
        for index, value in enumerate(rows.per_day):
            calls.annotate(f"{value:,.1f}", (index, value), textcoords="offset points", xytext=(0, 6),
                           ha="center", fontsize=8)
        calls.set_ylabel("global calls / day")
        calls.set_ylim(0, max(1, rows.per_day.max()) * 1.3)
    axes[0, 0].legend(loc="upper left", bbox_to_anchor=(1.12, 1), title="callers", frameon=False)
    windows = history.drop_duplicates("run").set_index("run")
    labels = [f"{run}\n{str(windows.window_start.get(run, ''))[:10]}…" for run in runs]
    axes[-1, 0].set_xticks(range(len(runs)), labels, fontsize=8)
    figure.suptitle("Burn-down: callers per priority (bars) and global calls per day (line) per run", x=0.02, ha="left")
    figure.tight_layout()
    return figure


def sample_campaign() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The history and the latest run's changes of three consecutive runs of the sample states (samples,
    later, latest), each compared with the one before: made in a temporary folder, removed once read (a
    notebook re-run leaves nothing behind)."""
    with tempfile.TemporaryDirectory(prefix="sts-kit-campaign-") as folder:
        _run_sample_states(Path(folder))
        return campaign_history(Path(folder)), latest_changes(Path(folder))[1]


def _run_sample_states(runs_root: Path) -> None:
    """Three consecutive runs of the sample states in ``runs_root``, each compared with the one before
    and recorded in history.csv."""
    from kit.campaign.compare import read_previous
    from kit.campaign.finish import finish
    from kit.params import SAMPLES_DIR, validate
    from kit.plan import make_plan
    from kit.report import write_outputs
    from kit.synthstates import STATES, window

    states = [("20251001T000000Z", {"source": "samples"})]
    for name, state in zip(("20251101T000000Z", "20251201T000000Z"), STATES.values()):
        start, end = window(state)
        states.append((name, {"source": "local", "path": SAMPLES_DIR.parent / f"samples-{state.name}" / "trail",
                              "start": start, "end": end, "ip_ranges": SAMPLES_DIR / "ip-ranges.json"}))
    previous = None
    for name, values in states:
        run_dir = Path(runs_root) / name
        params = validate({**values, "out_dir": str(run_dir)})
        plan = make_plan(params)
        write_outputs(plan, run_dir, reports=True)
        finish(plan, run_dir, read_previous(previous) if previous else None, ())
        record_run(run_dir, runs_root)
        previous = run_dir


def run_changes(params, runs_root: Path) -> pd.DataFrame:
    """The changes of the run writing to ``params.out_dir``: its changes.csv, or (``sts-kit run``
    adds that file only after the notebooks) a comparison with the previous complete run."""
    from kit import rollupfile
    from kit.campaign.compare import compare, read_previous
    from kit.plan import make_plan

    out_dir = Path(params.out_dir)
    if (out_dir / "changes.csv").exists() and is_complete_run(out_dir):
        return pd.read_csv(out_dir / "changes.csv", dtype=str, keep_default_na=False)
    previous = previous_run(runs_root, before=out_dir.name)
    if previous is None:
        return pd.DataFrame()
    plan = make_plan(params, rollupfile.load(params))  # the run's stored rollup: no second set of queries
    return compare(plan, read_previous(previous, "previous run")).table


def change_counts(changes: pd.DataFrame) -> str:
    """One deterministic line: rows per change kind (what nbval compares)."""
    from kit.campaign.compare import CHANGE_KINDS

    if changes.empty:
        return "no changes"
    return ", ".join(f"{int((changes.change == kind).sum())} {kind}" for kind in CHANGE_KINDS
                     if (changes.change == kind).any())
