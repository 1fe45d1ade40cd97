"""Where the local engine's time goes, stage by stage, in one process (the work of all workers
added up): read, gunzip, partial decoding, aggregation, seal, pickling, merge, rollup tables, plan.

``python -m bench.profile --path bench/data/org-1000000/trail`` prints a Markdown table.
"""
from __future__ import annotations

import argparse
import pickle
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import orjson

import kit.plan
from kit.engines.local import BATCH_BYTES, BatchResult, batches, gc_paused, to_rollup
from kit.events import Aggregator
from kit.judgedfields import judged_fields
from kit.params import validate
from kit.readreport import ReadReport
from kit.trailfiles import discover, gunzip


def profile(path: Path) -> Counter[str]:
    """Seconds per stage."""
    seconds: Counter[str] = Counter()

    @contextmanager
    def stage(name: str) -> Iterator[None]:
        began = time.perf_counter()
        yield
        seconds[name] += time.perf_counter() - began

    params = validate({"source": "local", "path": path, "start": "2025-03-01", "end": "2025-09-01"})
    window = ("2025-03-01T00:00:00Z", "2025-09-01T00:00:00Z")
    total = Aggregator(*window)
    with gc_paused():
        with stage("discover"):
            found = discover(path, params.start, params.end)
        for batch in batches(found.files, BATCH_BYTES):
            part = Aggregator(*window)
            for trail_file in batch:
                with stage("read file"):
                    data = Path(trail_file.path).read_bytes()
                with stage("gunzip (isal)"):
                    data = gunzip(data)
                with stage("parse (msgspec, judged fields)"):
                    records = judged_fields(data) or orjson.loads(data)["Records"]
                with stage("aggregate (Aggregator.add)"):
                    part.add(records)
                with stage("free records"):
                    del records, data
            with stage("seal (event id arrays)"):
                part.seal()
            with stage("pickle batch result (worker)"):
                payload = pickle.dumps(BatchResult(part, len(batch), {}), protocol=pickle.HIGHEST_PROTOCOL)
            with stage("unpickle + merge (parent)"):
                total.merge(pickle.loads(payload).aggregator)
        with stage("rollup tables (pandas)"):
            total.settle_twins()
            rollup = to_rollup(total, ReadReport())
    for name in ("home_regions", "build_callers", "quota_table", "stage_moves"):
        original = getattr(kit.plan, name)

        def timed(*args, _original=original, _name=name, **kwargs):
            with stage(f"plan: {_name}"):
                return _original(*args, **kwargs)
        setattr(kit.plan, name, timed)
    with stage("plan (total)"):
        kit.plan.plan_from_rollup(rollup, params)
    print(f"{len(found.files)} files, {total.events:,} events, rollup rows: "
          f"{len(rollup.sts_calls):,} sts_calls, {len(rollup.seconds):,} seconds")
    return seconds


def main(argv: list[str] | None = None) -> int:
    """Command line: ``--path DIR``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, required=True)
    seconds = profile(parser.parse_args(argv).path)
    reading = sum(v for k, v in seconds.items() if not k.startswith("plan"))
    print("| stage | seconds | share of reading |\n|---|---:|---:|")
    for name, value in seconds.items():
        share = f"{value / reading:.0%}" if not name.startswith("plan") else ""
        print(f"| {name} | {value:.2f} | {share} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
