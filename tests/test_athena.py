"""The Athena engine against the local Athena endpoint (real boto3, real wire protocol)."""
from __future__ import annotations

import os
from datetime import datetime, timezone

import pandas as pd
import pytest
from botocore.stub import Stubber

import kit.engines.aws as aws
from aws_endpoints import (SAMPLES, assert_same_rollup, athena, athena_endpoint, athena_params, aws_env,  # noqa: F401
                           interrupt_polling, local_rollup, ordered, plan_argv, run_in, samples_plan)
from kit.cli import main
from kit.engines import collect
from kit.engines.athena import MINIMUM_BYTES, AthenaRunner
from kit.engines.aws import AccessDenied
from kit.errors import ParameterError, QueryError
from kit.localaws.base import Faults
from kit.params import validate
from kit.queries import ACCOUNT_PRUNED, ROLLUP_QUERIES
from kit.trailfiles import discover

QID = "0123abcd-0000-1111-2222-333344445555"


def trail_bytes(account: str = "") -> int:
    """The bytes on disk of the samples' trail files (all of the window's), or of one account's folder."""
    folder = f"{os.sep}{account}{os.sep}CloudTrail{os.sep}" if account else ""
    ever = (datetime(2000, 1, 1, tzinfo=timezone.utc), datetime(2100, 1, 1, tzinfo=timezone.utc))
    return sum(found.size for found in discover(SAMPLES / "trail", *ever).files if folder in found.path)


@pytest.fixture(scope="module")
def athena_rollup(athena_endpoint):
    service, url = athena_endpoint
    return run_in(service, url, athena_params(url)), list(service.calls)


def test_rollup_equals_the_local_engine(athena_rollup, local_rollup):
    rollup, calls = athena_rollup
    assert_same_rollup(rollup, local_rollup)
    stats = rollup.report.engine_stats
    assert stats["engine"] == "athena" and stats["bytes_scanned"] > 0
    billed = sum(max(query["bytes_scanned"], MINIMUM_BYTES) for query in stats["queries"].values())
    assert stats["estimated_cost_usd"] == round(billed * 5 / 1e12, 6)  # each query under Athena's 10 MB minimum
    assert calls[0] == "GetTableMetadata"
    assert stats["table_shape"] == "day partitions: timestamp; account partition: account; host header column"
    assert calls.count("StartQueryExecution") == len(ROLLUP_QUERIES) and calls.count("GetQueryResults") >= 17


def test_each_query_scans_the_window_s_files_once(athena_rollup):
    stats = athena_rollup[0].report.engine_stats
    assert {name: query["bytes_scanned"] for name, query in stats["queries"].items()} == \
        dict.fromkeys(ROLLUP_QUERIES, trail_bytes())
    assert not any(query["account_pruned"] for query in stats["queries"].values())


@pytest.mark.parametrize("account", ["111122223333", "222233334444", "333344445555"])
def test_selected_accounts_scan_less_and_keep_their_rollup(athena_endpoint, athena_rollup, account):
    """Other accounts' folders hold copies of the selected callers' calls: 222233334444's messages to
    a queue of 111122223333 (activity), 333344445555's roles assumed in 444455556666 (STS)."""
    service, url = athena_endpoint
    pruned = run_in(service, url, athena_params(url, accounts=account))
    expected = collect(validate({"accounts": account}))
    assert_same_rollup(pruned, expected)
    for name in ("signals", "throttled"):  # an empty table's column types differ between engines
        want = ordered(getattr(expected, name))
        pd.testing.assert_frame_equal(ordered(getattr(pruned, name)), want, check_dtype=len(want) > 0)
    assert len(pruned.sts_calls) and set(pruned.sts_calls.account_id) == {account}
    queries = pruned.report.engine_stats["queries"]
    assert {name: (query["bytes_scanned"], query["account_pruned"]) for name, query in queries.items()} == {
        name: (trail_bytes(account), True) if name in ACCOUNT_PRUNED else (trail_bytes(), False)
        for name in ROLLUP_QUERIES}
    assert 0 < pruned.report.engine_stats["bytes_scanned"] < athena_rollup[0].report.engine_stats["bytes_scanned"]


def test_result_cells_are_read_by_column_name(athena):
    service, url = athena
    sql = "SELECT eventid, NULL AS nothing, eventtime FROM cloudtrail.cloudtrail_logs ORDER BY eventid LIMIT 2"
    query_id, rows, _ = aws.run(AthenaRunner(athena_params(url)), sql)
    assert [list(row) for row in rows] == [["eventid", "nothing", "eventtime"]] * 2
    times, nothing, ids = aws.columns_of(rows, ("eventtime", "nothing", "eventid"), "athena", query_id)
    assert nothing == [None, None] and ids == sorted(ids) and all(time.startswith("20") for time in times)


def test_plan_csv_equals_the_samples_plan(athena, samples_plan, tmp_path, capsys):
    service, url = athena
    assert main(plan_argv("athena", url, tmp_path)) == 0, capsys.readouterr().err
    for name in ("plan.csv", "quota.csv"):
        assert (tmp_path / name).read_text() == (samples_plan / name).read_text()


def test_the_query_bounds_the_partitions_for_pruning(athena):
    service, url = athena
    runner = AthenaRunner(athena_params(url))
    _, rows, _ = aws.run(runner, 'SELECT count(*) AS n FROM "cloudtrail"."cloudtrail_logs" '
                                 "WHERE \"timestamp\" BETWEEN '2025/03/01' AND '2025/03/02'")
    assert 0 < int(rows[0]["n"]) < 1000


@pytest.mark.parametrize("faults, message", [
    (Faults(fail="SYNTAX_ERROR: line 1:8: Column 'x' cannot be resolved"), "Column 'x' cannot be resolved"),
    (Faults(timeout=True), "Query timeout"),
])
def test_failed_queries_raise_with_id_and_reason(athena, faults, message):
    service, url = athena
    service.faults = faults
    with pytest.raises(QueryError, match=message) as caught:
        collect(athena_params(url))
    assert caught.value.status == "FAILED" and caught.value.query_id in service.queries


def test_ctrl_c_stops_the_query_execution(athena, interrupt_polling):
    service, url = athena
    service.faults = Faults(hold=True)
    with pytest.raises(KeyboardInterrupt):
        collect(athena_params(url))
    assert service.calls == ["GetTableMetadata", "StartQueryExecution", "GetQueryExecution", "StopQueryExecution"]
    assert list(service.queries.values())[-1].state == "CANCELLED"


def test_access_denied_names_the_missing_permission(athena):
    service, url = athena
    service.faults = Faults(deny=frozenset({"GetQueryExecution"}))
    with pytest.raises(AccessDenied, match="grant athena:GetQueryExecution"):
        collect(athena_params(url))


def test_a_missing_result_location_is_refused_before_any_call(athena):
    service, url = athena
    with pytest.raises(ParameterError, match="output_location"):
        collect(athena_params(url, workgroup=None, output_location=None))
    with pytest.raises(ParameterError, match="s3://"):
        collect(athena_params(url, output_location="https://bucket/x"))
    assert service.calls == []


def test_request_shapes_match_the_service_model(aws_env):
    runner = AthenaRunner(athena_params(None))
    start = {"QueryString": "SELECT 1", "QueryExecutionContext": {"Database": "cloudtrail"}, "WorkGroup": "primary",
             "ResultConfiguration": {"OutputLocation": "s3://local-results/"}}
    header = {"Data": [{"VarCharValue": "a"}]}
    with Stubber(runner.client) as stub:
        stub.add_response("start_query_execution", {"QueryExecutionId": QID}, start)
        stub.add_response("get_query_execution", {"QueryExecution": {
            "Status": {"State": "SUCCEEDED"}, "Statistics": {"DataScannedInBytes": 7}}}, {"QueryExecutionId": QID})
        stub.add_response("get_query_results", {"ResultSet": {"Rows": [header, {"Data": [{"VarCharValue": "1"}]}]},
                                                "NextToken": "t"}, {"QueryExecutionId": QID, "MaxResults": 1000})
        stub.add_response("get_query_results", {"ResultSet": {"Rows": [{"Data": [{}]}]}},
                          {"QueryExecutionId": QID, "MaxResults": 1000, "NextToken": "t"})
        stub.add_response("stop_query_execution", {}, {"QueryExecutionId": QID})
        assert runner.start("SELECT 1") == QID
        assert runner.status(QID) == aws.Status("SUCCEEDED", "", 7)
        assert list(runner.pages(QID)) == [[{"a": "1"}], [{"a": None}]]
        runner.cancel(QID)
        stub.assert_no_pending_responses()
