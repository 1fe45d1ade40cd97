"""The rollup SQL kept as data: headers, parsing, output columns, validated literals, limits."""
from __future__ import annotations

import re

import pytest
import sqlglot
from sqlglot import exp

from aws_endpoints import athena_params, lake_params
from kit.athena_ddl import ddl
from kit.cli import main
from kit.engines.aws import COLUMNS
from kit.params import validate
from kit.queries import (ACCOUNT_PRUNED, FOLDER, MAX_STATEMENT, ROLLUP_QUERIES, RenderError, Sql, account_pruned,
                         accounts_in, fill, identifier, render, render_all, store_id, string)
from kit.localaws.lake_server import STORE_ID
from kit.localaws.scans import ScanMeter
from kit.tableshape import TableShape

PARAMS = {"lake": lake_params(None, accounts="111122223333,222233334444"), "athena": athena_params(None)}


def parsed(sql: str) -> exp.Expression:
    """Trino parse of a rendered query (Lake's unquoted store id quoted first, as the service resolves it)."""
    return sqlglot.parse_one(sql.replace(f"FROM {STORE_ID}", f'FROM "{STORE_ID}"'), read="trino")


@pytest.mark.parametrize("path", sorted(FOLDER.glob("*.sql")), ids=lambda path: path.name)
def test_every_query_file_has_a_header(path):
    header = [line for line in path.read_text().splitlines() if line.startswith("--")]
    text = "\n".join(header)
    for field in ("-- name:", "-- engines:", "-- returns:", "-- parameters:"):
        assert field in text, f"{path.name} lacks {field}"


@pytest.mark.parametrize("source", ["lake", "athena"])
@pytest.mark.parametrize("name", ROLLUP_QUERIES)
def test_every_rollup_query_parses_and_returns_the_rollup_columns(source, name):
    tree = parsed(render(name, PARAMS[source]))
    assert tuple(tree.named_selects) == COLUMNS[name]


@pytest.mark.parametrize("source", ["lake", "athena"])
def test_queries_select_only_needed_columns_and_bound_the_window(source):
    for sql in render_all(PARAMS[source]).values():
        raw = parsed(sql).find(exp.CTE).this
        assert not list(raw.find_all(exp.Star)) and "eventjson" not in sql
        assert sql.count(f"FROM {'' if source == 'athena' else STORE_ID}") >= 1
        assert "event_time >= '2025-03-01T00:00:00Z' AND event_time < '2025-09-01T00:00:00Z'" in sql
        if source == "lake":
            assert "eventtime >= TIMESTAMP '2025-03-01 00:00:00' AND eventtime < TIMESTAMP '2025-09-01 00:00:00'" in sql
            assert "account IN ('111122223333', '222233334444')" in sql
        else:
            assert "WHERE eventtime <> ''" in sql and "try(from_iso8601_timestamp(replace(eventtime, ' ', 'T')" in sql
            assert "\"timestamp\" BETWEEN '2025/02/28' AND '2025/09/02'" in sql


def test_the_skip_query_uses_the_reason_strings_of_kit_events():
    from kit import events
    sql = render("skips", PARAMS["lake"])
    for name in ("SKIP_SERVICE", "SKIP_NO_HOST", "SKIP_TWIN", "SKIP_GLOBAL_SERVICE", "SKIP_NO_PRINCIPAL",
                 "SKIP_ACCOUNT", "SKIP_SERVICE_ACTIVITY", "SKIP_NO_SOURCE", "SKIP_DUPLICATE", "SKIP_BAD_TIME"):
        assert string(getattr(events, name)) in sql


def test_the_athena_ddl_parses_and_projects_partitions():
    text = ddl("cloudtrail", "cloudtrail_logs", "s3://my-trail/AWSLogs/o-a1b2c3d4e5/", ["111122223333"],
               ["us-east-1", "eu-west-1"])
    assert isinstance(sqlglot.parse_one(text, read="hive"), exp.Create)
    assert "'storage.location.template' = 's3://my-trail/AWSLogs/o-a1b2c3d4e5/${account}/CloudTrail/" in text
    with pytest.raises(RenderError, match="AWSLogs"):
        ddl("cloudtrail", "t", "s3://b/'; DROP TABLE x; --", ["111122223333"], ["us-east-1"])


@pytest.mark.parametrize("make, value", [
    (string, "x' OR '1'='1\\"), (string, "line\nbreak"), (string, ""), (string, 42),
    (identifier, "logs; DROP"), (identifier, '"quoted"'), (identifier, "1abc"),
    (store_id, "eds id"), (store_id, "x;y"), (store_id, "arn:aws:s3:::bucket/eventdatastore/abc"),
    (lambda value: accounts_in("account", value), ("1234",)),
    (lambda value: accounts_in("account", value), ("111122223333' OR 1=1 --",)),
])
def test_invalid_literals_are_refused(make, value):
    with pytest.raises(RenderError):
        make(value)


def test_fill_accepts_only_kit_made_sql_and_known_placeholders():
    with pytest.raises(RenderError, match="only SQL made by kit.queries"):
        fill("SELECT {x}", {"x": "1; DROP TABLE t"})
    with pytest.raises(RenderError, match="has no value"):
        fill("SELECT {y}", {"x": Sql("1")})
    assert fill("SELECT {x}, '${x}'", {"x": Sql("1")}) == "SELECT 1, '${x}'"


def test_the_10000_character_limit_is_enforced():
    accounts = ",".join(f"{n:012d}" for n in range(1, 400))
    with pytest.raises(RenderError, match="over CloudTrail Lake's limit of 10,000"):
        render_all(lake_params(None, accounts=accounts))
    assert all(len(sql) <= MAX_STATEMENT for sql in render_all(PARAMS["lake"]).values())


def test_samples_have_no_sql():
    with pytest.raises(RenderError, match="only lake, athena and security-lake"):
        render_all(validate({}))


def test_dry_run_prints_every_query_without_calling_aws(capsys, monkeypatch):
    monkeypatch.setattr("botocore.client.BaseClient._make_api_call", lambda *a, **k: pytest.fail("AWS called"))
    assert main(["plan", "--source", "lake", "--event-data-store", STORE_ID, "--start", "2025-07-01",
                 "--end", "2025-08-01", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert re.findall(r"^-- (\w+) \(lake", out, re.MULTILINE) == list(ROLLUP_QUERIES)
    assert out.count(f"FROM {STORE_ID}") == len(ROLLUP_QUERIES)


def test_the_verification_query_checks_given_principals_after_the_window():
    from kit.verify import verification_step

    params = validate({"source": "lake", "event_data_store": "a1b2c3d4-5678-90ab-cdef-111122223333",
                       "start": "2025-03-01", "end": "2025-09-01"})
    sql = verification_step("111122223333", ["arn:aws:iam::111122223333:role/payments-api"], params)
    assert "'arn:aws:iam::111122223333:role/payments-api'" in sql and "2025-09-08" in sql
    sqlglot.parse_one(sql.replace("FROM a1b2c3d4-5678-90ab-cdef-111122223333", 'FROM "eds"'), read="trino")
    with pytest.raises(RenderError, match="not an IAM user, role or root ARN"):
        verification_step("111122223333", ["arn:aws:iam::111122223333:role/x') OR (1=1"], params)


def test_instance_credentials_are_named_after_the_verification_query():
    from kit.verify import verification_step

    params = validate({"source": "athena", "database": "trail", "table": "cloudtrail_logs",
                       "output_location": "s3://results/", "start": "2025-03-01", "end": "2025-09-01"})
    instance = "arn:aws:sts::222233334444:assumed-role/aws:ec2-instance/i-0a1b2c3d4e5f60718"
    step = verification_step("222233334444", [instance, "arn:aws:iam::222233334444:role/report-lambda"], params)
    assert "'arn:aws:iam::222233334444:role/report-lambda'" in step and f"'{instance}'" not in step
    assert step.endswith(instance) and "instance credentials" in step
    only = verification_step("222233334444", [instance], params)
    assert only.startswith("-- instance credentials") and "SELECT" not in only
    with pytest.raises(RenderError, match="not an IAM user, role or root ARN"):
        verification_step("222233334444", [instance + "') OR (1=1"], params)


PRUNED = "\n    AND \"account\" IN ('111122223333', '222233334444')"
"""The account restriction of the kit's table for --accounts 111122223333,222233334444."""


@pytest.mark.parametrize("name", ROLLUP_QUERIES)
def test_selected_accounts_prune_the_account_partition_of_the_queries_that_allow_it(name):
    selected = athena_params(None, accounts="111122223333,222233334444")
    tables = parsed(render(name, selected)).find_all(exp.Table)
    scan = next(table for table in tables if table.name == "cloudtrail_logs")
    store = scan.find_ancestor(exp.Select).args["where"].sql("trino")
    assert (PRUNED in render(name, selected)) == (name in ACCOUNT_PRUNED) == account_pruned(name, selected)
    assert ("\"account\" IN ('111122223333', '222233334444')" in store) == (name in ACCOUNT_PRUNED)
    assert "\"account\" IN" not in render(name, athena_params(None))  # no selection
    assert "\"account\" IN" not in render(name, selected, TableShape())  # no account partition
    assert "\"account\" IN" not in render(name, PARAMS["lake"])  # an event data store has no partitions
    lake = validate({"source": "security-lake", "database": "db", "table": "t", "accounts": "111122223333",
                     "start": "2025-03-01", "end": "2025-09-01"})
    assert ("AND \"accountid\" IN ('111122223333')" in render(name, lake)) == (name in ACCOUNT_PRUNED)


@pytest.mark.parametrize("source", ["lake", "athena", "security-lake"])
def test_every_rollup_query_scans_the_store_once(source):
    """Counted as Trino runs a query: a CTE is computed again wherever it is named."""
    params = {"lake": PARAMS["lake"], "athena": athena_params(None, accounts="111122223333"),
              "security-lake": validate({"source": "security-lake", "database": "db", "table": "t",
                                         "start": "2025-03-01", "end": "2025-09-01"})}[source]
    meter = ScanMeter()
    meter.add_files("one", [{"account": "111122223333", "timestamp": "2025/05/01", "eventday": "20250501",
                             "accountid": "111122223333", "bytes": 1}])
    for name, keys in ((("cloudtrail", "cloudtrail_logs"), ("account", "timestamp")),
                       (("db", "t"), ("accountid", "eventday")), ((STORE_ID.lower(),), ())):
        meter.tables[name] = ("one", keys)
    assert {name: meter.bytes_read(parsed(sql).sql("trino")) for name, sql in render_all(params).items()} == \
        dict.fromkeys(ROLLUP_QUERIES, 1)
    twice = ("WITH a AS (SELECT eventid FROM cloudtrail.cloudtrail_logs), b AS (SELECT * FROM a) "
             "SELECT * FROM a JOIN b USING (eventid) JOIN b AS c USING (eventid)")
    assert meter.bytes_read(twice) == 3
