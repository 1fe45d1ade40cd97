"""``--fail-on KINDS``: what a scheduler alerts on, as one line and exit code 3."""
from __future__ import annotations

from typing import Any

from kit.errors import InputError
from kit.signals import LIVE_BREAKAGE

FAIL_ON_KINDS = ("new", "regressed", "priority-up", "at-risk", "p1", "breakage")
NEEDS_PREVIOUS = ("new", "regressed", "priority-up")
EXIT_FOUND = 3


def parse_fail_on(text: str | None, has_previous: bool) -> tuple[str, ...]:
    """The kinds of ``--fail-on`` (comma-separated); ``InputError`` naming what to fix."""
    if not text:
        return ()
    kinds = tuple(dict.fromkeys(part.strip().lower() for part in text.split(",") if part.strip()))
    unknown = [kind for kind in kinds if kind not in FAIL_ON_KINDS]
    if unknown or not kinds:
        raise InputError(f"--fail-on {text!r}: unknown kind {', '.join(unknown) or '(none)'}; "
                         f"use a comma-separated list of {', '.join(FAIL_ON_KINDS)}")
    compared = [kind for kind in kinds if kind in NEEDS_PREVIOUS]
    if compared and not has_previous:
        raise InputError(f"--fail-on {','.join(compared)} needs a previous run to compare with: add --compare DIR")
    return kinds


def findings(kinds: tuple[str, ...], summary: dict[str, Any], changes: dict[str, int] | None) -> str | None:
    """The one line naming what ``kinds`` found in this run (None when nothing)."""
    found = []
    for kind in kinds:
        if kind in NEEDS_PREVIOUS and changes and changes.get(kind):
            found.append(f"{changes[kind]} {kind}")
        elif kind == "at-risk" and summary.get("at_risk_buckets"):
            found.append(f"{len(summary['at_risk_buckets'])} quota buckets at risk")
        elif kind == "p1" and summary.get("callers_per_priority", {}).get("P1"):
            found.append(f"{summary['callers_per_priority']['P1']} P1 callers")
        elif kind == "breakage":
            live = sum(counts.get("events", 0) for code, counts in (summary.get("signals") or {}).items()
                       if code in LIVE_BREAKAGE)
            if live:
                found.append(f"{live:,} events of live breakage")
    return f"found {', '.join(found)} (--fail-on {','.join(kinds)})" if found else None
