"""The local engine: trail files on disk, read in parallel, streamed into the rollup.

Each worker process reads a batch of files and returns a partial ``Aggregator``; the parent
merges partials as they arrive, so memory holds the rollup, never the events.
"""
from __future__ import annotations

import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from typing import Iterator

from tqdm import tqdm

from kit.errors import InputError
from kit.events import Aggregator
from kit.params import Params
from kit.rollup import (ACTIVITY_COLUMNS, SECOND_COLUMNS, STS_CALL_COLUMNS, ReadReport, Rollup,
                        frame)
from kit.trailfiles import Discovery, InvalidTrailFile, TrailFile, discover, read_records

BATCH_BYTES = 32 * 1024 * 1024
"""Compressed bytes per worker task: large enough to amortise pickling, small for progress."""
IN_PROCESS_BYTES = 8 * 1024 * 1024
"""Inputs smaller than this are read in the calling process (no pool start-up)."""


class BatchResult:
    """What one worker made of a batch of files."""

    def __init__(self, aggregator: Aggregator, files_read: int, invalid: dict[str, str]) -> None:
        self.aggregator = aggregator
        self.files_read = files_read
        self.invalid = invalid


def read_batch(paths: list[str], start: str, end: str, accounts: tuple[str, ...]) -> BatchResult:
    """Read and aggregate one batch of trail files (runs in a worker process)."""
    aggregator = Aggregator(start, end, accounts)
    invalid: dict[str, str] = {}
    for path in paths:
        try:
            aggregator.add(read_records(path))
        except InvalidTrailFile as error:
            invalid[path] = str(error)
        except OSError as error:
            invalid[path] = f"cannot be read ({error.strerror or error})"
    return BatchResult(aggregator, len(paths) - len(invalid), invalid)


def batches(files: list[TrailFile], limit: int = BATCH_BYTES) -> Iterator[list[TrailFile]]:
    """Consecutive groups of files of about ``limit`` compressed bytes each."""
    batch: list[TrailFile] = []
    size = 0
    for trail_file in files:
        batch.append(trail_file)
        size += trail_file.size
        if size >= limit:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _worker_count(params: Params, total_bytes: int) -> int:
    if total_bytes < IN_PROCESS_BYTES:
        return 1
    return params.workers or os.cpu_count() or 1


def _progress(params: Params, total: int) -> tqdm:
    quiet = params.quiet or not sys.stderr.isatty()
    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc="trail files",
                disable=quiet, mininterval=0.5, delay=2.0)


def aggregate(found: Discovery, params: Params) -> tuple[Aggregator, ReadReport]:
    """Read every discovered file into one aggregator; report files read and invalid."""
    window = (params.start.strftime("%Y-%m-%dT%H:%M:%SZ"), params.end.strftime("%Y-%m-%dT%H:%M:%SZ"))
    total = Aggregator(*window, params.accounts)
    report = ReadReport(sources=[str(params.path)], files_ignored=found.ignored)
    if found.outside_window:
        report.notes.append(f"{found.outside_window} files in dated folders outside the window were not opened")
    work = [[f.path for f in batch] for batch in batches(found.files)]
    workers = _worker_count(params, sum(f.size for f in found.files))
    with _progress(params, sum(f.size for f in found.files)) as bar:
        def absorb(result: BatchResult, batch: list[str]) -> None:
            total.merge(result.aggregator)
            report.files_read += result.files_read
            report.invalid_files.update(result.invalid)
            bar.update(sum(os.path.getsize(path) for path in batch))
            bar.set_postfix(events=f"{total.events:,}", refresh=False)

        if workers == 1:
            for batch in work:
                absorb(read_batch(batch, *window, params.accounts), batch)
        else:
            context = multiprocessing.get_context("fork" if sys.platform != "win32" else "spawn")
            with ProcessPoolExecutor(workers, mp_context=context) as pool:
                futures = [(pool.submit(read_batch, batch, *window, params.accounts), batch) for batch in work]
                for future, batch in futures:
                    absorb(future.result(), batch)
    total.settle_twins()
    report.events_read = total.events
    for reason, count in total.skipped.items():
        report.skip(reason, count)
    if total.outside:
        report.notes.append(f"events outside the window range from {total.outside[0]} to {total.outside[1]}")
    return total, report


def to_rollup(aggregator: Aggregator, report: ReadReport) -> Rollup:
    """Rollup tables from a settled aggregator."""
    sts = frame(((*key, *value) for key, value in aggregator.sts.items()), STS_CALL_COLUMNS)
    activity = frame(((*key, calls) for key, calls in aggregator.activity.items()), ACTIVITY_COLUMNS)
    seconds = frame(((*key, calls) for key, calls in aggregator.seconds.items()), SECOND_COLUMNS)
    return Rollup(sts, activity, seconds, report)


def collect(params: Params) -> Rollup:
    """The rollup of the trail files under ``params.path`` within the window."""
    if params.path is None or not params.path.is_dir():
        raise InputError(f"--path {params.path}: not a folder; give the folder that holds the trail files "
                         "(for example the AWSLogs folder copied from the trail's S3 bucket)")
    found = discover(params.path, params.start, params.end)
    if not found.files:
        raise InputError(f"no .json or .json.gz trail files under {params.path} for the window "
                         f"{params.start:%Y-%m-%d} to {params.end:%Y-%m-%d}")
    aggregator, report = aggregate(found, params)
    if report.files_read == 0:
        path, reason = next(iter(sorted(report.invalid_files.items())))
        raise InputError(f"none of the {len(report.invalid_files)} files under {params.path} is a readable "
                         f"CloudTrail log file; for example {path}: {reason}")
    return to_rollup(aggregator, report)
