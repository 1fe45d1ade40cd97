"""Writing the plan files: plan.csv, quota.csv, plan.md and summary.json (last, naming the
others with their sizes and sha256), plus ``reports/<account>.md``, as one set (kit.outputs).
plan.md opens with the notes that change how to read it (kit.readnotes); plan.md and each
report with the legend of the risks that occur and the quota increases wave 0 needs (kit.legend).

Values from records are data, never markup or paths: CSV cells that would start a formula are
made inert, plan.md shows values as text, and a report file is named by an account id only
when the id is 12 digits (others are listed in summary.json under ``reports_not_written``).
"""
from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import pandas as pd

from kit.codedseconds import plain_rows
from kit.legend import legend_markdown, risks_in, wave_zero_actions
from kit.outputs import csv_bytes, write_set
from kit.params import ACCOUNT_ID
from kit.plan import Plan
from kit.readnotes import reading_notes

PLAN_FILES = ("plan.csv", "quota.csv", "signals.csv", "summary.json", "plan.md")
_TIME = "%Y-%m-%dT%H:%M:%SZ"
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", **{mark: "\\" + mark for mark in "\\`*_[]|"}})
"""HTML's three (as ``html.escape`` without quotes) and, behind a backslash, the punctuation that would
start emphasis, code, a link or a table cell."""
_AUTOLINK = re.compile(r"(?i)(://|www\.)")
_CODE_SPAN = re.compile(r"(`[^`]*`)")


def _one_line(value: Any) -> str:
    return " ".join(str(value).split()) if value is not None else ""


@functools.lru_cache(maxsize=1 << 14)  # a plan repeats its tools, versions, Regions and fixes caller after caller
def _escaped(text: str) -> str:
    text = text.translate(_ESCAPES)
    return _AUTOLINK.sub(lambda match: match.group(1).replace(":", "&#58;").replace(".", "&#46;"), text)


def md_text(value: Any) -> str:
    """``value`` as Markdown that renders as the same text: no links, tags, emphasis or new lines."""
    return _escaped(_one_line(value))


def md_prose(value: Any) -> str:
    """The kit's own sentences (fixes, notes, findings), which may hold values from records:
    their `code spans` stay as written (they render literally), the rest as ``md_text``."""
    parts = _CODE_SPAN.split(_one_line(value))
    return "".join(part if index % 2 else _escaped(part) for index, part in enumerate(parts))


def _csv_ready(table: pd.DataFrame) -> pd.DataFrame:
    out = table.copy()
    for column in out.columns:
        if isinstance(out[column].dtype, pd.DatetimeTZDtype):
            out[column] = out[column].dt.strftime(_TIME)
    return out


def _markdown_table(table: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table (pipes in cells escaped)."""
    cells = [[md_text(value) for value in row] for row in plain_rows(table)]
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def policy_lines(row) -> list[str]:
    """The policy check, its findings and the token note of one caller (kit.policy.annotate)."""
    check = getattr(row, "policy_check", "")
    lines = [f"- Policies ({md_text(check)}): {md_prose(row.policy_outcome or 'not evaluated')}"
             + (f" — {md_prose(row.policy_findings)}" if row.policy_findings else ".")] if check else []
    if getattr(row, "token_note", ""):
        lines.append(f"- Tokens: {md_prose(row.token_note)}")
    return lines


def account_markdown(plan: Plan, account: str) -> str:
    """The plan of one account, for a person to read."""
    callers = plan.callers[plan.callers.account_id == account]
    quota = plan.quota[plan.quota.account_id == account]
    lines = [f"## Account {md_text(account)}", ""]
    counts = callers.priority.value_counts()
    lines.append(f"{len(callers)} callers of the global endpoint: "
                 + ", ".join(f"{counts.get(p, 0)} {p}" for p in ("P1", "P2", "P3")) + ".")
    lines.append("")
    for row in plain_rows(callers):
        lines.append(f"### {row.priority} · {md_text(row.principal_arn)} · "
                     f"{md_text(row.caller_tool)} {md_text(row.caller_version)}".rstrip())
        lines.append("")
        lines.append(f"- Calls: {row.global_calls} global calls ({row.error_calls} failed), peak {row.peak_rps}/s, "
                     f"{row.first_seen:%Y-%m-%d} to {row.last_seen:%Y-%m-%d}; "
                     f"served in {md_text(row.served_in or '—')}.")
        lines.append(f"- Runs in: {md_text(row.workload_region or 'unknown')} (origin: {md_text(row.origin)}); "
                     f"target: {md_text(row.target_endpoint or 'to be decided')}.")
        if row.risks:
            lines.append(f"- Risks: {md_text(row.risks.replace(';', ', '))}.")
        lines.append(f"- Fix ({md_text(row.action)}, wave {row.wave}): {md_prose(row.fix)}")
        if row.region_note:
            lines.append(f"- Note: {md_prose(row.region_note)}")
        if row.breakage:
            lines.append(f"- Evidence of breakage: {md_text(row.breakage)}.")
        lines += policy_lines(row)
        lines.append("")
    risky = quota[quota.at_risk]
    if len(risky):
        lines.append("### Quota buckets at risk")
        lines.append("")
        lines.append(_markdown_table(risky[["region", "bucket", "peak_rps_now", "projected_peak_rps", "quota",
                                            "headroom_pct"]]))
        lines.append("")
    return "\n".join(lines)


def opening(plan: Plan, callers: pd.DataFrame, accounts: list[str]) -> list[str]:
    """The legend for the risks ``callers`` have, then the quota increases wave 0 of ``accounts`` needs."""
    lines = [legend_markdown(risks_in(callers.risks)).rstrip("\n"), ""]
    actions = wave_zero_actions(plan.stages[plan.stages.account_id.isin(accounts)], plan.quota,
                                plan.params.risk_threshold)
    if actions:
        lines += ["**Before wave 0 moves**", ""]
        lines += [f"- Account {md_text(account)}: {md_text(sentence)}." for (account, _), sentence in actions.items()]
        lines.append("")
    return lines


def notes_markdown(summary: dict[str, Any]) -> list[str]:
    """The notes that change how to read the plan, as a list (kit.readnotes)."""
    notes = reading_notes(summary)
    return ["**Notes**", ""] + [f"- {md_prose(note[:1].upper() + note[1:])}." for note in notes] + [""] if notes else []


def breakage_markdown(plan: Plan) -> list[str]:
    """The evidence of breakage (signals.csv) as a table, when there is any."""
    table = plan.signals
    if table.empty:
        return []
    shown = _csv_ready(table).assign(in_plan=table.in_plan.map({True: "yes", False: "no"}))
    return ["**Evidence of breakage** (CloudTrail records these failures; `signals.csv` holds every row)", "",
            _markdown_table(shown), ""]


def plan_markdown(plan: Plan, sections: dict[str, str] | None = None) -> str:
    """plan.md: notes and legend first, then the whole plan, account by account (``sections``: each
    account's ``account_markdown``, when made already)."""
    summary = plan.summary
    window = summary.get("window", plan.params.to_dict())
    accounts = sorted(set(plan.callers.account_id))
    head = [
        "# STS global endpoint migration plan",
        "",
        f"Window {window['start']} to {window['end']} · source `{md_text(plan.params.source)}` · "
        f"{summary.get('events_read', 0):,} events read · {len(plan.callers)} callers "
        f"({', '.join(f'{n} {p}' for p, n in summary.get('callers_per_priority', {}).items())}).",
        "",
    ]
    head += notes_markdown({**summary, "address_database": plan.addresses, "policy": plan.policy})
    head += opening(plan, plan.callers, accounts)
    head += breakage_markdown(plan)
    sections = sections or {}
    return "\n".join(head + [sections.get(account) or account_markdown(plan, account) for account in accounts]) + "\n"


def report_accounts(plan: Plan) -> tuple[list[str], list[str]]:
    """Accounts with callers: those a report file may be named after (12 digits), and the rest."""
    accounts = sorted({str(account) for account in plan.callers.account_id})
    valid = [account for account in accounts if ACCOUNT_ID.match(account)]
    return valid, [account for account in accounts if account not in valid]


def account_report(plan: Plan, account: str, section: str | None = None) -> str:
    """``reports/<account>.md``: the plan of one account with its window (``section``: its
    ``account_markdown``, when made already)."""
    window = plan.params.to_dict()
    head = [f"# STS global endpoint migration: account {md_text(account)}", "",
            f"Window {window['start']} to {window['end']}.", ""]
    head += opening(plan, plan.callers[plan.callers.account_id == account], [account])
    return "\n".join(head) + "\n" + (section or account_markdown(plan, account)) + "\n"


def plan_files(plan: Plan, reports: bool = False) -> tuple[dict[str, bytes], dict[str, Any]]:
    """The bytes of each file of the set, and the summary its manifest holds."""
    sections = {account: account_markdown(plan, account) for account in set(plan.callers.account_id)}
    files = {"plan.csv": csv_bytes(_csv_ready(plan.callers)), "quota.csv": csv_bytes(_csv_ready(plan.quota)),
             "signals.csv": csv_bytes(_csv_ready(plan.signals)), "plan.md": plan_markdown(plan, sections).encode()}
    summary = dict(plan.summary)
    if reports:
        valid, refused = report_accounts(plan)
        files.update({f"reports/{account}.md": account_report(plan, account, sections.get(account)).encode()
                      for account in valid})
        summary["reports_not_written"] = {account: "not a 12-digit account id" for account in refused}
    return files, summary


def write_outputs(plan: Plan, out_dir: Path, reports: bool = False) -> list[Path]:
    """Replace the set in ``out_dir`` (created if missing) by this plan's files, ``summary.json``
    last; with ``reports``, also one report per account. Returns the paths written."""
    files, summary = plan_files(plan, reports)
    return write_set(Path(out_dir), files, summary)


def write_plan(plan: Plan, out_dir: Path) -> list[Path]:
    """plan.csv, quota.csv, plan.md and summary.json in ``out_dir``; return their paths in the
    order of ``PLAN_FILES``."""
    written = {path.name: path for path in write_outputs(plan, out_dir)}
    return [written[name] for name in PLAN_FILES]
