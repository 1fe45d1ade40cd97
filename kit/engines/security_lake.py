"""The Security Lake engine: CloudTrail management events as OCSF API Activity (kit.ocsf).

With ``--path``, the rollup queries run in DuckDB over the Parquet files of a folder in Security
Lake's layout (``aws/CLOUD_TRAIL_MGMT/2.0/region=/accountId=/eventDay=``), translated from the
same Trino SQL the AWS engines send. With ``--database``/``--table``, they run in Athena over the
Security Lake table (calls and permissions as the Athena engine, docs/iam/athena-policy.json).
Both read the OCSF rows through ``security_lake_events.sql``, so the judging rules are shared.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

import duckdb
import sqlglot
from sqlglot.errors import ParseError

from kit.engines.athena import AthenaRunner, check_result_location, run_athena
from kit.engines.aws import Status, run_queries
from kit.errors import ParameterError, QueryError
from kit.ocsf import LAKE_PREFIX
from kit.params import Params
from kit.queries import LOCAL_OCSF
from kit.rollup import Rollup
from kit.trailfiles import DELIVERY_LAG


class SecurityLakeAthenaRunner(AthenaRunner):
    """Athena calls on the Security Lake table."""

    engine = "security-lake"


def in_window(path: Path, start: datetime, end: datetime) -> bool:
    """Whether a Parquet file may hold events of [start, end): its ``eventDay=`` folder is within a
    day of the window (files outside that layout are always read)."""
    day = next((part.split("=", 1)[1] for part in path.parts if part.lower().startswith("eventday=")), "")
    if not (len(day) >= 8 and day[:8].isdigit()):
        return True
    return f"{start - DELIVERY_LAG:%Y%m%d}" <= day[:8] <= f"{end + DELIVERY_LAG:%Y%m%d}"


class ParquetRunner:
    """The rollup queries in DuckDB over local Parquet files, with the ``Runner`` calls of
    ``kit.engines.aws`` (a query runs at ``start``; there is nothing to poll or cancel)."""

    engine = "security-lake"
    done = "SUCCEEDED"

    def __init__(self, folder: Path, start: datetime, end: datetime) -> None:
        self.source = str(folder)
        root = folder / LAKE_PREFIX.parent if (folder / LAKE_PREFIX.parent).is_dir() else folder
        every = sorted(root.rglob("*.parquet"))
        if not every:
            raise ParameterError("path", f"{folder} holds no .parquet files: give the folder of Security Lake's "
                                         "CloudTrail management events (aws/CLOUD_TRAIL_MGMT/...)")
        files = [str(path) for path in every if in_window(path, start, end)]
        self.scanned = sum(Path(name).stat().st_size for name in files)
        self.connection = duckdb.connect()
        self.connection.execute("SET enable_progress_bar = false")
        self.connection.execute(f'CREATE SCHEMA "{LOCAL_OCSF[0]}"')
        try:
            # the window's files are read once into memory; the rollup queries then run on that table
            self.connection.sql("SELECT * FROM read_parquet(?, hive_partitioning = true, hive_types_autocast = false, "
                                "union_by_name = true)", params=[files or [str(every[0])]]).create_view("files")
            self.connection.execute(f'CREATE TABLE "{LOCAL_OCSF[0]}"."{LOCAL_OCSF[1]}" AS SELECT * FROM files'
                                    + ("" if files else " LIMIT 0"))
        except duckdb.Error as error:
            raise ParameterError("path", f"cannot read the Parquet files under {folder}: "
                                         f"{str(error).splitlines()[0]}") from None
        self.results: dict[str, list[dict[str, str | None]]] = {}
        self.started = 0

    def start(self, sql: str) -> str:
        self.started += 1
        query_id = f"local-{self.started}"
        try:
            statement = sqlglot.transpile(sql, read="trino", write="duckdb")[0]
            cursor = self.connection.execute(statement)
            names = [column[0] for column in cursor.description]
            rows = cursor.fetchall()
        except (ParseError, duckdb.Error) as error:
            raise QueryError(self.engine, query_id, "FAILED", str(error).splitlines()[0]) from None
        self.results[query_id] = [{name: None if value is None else str(value) for name, value in zip(names, row)}
                                  for row in rows]
        return query_id

    def status(self, query_id: str) -> Status:
        """Done; the files' bytes are counted once, on the first query (they are read once)."""
        return Status(self.done, "", self.scanned if query_id == "local-1" else 0)

    def pages(self, query_id: str) -> Iterator[list[dict[str, Any]]]:
        """Rows as {column: value}, like the AWS runners'."""
        yield self.results.pop(query_id)

    def cancel(self, query_id: str) -> None:
        self.connection.interrupt()


def collect(params: Params) -> Rollup:
    """The rollup of the Security Lake events of the window: local Parquet (``params.path``) or
    the Athena table ``params.database``.``params.table``."""
    if params.path is not None:
        if not params.path.is_dir():
            raise ParameterError("path", f"{params.path} is not a folder of Security Lake Parquet files")
        return run_queries(ParquetRunner(params.path, params.start, params.end), params, 0.0, "local files: no charge")
    check_result_location(params)
    runner = SecurityLakeAthenaRunner(params)
    return run_athena(runner, params, runner.table_shape(params, ocsf=True))
