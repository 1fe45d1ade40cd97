"""The CloudTrail Lake engine against the local Lake endpoint (real boto3, real wire protocol)."""
from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber

import kit.engines.aws as aws
from aws_endpoints import (assert_same_rollup, aws_env, lake, lake_endpoint, lake_params,  # noqa: F401
                           interrupt_polling, local_rollup, plan_argv, run_in, samples_plan)
from kit.cli import main
from kit.engines import collect
from kit.engines.aws import AccessDenied, AwsError
from kit.engines.lake import LakeRunner
from kit.errors import ParameterError, QueryError
from kit.localaws.base import Faults
from kit.localaws.lake_server import STORE_ID
from kit.params import SAMPLES_DIR
from kit.queries import ROLLUP_QUERIES, RenderError


@pytest.fixture(scope="module")
def lake_rollup(lake_endpoint):
    """One full run of the rollup queries (the slow part, shared)."""
    service, url = lake_endpoint
    rollup = run_in(service, url, lake_params(url))
    return rollup, list(service.calls), service.scanned_bytes


def small(runner: LakeRunner, rows: int = 3) -> tuple[str, list, int]:
    """A small query through the engine's polling and paging."""
    return aws.run(runner, f"SELECT eventid, eventtime FROM {STORE_ID} ORDER BY eventid LIMIT {rows}")


def test_rollup_equals_the_local_engine(lake_rollup, local_rollup):
    rollup, calls, scanned = lake_rollup
    assert_same_rollup(rollup, local_rollup)
    assert rollup.report.events_read == json.loads((SAMPLES_DIR / "manifest.json").read_text())["events_written"]
    stats = rollup.report.engine_stats
    assert stats["bytes_scanned"] == len(ROLLUP_QUERIES) * scanned > 0 and stats["queries"]["sts_calls"]["bytes_scanned"] == scanned
    assert stats["estimated_cost_usd"] > 0 and "UNCONFIRMED" in stats["price_assumed"]
    assert calls.count("StartQuery") == len(ROLLUP_QUERIES) and "CancelQuery" not in calls


def test_results_come_in_pages_of_at_most_1000_rows(lake):
    service, url = lake
    _, rows, _ = small(LakeRunner(lake_params(url)), 2500)
    assert len(rows) == 2500 and len({row["eventid"] for row in rows}) == 2500
    assert service.calls.count("GetQueryResults") == 3


def test_result_cells_are_read_by_column_name(lake):
    service, url = lake
    sql = f"SELECT eventid, NULL AS nothing, eventtime FROM {STORE_ID} ORDER BY eventid LIMIT 2"
    query_id, rows, _ = aws.run(LakeRunner(lake_params(url)), sql)
    assert all(set(row) == {"eventid", "eventtime"} for row in rows)  # Lake leaves null cells out
    times, nothing, ids = aws.columns_of(rows, ("eventtime", "nothing", "eventid"), "lake", query_id)
    assert nothing == [None, None] and ids == sorted(ids) and all(time.startswith("20") for time in times)
    with pytest.raises(QueryError, match="no column calls"):
        aws.columns_of(rows, ("eventid", "calls"), "lake", query_id)


def test_a_query_reports_queued_then_running_then_finished(lake):
    service, url = lake
    client = boto3.client("cloudtrail", endpoint_url=url, region_name="us-east-1")
    query_id = client.start_query(QueryStatement=f"SELECT eventid FROM {STORE_ID} LIMIT 2")["QueryId"]
    assert service.queries[query_id].state == "QUEUED"
    states = [client.describe_query(QueryId=query_id)["QueryStatus"] for _ in range(3)]
    assert states == ["RUNNING", "FINISHED", "FINISHED"]
    rows = client.get_query_results(QueryId=query_id)["QueryResultRows"]
    assert len(rows) == 2 and list(rows[0][0]) == ["eventid"]


@pytest.mark.parametrize("faults, status, message", [
    (Faults(fail="Column 'x' cannot be resolved"), "FAILED", "Column 'x' cannot be resolved"),
    (Faults(timeout=True), "TIMED_OUT", "Query timed out"),
])
def test_failed_and_timed_out_queries_raise_with_id_and_message(lake, faults, status, message):
    service, url = lake
    service.faults = faults
    with pytest.raises(QueryError) as caught:
        collect(lake_params(url))
    error = caught.value
    assert (error.engine, error.status, error.message) == ("lake", status, message)
    assert error.query_id in service.queries and error.query_id in str(error)


def test_a_query_cancelled_elsewhere_raises_cancelled(lake, monkeypatch):
    service, url = lake
    service.faults = Faults(hold=True)
    monkeypatch.setattr(aws, "sleep", lambda seconds: [service.cancel(q) for q in service.queries.values()
                                                       if q.state == "RUNNING"])
    with pytest.raises(QueryError, match="ended CANCELLED"):
        collect(lake_params(url))


def test_throttling_is_retried_until_it_succeeds(lake, monkeypatch):
    service, url = lake
    monkeypatch.setattr("botocore.endpoint.time.sleep", lambda seconds: None)
    service.faults = Faults(throttle=3)
    _, rows, _ = small(LakeRunner(lake_params(url)))
    assert len(rows) == 3 and service.calls[:4] == ["StartQuery"] * 4


def test_access_denied_names_the_missing_permission(lake):
    service, url = lake
    service.faults = Faults(deny=frozenset({"StartQuery"}))
    with pytest.raises(AccessDenied, match="grant cloudtrail:StartQuery") as caught:
        collect(lake_params(url))
    assert caught.value.permission == "cloudtrail:StartQuery" and service.calls == ["StartQuery"]


def test_ctrl_c_cancels_the_running_query(lake, interrupt_polling):
    service, url = lake
    service.faults = Faults(hold=True)
    with pytest.raises(KeyboardInterrupt):
        collect(lake_params(url))
    assert service.calls == ["StartQuery", "DescribeQuery", "CancelQuery"]
    assert [query.state for query in service.queries.values()][-1] == "CANCELLED"


def test_an_unknown_event_data_store_is_reported(lake):
    service, url = lake
    with pytest.raises(AwsError, match="EventDataStoreNotFoundException"):
        collect(lake_params(url, event_data_store="ffffffff-0000-0000-0000-000000000000"))


@pytest.mark.parametrize("store", ["bad id with spaces", "x; DROP", "arn:aws:s3:::bucket", "ab"])
def test_invalid_event_data_store_ids_are_rejected_before_any_call(lake, store):
    service, url = lake
    with pytest.raises(ParameterError, match="event data store"):
        lake_params(url, event_data_store=store)
    assert service.calls == []


def test_the_event_data_store_arn_and_owner_account_are_accepted(lake):
    service, url = lake
    arn = f"arn:aws:cloudtrail:us-east-1:111122223333:eventdatastore/{STORE_ID}"
    runner = LakeRunner(lake_params(url, event_data_store=arn, owner_account_id="111122223333"))
    assert runner.source == STORE_ID and len(small(runner)[1]) == 3


def test_a_statement_over_10000_characters_is_refused_before_any_call(lake):
    service, url = lake
    accounts = ",".join(f"{n:012d}" for n in range(1, 400))
    with pytest.raises(RenderError, match="over CloudTrail Lake's limit of 10,000"):
        collect(lake_params(url, accounts=accounts))
    assert service.calls == []


QID = "0123abcd-0000-1111-2222-333344445555"


def test_request_shapes_match_the_service_model(aws_env):
    runner = LakeRunner(lake_params(None, owner_account_id="999988887777"))
    owner = {"EventDataStoreOwnerAccountId": "999988887777"}
    with Stubber(runner.client) as stub:
        stub.add_response("start_query", {"QueryId": QID}, {"QueryStatement": "SELECT 1", **owner})
        stub.add_response("describe_query", {"QueryStatus": "FINISHED", "QueryStatistics": {"BytesScanned": 5}},
                          {"QueryId": QID, **owner})
        stub.add_response("get_query_results", {"QueryResultRows": [[{"a": "1"}, {"b": "x"}]], "NextToken": "tok1"},
                          {"QueryId": QID, "MaxQueryResults": 1000, **owner})
        stub.add_response("get_query_results", {"QueryResultRows": [[{"a": "2"}, {"b": "y"}]]},
                          {"QueryId": QID, "MaxQueryResults": 1000, "NextToken": "tok1", **owner})
        stub.add_response("cancel_query", {"QueryId": QID, "QueryStatus": "CANCELLED"}, {"QueryId": QID, **owner})
        assert runner.start("SELECT 1") == QID
        assert runner.status(QID) == aws.Status("FINISHED", "", 5)
        assert list(runner.pages(QID)) == [[{"a": "1", "b": "x"}], [{"a": "2", "b": "y"}]]
        runner.cancel(QID)
        stub.assert_no_pending_responses()


def test_endpoint_from_the_environment_is_honoured(lake, monkeypatch):
    service, url = lake
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDTRAIL", url)
    assert len(small(LakeRunner(lake_params(None)))[1]) == 3 and service.calls[0] == "StartQuery"


def test_plan_csv_equals_the_samples_plan(lake, samples_plan, tmp_path, capsys):
    service, url = lake
    assert main(plan_argv("lake", url, tmp_path)) == 0, capsys.readouterr().err
    for name in ("plan.csv", "quota.csv"):
        assert (tmp_path / name).read_text() == (samples_plan / name).read_text()
    assert '"bytes_scanned"' in (tmp_path / "summary.json").read_text()


def test_the_verification_query_runs_and_counts_a_callers_calls(lake):
    from kit.queries import render_verification

    _, url = lake
    arn = "arn:aws:iam::111122223333:role/payments-api"
    params = lake_params(url, accounts="111122223333")
    _, rows, _ = aws.run(LakeRunner(params), render_verification(params, [arn, "arn:aws:iam::111122223333:user/nobody"]))
    counts = {row["endpoint"]: int(row["calls"]) for row in rows}
    rollup = collect(params)
    calls = rollup.sts_calls[rollup.sts_calls.principal_arn == arn].groupby("endpoint").calls.sum().to_dict()
    assert counts == calls and counts["global"] > 0
    assert {row["principal_arn"] for row in rows} == {arn}
