"""A local CloudTrail Lake endpoint: StartQuery, DescribeQuery, GetQueryResults, CancelQuery,
ListEventDataStores over the trail files of one folder, held as one event data store."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

import duckdb

from kit.localaws.base import Faults, LocalService, Query, ServiceError, page
from kit.localaws.tables import load

STORE_ID = "a1b2c3d4-5678-90ab-cdef-111122223333"
OWNER = "111122223333"
REGION = "us-east-1"
_FROM = re.compile(r"\bFROM\s+([A-Za-z0-9_-]+)", re.IGNORECASE)
_CTE = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s+AS\s*\(", re.IGNORECASE)


class LakeService(LocalService):
    """CloudTrail (2013-11-01) query operations on one event data store."""

    target_prefix = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101"
    service_name = "cloudtrail"
    action_prefix = "cloudtrail"
    finished = "FINISHED"
    invalid_request = "InvalidQueryStatementException"
    inactive_query = "InactiveQueryException"

    def __init__(self, data: Path, faults: Faults | None = None, store_id: str = STORE_ID) -> None:
        connection = duckdb.connect()
        self.store_id = store_id
        self.tables = frozenset({(store_id.lower(),)})
        self.arn = f"arn:aws:cloudtrail:{REGION}:{OWNER}:eventdatastore/{store_id}"
        self.scanned_bytes = load(connection, data, f'"{store_id}"', athena=False)
        """What every query reads: the events' JSON size (an event data store has no partitions)."""
        super().__init__(connection, faults)

    def operations(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
        return {"StartQuery": self.start_query, "DescribeQuery": self.describe_query,
                "GetQueryResults": self.get_query_results, "CancelQuery": self.cancel_query,
                "ListEventDataStores": self.list_event_data_stores}

    def translate(self, statement: str) -> str:
        """Resolve the event data store in FROM (Lake writes the id unquoted), then translate."""
        if not 1 <= len(statement) <= 10_000:
            raise ServiceError("InvalidQueryStatementException", "QueryStatement must be 1 to 10000 characters")
        ctes = {name.lower() for name in _CTE.findall(statement)}
        for target in set(_FROM.findall(statement)):
            if target.lower() in ctes:
                continue
            if target != self.store_id:
                raise ServiceError("EventDataStoreNotFoundException",
                                   f"The specified event data store {target} was not found.")
            statement = re.sub(rf"\bFROM\s+{re.escape(target)}\b", f'FROM "{target}"', statement)
        return super().translate(statement)

    def _owner(self, body: dict[str, Any]) -> None:
        owner = body.get("EventDataStoreOwnerAccountId")
        if owner not in (None, OWNER):
            raise ServiceError("EventDataStoreNotFoundException", f"No event data store owned by {owner}.")

    def start_query(self, body: dict[str, Any]) -> dict[str, Any]:
        self._owner(body)
        query = self.submit(str(body.get("QueryStatement") or ""))
        return {"QueryId": query.id, "EventDataStoreOwnerAccountId": OWNER}

    def _statistics(self, query: Query) -> dict[str, Any]:
        done = query.state == self.finished
        return {"EventsMatched": len(query.rows), "EventsScanned": 0, "CreationTime": query.created,
                "BytesScanned": self.scanned_bytes if done else 0, "ExecutionTimeInMillis": query.millis}

    def describe_query(self, body: dict[str, Any]) -> dict[str, Any]:
        query = self.advance(self.query(body.get("QueryId")))
        answer = {"QueryId": query.id, "QueryString": query.statement, "QueryStatus": query.state,
                  "QueryStatistics": self._statistics(query)}
        if query.error:
            answer["ErrorMessage"] = query.error
        return answer

    def get_query_results(self, body: dict[str, Any]) -> dict[str, Any]:
        self._owner(body)
        query = self.query(body.get("QueryId"))
        chunk, token = page(query.rows, body, "MaxQueryResults", 1000)
        rows = [[{name: value} for name, value in zip(query.columns, row) if value is not None] for row in chunk]
        answer = {"QueryStatus": query.state, "QueryResultRows": rows,
                  "QueryStatistics": {"ResultsCount": len(rows), "TotalResultsCount": len(query.rows),
                                      "BytesScanned": self._statistics(query)["BytesScanned"]}}
        if token:
            answer["NextToken"] = token
        if query.error:
            answer["ErrorMessage"] = query.error
        return answer

    def cancel_query(self, body: dict[str, Any]) -> dict[str, Any]:
        query = self.cancel(self.query(body.get("QueryId")))
        return {"QueryId": query.id, "QueryStatus": query.state, "EventDataStoreOwnerAccountId": OWNER}

    def list_event_data_stores(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"EventDataStores": [{"EventDataStoreArn": self.arn, "Name": "local-trail-events"}]}
