"""The local engine: one process, several, or the cache all give the same rollup; progress bar."""
from __future__ import annotations

import gc
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from kit.engines import cache, local
from kit.params import SAMPLES_DIR, validate
from kit.rollup import Rollup

SAMPLE_TRAIL = SAMPLES_DIR / "trail"


def run(path: Path, **extra) -> Rollup:
    params = validate({"source": "local", "path": path, "start": "2025-03-01", "end": "2025-09-01",
                       "quiet": True, **extra})
    return local.collect(params)


def assert_same(first: Rollup, second: Rollup) -> None:
    for table in ("sts_calls", "activity", "seconds"):
        pd.testing.assert_frame_equal(getattr(first, table), getattr(second, table), check_exact=True)
    keep = {"engine", "notes"}
    assert ({k: v for k, v in first.report.to_dict().items() if k not in keep}
            == {k: v for k, v in second.report.to_dict().items() if k not in keep})


@pytest.fixture(scope="module")
def single() -> Rollup:
    """The shipped samples read in this process, no cache (the reference)."""
    return run(SAMPLE_TRAIL, workers=1, cache=False)


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local, "BATCH_BYTES", 200_000)


@pytest.fixture
def trail(tmp_path: Path) -> Path:
    """A copy of the payments account's sample files (small enough to re-read often)."""
    account = next(SAMPLE_TRAIL.glob("AWSLogs/*/111122223333"))
    copy = tmp_path / "trail" / account.relative_to(SAMPLE_TRAIL)
    shutil.copytree(account, copy)
    return tmp_path / "trail"


def test_several_processes_and_the_cache_give_the_rollup_of_one_process(single, small_batches):
    several = run(SAMPLE_TRAIL, workers=2, cache=True)
    assert several.report.engine_stats["batches"] > 4 and several.report.engine_stats["cached_batches"] == 0
    assert_same(single, several)
    cached = run(SAMPLE_TRAIL, workers=2, cache=True)
    assert cached.report.engine_stats["cached_batches"] == cached.report.engine_stats["batches"]
    assert_same(single, cached)
    assert_same(single, run(SAMPLE_TRAIL, workers=1, cache=True))


def test_workers_are_forked_when_the_files_found_need_them_not_after_the_whole_list(single, monkeypatch):
    """Forked after discovery, each worker would count the list of every file among its pages."""
    forked_at: list[int] = []
    consider = local.Workers.consider

    def watched(self: local.Workers, files) -> None:
        idle = self.pool is None
        consider(self, files)
        if idle and self.pool is not None:
            forked_at.append(files.total_bytes)
    monkeypatch.setattr(local.Workers, "consider", watched)
    monkeypatch.setattr(local, "IN_PROCESS_BYTES", 2_000_000)  # the samples hold 5.3 MB of trail files
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    rollup = run(SAMPLE_TRAIL, cache=False)  # the number of workers decided by the input's size
    assert rollup.report.engine_stats["workers"] == 2
    assert forked_at == [pytest.approx(2_000_000, abs=100_000)]  # a file more than the threshold
    assert_same(single, rollup)


def test_workers_forked_during_discovery_run_without_cyclic_collection():
    """A collection in a worker would walk (and copy, page by page) every object it shares with the parent."""
    params = validate({"source": "local", "path": SAMPLE_TRAIL, "start": "2025-03-01", "end": "2025-09-01", "workers": 2})
    with local.Workers(params) as workers:
        assert workers.start(2).submit(gc.isenabled).result() is False
        assert gc.isenabled()


def test_a_touched_file_re_reads_only_its_batch(trail, small_batches):
    first = run(trail)
    batches = first.report.engine_stats["batches"]
    touched = sorted(trail.rglob("*.json.gz"))[5]
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    again = run(trail)
    assert again.report.engine_stats["cached_batches"] == batches - 1
    assert_same(first, again)


def test_added_and_removed_files_change_the_rollup(trail, small_batches):
    first = run(trail)
    removed = sorted(trail.rglob("*.json.gz"))[-1]
    removed.unlink()
    fewer = run(trail)
    assert fewer.report.files_read == first.report.files_read - 1
    assert fewer.report.events_read < first.report.events_read


def test_no_cache_neither_reads_nor_writes_the_cache(trail, small_batches):
    run(trail)
    entries = sorted(cache.cache_dir().iterdir())
    assert entries
    for entry in entries:
        entry.write_bytes(b"not what was stored")
    bypassed = run(trail, cache=False)
    assert bypassed.report.engine_stats["cached_batches"] == 0 and not bypassed.report.notes
    assert all(entry.read_bytes() == b"not what was stored" for entry in entries)


def test_a_corrupt_cache_entry_is_ignored_with_a_note_and_replaced(trail, small_batches):
    first = run(trail)
    entry = sorted(cache.cache_dir().iterdir())[0]
    entry.write_bytes(entry.read_bytes()[:50])
    again = run(trail)
    assert any("could not be used" in note and entry.name in note for note in again.report.notes)
    assert_same(first, again)
    assert run(trail).report.engine_stats["cached_batches"] == first.report.engine_stats["batches"]


def test_the_cache_key_covers_window_and_accounts(trail):
    files = local.discover(trail, *(validate({"source": "samples"}).start, validate({"source": "samples"}).end)).files
    window = ("2025-03-01T00:00:00Z", "2025-09-01T00:00:00Z")
    keys = {cache.batch_key(files, window, ()), cache.batch_key(files, (window[0], "2025-08-01T00:00:00Z"), ()),
            cache.batch_key(files, window, ("111122223333",)), cache.batch_key(files[1:], window, ())}
    assert len(keys) == 4


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("stderr, quiet, shown", [
    (_Terminal(), False, True),
    (_Terminal(), True, False),
    (io.StringIO(), False, False),
])
def test_the_progress_bar_shows_only_on_a_terminal_and_not_when_quiet(monkeypatch, stderr, quiet, shown):
    monkeypatch.setattr("sys.stderr", stderr)
    params = validate({"source": "samples", "quiet": quiet})
    with local.progress_bar(params, 10) as bar:
        assert bar.disable is not shown
        bar.update(10)
        bar.set_postfix_str("1,000 events")
    if not shown:
        assert stderr.getvalue() == ""


def test_field_gaps_are_counted_as_the_sql_engines_count_them(tmp_path, monkeypatch):
    from builders import role_session, sts, write_trail
    from kit import ocsf
    from kit.engines import security_lake

    monkeypatch.setattr(local, "BATCH_BYTES", 1)  # a batch per file: the duplicate is found across batches
    account = "111122223333"
    folder = tmp_path / "trail" / "AWSLogs" / account / "CloudTrail" / "eu-west-1" / "2025" / "05" / "02"
    caller = role_session(account, "app")
    dropped = [sts(caller, f"2025-05-02T10:00:0{second}Z", endpoint_type="global", region="eu-west-1")
               for second in range(3)]
    for record in dropped:  # the pipeline lost awsServingRegion
        del record["additionalEventData"]["RequestDetails"]["awsServingRegion"]
    before_rollout = sts(caller, "2025-04-02T10:00:00Z", endpoint_type="global", region="eu-west-1")
    del before_rollout["additionalEventData"]["RequestDetails"]["awsServingRegion"]
    no_host = sts(caller, "2025-05-02T11:00:00Z", host=None)
    service = {**sts(caller, "2025-05-02T12:00:00Z"), "sourceIPAddress": "AWS Internal"}
    write_trail(folder / "a.json.gz", [*dropped, before_rollout, no_host, service])
    write_trail(folder / "b.json.gz", [dropped[0], sts(caller, "2025-05-02T13:00:00Z", endpoint_type="regional")])
    window = {"start": "2025-04-01T00:00:00Z", "end": "2025-06-01T00:00:00Z", "quiet": True}
    report = local.collect(validate({"source": "local", "path": tmp_path / "trail", "workers": 1, **window})).report
    assert report.field_gaps == {"awsServingRegion": 4, "endpointType": 1, "tlsDetails.clientProvidedHostHeader": 1}
    assert report.to_dict()["duplicates_dropped"] == 1
    assert "of 5 STS calls since 2025-04-15, 4 without awsServingRegion" in report.notes[-1]
    ocsf.write_lake(tmp_path / "trail", tmp_path / "lake")
    lake = security_lake.collect(validate({"source": "security-lake", "path": tmp_path / "lake", **window})).report
    assert lake.field_gaps == report.field_gaps


def test_a_late_copy_of_an_event_of_a_day_long_read_is_still_dropped(tmp_path, monkeypatch):
    from functools import partial

    from builders import role_session, sts, write_trail
    from kit import events
    from kit.eventids import SeenIds

    monkeypatch.setattr(local, "BATCH_BYTES", 1)  # a batch per file
    monkeypatch.setattr(events, "SeenIds", partial(SeenIds, memory_ids=2))  # ids move to disk at once
    account, caller = "111122223333", role_session("111122223333", "app")
    first = sts(caller, "2025-05-02T10:00:00Z", endpoint_type="global", region="eu-west-1")
    for day in range(2, 12):  # a file a day: the days before are forgotten as the files go by
        folder = tmp_path / "trail" / "AWSLogs" / account / "CloudTrail" / "eu-west-1" / "2025" / "05" / f"{day:02d}"
        records = [sts(caller, f"2025-05-{day:02d}T1{number}:00:00Z", endpoint_type="global", region="eu-west-1")
                   for number in range(3)]
        write_trail(folder / "a.json.gz", [first, *records] if day in (2, 11) else records)  # redelivered 9 days on
    window = {"start": "2025-05-01T00:00:00Z", "end": "2025-06-01T00:00:00Z", "quiet": True}
    rollup = local.collect(validate({"source": "local", "path": tmp_path / "trail", "workers": 1, **window}))
    assert rollup.report.to_dict()["duplicates_dropped"] == 1
    assert int(rollup.sts_calls.calls.sum()) == 31


def test_days_are_forgotten_after_the_delivery_date_unless_the_batch_holds_older_events():
    from datetime import date

    from kit.eventids import days_of

    delivered = date(2025, 5, 11)
    assert local.forgettable_before(delivered, days_of(["2025-05-10T23:59:00Z", "2025-05-11T00:01:00Z"])) == \
        days_of(["2025-05-09T00:00:00Z"])[0]  # two days before the folder's date
    assert local.forgettable_before(delivered, days_of(["2024-05-11T10:00:00Z"])) == \
        days_of(["2024-05-11T00:00:00Z"])[0]  # a folder dated a year after its events
    assert local.forgettable_before(delivered, days_of([])) == days_of(["2025-05-09T00:00:00Z"])[0]


LAUNCHER = """
import multiprocessing, sys, threading
from kit import cli
from kit.engines import local

read_batch, import_plan_modules = local.read_batch, cli._import_plan_modules

def checked_read_batch(*args):  # runs in a worker
    if "pandas" in sys.modules:
        raise AssertionError("pandas in a worker")
    return read_batch(*args)

def watched_import():
    print(f"warm-up: thread {threading.current_thread().name!r}, {len(multiprocessing.active_children())} workers, "
          f"pandas loaded before: {'pandas' in sys.modules}", file=sys.stderr)
    import_plan_modules()

local.read_batch, cli._import_plan_modules = checked_read_batch, watched_import
local.WARM_UP_MAX_BYTES = int(sys.argv[1])
sys.exit(cli.main(sys.argv[2:]))
"""


@pytest.mark.parametrize("warm_up_max_bytes", [local.WARM_UP_MAX_BYTES, 1024])
def test_workers_are_forked_before_pandas_is_imported_and_the_plan_modules_load_while_they_read(
        tmp_path, warm_up_max_bytes):
    """A forked worker counts the parent's pages in its memory (60 MB with pandas), and the parent's
    imports would hold the workers back; the plan's modules load in a thread once they are forked, unless
    more than ``WARM_UP_MAX_BYTES`` of files are expected: then after the read."""
    command = [sys.executable, "-c", LAUNCHER, str(warm_up_max_bytes), "plan", "--source", "local", "--path",
               str(SAMPLE_TRAIL), "--start", "2025-03-01", "--end", "2025-09-01", "--workers", "2", "--no-cache",
               "--quiet", "--out", str(tmp_path / "out")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    warmed = "warm-up: thread 'sts-kit warm-up', 2 workers, pandas loaded before: False" in done.stderr
    assert warmed == (warm_up_max_bytes > 1024) and ("warm-up:" in done.stderr) == warmed
    reference = local.collect(validate({"source": "local", "path": SAMPLE_TRAIL, "start": "2025-03-01",
                                        "end": "2025-09-01", "workers": 1, "cache": False, "quiet": True}))
    plan = pd.read_csv(tmp_path / "out" / "plan.csv", dtype={"account_id": str})
    assert plan.global_calls.sum() == reference.sts_calls.loc[reference.sts_calls.endpoint == "global", "calls"].sum()
