"""The local engine: trail files on disk, read in parallel, streamed into the rollup.

Each worker process reads a batch of files and returns a partial ``Aggregator``; the parent
merges partials as they arrive, so memory holds the rollup, never the events. Discovery lists the
day folders of the S3 layout only as the reading reaches their date (``discover(defer_dated=True)``),
after enough of them to know there are files and whether they need the workers, which are forked then
(``Workers``). Duplicates within
a batch are dropped by the worker; across batches by the parent, from each batch's compact
arrays of event-id hashes and days (``Aggregator.seal``/``merge``; ``kit.eventids``: 8 bytes per id
for the newest 256k, about 1.5 for those of the last few days, the rest on disk; files are read by
delivery date, ``TrailFiles.drain``). The per-minute and per-second rows wait on disk in the
parent until every batch is merged (``Aggregator.sts_rows`` and ``take_second_rows``).

Reading needs numpy, not pandas: the workers are forked before pandas is imported (a forked worker
counts the parent's pages in its memory), and what the plan needs after the read (pandas and the
plan's modules) is imported in a thread of the parent while the workers read a small input
(``aggregate``'s ``warm_up``, ``WARM_UP_MAX_BYTES``), not before they start; after the read for a large one.
"""
from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import sys
import threading
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import date
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

import numpy as np
from tqdm import tqdm

from kit import allocator, fieldgaps
from kit.engines import cache
from kit.errors import InputError
from kit.eventids import day_of
from kit.events import Aggregator
from kit.params import Params
from kit.readreport import ReadReport
from kit.trailfiles import (Discovery, InvalidTrailFile, TrailFile, TrailFiles, delivery_date, discover,
                            read_records)

if TYPE_CHECKING:
    from kit.rollup import Rollup

BATCH_BYTES = 1024 * 1024
"""Compressed bytes per worker task (the cache unit): a worker's memory and the results waiting in the
parent grow with it, the parent's work per task does not shrink with it. 1 MiB against 4: peak RSS
at 11.4 M events 323 -> 281 MB, no slower at any scale; 512 KiB held 6 MB less but was slower
(bench/RESULTS.md)."""
IN_PROCESS_BYTES = 8 * 1024 * 1024
"""Inputs smaller than this are read in the calling process (no pool start-up)."""
WARM_UP_MAX_BYTES = 256 * 1024 * 1024
"""Inputs of up to this many compressed bytes (about 2.5 M events of the generated orgs) import what
comes after the read while the workers read (``aggregate``'s ``warm_up``); larger ones once it is done.
The imports hold 35 MB through the whole read, and from 3.4 M events on they saved no time that could
be measured (bench/RESULTS.md)."""
IN_FLIGHT_PER_WORKER = 2
"""Batches queued per worker: keeps the workers busy while bounding results held in memory."""
LATE_DAYS = 2
"""Days before the delivery date of the files being read whose events may still come (CloudTrail
delivers within minutes; ``kit.trailfiles.DELIVERY_LAG`` allows a day): what is kept to find copies of
events of older days is dropped (a copy still found exactly, only slower: ``kit.eventids``)."""


class BatchResult:
    """What one worker made of a batch of files."""

    def __init__(self, aggregator: Aggregator, files_read: int, invalid: dict[str, str]) -> None:
        self.aggregator = aggregator
        self.files_read = files_read
        self.invalid = invalid


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside: parsed records hold no cycles, and collections
    that walk millions of live rollup keys cost more than the parsing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def read_batch(paths: list[str], start: str, end: str, accounts: tuple[str, ...], key: str | None) -> bytes:
    """Read and aggregate one batch of trail files (runs in a worker process); the pickled
    ``BatchResult`` for the parent, also stored in the cache under ``key`` when given."""
    with gc_paused():
        aggregator = Aggregator(start, end, accounts)
        invalid: dict[str, str] = {}
        for path in paths:
            try:
                aggregator.add(read_records(path, judged_only=True))
            except InvalidTrailFile as error:
                invalid[path] = str(error)
            except OSError as error:
                invalid[path] = f"cannot be read ({error.strerror or error})"
        aggregator.seal()
        files_read = len(paths) - len(invalid)
        if key is not None:
            cache.store(key, (aggregator, files_read, invalid))
        return pickle.dumps(BatchResult(aggregator, files_read, invalid), protocol=pickle.HIGHEST_PROTOCOL)


def batches(files: Iterable[TrailFile], limit: int = BATCH_BYTES) -> Iterator[list[TrailFile]]:
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
    """``workers`` when set; else one per core, or none besides this one for small inputs."""
    if params.workers:
        return params.workers
    return 1 if total_bytes < IN_PROCESS_BYTES else os.cpu_count() or 1


class Workers:
    """The worker processes that read batches, forked as soon as discovery has found enough files to
    need them: forked later, each would count among its pages what the parent holds by then. A
    context manager: leaving it stops them."""

    def __init__(self, params: Params) -> None:
        self._params = params
        self.pool: ProcessPoolExecutor | None = None
        self.count = 0
        """Processes in ``pool``."""

    def consider(self, files: TrailFiles) -> None:
        """``discover``'s hook: fork the workers once the files found so far need them."""
        if self.pool is None:
            count = _worker_count(self._params, files.total_bytes)
            if count > 1:
                self.start(count)

    def start(self, count: int) -> ProcessPoolExecutor:
        """Fork ``count`` workers now (a first task forks them all)."""
        context = multiprocessing.get_context("fork" if sys.platform != "win32" else "spawn")
        allocator.return_freed_arrays()  # the merges rebuild large arrays: their freed pages go back
        self.pool = ProcessPoolExecutor(count, mp_context=context, initializer=allocator.reuse_freed_blocks)
        with gc_paused():  # a worker runs without cyclic collection (``read_batch``)
            self.pool.submit(int)  # forks them all
        self.count = count
        return self.pool

    def __enter__(self) -> "Workers":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown()


def progress_bar(params: Params, files: int) -> tqdm:
    """Files done of ``files``, rate and time left; events in the postfix. Off under ``quiet`` and
    when stderr is not a terminal, except in JupyterLab and papermill (see ``kit.progress``)."""
    from kit import progress

    return progress.progress_bar(files, " files", "trail files", params.quiet)


def _payloads(work: Iterable[tuple[list[TrailFile], str | None]], window: tuple[str, str], params: Params,
              workers: Workers, rejected: dict[str, str]) -> Iterator[tuple[list[TrailFile], BatchResult | bytes]]:
    """(batch, result) in batch order: cached entries as ``BatchResult``, the rest pickled by
    ``workers`` (none started: by this process) with a bounded number of batches in flight
    (unusable entries are counted in ``rejected`` and their batches read again)."""
    def task(batch: list[TrailFile], key: str | None) -> tuple:
        return [f.path for f in batch], *window, params.accounts, key

    def cached(key: str | None) -> BatchResult | None:
        entry = cache.load(key, rejected) if key else None
        return BatchResult(*entry) if entry else None

    pool = workers.pool
    if pool is None:
        for batch, key in work:
            yield batch, cached(key) or read_batch(*task(batch, key))
        return
    pending: deque[tuple[list[TrailFile], BatchResult | Future]] = deque()
    in_flight = workers.count * IN_FLIGHT_PER_WORKER
    for batch, key in work:
        pending.append((batch, cached(key) or pool.submit(read_batch, *task(batch, key))))
        while len(pending) > in_flight or (pending and isinstance(pending[0][1], BatchResult)):
            batch_, result = pending.popleft()
            yield batch_, result if isinstance(result, BatchResult) else result.result()
    while pending:
        batch_, result = pending.popleft()
        yield batch_, result if isinstance(result, BatchResult) else result.result()


def aggregate(found: Discovery, params: Params, workers: Workers | None = None,
              warm_up: Callable[[], object] | None = None) -> tuple[Aggregator, ReadReport]:
    """Read every discovered file (or its cached batch) into one aggregator, with ``workers`` (forked
    here when none are given and the input needs them); report what was read. With workers, and no more
    than ``WARM_UP_MAX_BYTES`` of files expected, ``warm_up`` (imports of what comes after the read) runs
    in a thread of this process while they read: once they are forked, as a module half-imported during
    a fork would stay half-made in the workers."""
    window = (params.start.strftime("%Y-%m-%dT%H:%M:%SZ"), params.end.strftime("%Y-%m-%dT%H:%M:%SZ"))
    total = Aggregator(*window, params.accounts)
    report = ReadReport(sources=[str(params.path)])
    if found.outside_window:
        report.notes.append(f"{found.outside_window} dated folders outside the window were not opened")
    use_cache = params.cache and not _cache_refused(report)
    work = ((batch, cache.batch_key(batch, window, params.accounts) if use_cache else None)
            for batch in batches(found.files.drain(), BATCH_BYTES))  # made as they are sent: memory
    read, hits, rejected = 0, 0, {}
    with ExitStack() as own, gc_paused(), progress_bar(params, found.files.expected()) as bar:
        workers = workers or own.enter_context(Workers(params))
        workers.consider(found.files)  # the whole input: forked now if discovery did not need them yet
        if warm_up is not None and workers.pool is not None and found.files.expected_bytes() <= WARM_UP_MAX_BYTES:
            warming = threading.Thread(target=warm_up, name="sts-kit warm-up", daemon=True)
            warming.start()
            own.callback(warming.join)  # its imports are done when the read is
        for batch, payload in _payloads(work, window, params, workers, rejected):
            read += 1
            hits += isinstance(payload, BatchResult)
            result = payload if isinstance(payload, BatchResult) else pickle.loads(payload)
            total.merge(result.aggregator)
            delivered = delivery_date(batch[0].path)  # the batch's earliest: files come by date
            if delivered is not None:
                total.forget_ids_before(forgettable_before(delivered, result.aggregator.event_days))
            report.files_read += result.files_read
            report.invalid_files.update(result.invalid)
            bar.total = max(found.files.expected(), bar.n + len(batch))  # folders still to list: an estimate
            bar.update(len(batch))
            bar.set_postfix_str(f"{total.events:,} events", refresh=False)
        total.settle_twins()
    report.files_ignored = found.ignored  # counted as the deferred folders were listed
    report.invalid_files = {**found.unreadable, **report.invalid_files}
    report.engine_stats.update(batches=read, cached_batches=hits, workers=workers.count or 1,
                               event_id_bytes=total.ids_bytes)
    if rejected:
        report.engine_stats["cache_entries_rejected"] = len(rejected)
        report.notes.append(cache.rejected_note(rejected))
    report.events_read = total.events
    for reason, count in total.skipped.items():
        report.skip(reason, count)
    events, *missing = total.field_gaps
    fieldgaps.record(report, dict(zip(fieldgaps.FIELDS, missing)), events)
    if total.outside:
        report.notes.append(f"events outside the window range from {total.outside[0]} to {total.outside[1]}")
    return total, report


def forgettable_before(delivered: date, days: np.ndarray) -> int:
    """The first day (``kit.eventids.DAY``) whose event ids must stay quick to find once a batch of
    files delivered from ``delivered`` on, with events of ``days``, is merged: ``LATE_DAYS`` before that
    date, or the batch's earliest event when older (folders dated later than their events keep the
    filters of the days they hold)."""
    floor = day_of(delivered) - LATE_DAYS
    return min(floor, int(days.min())) if len(days) else floor


def _cache_refused(report: ReadReport) -> bool:
    """True (with a note and one line on stderr) when the cache folder must not be used."""
    problem = cache.refusal()
    if problem:
        report.notes.append(f"cache not used: {problem}")
        print(f"sts-kit: warning: cache not used: {problem}", file=sys.stderr)
    return bool(problem)


def to_rollup(aggregator: Aggregator, report: ReadReport) -> Rollup:
    """Rollup tables from a settled aggregator, emptied table by table as it goes (memory); the per-second
    rows stay numbers (``kit.codedseconds.CodedSeconds``)."""
    from kit.codedseconds import CodedSeconds
    from kit.rollup import (ACTIVITY_COLUMNS, SECOND_KEY_COLUMNS, SIGNAL_COLUMNS, THROTTLED_COLUMNS, Rollup,
                            counts_frame, frame, sts_calls_frame)

    aggregator.release_merge_state()
    sts = sts_calls_frame(*aggregator.sts_rows())  # the rows' dict is emptied as the table is made
    aggregator.release_sts_rows()
    activity = counts_frame(aggregator.activity, ACTIVITY_COLUMNS)
    aggregator.activity.clear()
    signal_rows, throttled = aggregator.breakage.rows()  # before the per-second rows leave the disk
    aggregator.breakage.close()
    signals, throttled = frame([*zip(*signal_rows)], SIGNAL_COLUMNS), counts_frame(throttled, THROTTLED_COLUMNS)
    keys, codes, times, calls = aggregator.take_second_rows()
    seconds = CodedSeconds.from_keys(keys, SECOND_KEY_COLUMNS, codes, times, calls)  # the table only when read
    del codes
    aggregator.second_keys.clear()
    return Rollup(sts, activity, seconds, report, signals=signals, throttled=throttled)


def collect(params: Params, warm_up: Callable[[], object] | None = None) -> Rollup:
    """The rollup of the trail files under ``params.path`` within the window (``warm_up``: see ``aggregate``)."""
    if params.path is None or not params.path.is_dir():
        raise InputError(f"--path {params.path}: not a folder; give the folder that holds the trail files "
                         "(for example the AWSLogs folder copied from the trail's S3 bucket)")
    with Workers(params) as workers:
        found = discover(params.path, params.start, params.end, on_file=workers.consider, defer_dated=True)
        found.files.look_ahead(IN_PROCESS_BYTES)  # enough to know there are files, and how to read them
        if not found.files and found.unreadable:
            path, reason = next(iter(sorted(found.unreadable.items())))
            raise InputError(f"no readable trail files under {params.path}: {len(found.unreadable)} folders or "
                             f"files could not be read, for example {path}: {reason}")
        if not found.files:
            raise InputError(f"no .json or .json.gz trail files under {params.path} for the window "
                             f"{params.start:%Y-%m-%d} to {params.end:%Y-%m-%d}")
        aggregator, report = aggregate(found, params, workers, warm_up)
    if report.files_read == 0:
        path, reason = next(iter(sorted(report.invalid_files.items())))
        raise InputError(f"none of the {len(report.invalid_files)} files under {params.path} is a readable "
                         f"CloudTrail log file; for example {path}: {reason}")
    return to_rollup(aggregator, report)
