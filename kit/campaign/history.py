"""history.csv at the root of a runs folder: one row per run for the whole run (``account_id``
``all``) and one per account, so the progress notebook can draw a burn-down per account.

Rows come from each run's complete set (summary.json, plan.csv, changes.csv); the file is
rewritten whole and renamed into place (kit.outputs.write_file), under the runs folder's lock.
"""
from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Iterator

import pandas as pd

from kit.callers import PRIORITIES
from kit.campaign.compare import CHANGE_KINDS
from kit.errors import InputError, OutputError
from kit.outputs import MANIFEST, csv_bytes, folder_lock, verify_set, write_file

HISTORY = "history.csv"
LOCK_WAIT_SECONDS = 60.0
"""How long a run waits for another one recording itself in the same runs folder."""
ALL_ACCOUNTS = "all"
HISTORY_COLUMNS = (["run", "time", "window_start", "window_end", "account_id", "callers", *PRIORITIES,
                    "global_calls", "at_risk_buckets"] + list(CHANGE_KINDS) + ["breakage_events"])
ADDED_COLUMNS = {"breakage_events": 0}
"""Columns added since the first history.csv, with the value earlier runs get (their plan.csv lacks them)."""


def is_complete_run(folder: Path) -> bool:
    """Whether ``folder`` holds a complete plan set (manifest naming plan.csv, every file intact)."""
    try:
        listing = json.loads((folder / MANIFEST).read_text()).get("files", {})
    except (OSError, ValueError, AttributeError):
        return False
    return isinstance(listing, dict) and "plan.csv" in listing and not verify_set(folder)


def previous_run(runs_root: Path, before: str | None = None) -> Path | None:
    """The latest complete run folder in ``runs_root`` whose name sorts before ``before`` (all when None)."""
    if not Path(runs_root).is_dir():
        return None
    folders = sorted((path for path in Path(runs_root).iterdir()
                      if path.is_dir() and not path.name.startswith(".") and (before is None or path.name < before)),
                     key=lambda path: path.name, reverse=True)
    return next((folder for folder in folders if is_complete_run(folder)), None)


def run_rows(run_dir: Path) -> pd.DataFrame:
    """The history rows of one complete run: the run as a whole, then each account."""
    if not is_complete_run(run_dir):
        raise InputError(f"{run_dir} is not a complete run (summary.json missing or a file changed)")
    summary = json.loads((run_dir / MANIFEST).read_text())
    callers = pd.read_csv(run_dir / "plan.csv", dtype={"account_id": str}, keep_default_na=False)
    changes = (pd.read_csv(run_dir / "changes.csv", dtype={"account_id": str}, keep_default_na=False)
               if "changes.csv" in summary["files"] else pd.DataFrame(columns=["account_id", "change"]))
    risky = pd.DataFrame(summary.get("at_risk_buckets") or [], columns=["account_id"])
    window = summary.get("window") or {}
    time = pd.Timestamp((run_dir / MANIFEST).stat().st_mtime, unit="s", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    accounts = sorted(set(callers.account_id) | set(changes.account_id) | set(summary.get("accounts") or []))
    rows = []
    for account in [ALL_ACCOUNTS, *accounts]:
        mine = (lambda table: table) if account == ALL_ACCOUNTS else (lambda table: table[table.account_id == account])
        own, changed = mine(callers), mine(changes)
        rows.append({"run": run_dir.name, "time": time, "window_start": window.get("start", ""),
                     "window_end": window.get("end", ""), "account_id": account, "callers": len(own),
                     **{p: int((own.priority == p).sum()) for p in PRIORITIES},
                     "global_calls": int(own.global_calls.sum()), "at_risk_buckets": len(mine(risky)),
                     **{kind: int((changed.change == kind).sum()) for kind in CHANGE_KINDS},
                     "breakage_events": int(own.breakage_events.sum()) if "breakage_events" in own else 0})
    return pd.DataFrame(rows, columns=HISTORY_COLUMNS)


def read_history(runs_root: Path) -> pd.DataFrame:
    """history.csv of ``runs_root`` (no rows when there is none); ``InputError`` when it is not ours."""
    path = Path(runs_root) / HISTORY
    if not path.exists():
        return pd.DataFrame(columns=HISTORY_COLUMNS)
    table = pd.read_csv(path, dtype={"run": str, "account_id": str}, keep_default_na=False)
    older = [column for column in HISTORY_COLUMNS if column not in ADDED_COLUMNS]
    if list(table.columns) == older:  # written by an earlier version: its runs get the added columns' value
        table = table.assign(**ADDED_COLUMNS)
    if list(table.columns) != HISTORY_COLUMNS:
        raise InputError(f"{path} does not have the columns sts-kit writes; move it away and run again")
    return table


@contextlib.contextmanager
def _waiting_lock(runs_root: Path, seconds: float = LOCK_WAIT_SECONDS) -> Iterator[Path]:
    """The runs folder's lock, waiting while another run records itself (each holds it briefly)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with folder_lock(runs_root, "--runs") as root:
                yield root
                return
        except OutputError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def record_run(run_dir: Path, runs_root: Path) -> Path:
    """Add (or replace) ``run_dir``'s rows in ``runs_root``/history.csv, runs in name order."""
    with _waiting_lock(Path(runs_root)) as root:
        table = read_history(root)
        table = pd.concat([table[table.run != Path(run_dir).name], run_rows(Path(run_dir))], ignore_index=True)
        table = table.sort_values(["run", "account_id"], key=lambda column: column.map(
            lambda value: (value != ALL_ACCOUNTS, value)) if column.name == "account_id" else column, kind="stable")
        return write_file(root / HISTORY, csv_bytes(table))
