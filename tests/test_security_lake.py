"""--source security-lake: OCSF API Activity Parquet made from trail files (kit.ocsf), read locally
with DuckDB and through the local Athena endpoint as Security Lake's table; did the fields survive?"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import duckdb
import pytest
from botocore.stub import Stubber

from aws_endpoints import (SAMPLES, WINDOW, assert_same_rollup, aws_env, local_rollup,  # noqa: F401
                           samples_plan, serve)
from builders import activity, role_session, sts, user, write_trail
from kit import ocsf
from kit.cli import main
from kit.engines import collect
from kit.errors import ParameterError
from kit.localaws.athena_server import SECURITY_LAKE_DATABASE, SECURITY_LAKE_TABLE, AthenaService
from kit.localaws.base import LocalService
from kit.params import SAMPLES_DIR, parse_time, validate
from kit.queries import ROLLUP_QUERIES, render_all
from kit.tableshape import TableShapeError

ACCOUNT = "111122223333"
ATHENA = {"database": SECURITY_LAKE_DATABASE, "table": SECURITY_LAKE_TABLE, "workgroup": "primary",
          "aws_region": "us-east-1"}


@pytest.fixture(scope="module")
def lake_folder(tmp_path_factory) -> Path:
    """The samples as Security Lake Parquet files (generated once per module)."""
    out = tmp_path_factory.mktemp("security-lake")
    ocsf.write_lake(SAMPLES / "trail", out)
    return out


@pytest.fixture(scope="module")
def lake_athena(lake_folder) -> Iterator[tuple[LocalService, str]]:
    """The local Athena endpoint holding the Parquet files as Security Lake's CloudTrail table."""
    yield from serve(AthenaService(SAMPLES / "trail", ocsf=lake_folder))


def plan_argv(out: Path, *engine: str) -> list[str]:
    return ["plan", "--source", "security-lake", *engine, "--start", WINDOW["start"], "--end", WINDOW["end"],
            "--ip-ranges", str(SAMPLES / "ip-ranges.json"), "--policies", str(SAMPLES / "policies"),
            "--out", str(out)]


def assert_same_plan(out: Path, expected: Path) -> None:
    for name in ("plan.csv", "quota.csv"):
        assert (out / name).read_text() == (expected / name).read_text(), name


def test_a_cloudtrail_record_lands_in_the_ocsf_fields_of_the_dossier():
    record = sts(role_session(ACCOUNT, "app"), "2025-05-02T10:00:00Z", "sts.amazonaws.com", endpoint_type="global",
                 serving="eu-west-1", region="eu-west-1", shared="abc", error="AccessDenied",
                 request={"roleArn": f"arn:aws:iam::{ACCOUNT}:role/x"})
    row = ocsf.to_ocsf(record)
    assert (row["class_uid"], row["time"], row["time_dt"]) == (6003, 1746180000000, "2025-05-02 10:00:00")
    assert row["api"]["service"]["name"] == "sts.amazonaws.com" and row["api"]["operation"] == "GetCallerIdentity"
    assert row["api"]["response"]["error"] == "AccessDenied" and row["status"] == "Failure"
    assert json.loads(row["api"]["request"]["data"]) == {"roleArn": f"arn:aws:iam::{ACCOUNT}:role/x"}
    assert row["actor"]["user"]["uid"] == record["userIdentity"]["arn"]
    assert row["actor"]["user"]["uid_alt"] == "AROAEXAMPLE:s" and row["actor"]["user"]["account"]["uid"] == ACCOUNT
    assert row["actor"]["session"]["issuer"] == f"arn:aws:iam::{ACCOUNT}:role/app"
    assert row["src_endpoint"] == {"ip": "10.0.0.1", "domain": None, "uid": None}
    assert row["cloud"] == {"provider": "AWS", "region": "eu-west-1", "account": {"uid": ACCOUNT}}
    assert row["metadata"]["uid"] == record["eventID"]
    assert row["unmapped"][ocsf.UNMAPPED_HOST] == "sts.amazonaws.com"
    assert row["unmapped"][ocsf.UNMAPPED_ENDPOINT_TYPE] == "global"
    assert row["unmapped"][ocsf.UNMAPPED_SERVING_REGION] == "eu-west-1"
    assert row["unmapped"][ocsf.SHARED_EVENT_ID] == "abc"
    assert (row["region"], row["accountId"], row["eventDay"]) == ("eu-west-1", ACCOUNT, "20250502")


def test_service_names_go_to_the_domain_and_fields_of_the_wrong_type_are_absent():
    record = sts({"type": "AWSService", "invokedBy": "lambda.amazonaws.com"}, "2025-05-02T10:00:00+02:00",
                 ip="lambda.amazonaws.com")
    record.update(awsRegion=["us-east-1"], tlsDetails="sts.amazonaws.com", userAgent={"a": 1})
    row = ocsf.to_ocsf(record, folder_account=ACCOUNT)
    assert row["src_endpoint"]["domain"] == "lambda.amazonaws.com" and row["src_endpoint"]["ip"] is None
    assert row["cloud"]["region"] is None and row["http_request"]["user_agent"] is None
    assert ocsf.UNMAPPED_HOST not in row["unmapped"] and row["time_dt"] == "2025-05-02 08:00:00"
    assert row["accountId"] == ACCOUNT and row["actor"]["invoked_by"] == "lambda.amazonaws.com"
    assert ocsf.to_ocsf({**record, "eventTime": "2025-05-02T25:00:00Z"}) is None


def test_the_parquet_layout_is_security_lakes_and_the_output_is_deterministic(tmp_path):
    trail = tmp_path / "trail" / "AWSLogs" / ACCOUNT / "CloudTrail" / "us-east-1" / "2025" / "05" / "02"
    write_trail(trail / f"{ACCOUNT}_CloudTrail_us-east-1_20250502T1000Z_a.json.gz", [
        sts(user(ACCOUNT, "u"), "2025-05-02T10:00:00Z", endpoint_type="global"),
        activity(user(ACCOUNT, "u"), "2025-05-03T10:00:00Z", "us-east-1"), "not a record"])
    first = ocsf.write_lake(tmp_path / "trail", tmp_path / "a")
    ocsf.write_lake(tmp_path / "trail", tmp_path / "b")
    files = sorted(path.relative_to(tmp_path / "a") for path in (tmp_path / "a").rglob("*.parquet"))
    assert [str(path.parent) for path in files] == [
        f"aws/CLOUD_TRAIL_MGMT/2.0/region=us-east-1/accountId={ACCOUNT}/eventDay=2025050{day}" for day in (2, 3)]
    assert first == tmp_path / "a" / "aws" / "CLOUD_TRAIL_MGMT" / "2.0"
    assert all((tmp_path / "a" / path).read_bytes() == (tmp_path / "b" / path).read_bytes() for path in files)
    count = duckdb.connect().execute("SELECT count(*) FROM read_parquet(?)", [f"{first}/**/*.parquet"]).fetchone()
    assert count == (2,)


def test_local_parquet_gives_the_samples_rollup(lake_folder, local_rollup):
    rollup = collect(validate({"source": "security-lake", "path": str(lake_folder), **WINDOW}))
    assert_same_rollup(rollup, local_rollup)
    # as Lake: records without a time are never ingested
    assert rollup.report.events_read == json.loads((SAMPLES_DIR / "manifest.json").read_text())["events_written"]
    assert rollup.report.field_gaps == {} and rollup.report.engine_stats["engine"] == "security-lake"


def test_local_parquet_plan_equals_the_samples_plan(lake_folder, samples_plan, tmp_path, capsys):
    assert main(plan_argv(tmp_path, "--path", str(lake_folder))) == 0, capsys.readouterr().err
    assert_same_plan(tmp_path, samples_plan)
    assert json.loads((tmp_path / "summary.json").read_text())["field_gaps"] == {}


def test_athena_over_the_security_lake_table_plan_equals_the_samples_plan(lake_athena, aws_env, samples_plan,
                                                                          tmp_path, capsys):
    service, url = lake_athena
    service.calls[:] = []
    argv = plan_argv(tmp_path, "--database", SECURITY_LAKE_DATABASE, "--table", SECURITY_LAKE_TABLE,
                     "--workgroup", "primary", "--endpoint-url", url, "--aws-region", "us-east-1")
    assert main(argv) == 0, capsys.readouterr().err
    assert_same_plan(tmp_path, samples_plan)
    assert service.calls[0] == "GetTableMetadata" and service.calls.count("StartQueryExecution") == len(ROLLUP_QUERIES)
    sql = list(service.queries.values())[-1].statement
    assert "eventday BETWEEN '20250228' AND '20250902'" in sql and "element_at(unmapped" in sql


def test_a_pipeline_that_drops_aws_serving_region_is_reported(tmp_path):
    trail = tmp_path / "trail" / "AWSLogs" / ACCOUNT / "CloudTrail" / "eu-west-1" / "2025" / "05" / "02"
    caller = role_session(ACCOUNT, "app")
    write_trail(trail / f"{ACCOUNT}_CloudTrail_eu-west-1_20250502T1000Z_a.json.gz", [
        sts(caller, f"2025-05-02T10:00:0{second}Z", "sts.amazonaws.com", endpoint_type="global",
            serving="eu-west-1", region="eu-west-1") for second in range(3)] + [
        sts(caller, "2025-04-02T10:00:00Z", "sts.amazonaws.com", endpoint_type="global", region="eu-west-1")])
    ocsf.write_lake(tmp_path / "trail", tmp_path / "lake", drop=(ocsf.UNMAPPED_SERVING_REGION,))
    params = validate({"source": "security-lake", "path": str(tmp_path / "lake"),
                       "start": "2025-04-01T00:00:00Z", "end": "2025-06-01T00:00:00Z"})
    report = collect(params).report
    assert report.field_gaps == {"awsServingRegion": 3}  # the April call is before the rollout
    assert "3 without awsServingRegion" in report.notes[0] and report.to_dict()["field_gaps"] == report.field_gaps


def test_bad_paths_are_one_line_errors(tmp_path, capsys):
    with pytest.raises(ParameterError, match="no .parquet files"):
        collect(validate({"source": "security-lake", "path": str(tmp_path), **WINDOW}))
    (tmp_path / "x.parquet").write_text("not parquet")
    with pytest.raises(ParameterError, match="cannot read the Parquet files"):
        collect(validate({"source": "security-lake", "path": str(tmp_path), **WINDOW}))
    assert main(["plan", "--source", "security-lake", "--start", WINDOW["start"], "--end", WINDOW["end"]]) == 2
    assert "--path" in capsys.readouterr().err


def test_dry_run_renders_the_ocsf_queries():
    params = validate({"source": "security-lake", **ATHENA, **WINDOW})
    statements = render_all(params)
    assert set(statements) == set(ROLLUP_QUERIES)
    assert f'FROM "{SECURITY_LAKE_DATABASE}"."{SECURITY_LAKE_TABLE}") AS ocsf' in statements["sts_calls"]
    assert "'additionalEventData.RequestDetails.endpointType'" in statements["sts_calls"]


def test_a_table_that_is_not_ocsf_is_refused(aws_env):
    from kit.engines.security_lake import SecurityLakeAthenaRunner

    runner = SecurityLakeAthenaRunner(validate({"source": "security-lake", **ATHENA, **WINDOW}))
    request = {"CatalogName": "AwsDataCatalog", "DatabaseName": SECURITY_LAKE_DATABASE,
               "TableName": SECURITY_LAKE_TABLE}
    with Stubber(runner.client) as stub:
        stub.add_response("get_table_metadata", {"TableMetadata": {
            "Name": SECURITY_LAKE_TABLE, "Columns": [{"Name": "eventtime", "Type": "string"}]}}, request)
        with pytest.raises(TableShapeError, match="no column time_dt, api, actor, cloud, unmapped"):
            runner.table_shape(validate({"source": "security-lake", **ATHENA, **WINDOW}), ocsf=True)


def test_missing_fields_of_a_record_for_engines_that_judge_in_python():
    from kit.fieldgaps import missing_in

    complete = sts(user(ACCOUNT, "u"), "2025-05-02T10:00:00Z", endpoint_type="global", serving="eu-west-1")
    assert missing_in(complete) == []
    dropped = {**complete, "additionalEventData": {"RequestDetails": {"endpointType": "global"}}}
    assert missing_in(dropped) == ["awsServingRegion"]
    assert missing_in({**complete, "tlsDetails": "sts.amazonaws.com", "additionalEventData": []}) == [
        "endpointType", "awsServingRegion", "tlsDetails.clientProvidedHostHeader"]


def test_local_files_outside_the_window_are_not_read(lake_folder):
    from kit.engines.security_lake import in_window

    start, end = parse_time("start", "2025-07-01"), parse_time("end", "2025-07-08")
    assert in_window(Path("x/region=eu-west-1/accountId=1/eventDay=20250630/a.parquet"), start, end)
    assert not in_window(Path("x/region=eu-west-1/accountId=1/eventDay=20250629/a.parquet"), start, end)
    assert in_window(Path("x/elsewhere/a.parquet"), start, end)
    report = collect(validate({"source": "security-lake", "path": str(lake_folder), "start": "2025-07-01",
                               "end": "2025-07-08"})).report
    every = sum(path.stat().st_size for path in lake_folder.rglob("*.parquet"))
    assert 0 < report.engine_stats["bytes_scanned"] < every / 10 and report.events_read > 0


def test_the_verification_query_over_the_security_lake_table_counts_a_callers_calls(lake_athena, lake_folder,
                                                                                    aws_env):
    from kit.engines import aws
    from kit.engines.security_lake import ParquetRunner, SecurityLakeAthenaRunner
    from kit.queries import render_verification
    from kit.verify import verification_step

    service, url = lake_athena
    arn = "arn:aws:iam::111122223333:role/payments-api"
    params = validate({"source": "security-lake", **ATHENA, "endpoint_url": url, "output_location": "s3://results/",
                       "accounts": ACCOUNT, **WINDOW})
    expected = collect(validate({"source": "local", "path": str(SAMPLES / "trail"), "cache": False, "quiet": True,
                                 "accounts": ACCOUNT, **WINDOW})).sts_calls
    calls = expected[expected.principal_arn == arn].groupby("endpoint").calls.sum().to_dict()
    sql = verification_step(ACCOUNT, [arn], params)  # the week after the window
    assert f'FROM "{SECURITY_LAKE_DATABASE}"."{SECURITY_LAKE_TABLE}"' in sql and "element_at(unmapped" in sql
    statement = render_verification(params, [arn, "arn:aws:iam::111122223333:user/nobody"])
    for runner in (SecurityLakeAthenaRunner(params), None):
        if runner is None:  # the same SQL over the local Parquet files (DuckDB)
            local = validate({"source": "security-lake", "path": str(lake_folder), "accounts": ACCOUNT, **WINDOW})
            runner, statement = ParquetRunner(lake_folder, local.start, local.end), render_verification(local, [arn])
        _, rows, _ = aws.run(runner, statement)
        counts = {row["endpoint"]: int(row["calls"]) for row in rows}
        assert counts == calls and counts["global"] > 0
        assert {row["principal_arn"] for row in rows} == {arn}


def test_the_verification_step_of_local_security_lake_files_is_a_plan_command(lake_folder):
    from kit.verify import verification_step

    params = validate({"source": "security-lake", "path": str(lake_folder), **WINDOW})
    step = verification_step(ACCOUNT, ["arn:aws:iam::111122223333:role/payments-api"], params)
    assert step.startswith("sts-kit plan --source security-lake --path ") and "SELECT" not in step


@pytest.mark.parametrize("argv, message", [
    (["logs", "--ocsf", "."], "--ocsf is for the athena endpoint"),
    (["athena", "--ocsf", "{empty}"], "holds no .parquet files"),
])
def test_the_endpoint_command_refuses_ocsf_it_cannot_serve(argv, message, tmp_path, capsys):
    from kit.localaws.__main__ import main as serve_main

    with pytest.raises(SystemExit) as stopped:
        serve_main([part.format(empty=tmp_path) for part in argv])
    assert stopped.value.code == 2 and message in capsys.readouterr().err
