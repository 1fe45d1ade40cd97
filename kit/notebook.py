"""Helpers the notebooks call: parameters from the notebook namespace, and small displays.

Notebooks hold a ``parameters`` cell (papermill adds an ``injected-parameters`` cell after it).
``parameters(globals())`` validates the names those cells assign against the one schema, so a
misspelt name such as ``sourse`` fails at once with the list of valid names, while variables that
later cells define never count: Run All twice, or edit a value and run again, works.
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from kit.paramdoc import PATH_PARAMS, REPO_ROOT
from kit.params import PARAMS_BY_NAME, Params, validate
from kit import rollupfile
from kit.plan import Plan, make_plan

PAPERMILL_INJECTED_HEADER = "# Parameters"
"""The first line of the cell papermill injects after the ``parameters`` cell."""


def parameter_cell_names(history: list[str]) -> set[str]:
    """Names assigned by the cell run just before the current one (``history[-1]``) when it holds only
    literal assignments (the parameters cell), and by the one before that too when the previous one
    is papermill's injected cell."""
    names: set[str] = set()
    for source in reversed(history[-3:-1]):
        assigned = _literal_assignments(source)
        if assigned is None:
            break
        names |= assigned
        if source.splitlines()[0].strip() != PAPERMILL_INJECTED_HEADER:
            break
    return names


def _literal_assignments(source: str) -> set[str] | None:
    """Names a cell assigns when it holds nothing but ``name = literal`` lines; else None."""
    try:
        statements = ast.parse(source).body
    except SyntaxError:
        return None
    names = set()
    for statement in statements:
        targets = statement.targets if isinstance(statement, ast.Assign) else (
            [statement.target] if isinstance(statement, ast.AnnAssign) and statement.value else None)
        if not targets or not all(isinstance(target, ast.Name) for target in targets):
            return None
        try:
            ast.literal_eval(statement.value)
        except ValueError:
            return None
        names |= {target.id for target in targets}
    return names or None


def parameters(namespace: Mapping[str, Any]) -> Params:
    """Validate the notebook's parameters: the schema's names and whatever the parameters cells
    assign (so a misspelt name fails, naming the valid ones). Relative paths resolve against the
    repository."""
    history = namespace.get("In")
    names = parameter_cell_names(list(history)) if isinstance(history, list) else set()
    names |= PARAMS_BY_NAME.keys() & namespace.keys()
    given = {name: _normalised(name, namespace[name]) for name in names if name in namespace}
    return validate({name: value for name, value in given.items() if value is not None})


def _normalised(name: str, value: Any) -> Any:
    """Repair what papermill's command line does to values: ``-p accounts 011122223333`` arrives as
    an int (leading zero lost). Relative paths become paths inside the repository."""
    if name == "accounts" and isinstance(value, int) and not isinstance(value, bool):
        return f"{value:012d}"
    if name in PATH_PARAMS and isinstance(value, (str, Path)) and str(value):
        path = Path(value).expanduser()
        return path if path.is_absolute() else REPO_ROOT / path
    return value


def plan(params: Params) -> Plan:
    """The plan, built from the rollup ``sts-kit run`` stored in ``out_dir`` for the same events (one
    set of queries per run), else from the engine; prints one line saying which, with the counts."""
    stored = rollupfile.load(params)
    built = make_plan(params, stored)
    summary = built.summary
    counts = ", ".join(f"{count} {priority}" for priority, count in summary["callers_per_priority"].items())
    origin = f"the run's {rollupfile.ROLLUP_FILE}" if stored is not None else f"the {params.source} engine"
    print(f"{summary['callers']} callers ({counts}) from {summary['events_read']:,} events; rollup from {origin}")
    return built


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
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
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
    # object dtype: counts stay integers (16771, not 16771.00000) next to MB and USD
    return pd.DataFrame({"count": pd.Series([value for _, value in rows], dtype=object,
                                            index=pd.Index([what for what, _ in rows], name="what"))})


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
    """What the engine will run: the SQL for Lake, Athena and Security Lake, the Logs Insights
    queries for CloudWatch Logs, the rules for trail files."""
    if params.source in ("lake", "athena", "security-lake", "logs-insights"):
        from kit.queries import render_all

        mark = "#" if params.source == "logs-insights" else "--"
        return "\n\n".join(f"{mark} {name}\n{text}" for name, text in render_all(params).items())
    from kit import events

    return (f"Engine: trail files under {_short_path(params.path)} (read in parallel, streamed), "
            f"events from {params.to_dict()['start']} to {params.to_dict()['end']}.\n"
            f"{events.__doc__.strip()}")
