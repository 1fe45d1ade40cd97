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

Evidence of breakage (``kit.signals``): the STS rows carry ``errorMessage`` and, per row, the
smallest eventID (``example_key``, encoded so that Logs Insights' natural sort agrees with plain
text order: ``kit.queries.cwl.sortable``); the aggregator gets that id on one of the row's records,
so the error signals and ``throttled`` come out as the local engine counts them, example included.
The token join runs in two steps, since the query language has no join: ``token_uses`` groups the
uses of ``ASIA...`` keys in opt-in Regions (any source) per key, Region and error, each use once
(eventID and sharedEventID deduplicated inside the query), with first and last eventTime and the
smallest eventID; once every slice of it is in, ``issued_keys`` looks up the STS calls that issued
those keys, as many keys per query as its 10,000 characters hold (``key_chunks``), each over the
window from its start to a minute after the first use of its keys (a session is issued before it
is used). Both feed a second ``Aggregator`` (``Rollups.tokens``: their events are already counted
in the first), rebuilt as the uses and calls they stand for; the token rows of its ``signals``
join the rollup's. Uses of one second cut by account (over the row cap) are deduplicated per
account part only: a note says when that happened.

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
from datetime import datetime
from typing import Any, Iterator

import pandas as pd
from botocore.exceptions import ClientError

from kit.engines.aws import POLL_FIRST, POLL_MAX, AwsError, calling, client
from kit.engines.local import to_rollup
from kit.errors import KitError, QueryError
from kit import fieldgaps
from kit.events import SKIP_DUPLICATE, SKIP_NO_HOST, STS_SOURCE, Aggregator, utc_text
from kit.params import ACCOUNT_ID, Params
from kit.queries.cwl import (ACCESS_KEY, EVERY_EVENT, KEY_QUERY, QUERIES, Scope, epoch_millis, event_id_of,
                             key_chunks, render)
from kit.readreport import ReadReport
from kit.rollup import SIGNAL_COLUMNS, Rollup, frame
from kit.signals import TOKEN_SIGNALS

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
KEYS_PER_QUERY = 500
"""At most this many access keys in one ``issued_keys`` query; its 10,000 characters hold about 350
``ASIA`` keys of 20 characters, so the length decides unless this is lower (tests lower it)."""
ISSUE_MARGIN_MS = 60_000
"""An ``issued_keys`` slice ends this long after the first use of its keys: the call that issued a
session comes before its uses; the margin covers the clocks of two services."""
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
    keys: tuple[str, ...] = ()
    """The access keys an ``issued_keys`` query looks up."""

    def text(self) -> str:
        return render(self.query, self.start_ms, self.end_ms, self.scope, self.keys)

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
    """Shorter slices covering ``item`` exactly: parts of whole seconds, else halves of its keys
    (``issued_keys``) or of its accounts; an ``accounts`` listing when a one-second slice of every
    account overflowed."""
    length = item.end_ms - item.start_ms
    if item.query == "accounts":
        raise KitError(f"more than {LISTING_CAP:,} accounts wrote events in one second ({item.start_ms} ms)")
    if length > MIN_SLICE_MS:
        step = -(-length // SPLIT_PARTS // MIN_SLICE_MS) * MIN_SLICE_MS
        cuts = [*range(item.start_ms, item.end_ms, step), item.end_ms]
        return [Slice(item.query, low, high, item.scope, keys=item.keys) for low, high in zip(cuts, cuts[1:])]
    if item.keys:
        if len(item.keys) == 1:
            raise KitError(f"Logs Insights returned {ROW_CAP:,} rows or more for the calls that issued one "
                           f"access key in one second ({item.start_ms} ms); the kit cannot cut it smaller")
        half = len(item.keys) // 2
        return [Slice(item.query, item.start_ms, item.end_ms, keys=keys) for keys in (item.keys[:half],
                                                                                      item.keys[half:])]
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


def use_records(row: dict[str, str]) -> list[dict[str, Any]]:
    """The uses a ``token_uses`` row stands for, as records ``kit.events`` counts once each (no
    sharedEventID: the query counted each use once): the first at ``first_time`` with the row's
    example eventID, the last at ``last_time``, the others at ``first_time``."""
    use: dict[str, Any] = {"userIdentity": {"accessKeyId": row.get("userIdentity.accessKeyId", "")}}
    for name, path in (("awsRegion", "awsRegion"), ("errorCode", "errorCode"), ("errorMessage", "message_head")):
        if path in row:
            use[name] = row[path]
    first, last = ({**use, "eventTime": row[name]} if name in row else use for name in ("first_time", "last_time"))
    events = _count(row.get("events", "0"))
    records = [first] * (events - 1) + [last] if events > 1 else [first] * events
    example = example_id(row.get("example_key", ""))
    if records and example:
        records[0] = {**first, "eventID": example}
    return records


def example_id(text: str) -> str:
    """The eventID a row's ``example_key`` ``text`` encodes ('' when it has none)."""
    try:
        return event_id_of(text)
    except ValueError as error:
        raise AwsError(f"Logs Insights returned an example_key that is not an encoded eventID: {error}") from None


class Rollups:
    """Judges the rows of every slice into one ``Aggregator`` and counts what they stood for; the
    token join's rows go to a second one (``tokens``)."""

    def __init__(self, params: Params) -> None:
        self.window_start = params.start.strftime("%Y-%m-%dT%H:%M:%SZ")
        window_end = params.end.strftime("%Y-%m-%dT%H:%M:%SZ")
        self.aggregator = Aggregator(self.window_start, window_end, params.accounts)
        self.tokens = Aggregator(self.window_start, window_end, params.accounts)
        """The uses and issuing calls of ``token_uses`` and ``issued_keys``: only its token signals
        are kept, since ``aggregator`` counts those events already."""
        self.first_uses: dict[str, str] = {}
        """Access key used in an opt-in Region -> the eventTime of its first use."""
        self.unnamed_keys: set[str] = set()
        """Used keys that are not ``ACCESS_KEY``-shaped, so no query can name them."""
        self.duplicates = 0
        self.rollout = f"{fieldgaps.ROLLOUT:%Y-%m-%dT%H:%M:%SZ}"
        self.gap_events = 0
        """Callers' STS calls since the rollout (those ``field_gaps.sql`` counts on the SQL engines)."""
        self.gaps = dict.fromkeys(fieldgaps.FIELDS, 0)
        """Column of field_gaps.sql -> how many of those calls lack its field."""

    def add(self, item: Slice, rows: list[dict[str, str]]) -> int:
        """Judge the rows of one slice; the log events they stand for (duplicates included)."""
        if item.query == "token_uses":
            return self.add_uses(rows)
        total = 0
        for row in rows:
            events, delivered = _count(row.pop("events", "0")), _count(row.pop("delivered", "0"))
            total += delivered
            example = example_id(row.pop("example_key", ""))
            record = record_of(row)
            if item.query == KEY_QUERY:
                record["eventSource"] = STS_SOURCE
                self.tokens.add([record] * events)
                continue
            self.duplicates += delivered - events
            if item.query == "sts_events":
                record["eventSource"] = STS_SOURCE
            else:
                record["eventTime"] = self.window_start
                record["userAgent"] = record.pop("agent_head", "")
                record["sourceIPAddress"] = ACTIVITY_IP.get(_count(record.pop("ip_kind", "0")), "")
            before = dict(self.aggregator.skipped)
            first = [{**record, "eventID": example}] if example and events else []
            self.aggregator.add(first + [record] * (events - len(first)))
            if item.query == "sts_events":
                self.count_gaps(record, events, before)
        return total

    def add_uses(self, rows: list[dict[str, str]]) -> int:
        """Count the uses of ``token_uses`` rows in ``tokens`` and note each key's first use; the
        log events they stand for."""
        total = 0
        for row in rows:
            total += _count(row.get("delivered", "0"))
            records = use_records(row)
            self.tokens.add(records)
            key, first = row.get("userIdentity.accessKeyId", ""), row.get("first_time", "")
            if not ACCESS_KEY.match(key):
                self.unnamed_keys.add(key)
            elif records and (key not in self.first_uses or first < self.first_uses[key]):
                self.first_uses[key] = first
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
    split_uses: int = 0
    """``token_uses`` slices read per account part (a second over the row cap)."""

    def add(self, other: "Progress") -> None:
        """Count a later ``drive`` too (the peak is the larger one)."""
        for name in ("queries", "overflowed", "scanned", "other_ids", "ungrouped", "split_uses"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.peak = max(self.peak, other.peak)


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
                    progress.split_uses += item.query == "token_uses" and item.scope.accounts is not None
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


def key_slices(params: Params, first_uses: dict[str, str]) -> list[Slice]:
    """The ``issued_keys`` queries for the keys of ``first_uses``: keys in order of first use, as
    many per query as fit, each over the window from its start to ``ISSUE_MARGIN_MS`` after the
    latest first use of its keys (whole seconds)."""
    start, end = epoch_millis(params.start), epoch_millis(params.end)
    keys = sorted(first_uses, key=lambda key: (first_uses[key], key))
    slices = []
    for chunk in key_chunks(keys, start, end, KEYS_PER_QUERY):
        used = utc_text(first_uses[chunk[-1]])
        stop = end if used is None else epoch_millis(datetime.fromisoformat(used)) + ISSUE_MARGIN_MS + MIN_SLICE_MS
        slices.append(Slice(KEY_QUERY, start, max(start + MIN_SLICE_MS, min(end, stop)), keys=chunk))
    return slices


def token_signals(rollup: Rollup, tokens: Aggregator) -> Rollup:
    """``rollup`` with the token signals of the join's aggregator added to its ``signals``."""
    tokens.settle_twins()
    tokens.seal()  # the issued keys become the hashes the join looks up
    column = SIGNAL_COLUMNS.index("signal")
    rows = [row for row in tokens.breakage.rows()[0] if row[column] in TOKEN_SIGNALS]
    if rows:
        found = frame([*zip(*rows)], SIGNAL_COLUMNS)
        rollup.signals = pd.concat([rollup.signals, found], ignore_index=True) if len(rollup.signals) else found
    return rollup


def collect(params: Params) -> Rollup:
    """The rollup of the log groups ``params.log_group`` over the window: the slices of ``QUERIES``,
    then the ``issued_keys`` lookups of the keys their uses name."""
    work = list(first_slices(params))  # rendered (and checked) before the first call
    for item in work:
        item.text()
    insights, rollups = Insights(params), Rollups(params)
    progress = drive(insights, work, params.max_queries, rollups)
    lookups = key_slices(params, rollups.first_uses)
    progress.add(drive(insights, lookups, params.max_queries, rollups))
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
    if progress.split_uses:
        report.notes.append(f"Logs Insights: the uses of temporary keys in {progress.split_uses} one-second slice(s) "
                            "over the row cap were read per account: a use logged in two accounts may count twice "
                            "in token-v1-in-use there")
    if rollups.unnamed_keys:
        report.notes.append(f"Logs Insights: {len(rollups.unnamed_keys)} access key(s) used in opt-in Regions are not "
                            "shaped like STS keys and cannot be named in a query; their issuing calls were not "
                            "looked up")
    report.engine_stats = {"engine": ENGINE, "log_groups": list(params.log_group), "queries": progress.queries,
                           "slices_overflowed": progress.overflowed, "max_in_flight": progress.peak,
                           "keys_looked_up": len(rollups.first_uses), "key_queries": len(lookups),
                           "events_not_grouped": progress.ungrouped,
                           "bytes_scanned": progress.scanned,
                           "estimated_cost_usd": round(progress.scanned * PRICE_PER_GB / 1e9, 6),
                           "price_assumed": f"${PRICE_PER_GB}/GB scanned (UNCONFIRMED Logs Insights price)"}
    return token_signals(to_rollup(aggregator, report), rollups.tokens)
