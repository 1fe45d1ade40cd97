"""changes.csv: what changed for each caller since a previous complete plan set.

A caller is ``kit.callers.CALLER_KEY``. Kinds: ``new`` (a global caller the previous set did not
have), ``moved`` (in the previous plan, no global calls now, and Regional STS calls by the same
principal in this window's rollup), ``gone`` (no STS calls by the principal at all now),
``regressed`` (global calls again after a run that showed it moved), ``priority-up`` /
``priority-down``. Unchanged callers are not listed. The callers shown moved are carried from set
to set in the manifest (``campaign.moved``), so a regression is found however many runs later.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from kit.callers import CALLER_KEY
from kit.errors import InputError
from kit.outputs import MANIFEST, verify_set
from kit.plan import Plan

CHANGE_KINDS = ("new", "moved", "gone", "regressed", "priority-up", "priority-down")
CHANGE_COLUMNS = CALLER_KEY + ["change", "before", "after", "evidence"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_RANK = {"P1": 1, "P2": 2, "P3": 3}


@dataclass
class Previous:
    """A previous complete plan set: its callers, window, and the callers it had seen move."""

    folder: str
    callers: pd.DataFrame
    window: dict[str, str]
    moved: set[tuple[str, ...]] = field(default_factory=set)


@dataclass
class Changes:
    """The rows of changes.csv and what the next comparison needs (the manifest's ``campaign``)."""

    table: pd.DataFrame
    campaign: dict[str, Any]

    def counts(self) -> dict[str, int]:
        """Rows per change kind (every kind, zeros included)."""
        return {kind: int((self.table.change == kind).sum()) for kind in CHANGE_KINDS}


def _restored(value: str) -> str:
    """A cell as it was before kit.outputs.inert_cell quoted it."""
    return value[1:] if value.startswith("'") and value[1:].startswith(_FORMULA_START) else value


def read_previous(folder: Path, what: str = "--compare") -> Previous:
    """The previous set in ``folder``; ``InputError`` (one line) when it is not a complete set."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{what} {folder}: no such folder; name the out folder or run folder of a previous run")
    problems = verify_set(folder)
    if problems:
        raise InputError(f"{what} {folder} is not a complete set ({problems[0]}); name a folder a finished run wrote")
    manifest = json.loads((folder / MANIFEST).read_text())
    if "plan.csv" not in manifest.get("files", {}):
        raise InputError(f"{what} {folder} holds no plan.csv; name the out folder or run folder of a previous run")
    callers = pd.read_csv(folder / "plan.csv", dtype=str, keep_default_na=False)
    missing = [column for column in CALLER_KEY + ["priority", "global_calls"] if column not in callers.columns]
    if missing:
        raise InputError(f"{what} {folder}/plan.csv lacks the columns {', '.join(missing)}; was it written by sts-kit?")
    callers = callers.map(_restored)
    moved = {tuple(str(part) for part in key) for key in manifest.get("campaign", {}).get("moved", [])
             if isinstance(key, list) and len(key) == len(CALLER_KEY)}
    if "changes.csv" in manifest["files"]:
        earlier = pd.read_csv(folder / "changes.csv", dtype=str, keep_default_na=False).map(_restored)
        if set(CHANGE_COLUMNS) <= set(earlier.columns):
            moved |= {tuple(row) for row in earlier.loc[earlier.change == "moved", CALLER_KEY].itertuples(index=False)}
    window = manifest.get("window") or {}
    return Previous(str(folder), callers, {"start": str(window.get("start", "?")), "end": str(window.get("end", "?"))},
                    moved)


def _window_note(previous: Previous, plan: Plan) -> str:
    now = plan.summary.get("window") or {}
    if (previous.window.get("start"), previous.window.get("end")) == (now.get("start"), now.get("end")):
        return ""
    return (f"; windows differ (before {previous.window['start']} to {previous.window['end']}, "
            f"now {now.get('start')} to {now.get('end')})")


def _sts_by_principal(plan: Plan) -> pd.DataFrame:
    """STS calls per (account, principal, endpoint) in this window, with the Regions they went to."""
    calls = plan.rollup.sts_calls
    if calls.empty:
        return pd.DataFrame(columns=["account_id", "principal_arn", "endpoint", "calls", "regions"])
    grouped = calls.groupby(["account_id", "principal_arn", "endpoint"])
    return grouped.agg(calls=("calls", "sum"),
                       regions=("event_region", lambda regions: ", ".join(sorted(set(regions))))).reset_index()


def _state(priority: str, global_calls: Any) -> str:
    return f"{priority} ({global_calls} global calls)"


def compare(plan: Plan, previous: Previous) -> Changes:
    """The changes between ``previous`` and this ``plan`` (its rollup verifies moves)."""
    note = _window_note(previous, plan)
    now = plan.callers.assign(**{column: plan.callers[column].fillna("").astype(str) for column in CALLER_KEY})
    now_by_key = {tuple(row[:len(CALLER_KEY)]): row for row in
                  now[CALLER_KEY + ["priority", "global_calls"]].itertuples(index=False)}
    before_by_key = {tuple(row[:len(CALLER_KEY)]): row for row in
                     previous.callers[CALLER_KEY + ["priority", "global_calls"]].itertuples(index=False)}
    sts = _sts_by_principal(plan)
    filtered = set(plan.params.accounts)
    rows: list[tuple] = []
    unlisted: list[dict[str, str]] = []
    earlier_principals = {(key[0], key[1]): key for key in before_by_key}
    for key, row in now_by_key.items():
        if key in before_by_key:
            before, rank_now = before_by_key[key], _RANK.get(row.priority, 9)
            rank_before = _RANK.get(before.priority, 9)
            if rank_now != rank_before:
                kind = "priority-up" if rank_now < rank_before else "priority-down"
                rows.append((*key, kind, before.priority, row.priority,
                             f"{before.global_calls} global calls before, {row.global_calls} now{note}"))
        elif key in previous.moved:
            rows.append((*key, "regressed", "moved", row.priority,
                         f"shown moved by an earlier run; {row.global_calls} global calls again{note}"))
        else:
            same = earlier_principals.get((key[0], key[1]))
            seen = (f"; the principal was a caller before as {same[2]} in {same[3] or 'an unknown Region'}"
                    if same else "")
            rows.append((*key, "new", "none", row.priority,
                         f"{row.global_calls} global calls; not a caller in the previous run{seen}{note}"))
    for key, before in before_by_key.items():
        if key in now_by_key:
            continue
        account, principal = key[0], key[1]
        if filtered and account not in filtered:
            unlisted.append({**dict(zip(CALLER_KEY, key)), "reason": "its account is not in this run's --accounts"})
            continue
        mine = sts[(sts.account_id == account) & (sts.principal_arn == principal)]
        regional = mine[mine.endpoint == "regional"]
        still_global = mine[mine.endpoint == "global"]
        if len(regional) and not len(still_global):
            calls = int(regional.calls.sum())
            rows.append((*key, "moved", before.priority, "regional",
                         f"0 global calls now; {calls} Regional STS calls by the same principal "
                         f"({regional.regions.iloc[0]}){note}"))
        elif mine.empty:
            rows.append((*key, "gone", before.priority, "none",
                         f"no STS calls by the principal in this window (stopped, or outside it){note}"))
        else:  # global calls as another caller (its own row says new), or calls of unknown endpoint
            unlisted.append({**dict(zip(CALLER_KEY, key)), "reason": "the principal still calls STS but no longer "
                             "as this caller (tool or workload Region changed, or endpoint unknown)"})
    table = pd.DataFrame(rows, columns=CHANGE_COLUMNS)
    order = {kind: index for index, kind in enumerate(CHANGE_KINDS)}
    table = table.sort_values(["account_id", "change", "principal_arn"], key=lambda column: column.map(order)
                              if column.name == "change" else column, kind="stable").reset_index(drop=True)
    present = set(now_by_key)
    moved = (previous.moved | {tuple(row) for row in table.loc[table.change == "moved", CALLER_KEY]
                               .itertuples(index=False)}) - present
    campaign = {"compared_with": previous.folder, "previous_window": previous.window,
                "changes": {kind: int((table.change == kind).sum()) for kind in CHANGE_KINDS},
                "not_listed": unlisted, "moved": sorted(list(key) for key in moved)}
    return Changes(table, campaign)
