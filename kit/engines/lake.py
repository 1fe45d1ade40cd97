"""The CloudTrail Lake engine: the rollup queries run in the event data store; only the rollup
comes back. Calls: StartQuery, DescribeQuery, GetQueryResults, CancelQuery (docs/iam/lake-policy.json).
"""
from __future__ import annotations

from typing import Any, Iterator

from kit.engines.aws import Status, calling, client, run_queries
from kit.params import Params
from kit.queries import store_id
from kit.rollup import Rollup

PRICE_PER_GB = 0.005
"""USD per GB scanned assumed for Lake queries: UNCONFIRMED (sts-facts.md §3)."""
PAGE_SIZE = 1000
"""GetQueryResults MaxQueryResults: the service's maximum."""


class LakeRunner:
    """CloudTrail Lake calls for ``kit.engines.aws.run``."""

    engine = "lake"
    done = "FINISHED"

    def __init__(self, params: Params) -> None:
        self.source = str(store_id(params.event_data_store or ""))
        self.owner = {"EventDataStoreOwnerAccountId": params.owner_account_id} if params.owner_account_id else {}
        self.client = client(params, "cloudtrail")

    def start(self, sql: str) -> str:
        with calling("cloudtrail:StartQuery"):
            return self.client.start_query(QueryStatement=sql, **self.owner)["QueryId"]

    def status(self, query_id: str) -> Status:
        with calling("cloudtrail:DescribeQuery"):
            answer = self.client.describe_query(QueryId=query_id, **self.owner)
        scanned = answer.get("QueryStatistics", {}).get("BytesScanned", 0)
        return Status(answer["QueryStatus"], answer.get("ErrorMessage", ""), scanned)

    def pages(self, query_id: str) -> Iterator[list[dict[str, Any]]]:
        """Rows as {column: value}: each Lake cell is a one-entry map, and null cells are left out."""
        request: dict[str, Any] = {"QueryId": query_id, "MaxQueryResults": PAGE_SIZE, **self.owner}
        while True:
            with calling("cloudtrail:GetQueryResults"):
                answer = self.client.get_query_results(**request)
            yield [{name: value for cell in row for name, value in cell.items()}
                   for row in answer.get("QueryResultRows", [])]
            if not answer.get("NextToken"):
                return
            request["NextToken"] = answer["NextToken"]

    def cancel(self, query_id: str) -> None:
        with calling("cloudtrail:CancelQuery"):
            self.client.cancel_query(QueryId=query_id, **self.owner)


def collect(params: Params) -> Rollup:
    """The rollup of the event data store ``params.event_data_store`` over the window."""
    return run_queries(LakeRunner(params), params, PRICE_PER_GB / 1e9,
                       f"${PRICE_PER_GB}/GB scanned (UNCONFIRMED Lake price)")
