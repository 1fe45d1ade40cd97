"""``build_callers`` sums the caller-minute rows before grouping them by caller: its answers are those
of the minute rows, ties included (the first row in ``sts_calls`` order decides)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import kit.addressuse
from kit.addressuse import LISTED, SourceAddresses, address_use
from kit.callers import Homes, build_callers, detail_rows, global_seconds
from kit.codedseconds import row_groups
from kit.ipranges import AddressBook
from kit.readreport import ReadReport
from kit.rollup import ACTIVITY_COLUMNS, SECOND_COLUMNS, STS_CALL_COLUMNS, Rollup, frame

A = "111122223333"
APP = f"arn:aws:iam::{A}:role/app"
OLD = f"arn:aws:iam::{A}:role/old"
AGENT = "Boto3/1.26.0 Python/3.11.4 Linux/5.10 Botocore/1.29.0"


def minute_row(arn: str, kind: str, ip: str, serving: str, minute: str, calls: int, errors: int, last: str) -> tuple:
    return (A, arn, kind, AGENT, ip, "AssumeRole", "sts.amazonaws.com", "global", "eu-west-1", serving,
            minute, calls, errors, minute + ":00Z", last)


ROWS = [
    # the same caller (workload eu-west-1): served in us-east-1 and locally, last seen in the same second
    minute_row(APP, "AssumedRole", "10.0.0.1", "us-east-1", "2025-07-01T10:00", 2, 1, "2025-07-01T10:00:30Z"),
    minute_row(APP, "IAMUser", "10.0.0.2", "eu-west-1", "2025-07-01T10:00", 3, 0, "2025-07-01T10:00:30Z"),
    minute_row(APP, "AssumedRole", "10.0.0.1", "", "2025-03-01T08:00", 4, 0, "2025-03-01T08:00:10Z"),
    minute_row(APP, "AssumedRole", "10.0.0.1", "us-east-1", "2025-06-01T09:00", 1, 0, "2025-06-01T09:00:05Z"),
    # a caller seen only before the change
    minute_row(OLD, "AssumedRole", "10.0.0.3", "", "2025-02-01T08:00", 5, 0, "2025-02-01T08:00:59Z"),
]


def callers_of(rows: list[tuple]):
    rollup = Rollup(frame([*zip(*rows)], STS_CALL_COLUMNS), frame([], ACTIVITY_COLUMNS), frame([], SECOND_COLUMNS),
                    ReadReport())
    homes = Homes()
    homes[(A, APP)] = homes[(A, OLD)] = "eu-west-1"
    seconds = global_seconds(rollup.coded_seconds(), homes)
    sources = SourceAddresses.of(rollup.sts_calls, AddressBook())
    return detail_rows(rollup, homes)[0], build_callers(rollup, sources, homes, seconds).set_index("principal_arn")


@pytest.mark.parametrize("order, served_now, principal_type", [
    ([0, 1, 2, 3, 4], "us-east-1", "AssumedRole"),
    ([1, 0, 2, 3, 4], "eu-west-1", "IAMUser"),
    ([3, 2, 1, 0, 4], "eu-west-1", "AssumedRole"),
])
def test_ties_are_decided_by_the_first_minute_row(order, served_now, principal_type):
    _, callers = callers_of([ROWS[index] for index in order])
    app = callers.loc[APP]
    assert (app.served_now, app.principal_type) == (served_now, principal_type)
    assert (app.global_calls, app.error_calls) == (10, 1)
    assert (app.first_seen.isoformat(), app.last_seen.isoformat()) == ("2025-03-01T08:00:00+00:00",
                                                                      "2025-07-01T10:00:30+00:00")
    assert app.served_in == "eu-west-1;us-east-1" and app.source_ips == "10.0.0.1;10.0.0.2"
    assert "pre-2025-only" not in app.risks and "pre-2025-only" in callers.loc[OLD].risks


def test_minute_rows_are_summed_once_per_detail():
    detail, _ = callers_of(ROWS)
    assert len(detail) == 4  # the two us-east-1 rows of APP from 10.0.0.1 are one detail row
    summed = detail[(detail.principal_arn == APP) & (detail.serving_region == "us-east-1")].iloc[0]
    assert (summed.calls, summed.errors, summed.rows, summed.first_row, summed.latest_row) == (3, 1, 2, 0, 0)
    assert summed.first_seen.isoformat() == "2025-06-01T09:00:00+00:00"


def test_detail_rows_are_the_same_when_the_key_columns_are_numbered_again_on_the_way(monkeypatch):
    detail, _ = callers_of(ROWS)
    monkeypatch.setattr("kit.callers.MAX_GROUP", 2)  # every column's codes numbered again with the next's
    again, _ = callers_of(ROWS)
    pd.testing.assert_frame_equal(detail, again)


def test_a_detail_rows_latest_row_is_the_first_of_its_rows_at_the_latest_time():
    again = minute_row(APP, "AssumedRole", "10.0.0.1", "us-east-1", "2025-07-01T09:59", 1, 0, "2025-07-01T10:00:30Z")
    detail, _ = callers_of(ROWS + [again])  # the same detail key and last time as ROWS[0], later in the rows
    summed = detail[(detail.principal_arn == APP) & (detail.serving_region == "us-east-1")].iloc[0]
    assert (summed.rows, summed.first_row, summed.latest_row) == (3, 0, 0)


@pytest.mark.parametrize("seed", [1, 2])
def test_address_use_counted_a_range_of_callers_at_a_time_is_the_same(monkeypatch, seed: int):
    rng = np.random.default_rng(seed)
    pool = ["", "10.0.0.1", "10.0.0.2", "3.5.140.2", "52.94.0.9", "203.0.113.7", "2001:db8::1", "AWS Internal",
            *(f"10.1.{n // 256}.{n % 256}" for n in range(40))]
    rows = 600
    addresses = pd.Series(rng.choice(pool, rows))
    sources = SourceAddresses.of(pd.DataFrame({"source_ip": addresses}), AddressBook())
    kind_of = {text: found.kind for text, found in zip(sources.texts, sources.classes)}
    calls = rng.integers(1, 9, rows).astype(np.int64)
    global_rows = np.sort(rng.choice(rows, 450, replace=False))
    caller_of_row = rng.integers(0, 37, len(global_rows))
    whole = address_use(sources, calls, global_rows, caller_of_row, 40)  # callers 37 to 39 have no rows
    monkeypatch.setattr(kit.addressuse, "GROUP_ROWS", 7)
    assert len(np.unique(row_groups(np.bincount(caller_of_row, minlength=40), 7))) > 20
    assert address_use(sources, calls, global_rows, caller_of_row, 40) == whole
    for number in range(40):  # the listed addresses and the kinds, as read plainly
        used = {addresses[row] for row, caller in zip(global_rows, caller_of_row) if caller == number}
        named = sorted(used - {""})
        more = f";(+{len(named) - LISTED} more)" if len(named) > LISTED else ""
        assert whole.listed[number] == ";".join(named[:LISTED]) + more
        per_kind = {kind: sum(kind_of[text] == kind for text in used) for kind in map(kind_of.get, used)}
        assert {found.kind: count for _, found, count in whole.by_kind[number]} == per_kind
