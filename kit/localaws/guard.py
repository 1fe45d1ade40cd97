"""What the local endpoints agree to run, in one place for every local service.

A statement runs only when it is one query (``SELECT`` or ``WITH ... SELECT``, set operations
allowed) whose tables are the service's trail tables or the query's own ``WITH`` names, and whose
functions are all in ``ALLOWED_FUNCTIONS`` (pure functions over values: no table functions, nothing
that reads files, settings or the environment). Everything else (``COPY``, ``ATTACH``, ``INSTALL``,
``LOAD``, ``PRAGMA``, ``SET``, a second statement, ``read_text``, ``read_csv``, ``glob``, system
tables...) is refused with ``Refused`` and a reason. Behind this check the DuckDB connection is
locked (``lock_down``): no external access, no extension loading, no spilling to disk, settings
frozen. A new local service (Logs Insights, Security Lake...) calls ``checked`` with its tables,
and adds to ``ALLOWED_FUNCTIONS`` only pure functions its queries need.
"""
from __future__ import annotations

from typing import Collection

import duckdb
import sqlglot
from sqlglot import exp

ALLOWED_FUNCTIONS = frozenset({
    # language forms sqlglot parses as functions
    "AND", "OR", "CASE", "CAST", "TRY_CAST", "TRY", "IF", "STRUCT", "COALESCE", "NULLIF", "GREATEST", "LEAST",
    # aggregates and windows
    "COUNT", "COUNT_IF", "SUM", "MIN", "MAX", "AVG", "APPROX_DISTINCT", "ARBITRARY", "ANY_VALUE",
    "ARRAY_AGG", "ROW_NUMBER", "RANK", "DENSE_RANK", "LAG", "LEAD", "FIRST_VALUE", "LAST_VALUE",
    # text
    "SUBSTRING", "LENGTH", "LOWER", "UPPER", "TRIM", "LTRIM", "RTRIM", "CONCAT", "REPLACE", "SPLIT",
    "SPLIT_PART", "STRPOS", "STR_POSITION", "STARTS_WITH", "REGEXP_EXTRACT", "REGEXP_LIKE", "REGEXP_REPLACE",
    "LPAD", "RPAD",
    # numbers
    "ABS", "ROUND", "FLOOR", "CEIL", "MOD",
    # times
    "TIME_TO_STR", "STR_TO_TIME", "DATE_TRUNC", "TIMESTAMP_TRUNC", "DATE_ADD", "DATE_DIFF", "TIMESTAMP_ADD",
    "TIMESTAMP_DIFF", "FROM_ISO8601_TIMESTAMP", "TO_UNIXTIME", "UNIX_TO_TIME", "CURRENT_TIMESTAMP", "EXTRACT",
    # JSON text and arrays held in the rows
    "JSON_EXTRACT", "JSON_EXTRACT_SCALAR", "JSON_FORMAT", "JSON_PARSE", "ELEMENT_AT", "CARDINALITY",
    "ARRAY_JOIN", "CONTAINS", "ARRAY_CONTAINS", "UNNEST",
})
"""Function names (as sqlglot spells them) a query may call."""
_TABLE_FUNCTION_HINT = "table functions and file, setting or environment functions are not run here"


class Refused(ValueError):
    """A statement the local endpoints do not run; the message says why."""


def checked(statement: str, tables: Collection[tuple[str, ...]], read: str = "trino") -> exp.Query:
    """The parsed query of ``statement`` when it may run over ``tables`` (name parts, lower case:
    ``("cloudtrail", "cloudtrail_logs")``); ``Refused`` otherwise, sqlglot's ``SqlglotError`` when it
    does not parse."""
    statements = [tree for tree in sqlglot.parse(statement, read=read) if tree is not None]
    if len(statements) != 1:
        raise Refused(f"{len(statements)} statements: send exactly one query")
    query = statements[0]
    if not isinstance(query, exp.Query):
        raise Refused(f"{query.key.upper()} statements are not run: only SELECT or WITH ... SELECT")
    named = {cte.alias_or_name.lower() for cte in query.find_all(exp.CTE)}
    for node in query.walk():
        if isinstance(node, exp.Table):
            _check_table(node, named, tables)
        elif isinstance(node, exp.Func):
            name = node.name.upper() if isinstance(node, exp.Anonymous) else node.sql_name()
            if name not in ALLOWED_FUNCTIONS:
                raise Refused(f"function {name.lower()}() is not allowed: {_TABLE_FUNCTION_HINT}")
        elif isinstance(node, (exp.Into, exp.Command, exp.DDL, exp.DML)):
            raise Refused(f"{node.key.upper()} is not run: only SELECT or WITH ... SELECT")
    return query


def _check_table(table: exp.Table, named: set[str], tables: Collection[tuple[str, ...]]) -> None:
    if not isinstance(table.this, exp.Identifier):
        raise Refused(f"{table.this.sql()!r} in FROM is not a table: {_TABLE_FUNCTION_HINT}")
    parts = tuple(part.name.lower() for part in table.parts)
    if parts in tables or (len(parts) == 1 and parts[0] in named):
        return
    known = ", ".join(".".join(name) for name in sorted(tables))
    raise Refused(f"table {'.'.join(parts)} is not queried here: only {known}")


def translated(statement: str, tables: Collection[tuple[str, ...]], read: str = "trino") -> str:
    """``statement`` as DuckDB SQL once ``checked``."""
    return checked(statement, tables, read).sql(dialect="duckdb")


def lock_down(connection: duckdb.DuckDBPyConnection) -> None:
    """After the tables are loaded: no file, network or extension access, no spilling, settings frozen."""
    for setting in ("SET autoinstall_known_extensions = false", "SET autoload_known_extensions = false",
                    "SET temp_directory = ''", "SET enable_external_access = false",
                    "SET lock_configuration = true"):
        connection.execute(setting)
