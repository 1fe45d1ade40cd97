"""Large fictional organizations for the benchmark: ``kit.synth`` scaled, written in parallel.

``python -m bench.generate --events-target 10000000 --out bench/data/org-10m`` writes the same
events ``kit.synth.write_org`` would (same seed, same scale), one day per task over all cores,
with at most ``--max-events`` events per file so busy hours spread over many files as real
deliveries do (CloudTrail writes a file per account and Region every few minutes).
"""
from __future__ import annotations

import argparse
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from functools import partial
from pathlib import Path

from kit.synth import BASELINE_DAILY_EVENTS, BURST_EVENTS, TrailWriter, _write_json, day_events, ip_ranges, sample_days

MAX_EVENTS = 250
"""Events per file at most: a few hundred, so 10 M events make tens of thousands of files."""


def write_day(day: date, *, trail: Path, seed: int, scale: float, max_events: int) -> tuple[int, int]:
    """Write one day's files; (files, events)."""
    events = 0
    with TrailWriter(trail, seed=seed, max_events=max_events) as writer:
        for _, event in day_events(day, seed, scale):
            writer.add(event)
            events += 1
    return writer.files, events


def generate(out: Path, events_target: int, *, seed: int = 2025, max_events: int = MAX_EVENTS,
             workers: int | None = None) -> tuple[int, int]:
    """Write ``out/trail`` (replacing it) and ``out/ip-ranges.json``; (files, events)."""
    trail = out / "trail"
    if trail.exists():
        shutil.rmtree(trail)
    scale = max(0, events_target - BURST_EVENTS) / BASELINE_DAILY_EVENTS
    task = partial(write_day, trail=trail, seed=seed, scale=scale, max_events=max_events)
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
    args = parser.parse_args(argv)
    began = time.perf_counter()
    files, events = generate(args.out, args.events_target, seed=args.seed, max_events=args.max_events)
    print(f"{args.out}: {files} files, {events} events in {time.perf_counter() - began:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
