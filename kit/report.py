"""Writing the plan files: plan.csv, quota.csv, summary.json and plan.md."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from kit.plan import Plan

PLAN_FILES = ("plan.csv", "quota.csv", "summary.json", "plan.md")
_TIME = "%Y-%m-%dT%H:%M:%SZ"


def _csv_ready(table: pd.DataFrame) -> pd.DataFrame:
    out = table.copy()
    for column in out.columns:
        if isinstance(out[column].dtype, pd.DatetimeTZDtype):
            out[column] = out[column].dt.strftime(_TIME)
    return out


def _markdown_table(table: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table (pipes in cells escaped)."""
    cells = [[str(value).replace("|", "\\|") for value in row] for row in table.itertuples(index=False)]
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def policy_lines(row) -> list[str]:
    """The policy check, its findings and the token note of one caller (kit.policy.annotate)."""
    check = getattr(row, "policy_check", "")
    lines = [f"- Policies ({check}): {row.policy_outcome or 'not evaluated'}"
             + (f" — {row.policy_findings}" if row.policy_findings else ".")] if check else []
    if getattr(row, "token_note", ""):
        lines.append(f"- Tokens: {row.token_note}")
    return lines


def account_markdown(plan: Plan, account: str) -> str:
    """The plan of one account, for a person to read."""
    callers = plan.callers[plan.callers.account_id == account]
    quota = plan.quota[plan.quota.account_id == account]
    lines = [f"## Account {account}", ""]
    counts = callers.priority.value_counts()
    lines.append(f"{len(callers)} callers of the global endpoint: "
                 + ", ".join(f"{counts.get(p, 0)} {p}" for p in ("P1", "P2", "P3")) + ".")
    lines.append("")
    for row in callers.itertuples():
        lines.append(f"### {row.priority} · {row.principal_arn} · {row.caller_tool} {row.caller_version}".rstrip())
        lines.append("")
        lines.append(f"- Calls: {row.global_calls} global calls ({row.error_calls} failed), peak {row.peak_rps}/s, "
                     f"{row.first_seen:%Y-%m-%d} to {row.last_seen:%Y-%m-%d}; served in {row.served_in or '—'}.")
        lines.append(f"- Runs in: {row.workload_region or 'unknown'} (origin: {row.origin}); "
                     f"target: {row.target_endpoint or 'to be decided'}.")
        if row.risks:
            lines.append(f"- Risks: {row.risks.replace(';', ', ')}.")
        lines.append(f"- Fix ({row.action}, wave {row.wave}): {row.fix}")
        if row.region_note:
            lines.append(f"- Note: {row.region_note}")
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


def address_database_line(database: dict) -> str:
    """The plan.md line naming the address database that classified source addresses, and its date."""
    line = (f"Source addresses classified with the {database.get('name', '?')} {database.get('package_version', '')} "
            f"database of cloud ranges dated {database.get('date') or 'unknown'}")
    if database.get("aws_ranges_file"):
        line += (f", AWS ranges first from `{database['aws_ranges_file']}` "
                 f"(createDate {database.get('aws_ranges_file_date') or 'unknown'})")
    return line + "."


def plan_markdown(plan: Plan) -> str:
    """plan.md: the whole plan, account by account."""
    summary = plan.summary
    window = summary.get("window", plan.params.to_dict())
    head = [
        "# STS global endpoint migration plan",
        "",
        f"Window {window['start']} to {window['end']} · source `{plan.params.source}` · "
        f"{summary.get('events_read', 0):,} events read · {len(plan.callers)} callers "
        f"({', '.join(f'{n} {p}' for p, n in summary.get('callers_per_priority', {}).items())}).",
        "",
        "P1: still served in us-east-1 for a workload that runs elsewhere (opt-in Region, outside AWS, "
        "custom DNS) — move first. P2: served locally or origin unknown. P3: runs in us-east-1.",
        "",
    ]
    if summary.get("files_invalid"):
        head += [f"{summary['files_invalid']} unreadable files were skipped; see summary.json.", ""]
    head += [address_database_line(plan.addresses), ""]
    accounts = sorted(set(plan.callers.account_id))
    return "\n".join(head + [account_markdown(plan, account) for account in accounts]) + "\n"


def write_plan(plan: Plan, out_dir: Path) -> list[Path]:
    """Write the plan files to ``out_dir`` (created if missing); return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / name for name in PLAN_FILES]
    _csv_ready(plan.callers).to_csv(paths[0], index=False)
    _csv_ready(plan.quota).to_csv(paths[1], index=False)
    paths[2].write_text(json.dumps(plan.summary, indent=2, default=str) + "\n")
    paths[3].write_text(plan_markdown(plan))
    return paths


def write_account_reports(plan: Plan, out_dir: Path) -> list[Path]:
    """One Markdown report per account with callers (``reports/<account>.md``)."""
    folder = out_dir / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for account in sorted(set(plan.callers.account_id)):
        path = folder / f"{account}.md"
        path.write_text(f"# STS global endpoint migration: account {account}\n\n"
                        f"Window {plan.params.to_dict()['start']} to {plan.params.to_dict()['end']}.\n\n"
                        + account_markdown(plan, account) + "\n")
        paths.append(path)
    return paths
