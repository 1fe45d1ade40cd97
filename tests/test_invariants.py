"""A redelivered file, odd records and duplicates change no count of the good records (calls,
errors, seconds, activity, skips), in the local engine and in the Lake and Athena engines through
their local endpoints: the run over everything equals the run over the good records plus the run
over the odd records alone, with only the duplicates added as skipped."""
from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from aws_endpoints import athena_params, lake_params, run_in, serve
from builders import role_session, sts, user, write_trail
from kit.engines import collect
from kit.events import SKIP_BAD_TIME, SKIP_DUPLICATE
from kit.localaws.athena_server import AthenaService
from kit.localaws.lake_server import LakeService
from kit.params import SAMPLES_DIR, validate
from kit.rollup import Rollup
from kit.trailfiles import read_records
from rollups import counts, without

A = "111122223333"
DAYS = sorted((SAMPLES_DIR / "trail").glob(f"AWSLogs/*/{A}/CloudTrail/*/2025/07/0[1-3]"))
"""Three days of one account's sample files: the good records."""


def odd_records() -> list:
    """Records of odd shapes and times (each with its own eventID)."""
    alice = user(A, "alice")
    return [
        {**sts(alice, "2025-07-01T10:03:00Z"), "tlsDetails": "TLSv1.3"},
        {**sts(alice, "2025-07-01T10:03:01Z"), "awsRegion": ["us-east-1"]},
        sts({**user(A, "dave"), "accountId": {"id": A}}, "2025-07-01T10:03:02Z"),
        sts({**role_session(A, "ops"), "sessionContext": "none"}, "2025-07-01T10:03:03Z"),
        sts(alice, "2025-07-01T25:00:00Z"),
        sts(alice, "2025-07-02T01:30:00+02:00"),
        sts(alice, "2025-07-01T10:02:00Z", ip="AWS Internal", agent="aws-internal/3"),
        {**sts(alice, "2025-07-01T10:03:05Z"), "userIdentity": "alice"},
    ]


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    """good: the sample days; odd: odd records; everything: both, a redelivered file and repeats."""
    root = tmp_path_factory.mktemp("invariants")
    good, odd, everything = root / "good", root / "odd", root / "everything"
    for day in DAYS:
        for target in (good, everything):
            shutil.copytree(day, target / day.relative_to(SAMPLES_DIR / "trail"))
    records = odd_records()
    odd_day = f"AWSLogs/{A}/CloudTrail/us-east-1/2025/07/01"
    for target in (odd, everything):
        write_trail(target / odd_day / f"{A}_CloudTrail_us-east-1_20250701T1000Z_odd.json", records)
    files = sorted(everything.rglob("*.json.gz"))
    redelivered = files[len(files) // 2]
    shutil.copy(redelivered, redelivered.with_name(redelivered.name.replace(".json.gz", "-again.json.gz")))
    repeats = [record for path in files[::7] for record in read_records(str(path))][:40] + records[:4]
    write_trail(everything / odd_day / f"{A}_CloudTrail_us-east-1_20250701T1005Z_repeats.json", repeats)
    return {"good": good, "odd": odd, "everything": everything, "redelivered": redelivered, "repeats": repeats}


def window(**extra) -> dict:
    return {"start": "2025-07-01T00:00:00Z", "end": "2025-07-04T00:00:00Z", **extra}


def local_run(path: Path) -> Rollup:
    return collect(validate({"source": "local", "path": path, "quiet": True, "cache": False, **window()}))


def expected_duplicates(folders: dict) -> int:
    """The events of the redelivered file and of the repeats (all within the window, with an id)."""
    return len(read_records(str(folders["redelivered"]))) + len(folders["repeats"])


def test_the_local_engine_counts_good_records_once(folders):
    good, odd, everything = (local_run(folders[name]) for name in ("good", "odd", "everything"))
    assert counts(good)[("skipped", SKIP_DUPLICATE)] == 0 and counts(odd)[("skipped", SKIP_BAD_TIME)] == 1
    total = counts(everything)
    assert total[("skipped", SKIP_DUPLICATE)] == expected_duplicates(folders) > 10
    assert without(total, SKIP_DUPLICATE) == counts(good) + counts(odd)
    assert everything.report.to_dict()["duplicates_dropped"] == expected_duplicates(folders)


@pytest.mark.parametrize("engine", ["lake", "athena"])
def test_the_sql_engines_count_good_records_once(folders, engine):
    totals: dict[str, Counter] = {}
    for name in ("good", "odd", "everything"):
        service = LakeService(folders[name]) if engine == "lake" else AthenaService(folders[name])
        for _, url in serve(service):
            params = (lake_params if engine == "lake" else athena_params)(url, **window())
            totals[name] = counts(run_in(service, url, params))
    assert totals["everything"][("skipped", SKIP_DUPLICATE)] == expected_duplicates(folders)
    assert without(totals["everything"], SKIP_DUPLICATE) == totals["good"] + totals["odd"]
    assert without(totals["everything"], SKIP_BAD_TIME) == without(counts(local_run(folders["everything"])),
                                                                   SKIP_BAD_TIME)
