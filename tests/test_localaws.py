"""The local endpoints speak the services' JSON 1.1 protocols, so botocore sees real answers."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from aws_endpoints import athena, athena_endpoint, aws_env, lake, lake_endpoint  # noqa: F401
from kit.localaws.base import Faults
from kit.localaws.lake_server import STORE_ID

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
