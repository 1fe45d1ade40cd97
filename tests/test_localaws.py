"""The local endpoints speak the services' wire protocols (JSON 1.1, and REST-JSON where botocore uses it), so botocore sees real answers."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

import boto3
import duckdb
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from aws_endpoints import athena, athena_endpoint, athena_params, aws_env, lake, lake_endpoint, lake_params  # noqa: F401
from kit.engines import aws
from kit.engines.athena import AthenaRunner
from kit.engines.lake import LakeRunner
from kit.localaws.base import Faults
from kit.localaws.lake_server import STORE_ID
from kit.queries import ROLLUP_QUERIES, render_all, render_verification

NO_RETRY = Config(retries={"mode": "standard", "total_max_attempts": 1})


def cloudtrail(url: str):
    return boto3.client("cloudtrail", endpoint_url=url, region_name="us-east-1", config=NO_RETRY)


def error_code(call) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"]


def test_errors_are_aws_json_with_a_status(lake):
    service, url = lake
    request = urllib.request.Request(url, b"{}", {"X-Amz-Target": "CloudTrail_20131101.Nope",
                                                  "Content-Type": "application/x-amz-json-1.1"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request)
    assert caught.value.code == 400 and caught.value.headers["Content-Type"] == "application/x-amz-json-1.1"
    assert json.loads(caught.value.read())["__type"] == "UnknownOperationException"


def test_lake_operations_and_their_error_codes(lake):
    service, url = lake
    client = cloudtrail(url)
    stores = client.list_event_data_stores()["EventDataStores"]
    assert stores[0]["EventDataStoreArn"].endswith(f"eventdatastore/{STORE_ID}")
    assert error_code(lambda: client.start_query(QueryStatement=f"SELECT eventid FROM {STORE_ID} WHERE (")) == \
        "InvalidQueryStatementException"
    assert error_code(lambda: client.start_query(QueryStatement="SELECT 1 FROM other-store")) == \
        "EventDataStoreNotFoundException"
    query_id = client.start_query(QueryStatement=f"SELECT eventid FROM {STORE_ID} LIMIT 1")["QueryId"]
    assert error_code(lambda: client.get_query_results(QueryId=query_id, MaxQueryResults=1001)) == \
        "InvalidParameterException"
    client.describe_query(QueryId=query_id), client.describe_query(QueryId=query_id)
    assert error_code(lambda: client.cancel_query(QueryId=query_id)) == "InactiveQueryException"
    service.faults = Faults(throttle=1, deny=frozenset({"*"}))
    assert error_code(client.list_event_data_stores) == "ThrottlingException"
    assert error_code(client.list_event_data_stores) == "AccessDeniedException"


def test_athena_results_start_with_a_header_row_and_wait_for_success(athena):
    service, url = athena
    client = boto3.client("athena", endpoint_url=url, region_name="us-east-1", config=NO_RETRY)
    query_id = client.start_query_execution(
        QueryString='SELECT eventsource FROM "cloudtrail"."cloudtrail_logs" LIMIT 2',
        QueryExecutionContext={"Database": "cloudtrail"},
        ResultConfiguration={"OutputLocation": "s3://local-results/"})["QueryExecutionId"]
    assert error_code(lambda: client.get_query_results(QueryExecutionId=query_id)) == "InvalidRequestException"
    states = [client.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]["State"]
              for _ in range(2)]
    assert states == ["RUNNING", "SUCCEEDED"]
    rows = client.get_query_results(QueryExecutionId=query_id)["ResultSet"]["Rows"]
    assert rows[0] == {"Data": [{"VarCharValue": "eventsource"}]} and len(rows) == 3
    assert error_code(lambda: client.start_query_execution(
        QueryString="SELECT 1", QueryExecutionContext={"Database": "nope"})) == "InvalidRequestException"


ATTACKS = {
    "read_text": "SELECT * FROM read_text('/etc/passwd')",
    "read_text in a column": "SELECT read_text('/etc/hostname') AS x FROM {table}",
    "read_csv": "SELECT * FROM read_csv('/etc/passwd')",
    "glob": "SELECT * FROM glob('/etc/*')",
    "a file as a table": "SELECT * FROM '/etc/passwd'",
    "copy to": "COPY (SELECT eventid FROM {table}) TO '{target}'",
    "attach": "ATTACH '{target}' AS other",
    "install": "INSTALL httpfs",
    "load": "LOAD httpfs",
    "pragma": "PRAGMA version",
    "set": "SET enable_external_access = true",
    "a second statement": "SELECT eventid FROM {table} LIMIT 1; COPY (SELECT 1) TO '{target}'",
    "a system table": "SELECT * FROM duckdb_settings()",
    "information schema": "SELECT table_name FROM information_schema.tables",
    "getenv": "SELECT getenv('HOME') AS home FROM {table}",
    "another table in a join": "SELECT a.eventid FROM {table} a JOIN other_table b ON a.eventid = b.eventid",
    "select into": "SELECT eventid INTO copied FROM {table}",
}


@pytest.mark.parametrize("attack", ATTACKS)
def test_lake_refuses_anything_but_a_select_over_the_store(lake, tmp_path, attack):
    service, url = lake
    target = tmp_path / "written"
    statement = ATTACKS[attack].format(table=STORE_ID, target=target)
    before = len(service.queries)
    with pytest.raises(ClientError) as caught:
        cloudtrail(url).start_query(QueryStatement=statement)
    error = caught.value.response["Error"]
    assert error["Code"] in ("InvalidQueryStatementException", "EventDataStoreNotFoundException")
    assert error["Code"] == "EventDataStoreNotFoundException" or "refused" in error["Message"] \
        or "does not parse" in error["Message"]
    assert not target.exists() and len(service.queries) == before


@pytest.mark.parametrize("attack", ATTACKS)
def test_athena_refuses_anything_but_a_select_over_the_table(athena, tmp_path, attack):
    service, url = athena
    target = tmp_path / "written"
    statement = ATTACKS[attack].format(table='"cloudtrail"."cloudtrail_logs"', target=target)
    before = len(service.queries)
    client = boto3.client("athena", endpoint_url=url, region_name="us-east-1", config=NO_RETRY)
    with pytest.raises(ClientError) as caught:
        client.start_query_execution(QueryString=statement, QueryExecutionContext={"Database": "cloudtrail"},
                                     ResultConfiguration={"OutputLocation": "s3://local-results/"})
    error = caught.value.response["Error"]
    assert error["Code"] == "InvalidRequestException"
    assert "refused by the local endpoint" in error["Message"] or "does not parse" in error["Message"]
    assert not target.exists() and len(service.queries) == before


def test_the_refusal_says_what_runs(lake):
    _, url = lake
    with pytest.raises(ClientError) as caught:
        cloudtrail(url).start_query(QueryStatement=f"SELECT read_text('/etc/passwd') AS x FROM {STORE_ID}")
    assert caught.value.response["Error"]["Message"] == (
        "query refused by the local endpoint: function read_text() is not allowed: table functions and file, "
        "setting or environment functions are not run here")


@pytest.mark.parametrize("fixture", ["lake", "athena"])
def test_duckdb_itself_reads_and_writes_no_file_even_past_the_check(request, tmp_path, fixture):
    service, _ = request.getfixturevalue(fixture)
    cursor = service.connection.cursor()
    for statement in ("SELECT * FROM read_text('/etc/hostname')", f"COPY (SELECT 1) TO '{tmp_path / 'x.csv'}'",
                      f"ATTACH '{tmp_path / 'x.db'}' AS other", "SET enable_external_access = true",
                      "INSTALL httpfs"):
        with pytest.raises(duckdb.Error):
            cursor.execute(statement)
    assert not list(tmp_path.iterdir())


def _rendered(params):
    queries = dict(render_all(params))
    queries["verify_callers"] = render_verification(params, ["arn:aws:iam::111122223333:role/payments-ledger"])
    return queries


def test_every_query_the_kit_renders_still_runs(lake, athena):
    lake_service, lake_url = lake
    athena_service, athena_url = athena
    known = set(lake_service.queries) | set(athena_service.queries)
    for name, sql in _rendered(lake_params(lake_url)).items():
        _, rows, _ = aws.run(LakeRunner(lake_params(lake_url)), sql)
        assert isinstance(rows, list), name
    for name, sql in _rendered(athena_params(athena_url)).items():
        _, rows, _ = aws.run(AthenaRunner(athena_params(athena_url)), sql)
        assert isinstance(rows, list), name
    ran_in_lake = [query.state for key, query in lake_service.queries.items() if key not in known]
    ran_in_athena = [query.state for key, query in athena_service.queries.items() if key not in known]
    assert ran_in_lake == ["FINISHED"] * (len(ROLLUP_QUERIES) + 1)
    assert ran_in_athena == ["SUCCEEDED"] * (len(ROLLUP_QUERIES) + 1)


def athena_json11(url: str, operation: str, body: dict) -> dict:
    """One Athena call as botocore before 1.44 sent it: JSON 1.1 with X-Amz-Target."""
    request = urllib.request.Request(url, json.dumps(body).encode(), {
        "X-Amz-Target": f"AmazonAthena.{operation}", "Content-Type": "application/x-amz-json-1.1"})
    with urllib.request.urlopen(request) as answer:
        assert answer.headers["Content-Type"] == "application/x-amz-json-1.1"
        return json.loads(answer.read())


def test_athena_answers_json_1_1_and_the_rest_routes_of_botocores_model(athena):
    """botocore moved Athena to REST-JSON: a client of either protocol gets the same answers."""
    service, url = athena
    statement = 'SELECT count(*) AS n FROM "cloudtrail"."cloudtrail_logs"'
    old = athena_json11(url, "StartQueryExecution", {"QueryString": statement, "WorkGroup": "primary"})
    for _ in range(3):
        athena_json11(url, "GetQueryExecution", {"QueryExecutionId": old["QueryExecutionId"]})
    old_rows = athena_json11(url, "GetQueryResults", {"QueryExecutionId": old["QueryExecutionId"]})
    client = boto3.client("athena", endpoint_url=url, region_name="us-east-1", config=NO_RETRY)
    new = client.start_query_execution(QueryString=statement, WorkGroup="primary")
    for _ in range(3):
        client.get_query_execution(QueryExecutionId=new["QueryExecutionId"])
    new_rows = client.get_query_results(QueryExecutionId=new["QueryExecutionId"], MaxResults=10)
    assert new_rows["ResultSet"]["Rows"] == old_rows["ResultSet"]["Rows"]
    assert int(new_rows["ResultSet"]["Rows"][1]["Data"][0]["VarCharValue"]) > 0
    metadata = client.get_table_metadata(CatalogName="AwsDataCatalog", DatabaseName="cloudtrail",
                                         TableName="cloudtrail_logs")["TableMetadata"]
    assert metadata["Name"] == "cloudtrail_logs"
    assert error_code(lambda: client.get_query_execution(QueryExecutionId="nope")) == "InvalidRequestException"
    assert error_code(lambda: client.get_table_metadata(CatalogName="AwsDataCatalog", DatabaseName="cloudtrail",
                                                        TableName="nope")) == "MetadataException"
