"""Helpers the notebooks call: parameters from the notebook namespace, and small displays.

Notebooks hold a ``parameters`` cell (papermill adds an ``injected-parameters`` cell after it);
``parameters(globals())`` validates every parameter-like variable against the one schema, so a
misspelt name such as ``sourse`` fails at once with the list of valid names.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from kit.params import PARAMS_BY_NAME, Params, validate
from kit.plan import Plan

_IPYTHON_NAMES = {"In", "Out", "exit", "quit", "get_ipython", "open"}
_PARAMETER_TYPES = (str, int, float, bool, list, tuple, dict, dt.date, Path, type(None))


def parameters(namespace: Mapping[str, Any]) -> Params:
    """Validate the notebook's parameter variables (simple values not starting with '_')."""
    values = {name: value for name, value in namespace.items()
              if not name.startswith("_") and name not in _IPYTHON_NAMES and isinstance(value, _PARAMETER_TYPES)}
    given = {name: value for name, value in values.items() if name not in PARAMS_BY_NAME or value is not None}
    return validate(given)


def describe(params: Params) -> pd.DataFrame:
    """The run's settings as a small table (what is read, which window, where results go)."""
    shown = {"source": params.source, "window start": params.to_dict()["start"],
             "window end (exclusive)": params.to_dict()["end"],
             "accounts": ", ".join(params.accounts) or "all", "quota (requests/s)": params.quota,
             "at risk from": f"{params.risk_threshold:.0%} of quota"}
    if params.source in ("samples", "local"):
        shown["trail files"] = _short_path(params.path)
    return pd.DataFrame({"setting": list(shown), "value": [str(v) for v in shown.values()]}).set_index("setting")


def _short_path(path: Path | None) -> str:
    """A path relative to the repository when inside it (stable across machines)."""
    if path is None:
        return ""
    root = Path(__file__).resolve().parent.parent
    try:
        return str(Path(path).resolve().relative_to(root))
    except ValueError:
        return str(path)


def read_report(plan: Plan) -> pd.DataFrame:
    """What the engine read: files and events, and every reason an event was left out."""
    summary = plan.summary
    rows = [("files read", summary["files_read"]), ("files ignored (digests, other files)", summary["files_ignored"]),
            ("files unreadable (skipped)", summary["files_invalid"]), ("events read", summary["events_read"])]
    rows += [(f"events left out: {reason}", count) for reason, count in summary["events_skipped"].items()]
    engine = summary.get("engine") or {}
    if "bytes_scanned" in engine:
        rows += [(f"{engine['engine']}: MB scanned (billed)", round(engine["bytes_scanned"] / 1e6, 1)),
                 (f"{engine['engine']}: estimated cost, USD ({engine['price_assumed']})", engine["estimated_cost_usd"])]
    return pd.DataFrame(rows, columns=["what", "count"]).set_index("what")


def invalid_files(plan: Plan) -> pd.DataFrame:
    """The unreadable files and why, with paths relative to the trail folder."""
    root = plan.params.path
    rows = [(str(Path(path).relative_to(root)) if root and path.startswith(str(root)) else path, reason)
            for path, reason in plan.summary["invalid_files"].items()]
    return pd.DataFrame(rows, columns=["file", "reason"])


def priority_counts(plan: Plan) -> str:
    """One deterministic line per priority: the counts nbval compares."""
    return "\n".join(f"{priority}: {count} caller{'' if count == 1 else 's'}"
                     for priority, count in plan.summary["callers_per_priority"].items())


def query_text(params: Params) -> str:
    """What the engine will run: the SQL for Lake and Athena, the rules for trail files."""
    if params.source in ("lake", "athena"):
        from kit.queries import render_all

        return "\n\n".join(f"-- {name}\n{sql}" for name, sql in render_all(params).items())
    from kit import events

    return (f"Engine: trail files under {_short_path(params.path)} (read in parallel, streamed), "
            f"events from {params.to_dict()['start']} to {params.to_dict()['end']}.\n"
            f"{events.__doc__.strip()}")
