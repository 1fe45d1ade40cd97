"""Large fictional organizations for the benchmark: ``kit.synth`` scaled, written in parallel.

``python -m bench.generate --events-target 10000000 --out bench/data/org-10m`` writes the same
events ``kit.synth.write_org`` would (same seed, same scale), one day per task over all cores,
with at most ``--max-events`` events per file so busy hours spread over many files as real
deliveries do (CloudTrail writes a file per account and Region every few minutes; ``--max-events 5``
makes the small files that most real deliveries are). ``--address-per-call`` gives every STS call
made from an IPv4 address an address of its own in the same /16, as calls from pods or build runners
come: the rollup's keys then grow with the calls. ``--fleet N`` spreads the events of each role over N
roles of its name (``name-0`` to ``name-<N-1>``) and each STS call's user agent over ``AGENT_BUILDS``
builds, as an organization of thousands of roles and SDK builds has: the callers, the per-minute and
the per-second rows then grow with N.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from functools import partial
from pathlib import Path

from kit.synth import BASELINE_DAILY_EVENTS, BURST_EVENTS, TrailWriter, _write_json, day_events, ip_ranges, sample_days

MAX_EVENTS = 250
"""Events per file at most: a few hundred, so 10 M events make tens of thousands of files."""
AGENT_BUILDS = 4
"""User agents an STS call's agent becomes with ``--fleet``: the same SDK on hosts of different builds."""


def write_day(day: date, *, trail: Path, seed: int, scale: float, max_events: int,
              address_per_call: bool = False, fleet: int = 0) -> tuple[int, int]:
    """Write one day's files; (files, events)."""
    events = 0
    addresses = random.Random(f"{seed}-{day}")
    members = random.Random(f"{seed}-{day}-fleet")
    with TrailWriter(trail, seed=seed, max_events=max_events) as writer:
        for _, event in day_events(day, seed, scale):
            if address_per_call:
                event = own_address(event, addresses)
            writer.add(fleet_member(event, members, fleet) if fleet else event)
            events += 1
    return writer.files, events


def fleet_member(event: dict, members: random.Random, fleet: int) -> dict:
    """``event`` made by one of ``fleet`` roles of its role's name (and, for an STS call, by one of
    ``AGENT_BUILDS`` builds of its user agent) when its identity is a role session; else as it is."""
    identity = event.get("userIdentity")
    if not isinstance(identity, dict) or identity.get("type") != "AssumedRole":
        return event
    issuer = (identity.get("sessionContext") or {}).get("sessionIssuer") or {}
    role_arn, arn = issuer.get("arn"), identity.get("arn")
    if not isinstance(role_arn, str) or not isinstance(arn, str):
        return event
    name = role_arn.rsplit("/", 1)[-1]
    member = f"{name}-{members.randrange(fleet)}"
    session = arn.replace(f"assumed-role/{name}/", f"assumed-role/{member}/", 1)
    changed = {**event, "userIdentity": {**identity, "arn": session, "sessionContext": {
        **identity["sessionContext"], "sessionIssuer": {**issuer, "arn": role_arn[:-len(name)] + member,
                                                        "userName": member}}}}
    if event.get("eventSource") == "sts.amazonaws.com" and isinstance(event.get("userAgent"), str):
        changed["userAgent"] = f"{event['userAgent']} md/build#{members.randrange(AGENT_BUILDS)}"
    return changed


def own_address(event: dict, addresses: random.Random) -> dict:
    """``event`` with, when it is an STS call from an IPv4 address, another address of the same /16."""
    source = event.get("sourceIPAddress")
    if event.get("eventSource") != "sts.amazonaws.com" or not isinstance(source, str):
        return event
    octets = source.split(".")
    if len(octets) != 4 or not all(octet.isdigit() for octet in octets):
        return event
    return {**event, "sourceIPAddress": f"{octets[0]}.{octets[1]}.{addresses.randrange(256)}.{addresses.randrange(1, 255)}"}


def generate(out: Path, events_target: int, *, seed: int = 2025, max_events: int = MAX_EVENTS,
             address_per_call: bool = False, fleet: int = 0, workers: int | None = None) -> tuple[int, int]:
    """Write ``out/trail`` (replacing it) and ``out/ip-ranges.json``; (files, events)."""
    trail = out / "trail"
    if trail.exists():
        shutil.rmtree(trail)
    scale = max(0, events_target - BURST_EVENTS) / BASELINE_DAILY_EVENTS
    task = partial(write_day, trail=trail, seed=seed, scale=scale, max_events=max_events,
                   address_per_call=address_per_call, fleet=fleet)
    with ProcessPoolExecutor(workers or os.cpu_count()) as pool:
        counts = list(pool.map(task, sample_days()))
    out.mkdir(parents=True, exist_ok=True)
    _write_json(out / "ip-ranges.json", ip_ranges())
    return sum(files for files, _ in counts), sum(events for _, events in counts)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``--events-target N --out DIR``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events-target", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--max-events", type=int, default=MAX_EVENTS)
    parser.add_argument("--address-per-call", action="store_true", help="each STS call from an address of its own")
    parser.add_argument("--fleet", type=int, default=0, metavar="N",
                        help="each role's events spread over N roles of its name, STS calls over a few agent builds")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    files, events = generate(args.out, args.events_target, seed=args.seed, max_events=args.max_events,
                             address_per_call=args.address_per_call, fleet=args.fleet)
    print(f"{args.out}: {files} files, {events} events in {time.perf_counter() - began:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
