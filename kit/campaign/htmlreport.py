"""report.html: the plan of a run (all accounts) or of one account, for an owner who never opens
Jupyter. One self-contained page made with a jinja2 template (autoescape on: every value from a
record is text, never markup): the legend, changes since the last run, each caller with its fix
and verification step, the quota headroom, and a chart embedded as a PNG data URI."""
from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from kit import legend
from kit.plan import Plan
from kit.verify import verification_step

TEMPLATES = Path(__file__).resolve().parent / "templates"
_QUOTA_COLUMNS = ["region", "bucket", "peak_rps_now", "projected_peak_rps", "quota", "headroom_pct", "at_risk"]
_environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                                  undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def chart_uri(callers: pd.DataFrame) -> str:
    """Global calls per caller as a horizontal bar chart (coloured by priority), as a PNG data URI."""
    from matplotlib.figure import Figure  # no pyplot: leaves the notebook's backend alone

    top = callers.sort_values("global_calls").tail(20)
    colours = {"P1": "#c0392b", "P2": "#e67e22", "P3": "#7f8c8d"}
    figure = Figure(figsize=(7.5, 0.9 + 0.32 * max(len(top), 1)))
    axes = figure.subplots()
    labels = [f"{arn.rsplit(':', 1)[-1][:40]} ({tool})" for arn, tool in zip(top.principal_arn, top.caller_tool)]
    axes.barh(range(len(top)), top.global_calls, color=[colours.get(p, "#95a5a6") for p in top.priority])
    axes.set_yticks(range(len(top)), labels, fontsize=8)
    for index, value in enumerate(top.global_calls):
        axes.text(value, index, f" {int(value):,}", va="center", fontsize=8)
    axes.set_xlabel("global STS calls in the window (red P1, orange P2, grey P3)")
    axes.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _account_view(plan: Plan, account: str, changes: pd.DataFrame | None) -> dict[str, Any]:
    callers = plan.callers[plan.callers.account_id == account].sort_values(["priority", "global_calls"],
                                                                           ascending=[True, False])
    quota = plan.quota[plan.quota.account_id == account][_QUOTA_COLUMNS]
    return {
        "account": account,
        "counts": {p: int((callers.priority == p).sum()) for p in legend.PRIORITIES},
        "global_calls": int(callers.global_calls.sum()),
        "callers": callers.to_dict("records"),
        "quota": quota.sort_values(["at_risk", "headroom_pct"], ascending=[False, True]).to_dict("records"),
        "changes": [] if changes is None else changes[changes.account_id == account].to_dict("records"),
        "verification": verification_step(account, sorted(set(callers.principal_arn)), plan.params)
        if len(callers) else "",
        "chart": chart_uri(callers) if len(callers) else "",
    }


def account_views(plan: Plan, accounts: list[str], changes: pd.DataFrame | None) -> dict[str, dict[str, Any]]:
    """What the template shows of each account (its chart drawn once for every page that shows it)."""
    return {account: _account_view(plan, account, changes) for account in accounts}


def report_html(plan: Plan, views: dict[str, dict[str, Any]], compared: bool, title: str) -> str:
    """The page for the accounts of ``views`` (one for an account report, all for the run's)."""
    window = plan.summary.get("window") or {}
    risks = legend.risks_in(plan.callers[plan.callers.account_id.isin(list(views))].risks)
    return _environment.get_template("report.html.j2").render(
        title=title, window=window, source=plan.params.source, compared=compared,
        priorities=legend.PRIORITIES, risks={name: text for name, text in legend.RISKS.items() if name in risks},
        waves=legend.WAVES, accounts=list(views.values()))
