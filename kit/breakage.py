"""Evidence of breakage in the plan: the rollup's ``signals`` per caller, as risks, counts and priority.

The engines find the signals (kit.signals); this module is plain pandas over their table:

* ``signal_table``: signals.csv, one row per caller (account, principal, caller tool), signal and
  Region, with ``in_plan`` saying whether that caller calls the global endpoint (a signal of a
  Regional-only caller is kept and listed, never dropped);
* ``apply``: each global caller gains its signal codes in ``risks``, a ``breakage`` sentence with
  the counts and an example event id, and ``breakage_events`` (events of live breakage); a caller
  whose calls fail today (``kit.signals.LIVE_BREAKAGE``) becomes P1, and its ``priority_reason``
  says so and what the priority was.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kit.callers import PRIORITIES, per_value, tool_of
from kit.codedseconds import group_reduce, plain_rows
from kit.signals import LIVE_BREAKAGE, SIGNALS

CALLER = ["account_id", "principal_arn", "caller_tool"]
SIGNAL_TABLE_COLUMNS = CALLER + ["signal", "region", "events", "sessions", "first_seen", "last_seen",
                                 "example_event_id", "in_plan"]
BREAKAGE_COLUMNS = ["breakage", "breakage_events"]
_DAY = "%Y-%m-%d"


def smallest_ids(ids: pd.Series, group: np.ndarray, groups: int) -> np.ndarray:
    """Per group (``group``: the group number, below ``groups``, of each of ``ids``): the smallest
    non-empty event id of its rows ('' when none)."""
    codes, texts = pd.factorize(ids, sort=True)  # codes in text order
    texts = np.append(texts.to_numpy(dtype=object), "")
    absent = len(texts) - 1
    codes = np.where(texts[codes] == "", absent, codes)
    return texts[group_reduce(np.minimum, codes, group, groups, absent)]


def signal_table(signals: pd.DataFrame, callers: pd.DataFrame) -> pd.DataFrame:
    """signals.csv: the rollup's signals per caller tool, signal and Region, in ``SIGNALS`` order."""
    if signals.empty:
        return pd.DataFrame({column: pd.Series(dtype=dtype) for column, dtype in (
            (column, "int64" if column in ("events", "sessions") else "bool" if column == "in_plan" else object)
            for column in SIGNAL_TABLE_COLUMNS)})
    rows = signals.assign(caller_tool=per_value(signals.user_agent, lambda agent: tool_of(agent).tool))
    grouped = rows.groupby(CALLER + ["signal", "region"], sort=False)
    table = (grouped.agg(events=("events", "sum"), sessions=("sessions", "sum"), first_seen=("first_seen", "min"),
                         last_seen=("last_seen", "max"))
             .reset_index())
    table["example_event_id"] = smallest_ids(rows.example_event_id, grouped.ngroup().to_numpy(), len(table))
    planned = set(zip(callers.account_id, callers.principal_arn, callers.caller_tool))
    table["in_plan"] = [key in planned for key in zip(table.account_id, table.principal_arn, table.caller_tool)]
    order = table.signal.map({code: index for index, code in enumerate(SIGNALS)}).fillna(len(SIGNALS))
    table = table.assign(_order=order).sort_values(["_order", *CALLER, "region"], kind="stable")
    return table[SIGNAL_TABLE_COLUMNS].reset_index(drop=True)


def sentence(row: Any) -> str:
    """One signal row in words: 'token-rejected: 412 events in ap-east-1 (3 sessions; 2025-05-02 to
    2025-08-30; e.g. event 1f0c...)'."""
    sessions = f"{row.sessions:,} session{'s' if row.sessions != 1 else ''}; " if row.sessions else ""
    example = f"; e.g. event {row.example_event_id}" if row.example_event_id else ""
    return (f"{row.signal}: {row.events:,} event{'s' if row.events != 1 else ''} in {row.region or 'no Region'} "
            f"({sessions}{row.first_seen:{_DAY}} to {row.last_seen:{_DAY}}{example})")


def apply(callers: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """``callers`` with their signals (``signal_table`` rows with ``in_plan``): risk codes, the
    ``BREAKAGE_COLUMNS`` and P1 for live breakage, sorted by priority as before."""
    out = callers.copy()
    by_caller: dict[tuple, list] = {}
    for row in plain_rows(table[table.in_plan], SIGNAL_TABLE_COLUMNS):
        by_caller.setdefault((row.account_id, row.principal_arn, row.caller_tool), []).append(row)
    found = [by_caller.get(key, []) for key in zip(out.account_id, out.principal_arn, out.caller_tool)]
    out["breakage"] = ["; ".join(sentence(row) for row in rows) for rows in found]
    out["breakage_events"] = [sum(row.events for row in rows if row.signal in LIVE_BREAKAGE) for rows in found]
    out["risks"] = [";".join(dict.fromkeys([*filter(None, risks.split(";")), *(row.signal for row in rows)]))
                    for risks, rows in zip(out.risks, found)]
    for index, rows in zip(out.index, found):
        live = [row for row in rows if row.signal in LIVE_BREAKAGE]
        if live:
            codes = ", ".join(dict.fromkeys(row.signal for row in live))
            before = f"{out.at[index, 'priority']}: {out.at[index, 'priority_reason']}"
            out.at[index, "priority_reason"] = (f"live breakage: {sum(row.events for row in live):,} calls failing "
                                                f"({codes}); otherwise {before}")
            out.at[index, "priority"] = "P1"
    order = out.priority.map(PRIORITIES.index)
    out = out.assign(_order=order).sort_values(["_order", "account_id", "global_calls", "principal_arn"],
                                               ascending=[True, True, False, True], kind="stable")
    return out.drop(columns="_order").reset_index(drop=True)


def summary(table: pd.DataFrame) -> dict[str, Any]:
    """summary.json ``signals``: per signal, events, sessions, callers in the plan and outside it."""
    result = {}
    for code in SIGNALS:
        rows = table[table.signal == code]
        if len(rows):
            callers = rows.drop_duplicates(CALLER)
            result[code] = {"events": int(rows.events.sum()), "sessions": int(rows.sessions.sum()),
                            "callers_in_plan": int(callers.in_plan.sum()),
                            "callers_not_in_plan": int((~callers.in_plan).sum())}
    return result
