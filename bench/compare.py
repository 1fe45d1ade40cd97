"""This tree's kit against another tree's (the commit before a change), alternating on the same data.

``git archive BASE kit | tar -x -C /tmp/base`` then ``python -m bench.compare --base-tree /tmp/base
--path bench/data/org-315000/trail --runs 3``: runs ``sts-kit plan --source local --no-cache``
with each tree's ``kit`` first on ``sys.path``, in alternating order, measured as ``bench.run``
measures (wall time, peak RSS of the process tree, and its peak PSS, which counts the pages the
forked workers share with the parent once); prints medians and maxima and whether
``plan.csv``, ``quota.csv``, ``signals.csv`` and ``plan.md`` are byte-identical.
"""
from __future__ import annotations

import argparse
import filecmp
import os
import statistics
import sys
import tempfile
from pathlib import Path

from bench.run import ALL_TIME, measure

HERE = Path(__file__).resolve().parent.parent
OUTPUTS = ("plan.csv", "quota.csv", "signals.csv", "plan.md")


def command(tree: Path, trail: Path, out: Path, window: tuple[str, str]) -> list[str]:
    """``sts-kit plan`` with the ``kit`` package of ``tree``."""
    launcher = f"import sys; sys.path.insert(0, {str(tree)!r}); from kit.cli import main; sys.exit(main(sys.argv[1:]))"
    return [sys.executable, "-c", launcher, "plan", "--source", "local", "--path", str(trail), "--start", window[0],
            "--end", window[1], "--no-cache", "--quiet", "--out", str(out)]


def main(argv: list[str] | None = None) -> int:
    """Command line: ``--base-tree DIR --path TRAIL --runs N``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-tree", type=Path, required=True)
    parser.add_argument("--path", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--start", default=ALL_TIME[0], help="the window's start (default: every event)")
    parser.add_argument("--end", default=ALL_TIME[1], help="the window's end")
    args = parser.parse_args(argv)
    trees = {"base": args.base_tree.resolve(), "this": HERE}
    seconds: dict[str, list[float]] = {name: [] for name in trees}
    peaks: dict[str, list[float]] = {name: [] for name in trees}
    shared: dict[str, list[float]] = {name: [] for name in trees}
    with tempfile.TemporaryDirectory() as scratch:
        outs = {name: Path(scratch) / name for name in trees}
        for run in range(args.runs):
            for name in (["base", "this"] if run % 2 == 0 else ["this", "base"]):
                took, peak, _, pss = measure(command(trees[name], args.path, outs[name], (args.start, args.end)),
                                          shared_pages=True)
                seconds[name].append(took)
                peaks[name].append(peak / 2**20)
                shared[name].append(pss / 2**20)
                print(f"  run {run + 1}: {name} {took:.1f} s, {peak / 2**20:.0f} MB RSS, {pss / 2**20:.0f} MB PSS, "
                      f"load {os.getloadavg()[0]:.1f}", flush=True)
        same = all(filecmp.cmp(outs["base"] / name, outs["this"] / name, shallow=False) for name in OUTPUTS)
    print("| tree | median s | peak RSS MB | peak PSS MB |\n|---|---:|---:|---:|")
    for name in trees:
        print(f"| {name} | {statistics.median(seconds[name]):.2f} | {max(peaks[name]):.0f} | {max(shared[name]):.0f} |")
    print(f"{', '.join(OUTPUTS)}: {'byte-identical' if same else 'DIFFERENT'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
