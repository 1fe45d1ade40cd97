"""The Logs Insights engine against the local CloudWatch Logs endpoint (real boto3, JSON 1.1 wire protocol)."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterator

import boto3
import pandas as pd
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

import kit.engines.logs_insights as li
from aws_endpoints import (SAMPLES, WINDOW, assert_same_rollup, dummy_aws, lake_endpoint,  # noqa: F401
                           lake_params, local_rollup,
                           ordered, samples_plan, serve)
from builders import activity, role_session, sts, user, write_trail
from kit.cli import main
from kit.engines import collect
from kit.engines.aws import AccessDenied, AwsError
from kit.errors import KitError, ParameterError, QueryError
from kit.localaws.base import Faults
from kit.localaws.logs_server import LOG_GROUP, LogsService, shape_pattern
from kit.params import SAMPLES_DIR, validate
from kit.queries import RenderError
from kit.queries.cwl import FOLDER, QUERIES, Scope, fixed_values, millis, render, template

CAP = 100
"""A row cap small enough that the samples need many slices."""


@pytest.fixture(scope="session")
def logs_endpoint() -> Iterator[tuple[LogsService, str]]:
    yield from serve(LogsService(SAMPLES / "trail"))


@pytest.fixture
def logs(logs_endpoint, monkeypatch) -> Iterator[tuple[LogsService, str]]:
    """The samples endpoint with fresh faults and call log, dummy credentials, no pauses."""
    dummy_aws(monkeypatch)
    monkeypatch.setattr(li, "sleep", lambda seconds: None)
    monkeypatch.setattr("botocore.endpoint.time.sleep", lambda seconds: None)
    service, url = logs_endpoint
    service.faults, service.calls[:], service.peak_running = Faults(), [], 0
    yield service, url
    service.faults, service.max_running = Faults(), 30


def logs_params(url: str | None, **extra):
    return validate({"source": "logs-insights", "log_group": LOG_GROUP, "aws_region": "us-east-1",
                     "endpoint_url": url, **WINDOW, **extra})


def tiles(service: LogsService, shape: str) -> list[tuple[int, int]]:
    """The [start, end) of the completed queries of ``shape`` that were not cut again."""
    done = [query for query in service.queries.values()
            if query.shape == shape and query.status == "Complete" and len(query.rows) < li.ROW_CAP]
    return sorted((query.values["start"], query.values["end"]) for query in done)


def assert_same_signals(got, expected) -> None:
    for name in ("signals", "throttled"):
        pd.testing.assert_frame_equal(ordered(getattr(got, name)), ordered(getattr(expected, name)))


def test_the_rollup_equals_the_local_engine(logs, local_rollup):
    service, url = logs
    rollup = collect(logs_params(url))
    assert_same_rollup(rollup, local_rollup)
    assert_same_signals(rollup, local_rollup)
    written = json.loads((SAMPLES_DIR / "manifest.json").read_text())["events_written"]
    assert rollup.report.events_read == len(service.events) == written
    stats = rollup.report.engine_stats
    total = sum(event.size for event in service.events)
    # an overflowing slice is cut in four; then one issued_keys query per chunk of used keys
    assert stats["queries"] == len(QUERIES) + stats["key_queries"] + 4 * stats["slices_overflowed"]
    assert stats["key_queries"] >= 1 and stats["keys_looked_up"] > 0
    assert stats["bytes_scanned"] >= len(QUERIES) * total > 0
    assert stats["estimated_cost_usd"] > 0 and "UNCONFIRMED" in stats["price_assumed"]
    assert "StopQuery" not in service.calls


def test_a_small_row_cap_needs_many_slices_and_loses_no_row(logs, local_rollup, monkeypatch):
    service, url = logs
    monkeypatch.setattr(li, "ROW_CAP", CAP)
    service.queries.clear()
    rollup = collect(logs_params(url))
    assert_same_rollup(rollup, local_rollup)
    assert_same_signals(rollup, local_rollup)
    assert rollup.report.engine_stats["slices_overflowed"] > 20
    start, end = li.epoch_millis(logs_params(url).start), li.epoch_millis(logs_params(url).end)
    assert len(tiles(service, "sts_events")) > 10 and len(tiles(service, "activity_events")) > 10
    for shape in QUERIES:
        slices = tiles(service, shape)
        assert slices[0][0] == start and slices[-1][1] == end
        assert all(left[1] == right[0] for left, right in zip(slices, slices[1:])), "gap or overlap"


def trail(folder: Path, records: list) -> Path:
    write_trail(folder / "trail.json", records)
    return folder


def endpoint_over(folder: Path) -> Iterator[tuple[LogsService, str]]:
    return serve(LogsService(folder))


@pytest.fixture
def quiet_aws(monkeypatch):
    dummy_aws(monkeypatch)
    monkeypatch.setattr(li, "sleep", lambda seconds: None)


def built_params(folder: Path, url: str | None, source: str = "logs-insights"):
    window = {"start": "2025-06-01T00:00:00Z", "end": "2025-06-01T00:00:08Z"}
    if source == "local":
        return validate({"source": "local", "path": str(folder), "cache": False, "quiet": True, **window})
    return validate({"source": "logs-insights", "log_group": LOG_GROUP, "aws_region": "us-east-1",
                     "endpoint_url": url, **window})


def test_events_on_every_slice_boundary_are_counted_once(tmp_path, quiet_aws, monkeypatch):
    caller = role_session("111122223333", "app")
    records = [sts(caller, f"2025-06-01T00:00:0{second}Z", agent=f"agent-{second}-{n}")
               for second in range(8) for n in range(2)]
    folder = trail(tmp_path, records)
    monkeypatch.setattr(li, "ROW_CAP", 3)
    for service, url in endpoint_over(folder):
        rollup = collect(built_params(folder, url))
        assert tiles(service, "sts_events") == [(1748736000000 + 1000 * n, 1748736000000 + 1000 * (n + 1))
                                                for n in range(8)]
    expected = collect(built_params(folder, None, "local"))
    assert int(rollup.sts_calls.calls.sum()) == 16
    assert ordered(rollup.seconds).equals(ordered(expected.seconds))
    assert ordered(rollup.sts_calls).equals(ordered(expected.sts_calls))


def test_a_second_over_the_cap_is_cut_by_account(tmp_path, quiet_aws, monkeypatch):
    accounts = [f"{n:012d}" for n in range(111111111111, 111111111116)]
    records = [sts(user(account, f"u{n}"), "2025-06-01T00:00:03Z", agent=f"a{n}")
               for account in accounts for n in range(2)]
    records.append({**sts(user(accounts[0], "nobody"), "2025-06-01T00:00:03Z"), "recipientAccountId": None})
    records.append(activity(user(accounts[1], "reader"), "2025-06-01T00:00:05Z", "eu-west-1"))
    folder = trail(tmp_path, records)
    monkeypatch.setattr(li, "ROW_CAP", 3)
    for service, url in endpoint_over(folder):
        rollup = collect(built_params(folder, url))
        shapes = [query.shape for query in service.queries.values()]
        scoped = [query.values for query in service.queries.values() if query.values["accounts"] is not None]
    assert shapes.count("accounts") == 1 and scoped
    assert any(values["unnamed"] for values in scoped)
    expected = collect(built_params(folder, None, "local"))
    for name in ("sts_calls", "activity", "seconds"):
        assert ordered(getattr(rollup, name)).equals(ordered(getattr(expected, name))), name
    assert int(rollup.sts_calls.calls.sum()) == 11


def test_account_ids_that_are_not_12_digits_in_a_full_second_are_kept_and_reported(tmp_path, quiet_aws, monkeypatch):
    odd = ["12345", "ACCOUNT-X\" or 1=1"]  # short, letters and a quote: neither can be named in a query
    records = [sts(user("111122223333", f"u{n}"), "2025-06-01T00:00:03Z", agent=f"a{n}") for n in range(2)]
    records += [sts(user("111122223333", f"odd{n}"), "2025-06-01T00:00:03Z", recipient=account)
                for n, account in enumerate(odd)]
    folder = trail(tmp_path, records)
    monkeypatch.setattr(li, "ROW_CAP", 3)
    for service, url in endpoint_over(folder):
        rollup = collect(built_params(folder, url))
        scoped = [query.values for query in service.queries.values() if query.values["accounts"] is not None]
    assert any(values["other"] and not values["accounts"] for values in scoped)
    expected = collect(built_params(folder, None, "local"))
    for name in ("sts_calls", "activity", "seconds"):
        assert ordered(getattr(rollup, name)).equals(ordered(getattr(expected, name))), name
    assert int(rollup.sts_calls.calls.sum()) == 4
    assert any("not a 12-digit account id" in note for note in rollup.report.notes)


def test_the_scope_of_other_account_ids_renders_and_the_endpoint_reads_it():
    text = render("sts_events", 1_000, 2_000, Scope(("111122223333",), unnamed=True, other=True))
    assert 'recipientAccountId in ["111122223333"] or not ispresent(recipientAccountId) or (ispresent(' in text
    assert "not like /^[0-9]{12}$/" in text


def test_one_account_over_the_cap_in_one_second_is_reported(tmp_path, quiet_aws, monkeypatch):
    records = [sts(user("111122223333", "u"), "2025-06-01T00:00:03Z", agent=f"a{n}") for n in range(5)]
    folder = trail(tmp_path, records)
    monkeypatch.setattr(li, "ROW_CAP", 3)
    for service, url in endpoint_over(folder):
        with pytest.raises(KitError, match="one second .* of one account \\(111122223333\\)"):
            collect(built_params(folder, url))


def test_a_duplicate_delivery_counts_once_and_is_reported(tmp_path, quiet_aws):
    call = sts(role_session("111122223333", "app"), "2025-06-01T00:00:01Z")
    other = sts(role_session("111122223333", "app"), "2025-06-01T00:00:01Z")
    folder = trail(tmp_path, [call, dict(call), dict(call), other])
    for service, url in endpoint_over(folder):
        rollup = collect(built_params(folder, url))
    assert int(rollup.sts_calls.calls.sum()) == 2 and int(rollup.seconds.calls.sum()) == 2
    assert rollup.report.skipped == {li.SKIP_DUPLICATE: 2}
    assert rollup.report.events_read == 4


def test_at_most_max_queries_run_at_once(logs, local_rollup, monkeypatch):
    service, url = logs
    monkeypatch.setattr(li, "ROW_CAP", CAP)
    rollup = collect(logs_params(url, max_queries=3))
    assert_same_rollup(rollup, local_rollup)
    assert service.peak_running == 3 == rollup.report.engine_stats["max_in_flight"]


def test_the_concurrent_query_quota_is_waited_for(logs, local_rollup, monkeypatch):
    service, url = logs
    monkeypatch.setattr(li, "ROW_CAP", CAP)
    service.max_running = 2
    rollup = collect(logs_params(url, max_queries=6))
    assert_same_rollup(rollup, local_rollup)
    assert service.peak_running == 2
    assert service.calls.count("StartQuery") > rollup.report.engine_stats["queries"]


def test_throttling_is_retried_until_it_succeeds(logs, local_rollup):
    service, url = logs
    service.faults = Faults(throttle=3)
    assert_same_rollup(collect(logs_params(url)), local_rollup)
    assert service.calls[:4] == ["StartQuery"] * 4


def test_throttling_that_never_ends_is_reported(logs, monkeypatch):
    service, url = logs
    service.faults = Faults(throttle=10_000)
    with pytest.raises(AwsError, match="kept refusing StartQuery"):
        collect(logs_params(url))
    assert set(service.calls) == {"StartQuery"}


@pytest.mark.parametrize("faults, status", [(Faults(fail="bad"), "Failed"), (Faults(timeout=True), "Timeout")])
def test_a_failed_query_raises_with_its_id_and_stops_the_others(logs, faults, status):
    service, url = logs
    service.faults = faults
    with pytest.raises(QueryError) as caught:
        collect(logs_params(url))
    error = caught.value
    assert (error.engine, error.status) == ("logs-insights", status)
    assert error.query_id in service.queries and error.query_id in str(error)
    assert service.calls.count("StopQuery") == len(QUERIES) - 1


def test_ctrl_c_stops_the_running_queries(logs, monkeypatch):
    service, url = logs
    service.faults = Faults(hold=True)

    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(li, "sleep", interrupt)
    service.queries.clear()
    with pytest.raises(KeyboardInterrupt):
        collect(logs_params(url))
    assert service.calls == ["StartQuery"] * len(QUERIES) + ["StopQuery"] * len(QUERIES)
    assert [query.status for query in service.queries.values()] == ["Cancelled"] * len(QUERIES)


def test_access_denied_names_the_missing_permission(logs):
    service, url = logs
    service.faults = Faults(deny=frozenset({"GetQueryResults"}))
    with pytest.raises(AccessDenied, match="grant logs:GetQueryResults") as caught:
        collect(logs_params(url))
    assert caught.value.permission == "logs:GetQueryResults"


def test_an_unknown_log_group_is_reported(logs):
    _, url = logs
    with pytest.raises(AwsError, match="ResourceNotFoundException"):
        collect(logs_params(url, log_group="aws-cloudtrail-logs-elsewhere"))


@pytest.mark.parametrize("query", [
    "fields @message | limit 5",
    "filter toMillis(@timestamp) >= 0 and toMillis(@timestamp) < 1000\n| stats count(*) as events by userAgent\n",
    render("sts_events", 0, 1000).replace('"sts.amazonaws.com"', '"s3.amazonaws.com"'),
    render("sts_events", 0, 1000, Scope(("111122223333",))).replace("111122223333", "1111' or '1"),
])
def test_the_endpoint_runs_only_the_kits_query_shapes(logs, query):
    _, url = logs
    client = boto3.client("logs", endpoint_url=url, region_name="us-east-1")
    with pytest.raises(ClientError, match="MalformedQueryException"):
        client.start_query(logGroupNames=[LOG_GROUP], startTime=0, endTime=1, queryString=query)


def test_a_query_is_scheduled_then_running_then_complete(logs):
    service, url = logs
    client = boto3.client("logs", endpoint_url=url, region_name="us-east-1")
    query_id = client.start_query(logGroupNames=[LOG_GROUP], startTime=1751328000, endTime=1751414400,
                                  queryString=render("accounts", 1751328000000, 1751414400000))["queryId"]
    answers = [client.get_query_results(queryId=query_id) for _ in range(3)]
    assert [answer["status"] for answer in answers] == ["Running", "Complete", "Complete"]
    rows = answers[-1]["results"]
    assert rows and {cell["field"] for cell in rows[0]} == {"recipientAccountId", "events"}
    assert answers[-1]["statistics"]["bytesScanned"] > 0
    assert client.stop_query(queryId=query_id)["success"] is False


QID = "0123abcd-0000-1111-2222-333344445555"


def test_request_shapes_match_the_service_model(quiet_aws):
    insights = li.Insights(logs_params(None, log_group="group-a,group-b"))
    item = li.Slice("sts_events", 1_000, 2_500)
    with Stubber(insights.client) as stub:
        stub.add_response("start_query", {"queryId": QID},
                          {"logGroupNames": ["group-a", "group-b"], "startTime": 1, "endTime": 3,
                           "queryString": item.text(), "limit": li.ROW_CAP})
        stub.add_response("get_query_results", {"status": "Running", "results": []},
                          {"queryId": QID, "maxItems": li.PAGE_SIZE})
        stub.add_response("get_query_results", {"status": "Complete", "nextToken": "t1",
                                                "results": [[{"field": "a", "value": "1"}]],
                                                "statistics": {"bytesScanned": 5.0}},
                          {"queryId": QID, "maxItems": li.PAGE_SIZE})
        stub.add_response("get_query_results", {"status": "Complete", "results": [[{"field": "a", "value": "2"}]],
                                                "statistics": {"bytesScanned": 7.0}},
                          {"queryId": QID, "maxItems": li.PAGE_SIZE, "nextToken": "t1"})
        stub.add_response("stop_query", {"success": True}, {"queryId": QID})
        assert insights.start(item) == QID
        assert insights.result(QID).status == "Running"
        assert insights.result(QID) == li.Result("Complete", [{"a": "1"}, {"a": "2"}], 7)
        insights.stop(QID)
        stub.assert_no_pending_responses()


def test_plan_csv_equals_the_samples_plan_even_in_many_slices(logs, samples_plan, tmp_path, monkeypatch, capsys):
    _, url = logs
    argv = ["plan", "--source", "logs-insights", "--log-group", LOG_GROUP, "--endpoint-url", url,
            "--aws-region", "us-east-1", "--start", WINDOW["start"], "--end", WINDOW["end"],
            "--ip-ranges", str(SAMPLES / "ip-ranges.json"), "--policies", str(SAMPLES / "policies")]
    for cap in (li.ROW_CAP, CAP):
        monkeypatch.setattr(li, "ROW_CAP", cap)
        out = tmp_path / str(cap)
        assert main([*argv, "--out", str(out)]) == 0, capsys.readouterr().err
        for name in ("plan.csv", "quota.csv"):
            assert (out / name).read_text() == (samples_plan / name).read_text(), (cap, name)
        assert '"bytes_scanned"' in (out / "summary.json").read_text()


def test_dry_run_prints_the_queries_without_a_call(tmp_path, capsys):
    argv = ["plan", "--source", "logs-insights", "--log-group", LOG_GROUP, "--log-group", "second,third",
            "--start", WINDOW["start"], "--end", WINDOW["end"], "--endpoint-url", "http://127.0.0.1:9", "--dry-run"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert re.findall(r"^# (\w+) \(Logs Insights QL", printed, re.MULTILINE) == list(QUERIES)
    assert f"log groups {LOG_GROUP}, second, third; time range 2025-03-01T00:00:00Z" in printed
    assert "toMillis(@timestamp) >= 1740787200000" in printed and "| stats count(*) as events" in printed
    assert ";" not in printed.replace("; log groups", "").replace("; time range", "")  # no SQL terminator
    for query in printed.split("\n\n"):  # each block is a query the local endpoint (as the console) accepts
        body = "\n".join(line for line in query.splitlines() if not line.startswith("#")).strip()
        if body:
            assert any(shape_pattern(name).fullmatch(body + "\n") for name in QUERIES)


@pytest.mark.parametrize("values, message", [
    ({"log_group": None}, "log_group.*required for source 'logs-insights'"),
    ({"log_group": "bad group name!"}, "not a CloudWatch Logs log group name"),
    ({"log_group": ",".join(f"g{n}" for n in range(51))}, "at most 50"),
    ({"start": None}, "start.*required"),
    ({"max_queries": 0}, "max_queries"),
])
def test_bad_parameters_are_refused(values, message):
    with pytest.raises(ParameterError, match=message):
        logs_params(None, **values)


def test_log_groups_are_comma_separated_or_a_list():
    assert logs_params(None, log_group="a, /aws/b#1,a").log_group == ("a", "/aws/b#1")
    assert logs_params(None, log_group=["x", "y,z"]).log_group == ("x", "y", "z")


def test_the_query_files_follow_the_conventions():
    for path in sorted(FOLDER.glob("*.cwl")):
        header = [line for line in path.read_text().splitlines() if line.startswith("#")]
        assert header[0] == f"# name: {path.stem}"
        assert any(line.startswith("# returns:") for line in header)
        assert any(line.startswith("# parameters:") for line in header)
        body = template(path.stem)
        assert set(re.findall(r"\{([a-z_]+)\}", body)) <= {"start_ms", "end_ms", "sts_source", "scope", "account",
                                                             "principals", "keys", *fixed_values()}
        assert "#" not in body


@pytest.mark.parametrize("make", [
    lambda: millis(-1), lambda: millis(1.5), lambda: render("sts_events", 5, 5),
    lambda: render("sts_events", 0, 1000, Scope(("11112222333x",))),
    lambda: render("sts_events", 0, 1000, Scope(())),
    lambda: render("sts_events", 0, 1000, Scope(tuple(f"{n:012d}" for n in range(1, 700)))),
    lambda: render("../athena_table", 0, 1000),
])
def test_unsafe_or_unusable_values_never_reach_a_query(make):
    with pytest.raises(RenderError):
        make()


def run_text(url: str, text: str, start_ms: int, end_ms: int) -> list[dict[str, str]]:
    """One query string through boto3 against the local endpoint, polled until it is complete."""
    insights = li.Insights(logs_params(url))
    query_id = insights.client.start_query(logGroupNames=[LOG_GROUP], startTime=start_ms // 1000,
                                           endTime=end_ms // 1000, queryString=text)["queryId"]
    result = insights.result(query_id)
    while result.status in ("Scheduled", "Running"):
        result = insights.result(query_id)
    assert result.status == "Complete"
    return result.rows


def test_the_verification_query_finds_global_callers_and_no_fixed_ones(logs, local_rollup):
    from kit.queries.cwl import epoch_millis, render_verification
    from kit.verify import verification_step

    _, url = logs
    calls = local_rollup.sts_calls.groupby(["account_id", "principal_arn", "endpoint"]).calls.sum().unstack(fill_value=0)
    global_only = calls[(calls["global"] > 0) & (calls["regional"] == 0)].index[0]
    regional_only = calls[(calls["global"] == 0) & (calls["regional"] > 0)]
    regional = regional_only.loc[global_only[0]].index[0] if global_only[0] in regional_only.index else None
    account, caller = global_only
    params = logs_params(url, accounts=account)
    principals = [caller] + ([regional] if regional else [])
    rows = run_text(url, render_verification(params, principals), epoch_millis(params.start), epoch_millis(params.end))
    assert [row["principal"] for row in rows] == [caller]
    assert int(rows[0]["global_calls"]) >= calls.loc[global_only, "global"] > 0
    assert rows[0]["last_call"] < WINDOW["end"]
    step = verification_step(account, principals, params)
    assert step.startswith("# CloudWatch Logs Insights") and ";" not in step and "filter toMillis(@timestamp)" in step
    with pytest.raises(RenderError, match="not an IAM user, role or root ARN"):
        render_verification(params, [caller + '"] or 1=1'])


def test_notebook_one_shows_the_rendered_queries_of_every_query_engine(tmp_path):
    from kit.notebook import query_text

    text = query_text(logs_params(None))
    assert text.startswith("# sts_events\nfilter toMillis(@timestamp)") and "# activity_events\n" in text
    ocsf = query_text(validate({"source": "security-lake", "path": str(tmp_path), **WINDOW}))
    assert ocsf.startswith("-- sts_calls\n") and "element_at(unmapped" in ocsf and "Engine: trail files" not in ocsf


def test_events_left_out_of_every_group_are_reported(tmp_path, quiet_aws, monkeypatch):
    import kit.localaws.logs_server as server

    grouped = server.run_stats

    def dropping(rows, text):  # a service whose `stats ... by` leaves out events missing a grouping field
        keys = [key.strip() for key in text.split(" by ", 1)[1].split(",")]
        return grouped([row for row in rows if all(key in row for key in keys)], text)

    records = [sts(role_session("111122223333", "app"), "2025-06-01T00:00:01Z"),
               {**sts(role_session("111122223333", "app"), "2025-06-01T00:00:02Z"), "errorCode": "AccessDenied"}]
    folder = trail(tmp_path, records)
    for _, url in endpoint_over(folder):
        assert collect(built_params(folder, url)).report.engine_stats["events_not_grouped"] == 0
        monkeypatch.setattr(server, "run_stats", dropping)
        rollup = collect(built_params(folder, url))
    assert rollup.report.engine_stats["events_not_grouped"] >= 1
    assert any("in no result row" in note for note in rollup.report.notes)


def test_fields_lost_by_a_pipeline_are_counted_as_on_the_sql_engines(tmp_path, quiet_aws):
    caller, service = role_session("111122223333", "app"), role_session("111122223333", "svc")
    service["invokedBy"] = "lambda.amazonaws.com"  # AWS acting for you: not a caller, not counted
    lost = sts(caller, "2025-06-01T00:00:01Z", None, endpoint_type="global")  # no host header
    del lost["additionalEventData"]["RequestDetails"]["awsServingRegion"]
    records = [lost, {**lost, "eventID": "00000000-0000-0000-0000-00000000aaaa", "eventTime": "2025-06-01T00:00:02Z"},
               sts(caller, "2025-06-01T00:00:03Z", endpoint_type="global", serving="eu-west-1"),
               sts(service, "2025-06-01T00:00:04Z", None),
               sts(caller, "2025-04-01T00:00:00Z", None, endpoint_type="regional")]  # before the rollout
    folder = trail(tmp_path, records)
    params = {"start": "2025-03-01T00:00:00Z", "end": "2025-06-01T00:00:08Z"}
    for _, url in endpoint_over(folder):
        report = collect(validate({**built_params(folder, url).to_dict(), **params})).report
    assert report.field_gaps == {"awsServingRegion": 2, "tlsDetails.clientProvidedHostHeader": 2}
    assert any("of 3 STS calls since 2025-04-15" in note for note in report.notes)


def test_the_samples_field_gaps_equal_the_lake_engines(logs, lake_endpoint):
    _, url = logs
    expected = collect(lake_params(lake_endpoint[1])).report
    report = collect(logs_params(url)).report
    assert report.field_gaps == expected.field_gaps
    assert [note for note in report.notes if note.startswith("fields lost")] == \
        [note for note in expected.notes if note.startswith("fields lost")]
