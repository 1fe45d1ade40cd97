"""``make bench``: the local engine side by side with the notebook way and the parse floor.

For each scale (events), and each of ``--fleet-scales`` as an org of thousands of callers (``bench.generate
--fleet``), generate the org if missing (``bench.generate``), then run the commands
(baseline, kit, floor, new floor) as subprocesses, alternating their order, ``--runs`` times
(``--large-runs`` from ``--large-from`` events on): wall time and peak memory (RSS summed over the
process tree, polled) of each; medians go in the table. The baseline runs only up to
``--baseline-max`` events (its memory grows with the input). Then a cached pair of kit runs (fill,
then hit). Prints the Markdown table and issue 14's goals, met or not, and writes them into RESULTS.md.

Before the runs at a scale, every file is read once (untimed), so that no command pays for the
disk; the modules' bytecode is written once first, as installing a package does. ``--path TRAIL`` measures your own trail files instead (every event in them, or ``--start`` to
``--end``): the same commands and table, printed only (RESULTS.md is left alone); the floor runs
once first, to count the events (the baseline runs only up to ``--baseline-max``).
"""
from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import psutil

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
RESULTS = HERE / "RESULTS.md"
WINDOW = ("2025-03-01", "2025-09-01")
"""The window of the generated orgs (``bench.generate``)."""
ALL_TIME = ("2006-01-01", "2100-01-01")
"""The window of a trail of your own: every event (CloudTrail began in 2013)."""
MARKERS = ("<!-- bench table -->", "<!-- /bench table -->")
FLEET = 500
"""Roles of each role's name in the orgs of thousands of callers (``bench.generate --fleet``)."""


class Measured(NamedTuple):
    """What one command took."""

    seconds: float
    peak: int
    """Peak RSS of the process tree, bytes (pages shared by forked processes counted in each)."""
    out: str
    peak_pss: int = 0
    """Peak PSS of the process tree, bytes (a page shared by n processes counts 1/n in each), when asked."""


def measure(command: list[str], env: dict[str, str] | None = None, shared_pages: bool = False,
            samples: list[tuple[float, list[int]]] | None = None) -> Measured:
    """Wall time, peak memory of the process tree (polled) and stdout of one command; the peak PSS
    too with ``shared_pages`` (Linux); each poll's (second, RSS of the command then of each process it
    started) appended to ``samples`` when given."""
    began = time.perf_counter()
    process = psutil.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env={**os.environ, **(env or {})})
    peak = peak_pss = 0
    while process.poll() is None:
        try:
            tree = [process, *process.children(recursive=True)]
            sizes = [p.memory_info().rss for p in tree if p.is_running()]
            peak = max(peak, sum(sizes))
            if samples is not None:
                samples.append((time.perf_counter() - began, sizes))
            if shared_pages:
                peak_pss = max(peak_pss, sum(p.memory_full_info().pss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.05)
    seconds = time.perf_counter() - began
    out, err = process.communicate()
    if process.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{err}")
    return Measured(seconds, peak, out, peak_pss)


def commands(trail: Path, out: Path, workers: int, window: tuple[str, str] = WINDOW) -> dict[str, list[str]]:
    """The commands compared (the baseline reads every file, whatever the window)."""
    python = sys.executable
    span = ["--start", window[0], "--end", window[1]]
    return {
        "baseline": [python, "-m", "bench.baseline", "--path", str(trail)],
        "kit": [python, "-m", "kit", "plan", "--source", "local", "--path", str(trail), *span, "--no-cache", "--quiet",
                "--out", str(out)],
        "floor": [python, "-m", "bench.floor", "--path", str(trail), *span, "--workers", str(workers)],
        "new floor": [python, "-m", "bench.floor", "--path", str(trail), *span, "--workers", str(workers), "--fast"],
    }


def kit_counts(out: Path) -> dict[tuple[str, str], int]:
    """Global calls per (account, principal) in the kit's plan.csv."""
    import pandas as pd  # here: bench.memory takes ALL_TIME from this module and must not load pandas before the kit

    plan = pd.read_csv(out / "plan.csv", dtype={"account_id": str})
    return {key: int(calls) for key, calls in plan.groupby(["account_id", "principal_arn"]).global_calls.sum().items()}


def baseline_counts(stdout: str) -> dict[tuple[str, str], int]:
    """Global calls per (account, principal) printed by the baseline."""
    rows = [json.loads(line) for line in stdout.splitlines()]
    return {(row["account"], row["principal"]): row["calls"] for row in rows}


def bench_scale(events: int, runs: int, baseline_max: int, cached_max: int, workers: int,
                fleet: int = 0) -> dict[str, object]:
    """One row of the table: a generated org of about ``events`` events (made when missing), with
    ``fleet`` roles of each role's name when given (``bench.generate --fleet``)."""
    org = DATA / (f"org-{events}-fleet" if fleet else f"org-{events}")
    if not (org / "trail").is_dir():
        subprocess.run([sys.executable, "-m", "bench.generate", "--events-target", str(events), "--out", str(org),
                        *(["--fleet", str(fleet)] if fleet else [])], check=True)
    warm(org / "trail")
    return bench_trail(org / "trail", WINDOW, events, runs, events <= baseline_max, events <= cached_max, workers)


def bench_own(trail: Path, window: tuple[str, str], runs: int, baseline_max: int, cached_max: int,
              workers: int) -> dict[str, object]:
    """The row of a trail of your own: the floor runs once first, untimed (its event count decides the
    baseline; it leaves the files in the page cache, as ``warm`` does for the generated orgs)."""
    events = int(measure(commands(trail, trail, workers, window)["floor"]).out.split()[1])
    return bench_trail(trail, window, events, runs, events <= baseline_max, events <= cached_max, workers)


def compile_sources() -> None:
    """Write the bytecode of the kit's and the benchmarks' modules, untimed, as installing a package
    does: where the shell sets PYTHONDONTWRITEBYTECODE, every command would else compile them anew."""
    for folder in (HERE.parent / "kit", HERE):
        compileall.compile_dir(folder, quiet=1)


def warm(trail: Path) -> None:
    """Read every file under ``trail`` once, untimed: every command then finds them in the page cache
    (else the first command at a scale reads from disk: one 30 M run took 243.6 s cold, 157 s warm)."""
    for path in trail.rglob("*"):
        if path.is_file():
            path.read_bytes()


def bench_trail(trail: Path, window: tuple[str, str], events: int, runs: int, baseline: bool, cached_run: bool,
                workers: int) -> dict[str, object]:
    """One row of the table: the commands on ``trail`` (about ``events`` events, its files read once
    already), alternating."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "out"
        todo = commands(trail, out, workers, window)
        if not baseline:
            del todo["baseline"]
        names = list(todo)
        times: dict[str, list[float]] = {name: [] for name in names}
        peaks: dict[str, list[int]] = {name: [] for name in names}
        shared_peaks: list[int] = []
        outputs: dict[str, str] = {}
        for run in range(runs):
            for name in names[run % len(names):] + names[:run % len(names)]:
                seconds, peak, outputs[name], pss = measure(todo[name], shared_pages=name == "kit")
                times[name].append(seconds)
                peaks[name].append(peak)
                if name == "kit":
                    shared_peaks.append(pss)
                print(f"  {events:,} events, run {run + 1}: {name} {seconds:.1f} s, {peak / 2**20:.0f} MB", flush=True)
        agree = baseline_counts(outputs["baseline"]) == kit_counts(out) if "baseline" in todo else None
        env = {"STS_KIT_CACHE_DIR": str(Path(scratch) / "cache")}
        cached = ([measure(todo["kit"][:-4] + ["--quiet", "--out", str(out)], env)[0] for _ in range(2)][1]
                  if cached_run else None)
    files, records = (int(part) for part in outputs["floor"].split())
    median = {name: statistics.median(values) for name, values in times.items()}
    return {"events": records, "files": files, "gz_mb": sum(p.stat().st_size for p in trail.rglob("*.gz")) / 1e6,
            "baseline": median.get("baseline"), "kit": median["kit"], "floor": median["floor"],
            "new_floor": median["new floor"],
            "kit_mb": max(peaks["kit"]) / 2**20, "kit_pss_mb": max(shared_peaks) / 2**20, "baseline_mb": max(peaks["baseline"]) / 2**20 if "baseline" in peaks else None,
            "floor_mb": max(peaks["floor"]) / 2**20, "cached": cached, "agree": agree, "runs": runs}


def table(rows: list[dict[str, object]]) -> str:
    """The Markdown table."""
    def num(value: object, fmt: str) -> str:
        return "—" if value is None else format(value, fmt)

    lines = ["| events | files | .json.gz MB | baseline s | kit s | baseline/kit | floor s | kit/floor | new floor s | "
             "kit peak MB | kit peak PSS MB | baseline peak MB | kit cached s | same counts |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|"]
    for row in rows:
        ratio = row["baseline"] / row["kit"] if row["baseline"] else None
        agree = {True: "yes", False: "NO", None: "—"}[row["agree"]]
        lines.append(f"| {row['events']:,} | {row['files']:,} | {row['gz_mb']:.0f} | {num(row['baseline'], '.1f')} | "
                     f"{row['kit']:.1f} | {num(ratio, '.1f')}{'×' if ratio else ''} | {row['floor']:.1f} | {row['kit'] / row['floor']:.2f}× | "
                     f"{row['new_floor']:.1f} | "
                     f"{row['kit_mb']:.0f} | {row['kit_pss_mb']:.0f} | {num(row['baseline_mb'], '.0f')} | {num(row['cached'], '.1f')} | {agree} |")
    return "\n".join(lines)


def goals(rows: list[dict[str, object]]) -> str:
    """Issue 14's goals, each with the figures of this run that decide it."""
    small = rows[0]
    ten = [row for row in rows if 10_000_000 <= row["events"] < 30_000_000]
    thirty = [row for row in rows if row["events"] >= 30_000_000]
    lines = ["| goal | figures | met |", "|---|---|:---:|"]

    def goal(text: str, figures: str, met: bool | None) -> None:
        lines.append(f"| {text} | {figures} | {'—' if met is None else 'yes' if met else 'no'} |")

    goal("at or below the floor (gzip + orjson) at every scale",
         ", ".join(f"{row['kit'] / row['floor']:.2f}× at {row['events']:,}" for row in rows),
         all(row["kit"] <= row["floor"] for row in rows))
    ratio = small["baseline"] / small["kit"] if small["baseline"] else None
    goal("≥ 15× the json_normalize notebook at 315k", f"{ratio:.1f}×" if ratio else "baseline not run",
         ratio >= 15 if ratio else None)
    goal("peak memory under 1 GB at 10 M", ", ".join(f"{row['kit_mb']:.0f} MB at {row['events']:,} "
                                                   f"(PSS {row['kit_pss_mb']:.0f} MB)" for row in ten)
         or "no scale of 10 M", all(row["kit_mb"] < 1024 for row in ten) if ten else None)
    growth = [(row, row["kit_mb"] / small["kit_mb"]) for row in ten]
    goal("flat memory: within 1.25× from 300k to 10 M",
         ", ".join(f"{small['kit_mb']:.0f} MB at {small['events']:,}, {row['kit_mb']:.0f} MB at {row['events']:,}: "
                   f"{ratio:.2f}× (PSS {row['kit_pss_mb'] / small['kit_pss_mb']:.2f}×)" for row, ratio in growth)
         or "no scale of 10 M",
         all(ratio <= 1.25 for _, ratio in growth) if growth else None)
    goal("30 M events in under 3 minutes, with the memory of 10 M",
         ", ".join(f"{row['kit']:.0f} s and {row['kit_mb']:.0f} MB at {row['events']:,}" for row in thirty)
         or "no scale of 30 M",
         all(row["kit"] < 180 and all(row["kit_mb"] <= other["kit_mb"] for other in ten) for row in thirty)
         if thirty else None)
    return "\n".join(lines)


def machine() -> str:
    """One line about the machine and the libraries."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    import msgspec
    import orjson
    from importlib.metadata import version

    return (f"{cpu}, {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB RAM, "
            f"{platform.system()} {platform.release()}; Python {platform.python_version()}, "
            f"pandas {version('pandas')}, orjson {orjson.__version__}, msgspec {msgspec.__version__}, isal {version('isal')}")


def write_results(text: str) -> None:
    """Replace the table section of RESULTS.md (or start the file)."""
    block = f"{MARKERS[0]}\n{text}\n{MARKERS[1]}"
    current = RESULTS.read_text() if RESULTS.exists() else f"# Benchmark results\n\n{MARKERS[0]}\n{MARKERS[1]}\n"
    head, rest = current.split(MARKERS[0], 1)
    RESULTS.write_text(head + block + rest.split(MARKERS[1], 1)[1])


def scales(text: str) -> list[int]:
    """Event counts given as '315000,1000000' ('' for none)."""
    return [int(scale) for scale in text.split(",") if scale]


def main(argv: list[str] | None = None) -> int:
    """Command line: ``--scales 315000,1000000 --runs 3``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="315000,1000000,3000000,10000000,30000000")
    parser.add_argument("--runs", type=int, default=5, help="runs at scales below --large-from")
    parser.add_argument("--large-runs", type=int, default=1, help="runs at scales from --large-from on")
    parser.add_argument("--large-from", type=int, default=10_000_000, help="the first scale run --large-runs times")
    parser.add_argument("--baseline-max", type=int, default=315_000, help="largest scale the baseline runs at")
    parser.add_argument("--cached-max", type=int, default=3_000_000, help="largest scale of the cached re-run")
    parser.add_argument("--fleet-scales", default="1000000,10000000",
                        help="scales also measured as an org of thousands of callers ('' for none)")
    parser.add_argument("--fleet", type=int, default=FLEET, help="roles of each role's name in those orgs")
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--path", type=Path, help="a folder of trail files of your own, measured instead of the scales")
    parser.add_argument("--start", default=ALL_TIME[0], help="with --path: the window's start (default: every event)")
    parser.add_argument("--end", default=ALL_TIME[1], help="with --path: the window's end")
    args = parser.parse_args(argv)

    def runs_at(scale: int) -> int:
        return args.large_runs if scale >= args.large_from else args.runs

    compile_sources()
    load_before = os.getloadavg()[0]
    if args.path:
        rows = [bench_own(args.path, (args.start, args.end), args.runs, args.baseline_max, args.cached_max,
                          args.workers)]
    else:
        rows = [bench_scale(scale, runs_at(scale), args.baseline_max, args.cached_max, args.workers)
                for scale in scales(args.scales)]
    fleet_rows = [] if args.path else [
        bench_scale(scale, runs_at(scale), args.baseline_max, args.cached_max, args.workers, args.fleet)
        for scale in scales(args.fleet_scales)]
    runs = ", ".join(f"{row['runs']} at {row['events']:,}" for row in rows + fleet_rows)
    measured = f"{table(rows)}\n\n" if args.path else f"{table(rows)}\n\n{goals(rows)}\n\n"
    if fleet_rows:
        measured += (f"The same commands on orgs of thousands of callers (`bench.generate --fleet {args.fleet}`: each "
                     f"role's events spread over {args.fleet} roles of its name, STS calls over a few agent builds; "
                     f"not part of the goals above, which are judged on the orgs above):\n\n{table(fleet_rows)}\n\n")
    text = (f"{measured}Medians of alternating runs ({runs} events). Machine: {machine()}. Load average "
            f"(1 min, other sessions share the cores): {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end.\n"
            f"Command: `{' '.join(['python -m bench.run', *(argv if argv is not None else sys.argv[1:])])}`\n")
    print(text)
    if not args.path:
        write_results(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
