"""Large fictional organizations for the benchmark: ``kit.synth`` scaled, written in parallel.

``python -m bench.generate --events-target 10000000 --out bench/data/org-10m`` writes the same
events ``kit.synth.write_org`` would (same seed, same scale), one day per task over all cores,
with at most ``--max-events`` events per file so busy hours spread over many files as real
deliveries do (CloudTrail writes a file per account and Region every few minutes; ``--max-events 5``
makes the small files that most real deliveries are). ``--address-per-call`` gives every STS call
made from an IPv4 address an address of its own in the same /16, as calls from pods or build runners
come: the rollup's keys then grow with the calls.
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


def write_day(day: date, *, trail: Path, seed: int, scale: float, max_events: int,
              address_per_call: bool = False) -> tuple[int, int]:
    """Write one day's files; (files, events)."""
    events = 0
    addresses = random.Random(f"{seed}-{day}")
    with TrailWriter(trail, seed=seed, max_events=max_events) as writer:
        for _, event in day_events(day, seed, scale):
            writer.add(own_address(event, addresses) if address_per_call else event)
            events += 1
    return writer.files, events


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
             address_per_call: bool = False, workers: int | None = None) -> tuple[int, int]:
    """Write ``out/trail`` (replacing it) and ``out/ip-ranges.json``; (files, events)."""
    trail = out / "trail"
    if trail.exists():
        shutil.rmtree(trail)
    scale = max(0, events_target - BURST_EVENTS) / BASELINE_DAILY_EVENTS
    task = partial(write_day, trail=trail, seed=seed, scale=scale, max_events=max_events,
                   address_per_call=address_per_call)
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
    args = parser.parse_args(argv)
    began = time.perf_counter()
    files, events = generate(args.out, args.events_target, seed=args.seed, max_events=args.max_events,
                             address_per_call=args.address_per_call)
    print(f"{args.out}: {files} files, {events} events in {time.perf_counter() - began:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
