"""Where the memory and time of a plan run go: peak RSS of the process tree (and of the parent) and
wall time per stage.

``python -m bench.memory --path bench/data/org-10000000/trail [--tree DIR] [--start D --end D]`` runs
``sts-kit plan --source local --no-cache`` (every event of the trail unless ``--start``/``--end`` say
otherwise) in this process (with ``DIR``'s ``kit`` first on ``sys.path`` when
given, e.g. a ``git archive`` of the commit before a change), polls the RSS of the process and its
workers every 20 ms, and prints the peak within each stage and its wall time: reading
(``aggregate``), the rollup tables (``to_rollup``; within it, summing the per-second rows, ``take_second_rows``,
and the two large tables), the plan's steps and the plan files' making (``plan_files``). A stage's peak includes
what earlier stages left. The plan's steps are wrapped when the kit imports its plan modules: while
its workers read (``kit.cli.PLAN_MODULES``), or once the read is done for an input too large for that
or read without workers; nothing is imported before the kit would import it.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from bench.run import ALL_TIME

TABLES = ("sts_calls_frame", "counts_frame", "seconds_frame", "frame")
"""The rollup's table makers (``kit.rollup``, which ``to_rollup`` imports when it runs)."""
STAGES = {"kit.engines.local": ("aggregate", "to_rollup"), "kit.rollup": TABLES,
          "kit.events:Aggregator": ("release_merge_state", "sts_rows", "take_second_rows"),
          "kit.signalcounts:SignalCounts": ("rows",),
          "kit.plan": ("home_regions", "global_seconds", "build_callers", "regional_calls", "quota_table",
                       "stage_moves"),
          "kit.report": ("plan_files",)}


class StagePeaks:
    """Peak RSS (tree, parent) per stage, sampled by a thread."""

    def __init__(self) -> None:
        self.stage = "start-up"
        self.peaks: dict[str, tuple[int, int]] = {}
        self.seconds: dict[str, float] = {}
        """Wall time spent in each wrapped stage."""
        self._running: set[str] = set()
        """The wrapped stages under way (a stage called within another goes back to it)."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            try:
                parent = me.memory_info().rss
                tree = parent + sum(child.memory_info().rss for child in me.children(recursive=True))
            except psutil.Error:
                continue
            old = self.peaks.get(self.stage, (0, 0))
            self.peaks[self.stage] = (max(old[0], tree), max(old[1], parent))
            time.sleep(0.02)

    def wrap(self, module: object, name: str) -> None:
        """Count the calls of ``module.name`` as the stage ``name`` (then back to the stage that called it,
        or to "between stages")."""
        function = getattr(module, name)

        def staged(*args, **kwargs):
            caller = self.stage if self.stage in self._running else "between stages"
            self.stage = name
            self._running.add(name)
            began = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - began
                self._running.discard(name)
                self.stage = caller
        setattr(module, name, staged)

    def wrap_stages(self, stages: dict[str, tuple[str, ...]]) -> None:
        """Wrap the functions ``stages`` names per owner (a module, or ``module:Class``); those the kit
        measured has not (a kit of another commit) are left out."""
        for owner, names in stages.items():
            module, _, attribute = owner.partition(":")
            target = importlib.import_module(module)
            target = getattr(target, attribute) if attribute else target
            for name in names:
                if hasattr(target, name):
                    self.wrap(target, name)

    def __enter__(self) -> "StagePeaks":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(0.05)
        self._stop.set()
        self._thread.join()


def _wrap_when_imported(peaks: StagePeaks, stages: dict[str, tuple[str, ...]], cli: object) -> None:
    """Wrap ``stages`` (those of ``kit.rollup`` and the plan's modules) when the kit imports them: while its
    workers read (``kit.cli.PLAN_MODULES`` in the warm-up thread), or, for an input too large for that
    (``kit.engines.local.WARM_UP_MAX_BYTES``), ``kit.rollup`` as the rollup's tables are made and the plan's
    modules once the read is done."""
    rollup = {owner: names for owner, names in stages.items() if owner == "kit.rollup"}
    plan = {owner: names for owner, names in stages.items() if owner not in rollup}
    wrapped: set[str] = set()

    def wrap(part: dict[str, tuple[str, ...]]) -> None:
        if not wrapped.issuperset(part):
            peaks.wrap_stages(part)
            wrapped.update(part)

    warm_up = cli._import_plan_modules
    engines, local = importlib.import_module("kit.engines"), importlib.import_module("kit.engines.local")
    collect, to_rollup = engines.collect, local.to_rollup

    def warm_up_and_wrap() -> None:
        warm_up()
        wrap(stages)

    def to_rollup_wrapped(*args, **kwargs):
        wrap(rollup)
        return to_rollup(*args, **kwargs)

    def collect_and_wrap(*args, **kwargs):
        rollup_made = collect(*args, **kwargs)
        wrap(plan)
        return rollup_made
    cli._import_plan_modules, local.to_rollup, engines.collect = warm_up_and_wrap, to_rollup_wrapped, collect_and_wrap


def main(argv: list[str] | None = None) -> int:
    """Command line: ``--path TRAIL [--tree DIR]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, required=True)
    parser.add_argument("--tree", type=Path, help="a folder holding the kit package to measure")
    parser.add_argument("--start", default=ALL_TIME[0], help="the window's start (default: every event)")
    parser.add_argument("--end", default=ALL_TIME[1], help="the window's end")
    args = parser.parse_args(argv)
    if args.tree:
        sys.path.insert(0, str(args.tree.resolve()))

    from kit import cli

    peaks = StagePeaks()
    if hasattr(cli, "PLAN_MODULES"):
        after_read = {owner: names for owner, names in STAGES.items()
                      if owner == "kit.rollup" or owner.partition(":")[0] in cli.PLAN_MODULES}
        now = {owner: names for owner, names in STAGES.items() if owner not in after_read}
    else:  # a kit from before: everything imported at once, the tables made by names the engine imported
        after_read = {}
        now = {owner: names + TABLES if owner == "kit.engines.local" else names
               for owner, names in STAGES.items() if owner != "kit.rollup"}
    peaks.wrap_stages(now)
    if after_read:  # wrapped as the kit imports them, never before (not before the workers are forked)
        _wrap_when_imported(peaks, after_read, cli)
    with tempfile.TemporaryDirectory() as out, peaks:
        began = time.perf_counter()
        cli.main(["plan", "--source", "local", "--path", str(args.path), "--start", args.start, "--end", args.end,
                  "--no-cache", "--quiet", "--out", out])
        took = time.perf_counter() - began
    print(f"kit: {sys.modules['kit'].__file__}, {took:.1f} s")
    print("| stage | peak RSS of the tree, MB | of the parent, MB | seconds |\n|---|---:|---:|---:|")
    unsampled = [stage for stage in peaks.seconds if stage not in peaks.peaks]  # over between two samples
    for stage in [*peaks.peaks, *unsampled]:
        spent = f"{peaks.seconds[stage]:.2f}" if stage in peaks.seconds else ""
        sizes = peaks.peaks.get(stage)
        tree, parent = (f"{size / 2**20:.0f}" for size in sizes) if sizes else ("—", "—")
        print(f"| {stage} | {tree} | {parent} | {spent} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
