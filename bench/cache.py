"""The cache's format, measured: write+read time and size of one batch's aggregator per candidate,
then ``sts-kit plan --source samples`` with and without the cache.

``python -m bench.cache [--bench-trail bench/data/org-100000/trail] [--runs 7] [--plan-runs 5]
[--old-tree DIR]``. Inputs: the first batch (``local.BATCH_BYTES`` of files) of a bench trail as
the engine reads it, and the whole samples trail as one aggregator. Candidates:

* ``pickle``: the format before (runs code when loaded: the reason for the change);
* ``msgpack``: ``kit.engines.codec`` (tagged tree, columns for the rollup dicts) + msgpack, chosen;
* ``orjson``: the same tagged tree as JSON (bytes would need base64);
* ``arrow``, ``npz``: the three rollup dicts as column tables only (Arrow IPC; numpy ``.npz``
  without pickle, strings as fixed-width unicode, ``None`` written as text: lossy, so a lower bound),
  the other attributes left out: what a table format costs at best.

Plan figures are medians of ``--plan-runs`` rounds; format figures are medians of ``--runs`` with cyclic GC paused (as in the engine); times include the
file write/read. ``--old-tree`` (a checkout of
the commit before the change) adds its cached and uncached plan runs for comparison.
"""
from __future__ import annotations

import argparse
import base64
import gc
import io
import os
import pickle
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import orjson

from kit.engines import cache, codec, local
from kit.events import Aggregator
from kit.params import SAMPLES_DIR, validate
from kit.trailfiles import InvalidTrailFile, discover, read_records

HERE = Path(__file__).resolve().parent
WINDOW = ("2025-03-01T00:00:00Z", "2025-09-01T00:00:00Z")
TABLES = ("sts", "seconds", "activity")


def _read(paths: list[str]) -> tuple[Aggregator, int, dict[str, str]]:
    """What a worker makes of ``paths`` (one batch)."""
    aggregator = Aggregator(*WINDOW)
    invalid = {}
    for path in paths:
        try:
            aggregator.add(read_records(path))
        except InvalidTrailFile as error:
            invalid[path] = str(error)
    return aggregator, len(paths) - len(invalid), invalid


def first_batch(trail: Path) -> list[str]:
    params = validate({"source": "local", "path": trail, "start": WINDOW[0][:10], "end": WINDOW[1][:10]})
    files = discover(trail, params.start, params.end).files
    return [f.path for f in next(local.batches(files, local.BATCH_BYTES))]


def _columns(table: dict[tuple, Any]) -> list[list[Any]]:
    keys = list(zip(*table)) if table else []
    values = list(table.values())
    if values and isinstance(values[0], list):
        return [*map(list, keys), *map(list, zip(*values))]
    return [*map(list, keys), values]


def arrow_codec() -> tuple[Callable, Callable] | None:
    try:
        import pyarrow as pa
        import pyarrow.ipc as ipc
    except ImportError:
        return None

    def write(aggregator: Aggregator) -> bytes:
        sink = io.BytesIO()
        for name in TABLES:
            columns = _columns(getattr(aggregator, name))
            table = pa.table({f"c{i}": pa.array(column) for i, column in enumerate(columns)})
            with ipc.new_stream(sink, table.schema) as writer:
                writer.write_table(table)
        return sink.getvalue()

    def read(data: bytes) -> Any:
        source = pa.BufferReader(data)
        tables = []
        for _ in TABLES:
            reader = ipc.open_stream(source)
            tables.append(reader.read_all())
        return [table.to_pydict() for table in tables]

    return write, read


def npz_write(aggregator: Aggregator) -> bytes:
    arrays = {}
    for name in TABLES:
        for i, column in enumerate(_columns(getattr(aggregator, name))):
            kinds = set(map(type, column))
            arrays[f"{name}{i}"] = np.array(column, dtype=np.int64 if kinds == {int} else str)
    sink = io.BytesIO()
    np.savez(sink, **arrays)
    return sink.getvalue()


def npz_read(data: bytes) -> Any:
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        return {name: archive[name].tolist() for name in archive.files}


def _orjson_default(value: Any) -> Any:
    """JSON has no bytes: base64 in an object, as any JSON format would have to."""
    if isinstance(value, bytes):
        return {"b64": base64.b64encode(value).decode()}
    raise TypeError(f"not JSON: {type(value).__name__}")


def _unbase64(tree: Any) -> Any:
    if type(tree) is dict:
        return base64.b64decode(tree["b64"])
    if type(tree) is list and set(map(type, tree)) & {list, dict}:
        return [_unbase64(item) for item in tree]
    return tree


def candidates() -> dict[str, tuple[Callable[[Aggregator], bytes], Callable[[bytes], Any]]]:
    found = {
        "pickle (before; runs code)": (lambda a: pickle.dumps(a, protocol=pickle.HIGHEST_PROTOCOL), pickle.loads),
        "msgpack tagged (chosen)": (lambda a: cache.encode_entry("k", (a, 1, {})),
                                    lambda data: cache.decode_entry("k", data)),
        "orjson tagged": (lambda a: orjson.dumps(codec.encode(codec.state_of(a)), default=_orjson_default),
                          lambda data: codec.restore(Aggregator, codec.decode(_unbase64(orjson.loads(data))))),
        "npz tables only (lossy)": (npz_write, npz_read),
    }
    arrow = arrow_codec()
    if arrow:
        found["arrow tables only"] = arrow
    return found


def timed(function: Callable[[], Any]) -> float:
    """Seconds of one call, cyclic GC paused as the engine pauses it around cache reads and writes."""
    gc.collect()
    gc.disable()
    try:
        began = time.perf_counter()
        function()
        return time.perf_counter() - began
    finally:
        gc.enable()


def measure_formats(aggregator: Aggregator, sealed: Aggregator, runs: int,
                    folder: Path) -> list[tuple[str, float, float, int]]:
    """(candidate, write ms, read ms, bytes): medians of ``runs``, file write and read included. The
    whole-state candidates store ``sealed`` (what a worker stores), the table ones the dict tables of
    ``aggregator`` (the same batch before ``seal``)."""
    rows = []
    for name, (write, read) in candidates().items():
        path = folder / "entry"
        writes, reads = [], []
        stored = aggregator if "tables only" in name else sealed
        for _ in range(runs):
            writes.append(timed(lambda: path.write_bytes(write(stored))))
            reads.append(timed(lambda: read(path.read_bytes())))
        rows.append((name, statistics.median(writes) * 1000, statistics.median(reads) * 1000, path.stat().st_size))
    return rows


def plan_seconds(command: list[str], cached: bool, env: dict[str, str], folder: Path) -> float:
    """Seconds of one run, started in ``folder`` so that ``PYTHONPATH`` decides which kit runs."""
    began = time.perf_counter()
    subprocess.run(command + ([] if cached else ["--no-cache"]), check=True, env=env, cwd=folder,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - began


def measure_plans(runs: int, old_tree: Path | None, bench_trail: Path | None,
                  folder: Path) -> list[tuple[str, str, float, float, float]]:
    """(input, code, and medians of: a run that fills an empty cache, --no-cache, cached), in seconds."""
    plan = [sys.executable, "-m", "kit", "plan", "--quiet", "--out", str(folder / "out")]
    inputs = {"samples": ["--source", "samples"]}
    if bench_trail:
        inputs[bench_trail.parent.name] = ["--source", "local", "--path", str(bench_trail), "--start", WINDOW[0][:10],
                                           "--end", WINDOW[1][:10]]
    trees = {"this branch": None, **({f"before ({old_tree.name})": old_tree} if old_tree else {})}
    rows = []
    for source, arguments in inputs.items():
        for label, tree in trees.items():
            env = {**os.environ, "STS_KIT_CACHE_DIR": str(folder / f"cache-{len(rows)}"),
                   "PYTHONPATH": str(tree or HERE.parent)}
            fills, uncached, cached = [], [], []
            for _ in range(runs):
                shutil.rmtree(env["STS_KIT_CACHE_DIR"], ignore_errors=True)
                fills.append(plan_seconds(plan + arguments, True, env, folder))
                cached.append(plan_seconds(plan + arguments, True, env, folder))
                uncached.append(plan_seconds(plan + arguments, False, env, folder))
            kit = subprocess.run([sys.executable, "-c", "import kit; print(kit.__file__)"], env=env, cwd=folder,
                                 capture_output=True, text=True, check=True).stdout.strip()
            assert kit.startswith(str(tree or HERE.parent)), f"{label} ran {kit}"
            rows.append((source, label, statistics.median(fills), statistics.median(uncached),
                         statistics.median(cached)))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cache", description=__doc__.split("\n\n")[0])
    parser.add_argument("--bench-trail", type=Path, default=HERE / "data" / "org-100000" / "trail")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--plan-runs", type=int, default=5)
    parser.add_argument("--old-tree", type=Path, help="a checkout of the kit before the change")
    args = parser.parse_args(argv)
    inputs = {"samples, all files as one batch": [f.path for f in discover(
        SAMPLES_DIR / "trail", *_window()).files]}
    if args.bench_trail.is_dir():
        inputs = {f"bench, first {local.BATCH_BYTES >> 20} MB batch": first_batch(args.bench_trail), **inputs}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        for label, paths in inputs.items():
            aggregator, sealed = _read(paths)[0], _read(paths)[0]
            sealed.seal()
            print(f"\n{label}: {len(paths)} files, {aggregator.events:,} events, {len(aggregator.per_second):,} caller "
                  f"seconds, {len(aggregator.activity):,} activity keys")
            print("| format | write ms | read ms | bytes |\n|---|---:|---:|---:|")
            for name, write, read, size in measure_formats(aggregator, sealed, args.runs, folder):
                print(f"| {name} | {write:.1f} | {read:.1f} | {size:,} |")
        if not args.plan_runs:
            return 0
        print(f"\n`sts-kit plan`, end to end: medians of {args.plan_runs} rounds of (empty cache: fill, then "
              "cached, then --no-cache)")
        print("| input | code | filling s | --no-cache s | cached s |\n|---|---|---:|---:|---:|")
        trail = args.bench_trail if args.bench_trail.is_dir() else None
        for source, label, fill, uncached, cached in measure_plans(args.plan_runs, args.old_tree, trail, folder):
            print(f"| {source} | {label} | {fill:.2f} | {uncached:.2f} | {cached:.2f} |")
    return 0


def _window():
    params = validate({"source": "samples"})
    return params.start, params.end


if __name__ == "__main__":
    sys.exit(main())
