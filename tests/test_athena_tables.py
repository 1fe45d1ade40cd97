"""Athena tables as users have them: the engine reads the table's shape (GetTableMetadata) and gives
the samples' plan on the kit's table, the Athena User Guide's single-Region projection table, the
Knowledge Center's year/month/day table without tlsdetails, and an unpartitioned table."""
from __future__ import annotations

import gzip
import json
from datetime import datetime, timezone

import boto3
import pytest
from botocore.stub import Stubber

from aws_endpoints import SAMPLES, WINDOW, athena, athena_endpoint, athena_params, aws_env, samples_plan  # noqa: F401
from kit.cli import main
from kit.engines import collect
from kit.engines.athena import AthenaRunner
from kit.params import validate
from kit.queries import render
from kit.tableshape import KIT_TABLE, SKIP_NO_HOST_COLUMN, TableShape, TableShapeError, shape_of

KC = "cloudtrail_logs_kc"
SHAPES = {"cloudtrail_logs": "day partitions: timestamp; account partition: account; host header column",
          "cloudtrail_logs_projection": "day partitions: timestamp; host header column",
          KC: "day partitions: year_month_day; account partition: account; no tlsdetails column",
          "cloudtrail_logs_flat": "day partitions: none; host header column"}
APRIL = "2025-04-01T00:00:00Z"
"""From here on every sample STS event carries endpointType: a table without tlsdetails judges them all."""


def plan_argv(table: str, url: str, out, start: str = WINDOW["start"]) -> list[str]:
    return ["plan", "--source", "athena", "--database", "cloudtrail", "--table", table, "--workgroup", "primary",
            "--endpoint-url", url, "--aws-region", "us-east-1", "--start", start, "--end", WINDOW["end"],
            "--ip-ranges", str(SAMPLES / "ip-ranges.json"), "--policies", str(SAMPLES / "policies"),
            "--out", str(out)]


@pytest.fixture(scope="module")
def april_plan(tmp_path_factory):
    """``sts-kit plan --source samples`` from April 2025."""
    out = tmp_path_factory.mktemp("april-plan")
    assert main(["plan", "--start", APRIL, "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize("table", [name for name in SHAPES if name != KC])
def test_every_table_shape_gives_the_samples_plan(table, athena, samples_plan, tmp_path, capsys):
    service, url = athena
    assert main(plan_argv(table, url, tmp_path)) == 0, capsys.readouterr().err
    for name in ("plan.csv", "quota.csv"):
        assert (tmp_path / name).read_text() == (samples_plan / name).read_text(), name
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["engine"]["table_shape"] == SHAPES[table] and service.calls[0] == "GetTableMetadata"


def test_the_knowledge_center_table_gives_the_samples_plan_where_endpoint_type_exists(athena, april_plan, tmp_path,
                                                                                      capsys):
    service, url = athena
    assert main(plan_argv(KC, url, tmp_path, APRIL)) == 0, capsys.readouterr().err
    for name in ("plan.csv", "quota.csv"):
        assert (tmp_path / name).read_text() == (april_plan / name).read_text(), name
    assert "concat(year, '/', month, '/', day) BETWEEN '2025/03/31' AND '2025/09/02'" in \
        list(service.queries.values())[-1].statement


def _unjudgeable_sts_events() -> int:
    """Callers' STS events of the samples' window with neither endpointType nor a way to tell, counted
    straight from the trail files: no additionalEventData.RequestDetails.endpointType, not AWS acting."""
    count = 0
    for path in (SAMPLES / "trail").rglob("*.json.gz"):
        try:
            records = json.loads(gzip.decompress(path.read_bytes()))["Records"]
        except (OSError, EOFError, ValueError, KeyError, TypeError):
            continue  # the samples' deliberately broken files
        for record in records:
            if not isinstance(record, dict) or record.get("eventSource") != "sts.amazonaws.com":
                continue
            if not WINDOW["start"] <= str(record.get("eventTime")) < WINDOW["end"]:
                continue
            identity = record.get("userIdentity") or {}
            if identity.get("type") == "AWSService" or identity.get("invokedBy") or \
                    str(record.get("sourceIPAddress", "")).endswith(".amazonaws.com"):
                continue
            details = (record.get("additionalEventData") or {}).get("RequestDetails") or {}
            count += details.get("endpointType") not in ("global", "regional")
    return count


def test_without_tlsdetails_the_events_that_cannot_be_judged_are_counted(athena):
    service, url = athena
    report = collect(athena_params(url, table=KC)).report
    assert report.skipped[SKIP_NO_HOST_COLUMN] == _unjudgeable_sts_events() > 0
    assert report.field_gaps == {"tlsDetails.clientProvidedHostHeader": report.field_gaps[
        "tlsDetails.clientProvidedHostHeader"]} and report.field_gaps["tlsDetails.clientProvidedHostHeader"] > 0
    assert any("without tlsDetails.clientProvidedHostHeader" in note for note in report.notes)


def test_the_local_endpoint_serves_table_metadata_through_boto3(athena):
    service, url = athena
    client = boto3.client("athena", region_name="us-east-1", endpoint_url=url)
    metadata = client.get_table_metadata(CatalogName="AwsDataCatalog", DatabaseName="cloudtrail",
                                         TableName=KC)["TableMetadata"]
    assert [key["Name"] for key in metadata["PartitionKeys"]] == ["account", "region", "year", "month", "day"]
    columns = {column["Name"]: column["Type"] for column in metadata["Columns"]}
    assert "tlsdetails" not in columns and columns["useridentity"].startswith("struct<type:string,")
    with pytest.raises(client.exceptions.MetadataException):
        client.get_table_metadata(CatalogName="AwsDataCatalog", DatabaseName="cloudtrail", TableName="nope")


def test_a_missing_table_is_a_one_line_error(athena, capsys):
    service, url = athena
    assert main(plan_argv("nope", url, "unused")) == 2
    assert "GetTableMetadata failed with MetadataException" in capsys.readouterr().err


@pytest.mark.parametrize("keys, columns, expected", [
    ([("timestamp", "string")], [("tlsdetails", "struct<tlsversion:string,clientprovidedhostheader:string>")],
     TableShape("timestamp", False, True)),
    ([("account", "string"), ("region", "string"), ("year", "string"), ("month", "string"), ("day", "string")],
     [], TableShape("year_month_day", False, False, "account")),
    ([("year", "int"), ("month", "int"), ("day", "int")], [], TableShape("year_month_day", True, False)),
    ([], [("tlsdetails", "struct<clientprovidedhostheader:string>")], TableShape("none", False, True)),
])
def test_shapes_from_columns_and_partition_keys(keys, columns, expected):
    base = [("eventtime", "string"), ("eventsource", "string"), ("eventname", "string"), ("awsregion", "string"),
            ("useridentity", "struct<type:string>")]
    shape = shape_of("db.t", [{"Name": name, "Type": kind} for name, kind in base + columns],
                     [{"Name": name, "Type": kind} for name, kind in keys])
    assert shape == expected
    with pytest.raises(TableShapeError, match="no column eventsource"):
        shape_of("db.t", [{"Name": "eventtime", "Type": "string"}], [])


@pytest.mark.parametrize("shape, predicate", [
    (KIT_TABLE, "\"timestamp\" BETWEEN '2025/02/28' AND '2025/09/02'"),
    (TableShape("year_month_day"), "year BETWEEN '2025' AND '2025' AND concat(year, '/', month, '/', day) "
                                   "BETWEEN '2025/02/28' AND '2025/09/02'"),
    (TableShape("year_month_day", numeric_days=True), "year * 10000 + month * 100 + day BETWEEN 20250228 AND 20250902"),
    (TableShape("none"), None),
])
def test_the_queries_prune_by_the_partitions_the_table_has(shape, predicate):
    sql = render("sts_calls", athena_params(None), shape)
    if predicate:
        assert predicate in sql
    else:
        assert "BETWEEN" not in sql.split("WHERE", 1)[1].split(")", 1)[0]


def test_table_metadata_request_matches_the_service_model(aws_env):
    runner = AthenaRunner(athena_params(None))
    request = {"CatalogName": "AwsDataCatalog", "DatabaseName": "cloudtrail", "TableName": "cloudtrail_logs"}
    with Stubber(runner.client) as stub:
        stub.add_response("get_table_metadata", {"TableMetadata": {
            "Name": "cloudtrail_logs", "CreateTime": datetime(2025, 1, 1, tzinfo=timezone.utc),
            "Columns": [{"Name": name, "Type": "string"} for name in ("eventtime", "eventsource", "eventname",
                                                                      "awsregion", "useridentity")],
            "PartitionKeys": [{"Name": "timestamp", "Type": "string"}]}}, request)
        assert runner.table_shape(validate({"source": "athena", "database": "cloudtrail", "table": "cloudtrail_logs",
                                            **WINDOW})) == TableShape("timestamp", False, False)
