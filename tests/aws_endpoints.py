"""Fixtures shared by the Lake and Athena tests: local endpoints over the samples on loopback.

The services load the samples once per session; each test gets fresh faults and call logs.
Import the fixtures into a test module with ``from aws_endpoints import ...``.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Collection, Iterator

import pandas as pd
import pytest

import kit.engines.aws as aws
from kit.cli import main
from kit.engines import collect
from kit.localaws.athena_server import AthenaService
from kit.localaws.base import Faults, LocalService, make_server, url_of
from kit.localaws.lake_server import STORE_ID, LakeService
from kit.params import Params, validate
from kit.rollup import Rollup

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"
WINDOW = {"start": "2025-03-01T00:00:00Z", "end": "2025-09-01T00:00:00Z"}
RECORD_LEVEL = {"record is not a JSON object", "no eventTime", "outside the time window"}
"""Skip reasons only trail files can have: a service holds whole events of the window."""


def serve(service: LocalService) -> Iterator[tuple[LocalService, str]]:
    server = make_server(service)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield service, url_of(server)
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def lake_endpoint() -> Iterator[tuple[LocalService, str]]:
    yield from serve(LakeService(SAMPLES / "trail"))


@pytest.fixture(scope="session")
def athena_endpoint() -> Iterator[tuple[LocalService, str]]:
    yield from serve(AthenaService(SAMPLES / "trail"))


def dummy_aws(patch: pytest.MonkeyPatch) -> None:
    """Dummy credentials (in-process only), no config files, no real polling pauses."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_CONFIG_FILE": "/dev/null",
                        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}.items():
        patch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_CLOUDTRAIL", "AWS_ENDPOINT_URL_ATHENA"):
        patch.delenv(name, raising=False)
    patch.setattr(aws, "sleep", lambda seconds: None)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    dummy_aws(monkeypatch)


@pytest.fixture
def interrupt_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first pause between status polls raises KeyboardInterrupt, as Ctrl-C would
    (request it after the endpoint fixture, whose dummy setup replaces the pause)."""
    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(aws, "sleep", interrupt)


def _fresh(endpoint: tuple[LocalService, str]) -> Iterator[tuple[LocalService, str]]:
    service, url = endpoint
    service.faults, service.calls[:] = Faults(), []
    yield service, url
    service.faults = Faults()


@pytest.fixture
def lake(lake_endpoint, aws_env) -> Iterator[tuple[LocalService, str]]:
    yield from _fresh(lake_endpoint)


@pytest.fixture
def athena(athena_endpoint, aws_env) -> Iterator[tuple[LocalService, str]]:
    yield from _fresh(athena_endpoint)


def lake_params(url: str | None, **extra) -> Params:
    return validate({"source": "lake", "event_data_store": STORE_ID, "aws_region": "us-east-1",
                     "endpoint_url": url, **WINDOW, **extra})


def athena_params(url: str | None, **extra) -> Params:
    return validate({"source": "athena", "database": "cloudtrail", "table": "cloudtrail_logs",
                     "workgroup": "primary", "output_location": "s3://local-results/", "aws_region": "us-east-1",
                     "endpoint_url": url, **WINDOW, **extra})


@pytest.fixture(scope="session")
def local_rollup() -> Rollup:
    """The local engine's rollup of the samples: what every SQL engine must return."""
    return collect(validate({}))


@pytest.fixture(scope="session")
def samples_plan(tmp_path_factory) -> Path:
    """The folder of ``sts-kit plan --source samples``: what every engine's plan must equal."""
    out = tmp_path_factory.mktemp("samples-plan")
    assert main(["plan", "--out", str(out)]) == 0
    return out


def run_in(service: LocalService, url: str, params: Params) -> Rollup:
    """The rollup of ``params`` with dummy credentials (for module-scoped fixtures)."""
    with pytest.MonkeyPatch.context() as patch:
        dummy_aws(patch)
        service.calls[:] = []
        return collect(params)


def plan_argv(source: str, url: str, out: Path) -> list[str]:
    """``sts-kit plan`` arguments for the local endpoint of ``source`` over the samples."""
    engine = (["--event-data-store", STORE_ID] if source == "lake" else
              ["--database", "cloudtrail", "--table", "cloudtrail_logs", "--output-location", "s3://local-results/"])
    return ["plan", "--source", source, *engine, "--endpoint-url", url, "--aws-region", "us-east-1",
            "--start", WINDOW["start"], "--end", WINDOW["end"], "--ip-ranges", str(SAMPLES / "ip-ranges.json"),
            "--policies", str(SAMPLES / "policies"), "--out", str(out)]


def ordered(table: pd.DataFrame) -> pd.DataFrame:
    """A rollup table in a canonical row order, for equality."""
    return table.sort_values(list(table.columns)).reset_index(drop=True)


def assert_same_rollup(got: Rollup, expected: Rollup, record_level: Collection[str] = RECORD_LEVEL) -> None:
    """The three tables equal (values and dtypes) and the skip counts of whole events equal
    (leaving out, from ``expected``, the ``record_level`` reasons a service cannot have)."""
    for name in ("sts_calls", "activity", "seconds"):
        pd.testing.assert_frame_equal(ordered(getattr(got, name)), ordered(getattr(expected, name)))
    wanted = {reason: count for reason, count in expected.report.skipped.items() if reason not in record_level}
    assert got.report.skipped == wanted
