"""When a plan run's memory peaks: the RSS of ``sts-kit plan``'s process tree, polled through one run
as ``bench.run`` polls it, split into the read (while its workers live) and what comes after it.

``python -m bench.timeline --path bench/data/org-10000000/trail`` runs ``sts-kit plan --source local
--no-cache`` (every event of the trail unless ``--start``/``--end`` say otherwise) as ``bench.run`` does
and prints the tree's peak during the read, with the parent's and each worker's RSS at that moment, and
the parent's peak after the read. ``bench.memory`` gives the peak per stage instead, in one process.
"""
from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.run import ALL_TIME, commands, measure


@dataclass(frozen=True)
class Sample:
    """The RSS (bytes) of the parent and of each of its descendants at ``second`` of the run."""

    second: float
    parent: int
    workers: tuple[int, ...]

    @property
    def tree(self) -> int:
        return self.parent + sum(self.workers)


def samples_of(command: list[str]) -> tuple[list[Sample], float]:
    """The samples of one run of ``command`` (``bench.run.measure``'s), and its wall time."""
    polled: list[tuple[float, list[int]]] = []
    seconds = measure(command, samples=polled).seconds
    return [Sample(second, sizes[0], tuple(sizes[1:])) for second, sizes in polled if sizes], seconds


def report(taken: list[Sample], seconds: float) -> str:
    """The peaks of the read and after it, in MB."""
    mb = 2 ** 20
    reading = [sample for sample in taken if sample.workers]
    lines = [f"run: {seconds:.1f} s, {len(taken)} samples, peak of the tree {max(s.tree for s in taken) // mb} MB"]
    if reading:
        peak = max(reading, key=lambda sample: sample.tree)
        workers = ", ".join(str(rss // mb) for rss in peak.workers)
        lines.append(f"read (until {reading[-1].second:.1f} s): peak {peak.tree // mb} MB at {peak.second:.1f} s "
                     f"(parent {peak.parent // mb}, workers {workers})")
        after = [sample for sample in taken if sample.second > reading[-1].second]
    else:
        lines.append("read: no worker seen (read in the parent)")
        after = taken
    if after:
        peak = max(after, key=lambda sample: sample.parent)
        lines.append(f"after the read: peak {peak.parent // mb} MB at {peak.second:.1f} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``--path TRAIL [--start D --end D] [--workers N]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, required=True)
    parser.add_argument("--start", default=ALL_TIME[0], help="the window's start (default: every event)")
    parser.add_argument("--end", default=ALL_TIME[1], help="the window's end")
    parser.add_argument("--workers", type=int, help="the kit's --workers (default: its own choice)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as out:
        command = [*commands(args.path, Path(out), args.workers or 0, (args.start, args.end))["kit"],
                   *(["--workers", str(args.workers)] if args.workers else [])]
        print(report(*samples_of(command)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
