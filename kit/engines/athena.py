"""The Athena engine: the rollup queries run on the CloudTrail table over the trail's S3 logs;
only the rollup comes back. Calls: GetTableMetadata (the table's shape, first), StartQueryExecution,
GetQueryExecution, GetQueryResults, StopQueryExecution (docs/iam/athena-policy.json).
"""
from __future__ import annotations

from typing import Any, Iterator

from kit.engines.aws import Status, calling, client, run_queries
from kit.errors import ParameterError
from kit.params import Params
from kit.rollup import Rollup
from kit.tableshape import TableShape, shape_of

PRICE_PER_TB = 5.0
"""USD per TB scanned assumed for Athena: UNCONFIRMED (sts-facts.md §4)."""
MINIMUM_BYTES = 10 * 1024 * 1024
"""Athena bills at least 10 MB per query (UNCONFIRMED)."""
PAGE_SIZE = 1000
CATALOG = "AwsDataCatalog"
"""The Glue Data Catalog as Athena names it: where CloudTrail and Security Lake tables live."""


class AthenaRunner:
    """Athena calls for ``kit.engines.aws.run``."""

    engine = "athena"
    done = "SUCCEEDED"

    def __init__(self, params: Params) -> None:
        self.source = f"{params.database}.{params.table}"
        self.request: dict[str, Any] = {"QueryExecutionContext": {"Database": params.database}}
        if params.workgroup:
            self.request["WorkGroup"] = params.workgroup
        if params.output_location:
            self.request["ResultConfiguration"] = {"OutputLocation": params.output_location}
        self.client = client(params, "athena")

    def start(self, sql: str) -> str:
        with calling("athena:StartQueryExecution"):
            return self.client.start_query_execution(QueryString=sql, **self.request)["QueryExecutionId"]

    def status(self, query_id: str) -> Status:
        with calling("athena:GetQueryExecution"):
            execution = self.client.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        status = execution["Status"]
        scanned = execution.get("Statistics", {}).get("DataScannedInBytes", 0)
        return Status(status["State"], status.get("StateChangeReason", ""), scanned)

    def pages(self, query_id: str) -> Iterator[list[dict[str, Any]]]:
        """Rows as {column: value}, named by the result's column metadata (else its header row)."""
        request: dict[str, Any] = {"QueryExecutionId": query_id, "MaxResults": PAGE_SIZE}
        names: list[str] = []
        while True:
            with calling("athena:GetQueryResults"):
                answer = self.client.get_query_results(**request)
            rows = [[cell.get("VarCharValue") for cell in row["Data"]] for row in answer["ResultSet"]["Rows"]]
            if not names:
                columns = answer["ResultSet"].get("ResultSetMetadata", {}).get("ColumnInfo", [])
                names = [column["Name"] for column in columns] or [str(name) for name in rows[0]]
                rows = rows[1:]  # the first row of the first page is the header
            yield [dict(zip(names, row)) for row in rows]
            if not answer.get("NextToken"):
                return
            request["NextToken"] = answer["NextToken"]

    def cancel(self, query_id: str) -> None:
        with calling("athena:StopQueryExecution"):
            self.client.stop_query_execution(QueryExecutionId=query_id)

    def table_shape(self, params: Params, ocsf: bool = False) -> TableShape:
        """The shape of the table to read, from its columns and partition keys (GetTableMetadata)."""
        with calling("athena:GetTableMetadata"):
            metadata = self.client.get_table_metadata(CatalogName=CATALOG, DatabaseName=params.database,
                                                      TableName=params.table)["TableMetadata"]
        return shape_of(self.source, metadata.get("Columns", []), metadata.get("PartitionKeys", []), ocsf)


def check_result_location(params: Params) -> None:
    """Athena needs an s3:// location for query results, given or set by the workgroup."""
    if not params.output_location and not params.workgroup:
        raise ParameterError("output_location", f"{params.source} needs an s3:// location for query results, "
                                                "or a --workgroup that sets one")
    if params.output_location and not params.output_location.startswith("s3://"):
        raise ParameterError("output_location", f"{params.output_location!r} is not an s3:// URI")


def run_athena(runner: AthenaRunner, params: Params, shape: TableShape) -> Rollup:
    """The rollup queries through ``runner`` over a table of ``shape``, with Athena's price."""
    rollup = run_queries(runner, params, PRICE_PER_TB / 1e12,
                         f"${PRICE_PER_TB}/TB scanned, 10 MB minimum per query (UNCONFIRMED Athena price)",
                         MINIMUM_BYTES, shape)
    rollup.report.engine_stats["table_shape"] = shape.describe()
    return rollup


def collect(params: Params) -> Rollup:
    """The rollup of the Athena table ``params.database``.``params.table`` over the window, read
    as its columns and partitions allow."""
    check_result_location(params)
    runner = AthenaRunner(params)
    return run_athena(runner, params, runner.table_shape(params))
