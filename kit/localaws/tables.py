"""Trail files loaded into DuckDB, shaped as CloudTrail Lake and Athena hold the events.

Lake: ``useridentity``/``tlsdetails`` structs, ``requestparameters``/``responseelements``/
``additionaleventdata`` as MAP(VARCHAR, VARCHAR) whose nested objects are JSON text, ``eventtime`` a
TIMESTAMP. Athena (the standard CloudTrail table): the same structs, those three columns as JSON strings,
``eventtime`` a string, plus the partition columns ``account``, ``region`` and ``timestamp``.
Records a service would not ingest (not an object, no eventTime; for Lake also a time that
names no instant) are left out. A field of an unexpected type (``tlsDetails`` a string,
``awsRegion`` a list, ``accountId`` an object...) is stored as NULL, as ``kit.events`` reads it;
Lake's ``eventtime`` holds the time normalized to UTC, Athena's the text of the trail file.
"""
from __future__ import annotations

import re
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import duckdb
import orjson

from kit.events import utc_text
from kit.trailfiles import InvalidTrailFile, delivery_date, discover, read_records

_ISSUER = "STRUCT(type VARCHAR, principalid VARCHAR, arn VARCHAR, accountid VARCHAR, username VARCHAR)"
_IDENTITY = ("STRUCT(type VARCHAR, principalid VARCHAR, arn VARCHAR, accountid VARCHAR, accesskeyid VARCHAR, "
             "username VARCHAR, invokedby VARCHAR, identityprovider VARCHAR, "
             f"sessioncontext STRUCT(sessionissuer {_ISSUER}))")
_TLS = "STRUCT(tlsversion VARCHAR, ciphersuite VARCHAR, clientprovidedhostheader VARCHAR)"
_FLAT = ("eventversion", "eventsource", "eventname", "awsregion", "sourceipaddress", "useragent", "errorcode",
         "errormessage", "requestid", "eventid", "eventtype", "recipientaccountid", "sharedeventid")
_ALL_TIME = (datetime(1970, 1, 1, tzinfo=timezone.utc), datetime(2100, 1, 1, tzinfo=timezone.utc))
_FOLDER = re.compile(r"[/\\](\d{12})[/\\]CloudTrail[/\\]([a-z0-9-]+)[/\\]")


_IDENTITY_FIELDS = ("type", "principalid", "arn", "accountid", "accesskeyid", "username", "invokedby",
                    "identityprovider")
_ISSUER_FIELDS = ("type", "principalid", "arn", "accountid", "username")
_TLS_FIELDS = ("tlsversion", "ciphersuite", "clientprovidedhostheader")
_NESTED = ("requestParameters", "responseElements", "additionalEventData")
"""Objects held as MAP(VARCHAR, VARCHAR) in Lake and as JSON text in Athena."""


def _struct(value: Any, fields: tuple[str, ...]) -> dict[str, Any] | None:
    """An object as a struct of string ``fields`` (keys matched without case; other types NULL)."""
    if not isinstance(value, dict):
        return None
    lowered = {key.lower(): item for key, item in value.items() if isinstance(key, str)}
    return {name: lowered.get(name) if isinstance(lowered.get(name), str) else None for name in fields}


def _identity(value: Any) -> dict[str, Any] | None:
    """``userIdentity`` as the table's struct."""
    identity = _struct(value, _IDENTITY_FIELDS)
    if identity is not None:
        context = next((item for key, item in value.items() if key.lower() == "sessioncontext"), None)
        issuer = next((item for key, item in context.items() if key.lower() == "sessionissuer"), None) \
            if isinstance(context, dict) else None
        identity["sessioncontext"] = {"sessionissuer": _struct(issuer, _ISSUER_FIELDS)} \
            if isinstance(context, dict) else None
    return identity


def _text_map(value: Any) -> dict[str, str] | None:
    """A JSON object as map<string,string>: nested objects and lists become JSON text, as in Lake;
    other values (numbers, true, null) are left out."""
    if not isinstance(value, dict):
        return None
    return {key: item if isinstance(item, str) else orjson.dumps(item).decode() for key, item in value.items()
            if isinstance(item, (str, dict, list))}


def _records(root: Path, lake: bool) -> Iterator[tuple[str, dict[str, Any], str]]:
    """(path, record, eventtime) for every event with an eventTime in the readable trail files under
    ``root``; for Lake only those whose time parses, normalized to UTC."""
    for trail_file in discover(root, *_ALL_TIME).files:
        try:
            records = read_records(trail_file.path)
        except (InvalidTrailFile, OSError):
            continue
        for record in records:
            time = record.get("eventTime") if isinstance(record, dict) else None
            if isinstance(time, str) and time:
                time = utc_text(time) if lake else time
                if time is not None:
                    yield trail_file.path, record, time


def _row(path: str, record: dict[str, Any], time: str, json_columns: bool) -> dict[str, Any]:
    row: dict[str, Any] = {name: None for name in _FLAT}
    for key, value in record.items():
        if key.lower() in row and isinstance(value, str):
            row[key.lower()] = value
    row["eventtime"] = time
    row["useridentity"] = _identity(record.get("userIdentity"))
    row["tlsdetails"] = _struct(record.get("tlsDetails"), _TLS_FIELDS)
    for key in _NESTED:
        value = record.get(key)
        if json_columns:
            row[key.lower()] = orjson.dumps(value).decode() if isinstance(value, dict) else None
        else:
            row[key.lower()] = _text_map(value)
    if json_columns:
        day = delivery_date(path)
        folder = _FOLDER.search(path)
        row["timestamp"] = f"{day:%Y/%m/%d}" if day else None
        row["account"], row["region"] = (folder[1], folder[2]) if folder else (None, None)
    return row


def load(connection: duckdb.DuckDBPyConnection, root: Path, table: str, athena: bool) -> int:
    """Create ``table`` (may be ``schema.table``) from the trail files under ``root``; its JSON size in bytes."""
    columns = {name: "VARCHAR" for name in _FLAT}
    columns.update(eventtime="VARCHAR" if athena else "TIMESTAMP", useridentity=_IDENTITY, tlsdetails=_TLS)
    nested = "VARCHAR" if athena else "MAP(VARCHAR, VARCHAR)"
    columns.update({key.lower(): nested for key in _NESTED})
    if athena:
        columns.update(account="VARCHAR", region="VARCHAR", timestamp="VARCHAR")
    size = 0
    with tempfile.NamedTemporaryFile(suffix=".ndjson") as handle:
        for path, record, time in _records(root, lake=not athena):
            line = orjson.dumps(_row(path, record, time, athena)) + b"\n"
            size += len(line)
            handle.write(line)
        handle.flush()
        spec = "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in columns.items()) + "}"
        connection.execute(f"CREATE TABLE {table} AS SELECT * FROM read_json(?, format='newline_delimited', "
                           f"columns={spec}, timestampformat='%Y-%m-%dT%H:%M:%SZ')", [handle.name])
    return size



def trail_files(root: Path) -> list[dict[str, Any]]:
    """Every trail file under ``root`` as the Athena table's partitions see it: account, region and
    ``timestamp`` (yyyy/MM/dd) from its S3-layout folder (NULL outside that layout), that day as year,
    month and day (the Knowledge Center's table), and its size on disk (compressed) in ``bytes``."""
    rows = []
    for trail_file in discover(root, *_ALL_TIME).files:
        folder, day = _FOLDER.search(trail_file.path), delivery_date(trail_file.path)
        stamp = f"{day:%Y/%m/%d}" if day else None
        year, month, dd = stamp.split("/") if stamp else (None, None, None)
        rows.append({"account": folder[1] if folder else None, "region": folder[2] if folder else None,
                     "timestamp": stamp, "year": year, "month": month, "day": dd, "bytes": trail_file.size})
    return rows


SHAPES = {
    "cloudtrail_logs_projection": ("account, region", ""),
    "cloudtrail_logs_kc": ("tlsdetails, \"timestamp\"", ", split_part(\"timestamp\", '/', 1) AS year, "
                           "split_part(\"timestamp\", '/', 2) AS month, split_part(\"timestamp\", '/', 3) AS day"),
    "cloudtrail_logs_flat": ("account, region, \"timestamp\"", ""),
}
"""The other CloudTrail table shapes in use, made from the kit's table: (columns dropped, columns added).
_projection: the Athena User Guide's single-Region partition-projection table ("Creating the table for
CloudTrail logs in Athena using partition projection"; partition ``timestamp`` only, here over every
account and Region of the samples). _kc: the Knowledge Center "athena-cloudtrail-data-timeout" table
(partitions account, region, year, month, day; no ``tlsdetails`` column). _flat: no partitions."""
PARTITION_KEYS = {"cloudtrail_logs": ("account", "region", "timestamp"), "cloudtrail_logs_projection": ("timestamp",),
                  "cloudtrail_logs_kc": ("account", "region", "year", "month", "day"), "cloudtrail_logs_flat": ()}
OCSF_PARTITION_KEYS = ("region", "accountid", "eventday")


def derive_shapes(connection: duckdb.DuckDBPyConnection, schema: str, source: str) -> None:
    """Create every table of ``SHAPES`` in ``schema`` from the kit's table ``source``."""
    for name, (dropped, added) in SHAPES.items():
        connection.execute(f'CREATE TABLE "{schema}"."{name}" AS SELECT * EXCLUDE ({dropped}){added} '
                           f'FROM "{schema}"."{source}"')


def load_ocsf(connection: duckdb.DuckDBPyConnection, folder: Path, table: str) -> None:
    """Create ``table`` from Security Lake Parquet files under ``folder`` (partition folders become
    the lower-case columns region, accountid, eventday, as in Security Lake's Glue tables)."""
    files = sorted(str(path) for path in Path(folder).rglob("*.parquet"))
    connection.sql("SELECT * FROM read_parquet(?, hive_partitioning = true, hive_types_autocast = false, "
                   "union_by_name = true)", params=[files]).create_view("ocsf_files")
    connection.execute(f"CREATE TABLE {table} AS SELECT * EXCLUDE (region, accountId, eventDay), region, "
                       "accountId AS accountid, eventDay AS eventday FROM ocsf_files")
    connection.execute("DROP VIEW ocsf_files")


def ocsf_files(folder: Path) -> list[dict[str, Any]]:
    """Every Parquet file under ``folder`` with the partitions of Security Lake's table (region,
    accountid, eventday from its ``key=value`` folders; NULL when absent) and its size in ``bytes``."""
    rows = []
    for path in sorted(Path(folder).rglob("*.parquet")):
        values = dict(part.split("=", 1) for part in path.parent.parts if "=" in part)
        values = {key.lower(): value for key, value in values.items()}
        rows.append({key: values.get(key) for key in OCSF_PARTITION_KEYS} | {"bytes": path.stat().st_size})
    return rows


def hive_type(kind: Any) -> str:
    """A DuckDB column type as Athena (Hive DDL) names it: string, bigint, struct<a:string>, map<string,string>."""
    if kind.id == "struct":
        return "struct<" + ",".join(f"{name}:{hive_type(child)}" for name, child in kind.children) + ">"
    if kind.id == "map":
        return "map<" + ",".join(hive_type(child) for _, child in kind.children) + ">"
    if kind.id == "list":
        return f"array<{hive_type(kind.children[0][1])}>"
    return {"varchar": "string", "integer": "int"}.get(kind.id, kind.id)


def table_metadata(connection: duckdb.DuckDBPyConnection, schema: str, table: str,
                   partition_keys: tuple[str, ...]) -> dict[str, Any]:
    """Athena's ``TableMetadata`` of a table: its columns and partition keys with Hive types."""
    relation = connection.table(f'"{schema}"."{table}"')
    typed = [{"Name": name, "Type": hive_type(kind)} for name, kind in zip(relation.columns, relation.types)]
    return {"Name": table, "TableType": "EXTERNAL_TABLE",
            "Columns": [column for column in typed if column["Name"] not in partition_keys],
            "PartitionKeys": [column for column in typed if column["Name"] in partition_keys],
            "Parameters": {"classification": "parquet" if "eventday" in partition_keys else "cloudtrail"}}
