"""Later states of the sample organization, for the migration campaign (``kit.campaign``).

Run ``python -m kit.synthstates --out data`` to write ``samples-later/`` (September 2025) and
``samples-latest/`` (October 2025) beside ``samples/`` (March to August), each a trail of one
month, deterministic like ``kit.synth`` (whose own samples this module leaves alone):

* later: C1 (payments-api, eu-west-1) and C4 (hk-ingest, opt-in ap-east-1) call Regional STS
  (moved); C8 (alice's laptop) stops (gone); C6 (eks-etl) loses Amazon DNS, so its global calls
  go to us-east-1 (priority-up); C9 (sso-broker) gets Amazon DNS back (priority-down); C15, a
  log collector in opt-in af-south-1, starts calling the global endpoint (new).
* latest: as later, except C1's Regional setting was rolled back (regressed).

The callers with evidence of breakage (C16..C20 of ``kit.synth``) carry on unchanged, each still P1
by where it runs: C16's global-endpoint sessions are still refused in ap-east-1 and C18 is still
denied by its SCP; C17's throttled burst, C19's two days and C20's two failing days are in the
samples only.

Plan each with ``sts-kit plan --source local --path data/samples-later/trail --start
2025-09-01T00:00:00Z --end 2025-10-01T00:00:00Z --ip-ranges data/samples-later/ip-ranges.json``.
"""
from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from kit.synth import (ACCOUNTS, Activity, CALLERS, TrailWriter, Caller, _write_json, caller_day_events, ip_ranges,
                       service_day_events)

NEW_CALLER = Caller("C15", "arn:aws:iam::444455556666:role/log-collector",
                    "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/sts#1.30.3",
                    "10.50.0.0/16", "af-south-1", ("AssumeRole",), "arn:aws:iam::444455556666:role/log-reader",
                    session_format="log-collector-{epoch}",
                    activity=(Activity("s3.amazonaws.com", ("PutObject",), "af-south-1", (1, 3), "logs-444455556666"),))
"""The caller that appears in the later states (an opt-in Region: its global calls go to us-east-1)."""


@dataclass(frozen=True)
class State:
    """One later state: its window (first day, day after the last) and its callers."""

    name: str
    first: date
    end: date
    callers: tuple[Caller, ...]


def _changed(callers: tuple[Caller, ...], **changes: dict[str, Any]) -> tuple[Caller, ...]:
    """``callers`` with the fields of some replaced (``C1={"endpoint": "regional"}``)."""
    return tuple(dataclasses.replace(caller, **changes.get(caller.id, {})) for caller in callers)


_LATER = _changed(tuple(caller for caller in CALLERS if caller.id != "C8"),
                  C1={"endpoint": "regional"}, C4={"endpoint": "regional"}, C6={"amazon_dns": False},
                  C9={"amazon_dns": True}) + (NEW_CALLER,)
STATES = {
    "later": State("later", date(2025, 9, 1), date(2025, 10, 1), _LATER),
    "latest": State("latest", date(2025, 10, 1), date(2025, 11, 1), _changed(_LATER, C1={"endpoint": "global"})),
}


def window(state: State) -> tuple[str, str]:
    """The state's window as the kit's --start and --end."""
    return f"{state.first.isoformat()}T00:00:00Z", f"{state.end.isoformat()}T00:00:00Z"


def write_state(out_dir: str | Path, state: State, seed: int = 2025) -> dict[str, Any]:
    """Write ``state``'s trail, ip-ranges.json and manifest.json into ``out_dir`` (its trail/ is replaced)."""
    out = Path(out_dir)
    trail = out / "trail"
    if trail.exists():
        shutil.rmtree(trail)
    events = 0
    with TrailWriter(trail, seed=seed) as writer:
        day = state.first
        while day < state.end:
            pairs = [event for caller in state.callers for event in caller_day_events(caller, day, seed)]
            pairs += [event for account in ACCOUNTS for event in service_day_events(account, day, seed)]
            for event in sorted(pairs, key=lambda event: event["eventTime"]):
                writer.add(event)
                events += 1
            day += timedelta(days=1)
    _write_json(out / "ip-ranges.json", ip_ranges())
    manifest = {"generator": "kit.synthstates", "state": state.name, "seed": seed, "window": list(window(state)),
                "callers": [caller.id for caller in state.callers], "log_files": writer.files,
                "events_written": events}
    _write_json(out / "manifest.json", manifest)
    return manifest


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m kit.synthstates --out data`` writes data/samples-<state>/ for each state."""
    parser = argparse.ArgumentParser(prog="python -m kit.synthstates", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder that receives samples-<state>/")
    parser.add_argument("--seed", type=int, default=2025)
    args = parser.parse_args(argv)
    for state in STATES.values():
        manifest = write_state(args.out / f"samples-{state.name}", state, args.seed)
        print(f"samples-{state.name}: {manifest['log_files']} log files, {manifest['events_written']} events")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
