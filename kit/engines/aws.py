"""What the Lake and Athena engines share: the boto3 client, polling a query until it ends,
reading every result page, cancelling on interrupt, and AWS errors as ``KitError``s.

Each engine supplies a ``Runner`` (start, status, pages, cancel); ``run_queries`` does the rest
and returns the rollup with the bytes scanned and their estimated cost in ``engine_stats``.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Protocol

import boto3
import pandas as pd
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError, ProfileNotFound

from kit import fieldgaps
from kit.errors import KitError, QueryError
from kit.events import SKIP_TWIN
from kit.params import Params
from kit.queries import account_pruned, render_all
from kit.readreport import ReadReport
from kit.rollup import (ACTIVITY_COLUMNS, SECOND_COLUMNS, SIGNAL_COLUMNS, STS_CALL_COLUMNS, THROTTLED_COLUMNS, Rollup,
                         frame)
from kit.tableshape import TableShape

RETRIES = {"mode": "standard", "max_attempts": 8}
"""botocore retries throttling and transient errors up to 8 times (max_attempts counts retries), with backoff."""
POLL_FIRST, POLL_MAX = 0.2, 5.0
"""Seconds between status calls: from POLL_FIRST, doubling up to POLL_MAX."""
COLUMNS = {"sts_calls": STS_CALL_COLUMNS, "activity": ACTIVITY_COLUMNS, "seconds": SECOND_COLUMNS,
           "skips": ("reason", "events"), "field_gaps": ("events", *fieldgaps.FIELDS),
           "signals": SIGNAL_COLUMNS, "throttled": THROTTLED_COLUMNS}
COUNTED = ("sts", "activity")
_NEVER_NULL = frozenset(("calls", "events", "reason", "account_id"))
"""Result columns every row has (the others may be null, and Lake then leaves their cell out)."""
sleep = time.sleep
"""The pause between polls (tests replace it)."""


class AccessDenied(KitError):
    """AWS refused a call: names the IAM permission to grant."""

    def __init__(self, permission: str, message: str) -> None:
        self.permission = permission
        super().__init__(f"access denied: grant {permission} to the caller (see docs/iam/); AWS said: {message}")


class AwsError(KitError):
    """Any other AWS error, with what to check."""


@dataclass
class Status:
    """Where a query is: its state, AWS's message and the bytes scanned so far."""

    state: str
    message: str
    scanned: int


class Runner(Protocol):
    """One engine's calls: start a query, ask its status, read its result pages, cancel it."""

    engine: str
    source: str
    done: str

    def start(self, sql: str) -> str: ...

    def status(self, query_id: str) -> Status: ...

    def pages(self, query_id: str) -> Iterator[list[dict[str, str | None]]]: ...

    def cancel(self, query_id: str) -> None: ...


def client(params: Params, service: str):
    """A boto3 client for ``service`` with the profile, Region, endpoint and retry mode of ``params``."""
    try:
        session = boto3.Session(profile_name=params.aws_profile, region_name=params.aws_region)
        return session.client(service, endpoint_url=params.endpoint_url,
                              config=Config(retries=RETRIES, user_agent_extra="sts-endpoint-kit"))
    except ProfileNotFound as error:
        raise AwsError(f"{error}; pass an existing --aws-profile (see `aws configure list-profiles`)") from None
    except NoRegionError:
        raise AwsError("no AWS Region: pass --aws-region (the Region of the event data store or workgroup)") from None


@contextmanager
def calling(permission: str) -> Iterator[None]:
    """Turn errors of an AWS call that needs ``permission`` into ``KitError``s that say what to fix."""
    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        message = error.response.get("Error", {}).get("Message", "")
        if "AccessDenied" in code or code in ("UnauthorizedOperation", "NotAuthorized"):
            raise AccessDenied(permission, message) from None
        raise AwsError(f"{permission.split(':')[1]} failed with {code}: {message}") from None
    except NoCredentialsError:
        raise AwsError("no AWS credentials: pass --aws-profile or set the usual AWS_* variables") from None
    except BotoCoreError as error:
        raise AwsError(f"{permission.split(':')[1]} failed: {error}") from None


def run(runner: Runner, sql: str) -> tuple[str, list[dict[str, str | None]], int]:
    """Start ``sql``, wait for it, read every page: (query id, rows, bytes scanned).

    Ctrl-C (``KeyboardInterrupt``) while it runs cancels the query, then re-raises.
    """
    query_id = runner.start(sql)
    try:
        pause = POLL_FIRST
        status = runner.status(query_id)
        while status.state in ("QUEUED", "RUNNING"):
            sleep(pause)
            pause = min(pause * 2, POLL_MAX)
            status = runner.status(query_id)
    except KeyboardInterrupt:
        runner.cancel(query_id)
        raise
    if status.state != runner.done:
        raise QueryError(runner.engine, query_id, status.state, status.message or "no message")
    rows = [row for chunk in runner.pages(query_id) for row in chunk]
    return query_id, rows, status.scanned


def columns_of(rows: list[dict[str, str | None]], columns: tuple[str, ...], engine: str,
               query_id: str) -> list[list[str | None]]:
    """The values of each of ``columns``, read by name (a missing cell is null); a ``QueryError``
    when the result has rows but none of them names one of ``columns``."""
    if not rows:
        return []
    named = set().union(*rows)
    missing = [column for column in columns if column not in named and column in _NEVER_NULL]
    if missing:
        raise QueryError(engine, query_id, "with an unexpected result",
                         f"no column {', '.join(missing)} in the result (columns: {', '.join(sorted(named))})")
    return [[row.get(column) for row in rows] for column in columns]


def run_queries(runner: Runner, params: Params, price_per_byte: float, price_note: str,
                minimum_bytes: int = 0, shape: TableShape | None = None) -> Rollup:
    """Run every rollup query; the rollup and a report with skips, field gaps, bytes scanned (and
    whether the query read only the selected accounts' partitions) and estimated cost. ``shape``:
    that of the table read, when the engine read it first.

    Every query is rendered (and its literals checked) before the first call."""
    statements = render_all(params, shape)
    tables: dict[str, pd.DataFrame] = {}
    stats: dict[str, dict] = {}
    for name, sql in statements.items():
        query_id, rows, scanned = run(runner, sql)
        tables[name] = frame(columns_of(rows, COLUMNS[name], runner.engine, query_id), COLUMNS[name])
        stats[name] = {"query_id": query_id, "bytes_scanned": scanned,
                       "account_pruned": account_pruned(name, params, shape)}
    billed = sum(max(item["bytes_scanned"], minimum_bytes) for item in stats.values())
    report = ReadReport(sources=[f"{runner.engine} {runner.source}"])
    skips = tables.pop("skips")
    for reason, count in zip(skips.reason, skips.events.astype("int64")):
        if reason not in COUNTED and count:
            report.skip(reason, int(count))
    report.events_read = int(skips[skips.reason != SKIP_TWIN].events.astype("int64").sum())
    gaps = tables.pop("field_gaps").fillna("0").replace("", "0").astype("int64")
    if len(gaps):
        fieldgaps.record(report, {column: int(gaps[column].iloc[0]) for column in fieldgaps.FIELDS},
                         int(gaps.events.iloc[0]))
    report.engine_stats = {"engine": runner.engine, "queries": stats,
                           "bytes_scanned": sum(item["bytes_scanned"] for item in stats.values()),
                           "estimated_cost_usd": round(billed * price_per_byte, 6), "price_assumed": price_note}
    return Rollup(tables["sts_calls"], tables["activity"], tables["seconds"], report,
                  signals=tables["signals"], throttled=tables["throttled"])
