"""A local Athena endpoint: StartQueryExecution, GetQueryExecution, GetQueryResults,
StopQueryExecution and GetTableMetadata over the trail files of one folder, held as the kit's
CloudTrail table and as the other table shapes users have (``tables.SHAPES``), and optionally over
Security Lake Parquet files held as Security Lake's CloudTrail table. ``DataScannedInBytes`` is
what Athena would read: per scan of a table, the files (compressed) of the partitions its
predicates select (``kit.localaws.scans``)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import duckdb

from kit.localaws.base import Faults, LocalService, Query, ServiceError, page
from kit.localaws.scans import ScanMeter
from kit.localaws.tables import (OCSF_PARTITION_KEYS, PARTITION_KEYS, derive_shapes, load, load_ocsf, ocsf_files,
                                 table_metadata, trail_files)

DATABASE = "cloudtrail"
TABLE = "cloudtrail_logs"
WORKGROUP = "primary"
CATALOG = "AwsDataCatalog"
SECURITY_LAKE_DATABASE = "amazon_security_lake_glue_db_us_east_1"
SECURITY_LAKE_TABLE = "amazon_security_lake_table_us_east_1_cloud_trail_mgmt_2_0"
"""Names Security Lake gives its Glue database and CloudTrail management events table (source version 2)."""


class AthenaService(LocalService):
    """Athena (2017-05-18) query execution operations on one CloudTrail table."""

    target_prefix = "AmazonAthena"
    service_name = "athena"
    action_prefix = "athena"
    finished = "SUCCEEDED"

    def __init__(self, data: Path, faults: Faults | None = None, database: str = DATABASE,
                 table: str = TABLE, ocsf: Path | None = None) -> None:
        connection = duckdb.connect()
        connection.execute("SET enable_progress_bar = false")
        connection.execute(f'CREATE SCHEMA "{database}"')
        self.database = database
        load(connection, data, f'"{database}"."{table}"', athena=True)
        self.metadata = {(database, table): PARTITION_KEYS[TABLE]}
        """(database, table) -> partition keys: what GetTableMetadata answers."""
        if table == TABLE:
            derive_shapes(connection, database, table)
            self.metadata.update({(database, name): keys for name, keys in PARTITION_KEYS.items()})
        self.meter = ScanMeter()
        self.meter.add_files("trail", trail_files(data))
        for name, keys in self.metadata.items():
            self.meter.serve(*name, "trail", keys)
        if ocsf is not None:
            connection.execute(f'CREATE SCHEMA "{SECURITY_LAKE_DATABASE}"')
            load_ocsf(connection, ocsf, f'"{SECURITY_LAKE_DATABASE}"."{SECURITY_LAKE_TABLE}"')
            self.metadata[(SECURITY_LAKE_DATABASE, SECURITY_LAKE_TABLE)] = OCSF_PARTITION_KEYS
            self.meter.add_files("ocsf", ocsf_files(ocsf))
            self.meter.serve(SECURITY_LAKE_DATABASE, SECURITY_LAKE_TABLE, "ocsf", OCSF_PARTITION_KEYS)
        self.meter.lock()
        self.tables = frozenset((name.lower(), table_name.lower()) for name, table_name in self.metadata)
        super().__init__(connection, faults)

    def operations(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
        return {"StartQueryExecution": self.start_query_execution, "GetQueryExecution": self.get_query_execution,
                "GetQueryResults": self.get_query_results, "StopQueryExecution": self.stop_query_execution,
                "GetTableMetadata": self.get_table_metadata}

    def submit(self, statement: str) -> Query:
        """Accept a query, with the bytes its scans will read."""
        query = super().submit(statement)
        query.scanned = self.meter.bytes_read(statement)
        return query

    def time_out(self, query: Query) -> None:
        """Athena has no TIMED_OUT state: the query fails with a timeout reason."""
        query.state, query.error = "FAILED", "Query exhausted resources at this scale factor / Query timeout"

    def start_query_execution(self, body: dict[str, Any]) -> dict[str, Any]:
        database = (body.get("QueryExecutionContext") or {}).get("Database")
        if database is not None and database not in {name for name, _ in self.metadata}:
            raise ServiceError("InvalidRequestException", f"Database {database} does not exist")
        if not (body.get("ResultConfiguration") or {}).get("OutputLocation") and body.get("WorkGroup") != WORKGROUP:
            raise ServiceError("InvalidRequestException", "No output location provided. An output location is "
                               "required either through the Workgroup result configuration setting or as an API input.")
        return {"QueryExecutionId": self.submit(str(body.get("QueryString") or "")).id}

    def get_query_execution(self, body: dict[str, Any]) -> dict[str, Any]:
        query = self.advance(self.query(body.get("QueryExecutionId")))
        status: dict[str, Any] = {"State": query.state, "SubmissionDateTime": query.created}
        if query.error:
            status["StateChangeReason"] = query.error
        scanned = query.scanned if query.state == self.finished else 0
        return {"QueryExecution": {
            "QueryExecutionId": query.id, "Query": query.statement, "StatementType": "DML", "Status": status,
            "Statistics": {"DataScannedInBytes": scanned, "EngineExecutionTimeInMillis": query.millis},
            "QueryExecutionContext": {"Database": self.database}}}

    def get_table_metadata(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("CatalogName") != CATALOG:
            raise ServiceError("MetadataException", f"Catalog {body.get('CatalogName')} was not found")
        key = (body.get("DatabaseName"), body.get("TableName"))
        if key not in self.metadata:
            raise ServiceError("MetadataException", f"Table {key[1]} not found in database {key[0]}")
        return {"TableMetadata": table_metadata(self.connection, *key, self.metadata[key])}

    def get_query_results(self, body: dict[str, Any]) -> dict[str, Any]:
        query = self.query(body.get("QueryExecutionId"))
        if query.state != self.finished:
            raise ServiceError("InvalidRequestException", f"Query has not yet finished. Current state: {query.state}")
        chunk, token = page([query.columns, *query.rows], body, "MaxResults", 1000)
        answer: dict[str, Any] = {"UpdateCount": 0, "ResultSet": {
            "Rows": [{"Data": [{} if value is None else {"VarCharValue": value} for value in row]} for row in chunk],
            "ResultSetMetadata": {"ColumnInfo": [{"Name": name, "Label": name, "Type": kind.lower()}
                                                 for name, kind in zip(query.columns, query.types)]}}}
        if token:
            answer["NextToken"] = token
        return answer

    def stop_query_execution(self, body: dict[str, Any]) -> dict[str, Any]:
        query = self.query(body.get("QueryExecutionId"))
        if query.state in ("QUEUED", "RUNNING"):
            self.cancel(query)
        return {}
