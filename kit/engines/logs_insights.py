"""The CloudWatch Logs Insights engine: CloudTrail delivered to a log group, grouped and
deduplicated inside Logs Insights, judged here by ``kit.events``.

Calls: StartQuery, GetQueryResults, StopQuery (docs/iam/logs-insights-policy.json).

Why the Logs Insights query language (CWLI), not its OpenSearch SQL or PPL (measured against the
CloudWatch Logs documentation and botocore's service model, 2026):

* nested JSON: all three read flattened paths (``tlsDetails.clientProvidedHostHeader``,
  ``additionalEventData.RequestDetails.endpointType``); no difference;
* result size: a CWLI query returns up to 100,000 rows in pages of 10,000 (``nextToken``, StartQuery
  ``limit``); SQL and PPL stop at 10,000 rows with no paging, so they need more slices;
* duplicates (R1): CWLI runs ``stats`` twice in one query, so the first ``stats ... by eventID``
  makes one row per event and the second counts them exactly; ``count_distinct`` is approximate on
  high cardinality, and ``dedup`` allows only ``limit`` after it;
* judging: CWLI has no conditional expression (no CASE/if) to compute the kit's verdicts, and the
  cross-account twin rule needs a set of sharedEventIDs; SQL has CASE but its result cap and
  missing paging make a one-query rollup overflow sooner, and the rules would be written a fourth
  time. So each query returns, per slice, one row per distinct *shape* of event (every field
  ``kit.events`` reads, eventID-deduplicated inside the query with the counts), and this module
  feeds those rows to ``kit.events.Aggregator``: the judging rules are the local engine's own code,
  so the plan is the same by construction, and only the grouped shapes leave AWS.

Slices: a query over [start, end) that returns the row cap (``ROW_CAP``) may have lost rows, so its
slice is cut into ``SPLIT_PARTS`` half-open slices on whole seconds and re-run; a one-second slice
that still overflows is cut by recipient account (listed with the ``accounts`` query). Every log
event's ``@timestamp`` falls in exactly one slice (``toMillis(@timestamp) >= start and < end``), and
the deduplication stays inside one slice because copies of an event share its time and account.
Account ids that are not 12 digits cannot be named in a query; their events are read together by
a pattern (``Scope.other``) and a note says so.
At most ``params.max_queries`` queries run at once; StartQuery refused for throttling or the
concurrent-query quota (``LimitExceededException``) is retried with backoff.

Checks that need no trust in undocumented behaviour: each query's ``recordsMatched`` is compared
with the log events its rows stand for (``events_not_grouped``: a ``stats ... by`` that left out
events missing a grouping field would show there), and the callers' post-rollout STS calls that
lack endpointType, awsServingRegion or the host header are counted as ``field_gaps.sql`` counts
them on the SQL engines (kit.fieldgaps).
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterator

from botocore.exceptions import ClientError

from kit.engines.aws import POLL_FIRST, POLL_MAX, AwsError, calling, client
from kit.engines.local import to_rollup
from kit.errors import KitError, QueryError
from kit import fieldgaps
from kit.events import SKIP_DUPLICATE, SKIP_NO_HOST, STS_SOURCE, Aggregator, utc_text
from kit.params import ACCOUNT_ID, Params
from kit.queries.cwl import EVERY_EVENT, QUERIES, Scope, epoch_millis, render
from kit.rollup import ReadReport, Rollup

ENGINE = "logs-insights"
PRICE_PER_GB = 0.005
"""USD per GB scanned by Logs Insights queries: UNCONFIRMED (https://aws.amazon.com/cloudwatch/pricing/,
"Logs Insights" row, us-east-1; sts-facts.md §4 quotes it from a third party)."""
ROW_CAP = 10_000
"""Rows asked of one query (StartQuery ``limit``); a result this long is treated as cut off."""
LISTING_CAP = 100_000
"""Rows asked of the ``accounts`` listing: the most a Logs Insights QL query returns (in pages)."""
PAGE_SIZE = 10_000
"""GetQueryResults ``maxItems``: the service's largest page."""
SPLIT_PARTS = 4
"""An overflowing slice is re-run as this many shorter slices."""
MIN_SLICE_MS = 1_000
"""The shortest slice: CloudTrail event times are whole seconds."""
BUSY_CODES = ("ThrottlingException", "LimitExceededException")
MAX_BUSY_ROUNDS = 30
"""Consecutive rounds in which no query of ours ran and none could be started, before giving up."""
ACTIVITY_IP = {1: "service.amazonaws.com", 2: "AWS Internal", 3: "AWS Internal"}
"""What the activity query's ``ip_kind`` stands for, as a sourceIPAddress kit.events can judge."""
sleep = time.sleep
"""The pause between polling rounds (tests replace it)."""


@dataclass(frozen=True)
class Slice:
    """One query over [start_ms, end_ms) of ``scope``; ``parent`` is the query an ``accounts``
    listing is run for."""

    query: str
    start_ms: int
    end_ms: int
    scope: Scope = EVERY_EVENT
    parent: str = ""

    def text(self) -> str:
        return render(self.query, self.start_ms, self.end_ms, self.scope)

    @property
    def cap(self) -> int:
        """Rows asked of the query; a result this long may have been cut off."""
        return LISTING_CAP if self.query == "accounts" else ROW_CAP


@dataclass
class Result:
    """What GetQueryResults said of one query: status, rows (field -> value), bytes scanned and
    log events matched (None when the service did not say)."""

    status: str
    rows: list[dict[str, str]] = field(default_factory=list)
    scanned: int = 0
    matched: int | None = None


class Insights:
    """The CloudWatch Logs calls of this engine."""

    def __init__(self, params: Params) -> None:
        self.groups = list(params.log_group)
        self.client = client(params, "logs")

    def start(self, item: Slice) -> str | None:
        """Start ``item``'s query; None when the service is busy (throttled or at its quota)."""
        with calling("logs:StartQuery"):
            try:
                return self.client.start_query(
                    logGroupNames=self.groups, startTime=item.start_ms // 1000, endTime=-(-item.end_ms // 1000),
                    queryString=item.text(), limit=item.cap)["queryId"]
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") in BUSY_CODES:
                    return None
                raise

    def result(self, query_id: str) -> Result:
        """The query's status, and every row once it is Complete."""
        request: dict[str, Any] = {"queryId": query_id, "maxItems": PAGE_SIZE}
        rows: list[dict[str, str]] = []
        while True:
            with calling("logs:GetQueryResults"):
                answer = self.client.get_query_results(**request)
            status = answer.get("status", "Unknown")
            if status != "Complete":
                return Result(status)
            rows += [{cell["field"]: cell.get("value", "") for cell in row if "field" in cell}
                     for row in answer.get("results", [])]
            if not answer.get("nextToken"):
                statistics = answer.get("statistics", {})
                matched = statistics.get("recordsMatched")
                return Result(status, rows, int(statistics.get("bytesScanned", 0)),
                              None if matched is None else int(matched))
            request["nextToken"] = answer["nextToken"]

    def stop(self, query_id: str) -> None:
        with calling("logs:StopQuery"):
            self.client.stop_query(queryId=query_id)


def split(item: Slice) -> list[Slice]:
    """Shorter slices covering ``item`` exactly: parts of whole seconds, else halves of its
    accounts; an ``accounts`` listing when a one-second slice of every account overflowed."""
    length = item.end_ms - item.start_ms
    if item.query == "accounts":
        raise KitError(f"more than {LISTING_CAP:,} accounts wrote events in one second ({item.start_ms} ms)")
    if length > MIN_SLICE_MS:
        step = -(-length // SPLIT_PARTS // MIN_SLICE_MS) * MIN_SLICE_MS
        cuts = [*range(item.start_ms, item.end_ms, step), item.end_ms]
        return [Slice(item.query, low, high, item.scope) for low, high in zip(cuts, cuts[1:])]
    scope = item.scope
    if scope.accounts is None:
        return [Slice("accounts", item.start_ms, item.end_ms, parent=item.query)]
    groups = [part for part, wanted in ((Scope(scope.accounts), bool(scope.accounts)),
                                        (Scope((), unnamed=True), scope.unnamed),
                                        (Scope((), other=True), scope.other)) if wanted]
    if len(groups) > 1:
        scopes = groups
    elif len(scope.accounts) > 1:
        half = len(scope.accounts) // 2
        scopes = [Scope(scope.accounts[:half]), Scope(scope.accounts[half:])]
    else:
        who = ", ".join(scope.accounts) or ("no account id" if scope.unnamed else "account ids that are not 12 digits")
        raise KitError(f"Logs Insights returned {ROW_CAP:,} rows or more for one second "
                       f"({item.start_ms} ms) of one account ({who}); the kit cannot cut it smaller")
    return [Slice(item.query, item.start_ms, item.end_ms, scope) for scope in scopes]


def by_account(listing: Slice, rows: list[dict[str, str]]) -> list[Slice]:
    """The parent query of an ``accounts`` listing, once per part of the accounts listed: halves of
    the 12-digit ids, the events without an id, and those whose id is not 12 digits (read together)."""
    listed = [row.get("recipientAccountId") or "" for row in rows]
    named = tuple(sorted({account for account in listed if ACCOUNT_ID.match(account)}))
    other = any(account and not ACCOUNT_ID.match(account) for account in listed)
    scope = Scope(named, unnamed="" in listed, other=other)
    return split(Slice(listing.parent, listing.start_ms, listing.end_ms, scope))


def record_of(row: dict[str, str]) -> dict[str, Any]:
    """A CloudTrail record with the row's fields at their JSON paths (``a.b`` -> ``{"a": {"b": ...}}``);
    the service's own fields (``@ptr``...) left out."""
    record: dict[str, Any] = {}
    for path, value in row.items():
        if path.startswith("@"):
            continue
        *parents, leaf = path.split(".")
        node = record
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return record


class Rollups:
    """Judges the rows of every slice into one ``Aggregator`` and counts what they stood for."""

    def __init__(self, params: Params) -> None:
        self.window_start = params.start.strftime("%Y-%m-%dT%H:%M:%SZ")
        self.aggregator = Aggregator(self.window_start, params.end.strftime("%Y-%m-%dT%H:%M:%SZ"), params.accounts)
        self.duplicates = 0
        self.rollout = f"{fieldgaps.ROLLOUT:%Y-%m-%dT%H:%M:%SZ}"
        self.gap_events = 0
        """Callers' STS calls since the rollout (those ``field_gaps.sql`` counts on the SQL engines)."""
        self.gaps = dict.fromkeys(fieldgaps.FIELDS, 0)
        """Column of field_gaps.sql -> how many of those calls lack its field."""

    def add(self, item: Slice, rows: list[dict[str, str]]) -> int:
        """Judge the rows of one slice; the log events they stand for (duplicates included)."""
        total = 0
        for row in rows:
            events, delivered = _count(row.pop("events", "0")), _count(row.pop("delivered", "0"))
            self.duplicates += delivered - events
            total += delivered
            record = record_of(row)
            if item.query == "sts_events":
                record["eventSource"] = STS_SOURCE
            else:
                record["eventTime"] = self.window_start
                record["userAgent"] = record.pop("agent_head", "")
                record["sourceIPAddress"] = ACTIVITY_IP.get(_count(record.pop("ip_kind", "0")), "")
            before = dict(self.aggregator.skipped)
            self.aggregator.add([record] * events)
            if item.query == "sts_events":
                self.count_gaps(record, events, before)
        return total

    def count_gaps(self, record: dict[str, Any], events: int, before: dict[str, int]) -> None:
        """Count the fields a post-rollout STS call lacks, if the rules counted it as a caller's call
        (or could not judge it for want of a host header), as ``field_gaps.sql`` does."""
        value = record.get("eventTime")
        time = utc_text(value) if isinstance(value, str) else None
        if time is None or time < self.rollout:
            return
        skipped = sum(count - before.get(reason, 0) for reason, count in self.aggregator.skipped.items()
                      if reason != SKIP_NO_HOST)
        judged = events - skipped
        if judged <= 0:
            return
        self.gap_events += judged
        columns = {name: column for column, name in fieldgaps.FIELDS.items()}
        for name in fieldgaps.missing_in(record):
            self.gaps[columns[name]] += judged


def _count(value: str) -> int:
    """A count as Logs Insights prints it ('3' or '3.0')."""
    try:
        return int(float(value))
    except ValueError:
        raise AwsError(f"Logs Insights returned {value!r} where a count was expected") from None


@dataclass
class Progress:
    """What the driver did: queries started, slices cut, bytes scanned, peak in flight."""

    queries: int = 0
    overflowed: int = 0
    scanned: int = 0
    peak: int = 0
    other_ids: int = 0
    """Slices read for the events whose recipientAccountId is not a 12-digit id (``Scope.other``)."""
    ungrouped: int = 0
    """Log events a query matched (``recordsMatched``) that are in none of its rows."""


def drive(insights: Insights, work: list[Slice], limit: int, rollups: Rollups) -> Progress:
    """Run every slice (and the slices that overflowing ones are cut into) with at most ``limit``
    queries in flight; rows go to ``rollups``. Ctrl-C or an error stops the running queries."""
    pending, running, progress = deque(work), {}, Progress()
    pause, busy_rounds = POLL_FIRST, 0
    try:
        while pending or running:
            while pending and len(running) < limit:
                query_id = insights.start(pending[0])
                if query_id is None:
                    break
                running[query_id] = pending.popleft()
                progress.queries += 1
            progress.peak = max(progress.peak, len(running))
            busy_rounds = busy_rounds + 1 if pending and not running else 0
            if busy_rounds > MAX_BUSY_ROUNDS:
                raise AwsError("CloudWatch Logs kept refusing StartQuery (throttling or the concurrent-query "
                               "quota): lower --max-queries, or run when fewer queries are running")
            sleep(pause)
            finished = False
            for query_id, item in list(running.items()):
                result = insights.result(query_id)
                if result.status in ("Scheduled", "Running"):
                    continue
                del running[query_id]
                finished = True
                if result.status != "Complete":
                    raise QueryError(ENGINE, query_id, result.status, "see the query in the CloudWatch console")
                progress.scanned += result.scanned
                if len(result.rows) >= item.cap:
                    progress.overflowed += 1
                    pending.extend(split(item))
                elif item.query == "accounts":
                    pending.extend(by_account(item, result.rows))
                else:
                    progress.other_ids += item.scope.other
                    grouped = rollups.add(item, result.rows)
                    if result.matched is not None:
                        progress.ungrouped += max(0, result.matched - grouped)
            pause = POLL_FIRST if finished else min(pause * 2, POLL_MAX)
    except BaseException:
        _stop_all(insights, running)
        raise
    return progress


def _stop_all(insights: Insights, running: dict[str, Slice]) -> None:
    """Stop queries left running; a refusal here must not hide the error that got us here."""
    for query_id in running:
        try:
            insights.stop(query_id)
        except KitError:
            pass


def first_slices(params: Params) -> Iterator[Slice]:
    """One slice per query over the whole window: the driver cuts it where it must."""
    start, end = epoch_millis(params.start), epoch_millis(params.end)
    for name in QUERIES:
        yield Slice(name, start, end)


def collect(params: Params) -> Rollup:
    """The rollup of the log groups ``params.log_group`` over the window."""
    work = list(first_slices(params))  # rendered (and checked) before the first call
    for item in work:
        item.text()
    insights, rollups = Insights(params), Rollups(params)
    progress = drive(insights, work, params.max_queries, rollups)
    aggregator = rollups.aggregator
    aggregator.settle_twins()
    report = ReadReport(sources=[f"{ENGINE} {','.join(params.log_group)}"])
    report.events_read = aggregator.events + rollups.duplicates
    for reason, count in aggregator.skipped.items():
        report.skip(reason, count)
    if rollups.duplicates:
        report.skip(SKIP_DUPLICATE, rollups.duplicates)
    fieldgaps.record(report, rollups.gaps, rollups.gap_events)
    if progress.ungrouped:
        report.notes.append(f"Logs Insights: {progress.ungrouped:,} log events matched the queries but are in no "
                            "result row (stats ... by may leave out events without a grouping field): "
                            "the plan may miss calls; see docs/aws-engines.md")
    if progress.other_ids:
        report.notes.append(f"Logs Insights: {progress.other_ids} slice(s) over the row cap held events whose "
                            "recipientAccountId is not a 12-digit account id; they were read together, by a "
                            "pattern, and judged as every other event")
    report.engine_stats = {"engine": ENGINE, "log_groups": list(params.log_group), "queries": progress.queries,
                           "slices_overflowed": progress.overflowed, "max_in_flight": progress.peak,
                           "events_not_grouped": progress.ungrouped,
                           "bytes_scanned": progress.scanned,
                           "estimated_cost_usd": round(progress.scanned * PRICE_PER_GB / 1e9, 6),
                           "price_assumed": f"${PRICE_PER_GB}/GB scanned (UNCONFIRMED Logs Insights price)"}
    return to_rollup(aggregator, report)
