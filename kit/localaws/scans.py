"""The bytes a query reads on the local Athena endpoint, as Athena counts them: every scan of a served
table reads the files of the partitions its partition predicates select (all of them without such
predicates). Trino inlines a ``WITH`` query wherever it is named, so a scan inside a CTE is counted
once per reference to that CTE (through the CTEs that name it), and an unnamed CTE reads nothing.

A scan's partition predicates are the conjuncts of the WHERE of the SELECT that reads the table (and
of the SELECT around it, when the table is read in a subquery in FROM whose columns carry the partition
keys through, as ``security_lake_events.sql`` does) that name only the table's partition keys. They
are evaluated in DuckDB over one row per file (its partition values and its size on disk), on a
connection of its own that holds nothing else.
"""
from __future__ import annotations

from typing import Any

import duckdb
import sqlglot
from sqlglot import exp

from kit.localaws import guard


class ScanMeter:
    """Files per served table, and the bytes each query's scans of them read."""

    def __init__(self) -> None:
        self.connection = duckdb.connect()
        self.tables: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {}
        """(schema, table) in lower case -> (its files table here, its partition keys)."""

    def add_files(self, name: str, rows: list[dict[str, Any]]) -> None:
        """Create the files table ``name``: one row per file, its partition values (text) and ``bytes``."""
        columns = [column for column in rows[0] if column != "bytes"] if rows else []
        spec = ", ".join([*(f'"{column}" VARCHAR' for column in columns), "bytes BIGINT"])
        self.connection.execute(f'CREATE TABLE "{name}" ({spec})')
        names = [*columns, "bytes"]
        if rows:
            self.connection.executemany(f'INSERT INTO "{name}" VALUES ({", ".join("?" * len(names))})',
                                        [[row.get(column) for column in names] for row in rows])

    def serve(self, schema: str, table: str, files: str, keys: tuple[str, ...]) -> None:
        """Count the scans of ``schema.table``, whose partitions ``keys`` are columns of ``files``."""
        self.tables[(schema.lower(), table.lower())] = (files, tuple(key.lower() for key in keys))

    def lock(self) -> None:
        """No file, network or extension access once the files tables are made."""
        guard.lock_down(self.connection)

    def bytes_read(self, statement: str) -> int:
        """The bytes every scan of a served table in ``statement`` (Trino SQL, already checked) reads."""
        tree = sqlglot.parse_one(statement, read="trino")
        ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
        reads: dict[str | None, list[exp.Table]] = {}
        for table in tree.find_all(exp.Table):
            owner = table.find_ancestor(exp.CTE)
            reads.setdefault(owner.alias_or_name.lower() if owner else None, []).append(table)
        return self._read(None, reads, ctes, {})

    def _read(self, owner: str | None, reads: dict[str | None, list[exp.Table]], ctes: set[str],
              done: dict[str | None, int]) -> int:
        """The bytes the query (``owner`` None) or one CTE reads once, with the CTEs it names."""
        if owner not in done:
            done[owner] = 0  # a CTE that names itself reads nothing more
            total = 0
            for table in reads.get(owner, []):
                parts = tuple(part.name.lower() for part in table.parts)
                if len(parts) == 1 and parts[0] in ctes:
                    total += self._read(parts[0], reads, ctes, done)
                elif parts in self.tables:
                    files, keys = self.tables[parts]
                    total += self._bytes(files, predicates(table, keys))
            done[owner] = total
        return done[owner]

    def _bytes(self, files: str, conditions: list[str]) -> int:
        where = " AND ".join(f"({condition})" for condition in conditions) or "TRUE"
        try:
            return int(self.connection.execute(f'SELECT coalesce(sum(bytes), 0) FROM "{files}" WHERE {where}')
                       .fetchone()[0])
        except duckdb.Error:  # a predicate DuckDB cannot evaluate on the partition values prunes nothing
            return int(self.connection.execute(f'SELECT coalesce(sum(bytes), 0) FROM "{files}"').fetchone()[0])


def predicates(table: exp.Table, keys: tuple[str, ...]) -> list[str]:
    """The partition predicates of one scan of ``table`` (DuckDB SQL over unqualified key columns)."""
    select = table.find_ancestor(exp.Select)
    if select is None:
        return []
    found = _conjuncts(select, set(keys))
    around = select.parent
    if isinstance(around, exp.Subquery) and isinstance(around.parent, (exp.From, exp.Join)):
        carried = {column.name.lower() for column in select.expressions
                   if isinstance(column, exp.Column) and column.name.lower() in keys}
        outer = around.find_ancestor(exp.Select)
        found += _conjuncts(outer, carried) if outer is not None else []
    return found


def _conjuncts(select: exp.Select, keys: set[str]) -> list[str]:
    """The conjuncts of ``select``'s WHERE that name only columns in ``keys``."""
    where = select.args.get("where")
    if where is None or not keys:
        return []
    condition = where.this
    parts = list(condition.flatten()) if isinstance(condition, exp.And) else [condition]
    return [_unqualified(part).sql(dialect="duckdb") for part in parts if _only(part, keys)]


def _only(condition: exp.Expression, keys: set[str]) -> bool:
    columns = list(condition.find_all(exp.Column))
    return bool(columns) and all(column.name.lower() in keys for column in columns) \
        and condition.find(exp.Query) is None


def _unqualified(condition: exp.Expression) -> exp.Expression:
    return condition.copy().transform(
        lambda node: exp.column(node.name.lower(), quoted=True) if isinstance(node, exp.Column) else node)
