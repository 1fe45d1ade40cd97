"""What changes how to read a plan, in a few sentences: the summary line and the notes that
``sts-kit plan`` and ``sts-kit run`` print and plan.md opens with, all from summary.json.

Notes: live breakage CloudTrail recorded (kit.signals), the address database that told where callers run (and its date, or the --ip-ranges
file), policies not evaluated, fields lost in the delivered events, bytes scanned and the
estimated cost of an AWS engine, unreadable files, and the engine's own notes (cache not used,
files outside the window...). Sentences may hold `code spans` (file names); plan.md escapes the
rest (kit.report.md_prose).
"""
from __future__ import annotations

from typing import Any

from kit.signals import LIVE_BREAKAGE

TERMINAL_NOTES = 4
"""Notes printed on the terminal; the rest are in plan.md."""
_TERMINAL_WIDTH = 200


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def summary_line(summary: dict[str, Any]) -> str:
    """'12 callers of the global endpoint (6 P1, 4 P2, 2 P3); 1 quota bucket at risk.'"""
    counts = ", ".join(f"{n} {p}" for p, n in summary.get("callers_per_priority", {}).items())
    return (f"{_count(summary.get('callers', 0), 'caller')} of the global endpoint ({counts}); "
            f"{_count(len(summary.get('at_risk_buckets', [])), 'quota bucket')} at risk.")


def address_database_note(database: dict[str, Any]) -> str:
    """Which address database classified source addresses, and its date (and any --ip-ranges file)."""
    line = (f"source addresses classified with the {database.get('name', '?')} {database.get('package_version', '')} "
            f"database of cloud ranges dated {database.get('date') or 'unknown'}")
    if database.get("aws_ranges_file"):
        line += (f", AWS ranges first from `{database['aws_ranges_file']}` "
                 f"(createDate {database.get('aws_ranges_file_date') or 'unknown'})")
    else:
        line += " (no --ip-ranges file: give AWS's ip-ranges.json of the window for exact AWS Regions)"
    return line


def _policy_notes(policy: dict[str, Any]) -> list[str]:
    if not policy or policy.get("source") == "none":
        return ["policies not evaluated: SCPs and token settings were not checked "
                "(give --policies with an export, or --policy-source live)"]
    missing = policy.get("accounts_not_checked") or {}
    if not missing:
        return []
    named = "; ".join(f"{account}: {reason}" for account, reason in list(missing.items())[:3])
    more = f"; and {len(missing) - 3} more" if len(missing) > 3 else ""
    return [f"policies not checked for {_count(len(missing), 'account')} ({named}{more})"]


def _engine_note(engine: dict[str, Any]) -> list[str]:
    if "bytes_scanned" not in engine:
        return []
    return [f"{engine.get('engine', 'engine')} scanned {engine['bytes_scanned'] / 1e6:,.1f} MB (billed), "
            f"estimated cost {engine.get('estimated_cost_usd', '?')} USD ({engine.get('price_assumed', 'price unknown')})"]


def _field_gap_notes(summary: dict[str, Any]) -> list[str]:
    """The 'fields lost:' note, made from ``field_gaps`` when the engine left none."""
    gaps = summary.get("field_gaps") or {}
    if not gaps or any(str(note).startswith("fields lost:") for note in summary.get("notes", [])):
        return []
    return ["fields lost: " + ", ".join(f"{count:,} STS calls without {field}" for field, count in gaps.items())]


def _breakage_note(signals: dict[str, Any]) -> list[str]:
    """'live breakage: 412 token-rejected, 88 sts-throttled events...' when CloudTrail shows calls failing."""
    live = {code: counts for code, counts in signals.items() if code in LIVE_BREAKAGE and counts.get("events")}
    if not live:
        return []
    return ["live breakage in CloudTrail: " + ", ".join(f"{counts['events']:,} {code}" for code, counts in live.items())
            + " events (evidence of breakage in plan.md and `signals.csv`; such callers are P1)"]


def reading_notes(summary: dict[str, Any]) -> list[str]:
    """Every note that changes how to read the plan, most consequential first."""
    notes = _breakage_note(summary.get("signals") or {})
    notes += [str(note) for note in summary.get("notes", []) if str(note).startswith("fields lost:")]
    notes += _field_gap_notes(summary)
    notes += _policy_notes(summary.get("policy") or {})
    if summary.get("files_invalid"):
        notes.append(f"{_count(summary['files_invalid'], 'unreadable file')} skipped "
                     "(listed under invalid_files in summary.json)")
    notes += _engine_note(summary.get("engine") or {})
    notes += [str(note) for note in summary.get("notes", []) if not str(note).startswith("fields lost:")]
    notes.append(address_database_note(summary.get("address_database") or {}))
    return notes


def terminal_lines(summary: dict[str, Any]) -> list[str]:
    """The summary line, then at most ``TERMINAL_NOTES`` notes (one line each) for the terminal."""
    notes = reading_notes(summary)
    shown = [_one_line(note) for note in notes[:TERMINAL_NOTES]]
    if len(notes) > TERMINAL_NOTES:
        shown.append(f"{_count(len(notes) - TERMINAL_NOTES, 'more note')} in plan.md")
    return [summary_line(summary)] + [f"note: {line}" for line in shown]


def _one_line(text: str) -> str:
    text = " ".join(text.replace("`", "").split())
    return text if len(text) <= _TERMINAL_WIDTH else text[:_TERMINAL_WIDTH - 1] + "…"
