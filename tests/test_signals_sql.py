"""Evidence of breakage (kit.signals) in the SQL engines: the ``signals`` and ``throttled`` queries
on a hand-made trail, through the local Lake and Athena endpoints and Security Lake (local Parquet
and Athena over its table), against counts written by hand from the contract; and the engines
agree on the samples."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import duckdb
import pandas as pd
import pytest
import sqlglot

from aws_endpoints import (SAMPLES, WINDOW, athena_endpoint, athena_params, dummy_aws, lake_endpoint,  # noqa: F401
                           lake_params, local_rollup, ordered, run_in, serve)
from builders import activity, role_session, sts, user, write_trail
from kit import ocsf, regions, signals
from kit.engines import collect
from kit.localaws.athena_server import SECURITY_LAKE_DATABASE, SECURITY_LAKE_TABLE, AthenaService
from kit.localaws.lake_server import STORE_ID, LakeService
from kit.params import validate
from kit.queries import RenderError, pattern, render, string, strings, values
from kit.signals import REGION_DISABLED_CODE
from kit.rollup import SIGNAL_COLUMNS, THROTTLED_COLUMNS, Rollup, frame

A, B, C = "111122223333", "222233334444", "333344445555"
"""Accounts: A and B are selected (--accounts), C is not."""
DAY = "2025-07-01"
HAND_WINDOW = {"start": f"{DAY}T00:00:00Z", "end": "2025-07-02T00:00:00Z", "accounts": f"{A},{B}"}
AGENT = "Boto3/1.26.0 Python/3.10 Linux/5 Botocore/1.29.0"
APP = (A, f"arn:aws:iam::{A}:role/app", AGENT)
WORKER = (B, f"arn:aws:iam::{B}:user/worker", AGENT)
K = {name: f"ASIA{name}EXAMPLE0000000"[:20] for name in ("K1", "K2", "K3", "K4", "K5", "K6", "K7", "K9")}
"""Access key ids handed out by STS calls (K8 is a number: not a key)."""
REJECTED = signals.REJECTED_MESSAGE + "."
SCP = f"User: arn:aws:iam::{B}:user/worker is not authorized to perform: sts:AssumeRole with an " \
      f"{signals.SCP_MESSAGE}"


def at(clock: str) -> str:
    return f"{DAY}T{clock}Z"


def app_identity(key: str | None = None) -> dict[str, Any]:
    return {**role_session(A, "app"), **({"accessKeyId": key} if key else {})}


def worker_identity(key: str | None = None) -> dict[str, Any]:
    return {**user(B, "worker"), **({"accessKeyId": key} if key else {})}


def call(event_id: str, identity: dict[str, Any], clock: str, *, error: str | None = None, message: str | None = None,
         issued: Any = None, **options: Any) -> dict[str, Any]:
    """A caller STS call; ``issued``: the accessKeyId of the credentials it returns."""
    record = {**sts(identity, at(clock), error=error, **options), "eventID": event_id}
    if message is not None:
        record["errorMessage"] = message
    if issued is not None:
        record["responseElements"] = {"credentials": {"accessKeyId": issued, "expiration": "Jul 1, 2025 11:00:00 AM"},
                                      "assumedRoleUser": {"arn": "x"}}
    return record


def issue(event_id: str, identity: dict[str, Any], clock: str, key: Any, **options: Any) -> dict[str, Any]:
    """A global AssumeRole that hands out ``key``."""
    options.setdefault("endpoint_type", "global")
    return call(event_id, identity, clock, issued=key, name="AssumeRole", **options)


def use(event_id: str | None, identity: dict[str, Any], clock: str, region: str, *, error: str | None = None,
        message: str | None = None, **fields: Any) -> dict[str, Any]:
    """A non-STS event made with the key in ``identity``."""
    record = {**activity(identity, at(clock), region, source="ec2.amazonaws.com"), **fields}
    if event_id is not None:
        record["eventID"] = event_id
    if error is not None:
        record["errorCode"] = error
    if message is not None:
        record["errorMessage"] = message
    return record


def issuances() -> list[dict[str, Any]]:
    """Global calls that hand out keys, and calls that look like it but are no issuance."""
    return [
        issue("i-01", app_identity(), "10:00:00", K["K1"]),
        issue("i-02", app_identity(), "10:00:05", K["K2"]),
        issue("i-03", worker_identity(), "10:01:00", K["K3"]),  # global by its host header
        issue("i-04", app_identity(), "10:02:00", K["K4"]),  # used in a default Region only
        issue("i-05", app_identity(), "10:03:00", K["K5"], error="AccessDenied"),  # failed: no issuance
        issue("i-06", user(C, "outsider"), "10:04:00", K["K6"]),  # account not selected
        issue("i-07", app_identity(), "10:05:00", K["K7"], endpoint_type="regional", region="ap-east-1",
              host="sts.ap-east-1.amazonaws.com"),  # Regional: its tokens are fine
        issue("i-08", app_identity(), "10:06:00", 12345),  # not a string: no key
        issue("i-09", app_identity(K["K9"]), "10:07:00", K["K9"], region="ap-east-1",
              serving="ap-east-1"),  # made with the key it hands out, in an opt-in Region: not its own use
    ]


def uses() -> list[dict[str, Any]]:
    """Events made with the issued keys, counted or not."""
    shared = {"sharedEventID": "shared-use-1"}
    return [
        use("u-01", app_identity(K["K1"]), "10:10:00", "ap-east-1"),
        use("u-03", app_identity(K["K1"]), "10:20:00", "ap-east-1", error="InvalidClientTokenId"),
        use("u-05", app_identity(K["K1"]), "10:30:00", "ap-east-1", error="AuthFailure", message=REJECTED),
        use("u-shared-z", app_identity(K["K1"]), "10:35:00", "me-south-1", error="UnrecognizedClientException",
            recipientAccountId=A, **shared),
        use("u-shared-a", app_identity(K["K1"]), "10:35:00", "me-south-1", error="UnrecognizedClientException",
            recipientAccountId=B, **shared),  # the resource account's copy: the use counts once
        use("u-06", app_identity(K["K1"]), "10:36:00", "eu-west-1"),  # default Region
        use("u-07", app_identity(K["K1"]), "10:37:00", "moon-base"),  # not a Region code
        use("u-08", app_identity(K["K1"]), "23:59:59", "ap-east-1", eventTime="2025-07-02T00:00:01Z"),  # outside
        use("u-09", app_identity(K["K2"]), "11:00:00", "ap-east-1"),
        use("u-10", app_identity(K["K2"]), "11:05:00", "il-central-1"),
        use(None, app_identity(K["K2"]), "11:10:00", "ap-southeast-7"),  # no eventID: example ''
        use("u-11", worker_identity(K["K3"]), "12:00:00", "af-south-1", error="InvalidClientTokenId"),
        use("u-12", app_identity(K["K4"]), "12:05:00", "eu-west-1"),
        use("u-13", app_identity(K["K5"]), "12:10:00", "ap-east-1"),
        use("u-14", user(C, "outsider") | {"accessKeyId": K["K6"]}, "12:15:00", "ap-east-1"),
        use("u-15", app_identity(K["K7"]), "12:20:00", "ap-east-1"),
        use("u-16", app_identity("12345"), "12:25:00", "ap-east-1"),
        use("u-17", app_identity(), "12:30:00", "ap-east-1", responseElements={"credentials": "HIDDEN"}),
    ]


def failures() -> list[dict[str, Any]]:
    """The callers' STS calls that fail, with a signal or not."""
    regional = {"endpoint_type": "regional", "region": "eu-west-1", "host": "sts.eu-west-1.amazonaws.com"}
    return [
        call("s-01", app_identity(), "10:40:00", error=REGION_DISABLED_CODE, endpoint_type="global"),
        call("s-02", app_identity(), "10:41:00", error=REGION_DISABLED_CODE, message="Rate exceeded",
             endpoint_type="global"),  # region-disabled first, as sts_signal decides
        call("s-03", app_identity(), "10:45:00", error=signals.SIGNATURE_CODE,
             message=f"{signals.SIGNATURE_MESSAGE}, not 'us-east-2'."),
        call("s-04", app_identity(), "10:46:00", error=signals.SIGNATURE_CODE, message="The signature is wrong"),
        call("s-05", worker_identity(), "10:50:00", error="ThrottlingException", **regional),
        call("s-06", worker_identity(), "10:50:00", error="ThrottlingException", **regional),
        call("s-07", worker_identity(), "10:50:00", error="Throttling", **regional),
        call("s-08", worker_identity(), "10:50:01", message="Rate exceeded", **regional),
        call("s-09", worker_identity(), "10:50:02", error="ThrottlingException", **regional),
        call("s-10", app_identity(), "10:55:00", error="Throttling", endpoint_type="global", serving="eu-north-1"),
        call("s-11", worker_identity(), "10:56:00", error="AccessDenied", message=SCP),
        call("s-12", worker_identity(), "10:57:00", error="AccessDenied", message="not authorized"),
        call("s-13", user(C, "outsider"), "10:58:00", error="AccessDenied", message=SCP),  # not selected
        call("s-14", worker_identity(), "10:59:00", error="AccessDenied", message=SCP, ip="AWS Internal"),
    ]


def expected_signals() -> pd.DataFrame:
    """Counted by hand from kit.signals (window, accounts A and B)."""
    rows = [
        (*APP, signals.TOKEN_IN_USE, "global", "ap-east-1", 4, 2, at("10:10:00"), at("11:00:00"), "u-01"),
        (*APP, signals.TOKEN_REJECTED, "global", "ap-east-1", 2, 1, at("10:20:00"), at("10:30:00"), "u-03"),
        (*APP, signals.TOKEN_IN_USE, "global", "me-south-1", 1, 1, at("10:35:00"), at("10:35:00"), "u-shared-a"),
        (*APP, signals.TOKEN_REJECTED, "global", "me-south-1", 1, 1, at("10:35:00"), at("10:35:00"), "u-shared-a"),
        (*APP, signals.TOKEN_IN_USE, "global", "il-central-1", 1, 1, at("11:05:00"), at("11:05:00"), "u-10"),
        (*APP, signals.TOKEN_IN_USE, "global", "ap-southeast-7", 1, 1, at("11:10:00"), at("11:10:00"), ""),
        (*WORKER, signals.TOKEN_IN_USE, "global", "af-south-1", 1, 1, at("12:00:00"), at("12:00:00"), "u-11"),
        (*WORKER, signals.TOKEN_REJECTED, "global", "af-south-1", 1, 1, at("12:00:00"), at("12:00:00"), "u-11"),
        (*APP, signals.REGION_DISABLED, "global", "us-east-1", 2, 0, at("10:40:00"), at("10:41:00"), "s-01"),
        (*APP, signals.SIGNATURE_REGION, "global", "us-east-1", 1, 0, at("10:45:00"), at("10:45:00"), "s-03"),
        (*APP, signals.THROTTLED, "global", "eu-north-1", 1, 0, at("10:55:00"), at("10:55:00"), "s-10"),
        (*WORKER, signals.THROTTLED, "regional", "eu-west-1", 5, 0, at("10:50:00"), at("10:50:02"), "s-05"),
        (*WORKER, signals.SCP_DENY, "global", "us-east-1", 1, 0, at("10:56:00"), at("10:56:00"), "s-11"),
    ]
    return frame([list(column) for column in zip(*rows)], SIGNAL_COLUMNS)


def expected_throttled() -> pd.DataFrame:
    rows = [(*WORKER, "regional", "eu-west-1", at("10:50:00"), 3), (*WORKER, "regional", "eu-west-1", at("10:50:01"), 1),
            (*WORKER, "regional", "eu-west-1", at("10:50:02"), 1), (*APP, "global", "eu-north-1", at("10:55:00"), 1)]
    return frame([list(column) for column in zip(*rows)], THROTTLED_COLUMNS)


@pytest.fixture(scope="module")
def trail(tmp_path_factory) -> Path:
    """The records in gzip trail files of the CloudTrail layout, one per account and Region; the
    u-01 use delivered again in a second file, with an event whose time does not parse."""
    root = tmp_path_factory.mktemp("signals")
    files: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for record in [*issuances(), *uses(), *failures()]:
        files.setdefault((record["recipientAccountId"], record["awsRegion"], "first"), []).append(record)
    files[A, "ap-east-1", "again"] = [uses()[0], use("u-18", app_identity(K["K1"]), "10:10:30", "ap-east-2",
                                                     eventTime="bad time")]
    for (account, region, tag), records in files.items():
        write_trail(root / "AWSLogs" / account / "CloudTrail" / region / "2025" / "07" / "01" /
                    f"{account}_CloudTrail_{region}_20250701T1200Z_{tag:x<16}.json.gz", records)
    return root


def sql_engines(trail: Path, tmp: Path) -> Iterator[tuple[str, Rollup]]:
    """The rollup of the hand-made trail from every SQL engine, on loopback endpoints."""
    lake_folder = tmp / "security-lake"
    ocsf.write_lake(trail, lake_folder)
    window = {**HAND_WINDOW, "aws_region": "us-east-1"}
    for _, url in serve(LakeService(trail)):
        yield "lake", collect(validate({"source": "lake", "event_data_store": STORE_ID, "endpoint_url": url,
                                        **window}))
    for _, url in serve(AthenaService(trail, ocsf=lake_folder)):
        yield "athena", collect(validate({"source": "athena", "database": "cloudtrail", "table": "cloudtrail_logs",
                                          "output_location": "s3://r/", "endpoint_url": url, **window}))
        yield "security-lake on athena", collect(validate({
            "source": "security-lake", "database": SECURITY_LAKE_DATABASE, "table": SECURITY_LAKE_TABLE,
            "workgroup": "primary", "endpoint_url": url, **window}))
    yield "security-lake", collect(validate({"source": "security-lake", "path": str(lake_folder), **HAND_WINDOW}))


@pytest.fixture(scope="module")
def hand_rollups(trail, tmp_path_factory) -> dict[str, Rollup]:
    with pytest.MonkeyPatch.context() as patch:
        dummy_aws(patch)
        return dict(sql_engines(trail, tmp_path_factory.mktemp("engines")))


@pytest.mark.parametrize("engine", ["lake", "athena", "security-lake", "security-lake on athena"])
def test_every_signal_is_counted_as_the_contract_says(hand_rollups, engine):
    rollup = hand_rollups[engine]
    pd.testing.assert_frame_equal(ordered(rollup.signals), ordered(expected_signals()))
    pd.testing.assert_frame_equal(ordered(rollup.throttled), ordered(expected_throttled()))


@pytest.fixture(scope="module")
def cases() -> duckdb.DuckDBPyConnection:
    """Every pairing of the contract's error codes and messages (and near misses), in DuckDB."""
    codes = ["", REGION_DISABLED_CODE, *signals.THROTTLING_CODES, signals.SIGNATURE_CODE, *signals.DENIED_CODES,
             *signals.REJECTED_CODES, "AccessDeniedOther", "throttling"]
    messages = ["", signals.THROTTLING_MESSAGE, f"{signals.THROTTLING_MESSAGE} for sts", f"x {signals.THROTTLING_MESSAGE}",
                f"{signals.SIGNATURE_MESSAGE}, not 'x'", f"x {signals.SCP_MESSAGE}", REJECTED,
                f"x {signals.REJECTED_MESSAGE}", "rate exceeded"]
    connection = duckdb.connect()
    connection.execute("CREATE TABLE cases (error_code VARCHAR, error_message VARCHAR)")
    connection.executemany("INSERT INTO cases VALUES (?, ?)", [(code, text) for code in codes for text in messages])
    return connection


def test_the_sql_signal_of_a_sts_call_is_sts_signal(cases):
    params = validate({"source": "athena", "database": "d", "table": "t", "output_location": "s3://r/", **WINDOW})
    fragment = values(params)["sts_signal"]
    for constant in (signals.THROTTLING_MESSAGE, signals.SIGNATURE_CODE, signals.SIGNATURE_MESSAGE,
                     signals.SCP_MESSAGE, signals.REGION_DISABLED, signals.THROTTLED, signals.SCP_DENY):
        assert string(constant) in fragment
    assert strings(signals.THROTTLING_CODES) in fragment and strings(signals.DENIED_CODES) in fragment
    assert signals.sts_signal(REGION_DISABLED_CODE, "") == signals.REGION_DISABLED
    statement = sqlglot.transpile(f"SELECT error_code, error_message, {fragment} FROM cases", read="trino",
                                  write="duckdb")[0]
    rows = cases.execute(statement).fetchall()
    assert len(rows) == 99 and {signal for *_, signal in rows} == {"", *signals.SIGNALS} - set(signals.TOKEN_SIGNALS)
    assert all(signal == signals.sts_signal(code, text) for code, text, signal in rows)


def test_the_queries_render_the_contracts_literals():
    params = validate({"source": "lake", "event_data_store": STORE_ID, **WINDOW})
    sql = render("signals", params)
    assert strings(regions.DEFAULT_REGIONS) in sql and string(signals.REJECTED_MESSAGE) in sql
    assert strings(signals.REJECTED_CODES) in sql and f"'{regions.REGION_CODE.pattern}'" in sql
    assert string(signals.TOKEN_IN_USE) in sql and string(signals.TOKEN_REJECTED) in sql
    assert string(signals.THROTTLED) in render("throttled", params)
    for bad in ("x' OR '1'='1", "(unclosed", "line\nbreak"):
        with pytest.raises(RenderError):
            pattern(bad)


@pytest.fixture(scope="module")
def security_lake_samples(tmp_path_factory) -> Rollup:
    out = tmp_path_factory.mktemp("samples-security-lake")
    ocsf.write_lake(SAMPLES / "trail", out)
    return collect(validate({"source": "security-lake", "path": str(out), **WINDOW}))


def test_the_engines_agree_on_the_samples(lake_endpoint, athena_endpoint, security_lake_samples,  # noqa: F811
                                          local_rollup):
    """Every signal is found, with the same counts, by Lake, Athena, Security Lake and the local engine."""
    lake = run_in(*lake_endpoint, lake_params(lake_endpoint[1]))
    athena = run_in(*athena_endpoint, athena_params(athena_endpoint[1]))
    for other in (athena, security_lake_samples, local_rollup):
        pd.testing.assert_frame_equal(ordered(other.signals), ordered(lake.signals))
        pd.testing.assert_frame_equal(ordered(other.throttled), ordered(lake.throttled))
    assert set(lake.signals.signal) == set(signals.SIGNALS)


def test_the_fields_of_the_signals_land_where_the_ocsf_dossier_puts_them():
    issuing = issue("i-99", app_identity("ASIACALLERKEY0000000"), "10:00:00", K["K1"], message="Rate exceeded",
                    error="Throttling")
    row = ocsf.to_ocsf(issuing)
    assert (row["api"]["response"]["error"], row["api"]["response"]["message"]) == ("Throttling", "Rate exceeded")
    assert row["actor"]["user"]["credential_uid"] == "ASIACALLERKEY0000000"
    assert json.loads(row["api"]["response"]["data"])["credentials"]["accessKeyId"] == K["K1"]
