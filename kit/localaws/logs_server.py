"""A local CloudWatch Logs endpoint: StartQuery, GetQueryResults and StopQuery of Logs Insights
over the trail files of one folder, held as one log group (one log event per CloudTrail record,
``@timestamp`` = its eventTime, as CloudTrail delivers them).

It speaks the JSON 1.1 protocol of ``Logs_20140328`` (botocore's ``logs`` model) and runs only
the kit's query shapes: a query string must be one of ``kit/queries/logs_insights/*.cwl`` with
its placeholders holding numbers, an account scope and the kit's fixed text
(``kit.queries.cwl.fixed_values``); the rest is refused as ``MalformedQueryException`` (the
verification query, ``verify_callers.cwl``, takes an account and principal ARNs; ``issued_keys``
temporary access key ids). Those shapes are then executed as written: the filter, the ``fields``
expressions (coalesce, substr, strcontains, nested replace) and
``stats count(*)/sum(...)/min(...)/max(...) by ...`` over the flattened events, in Python (``min``
and ``max`` of text in plain text order: the kit only takes them of texts on which Logs Insights'
natural sort agrees). Results stop at the query's ``limit`` (10,000 unless
StartQuery names another, at most 100,000, served in pages of 10,000); StartQuery answers ``LimitExceededException`` past ``max_running`` queries; the
faults of ``kit.localaws.base.Faults`` apply.
"""
from __future__ import annotations

import bisect
import json
import os
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from kit import events
from kit.localaws.base import Dispatcher, Faults, ServiceError, page
from kit.queries.cwl import ACCESS_KEY, KEY_QUERY, OTHER_ACCOUNT_IDS, QUERIES, fixed_values, template
from kit.regions import DEFAULT_REGIONS, is_region_code
from kit.trailfiles import InvalidTrailFile, read_records

LOG_GROUP = "aws-cloudtrail-logs-local"
DEFAULT_LIMIT = 10_000
"""Rows a query returns when StartQuery names no ``limit``, and the largest results page."""
MAX_LIMIT = 100_000
"""The largest StartQuery ``limit`` the service model allows."""
MAX_RUNNING = 30
"""Queries that may be Scheduled or Running at once before StartQuery answers LimitExceededException."""
SHAPES = (*QUERIES, KEY_QUERY, "accounts", "verify_callers")

_SCOPE = re.compile(r'^\n  and \((?P<parts>.+)\)$')
_SCOPE_PARTS = {"named": re.compile(r'^recipientAccountId in \[(?P<named>"\d{12}"(?:, "\d{12}")*)\]$'),
                "unnamed": re.compile(r"^not ispresent\(recipientAccountId\)$"),
                "other": re.compile(re.escape(OTHER_ACCOUNT_IDS).join("^$"))}
"""The parts of an account scope (kit.queries.cwl.Scope.filter), joined by `` or `` in this order."""
_COALESCE = re.compile(r"^coalesce\(([\w.@]+(?:, [\w.@]+)+)\)$")
_SUBSTR = re.compile(r"^substr\(([\w.]+), (\d+), (\d+)\)$")
_REPLACE = re.compile(r'^replace\((.+), "([^"]*)", "([^"]*)"\)$')
_FIELD = re.compile(r"^[\w.@]+$")
_CONTAINS = re.compile(r'^(?:(\d+) \* )?strcontains\(([\w.]+), "([^"]*)"\)$')
_STATS = re.compile(r"^stats (?P<aggregates>.+?) by (?P<keys>[\w.@, ]+)$")
_COUNT = re.compile(r"^count\(\*\) as (\w+)$")
_SUM = re.compile(r"^sum\((\w+)\) as (\w+)$")
_EXTREMES = {"min": min, "max": max}
_EXTREME = re.compile(r"^(min|max)\(([\w.]+)\) as (\w+)$")
_GLOBAL_HOST = re.compile(r"^sts-global\.")
"""The verification query's host rule (``like /^sts-global[.]/`` in effect)."""


@dataclass
class LogEvent:
    """One log event: its time, flattened fields (``a.b`` paths) and size in bytes."""

    millis: int
    fields: dict[str, str]
    size: int


@dataclass
class LogsQuery:
    """One submitted query and where it is in its life cycle."""

    id: str
    shape: str
    text: str
    values: dict[str, Any]
    start_ms: int
    end_ms: int
    limit: int
    status: str = "Scheduled"
    rows: list[dict[str, str]] = field(default_factory=list)
    statistics: dict[str, float] = field(default_factory=dict)


def flatten(value: Any, path: str, out: dict[str, str]) -> dict[str, str]:
    """JSON values as Logs Insights discovers them: nested keys joined with dots, lists by index,
    every value as text, nulls absent."""
    if isinstance(value, dict):
        for key, item in value.items():
            flatten(item, f"{path}.{key}" if path else str(key), out)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            flatten(item, f"{path}.{index}", out)
    elif isinstance(value, bool):
        out[path] = "true" if value else "false"
    elif value is not None and path:
        out[path] = str(value)
    return out


def event_millis(value: Any) -> int | None:
    """eventTime as epoch milliseconds (UTC when no offset); None when it is not an ISO 8601 time."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return round(moment.timestamp() * 1000)


def load(data: Path) -> tuple[list[LogEvent], int]:
    """The log events of every trail file under ``data``, in time order, and how many records
    could not be log events (not an object, no usable eventTime)."""
    loaded: list[LogEvent] = []
    refused = 0
    for folder, subfolders, names in os.walk(data):
        subfolders.sort()
        for name in sorted(names):
            if not name.endswith((".json", ".json.gz")):
                continue
            try:
                records = read_records(os.path.join(folder, name))
            except (InvalidTrailFile, OSError):
                continue
            for record in records:
                millis = event_millis(record.get("eventTime")) if isinstance(record, dict) else None
                if millis is None:
                    refused += 1
                    continue
                loaded.append(LogEvent(millis, flatten(record, "", {}), len(json.dumps(record))))
    loaded.sort(key=lambda event: event.millis)
    for number, event in enumerate(loaded):
        event.fields["@ptr"] = f"ptr-{number:010d}"
    return loaded, refused


def shape_pattern(name: str) -> re.Pattern[str]:
    """The query strings of shape ``name``: its template with numbers, a scope, access keys and the
    kit's fixed text."""
    text = re.escape(template(name))
    access_key = ACCESS_KEY.pattern.strip("^$")
    holes = {"start_ms": r"(?P<start_ms>\d{1,15})", "end_ms": r"(?P<end_ms>\d{1,15})",
             "scope": r"(?P<scope>(?:\n  and \([^\n]*\))?)", "account": r'(?P<account>"\d{12}")',
             "principals": r'(?P<principals>"[^"\n\\]+"(?:, "[^"\n\\]+")*)',
             "keys": f'(?P<keys>"{access_key}"(?:, "{access_key}")*)',
             **{placeholder: re.escape(value) for placeholder, value in fixed_values().items()}}
    for key, hole in holes.items():
        first, *rest = text.split(re.escape("{" + key + "}"))
        again = f"(?P={key})" if hole.startswith(f"(?P<{key}>") else hole  # a placeholder used twice: the same text
        text = first + (hole + again.join(rest) if rest else "")
    return re.compile(text)


def scope_parts(text: str) -> dict[str, str] | None:
    """The parts of an account scope clause (name -> text, in ``_SCOPE_PARTS`` order), None if it is not one."""
    clause = _SCOPE.match(text)
    if not clause:
        return None
    parts, order = {}, list(_SCOPE_PARTS)
    for piece in clause["parts"].split(" or "):
        name = next((name for name in order if _SCOPE_PARTS[name].match(piece)), None)
        if name is None:
            return None
        parts[name] = piece
        order = order[order.index(name) + 1:]
    return parts


def commands(text: str) -> list[str]:
    """The commands of a query, each on one line."""
    return [re.sub(r"\s*\n\s*", " ", part).strip() for part in re.split(r"\n\| ", text.strip())]


def top_level_items(text: str) -> list[str]:
    """``a, f(b, c) as d`` -> ``['a', 'f(b, c) as d']``."""
    items, depth, current = [], 0, ""
    for char in text:
        depth += (char == "(") - (char == ")")
        if char == "," and depth == 0:
            items.append(current.strip())
            current = ""
        else:
            current += char
    return [*items, current.strip()]


def expression(text: str) -> Callable[[dict[str, str]], str | None]:
    """The function of one ``fields`` expression of the kit's shapes."""
    if match := _REPLACE.match(text):
        inner, old, new = match[1], match[2], match[3]
        value = (lambda row: row.get(inner)) if _FIELD.match(inner) else expression(inner)

        def replaced(row: dict[str, str]) -> str | None:
            text = value(row)
            return None if text is None else text.replace(old, new)
        return replaced
    if match := _COALESCE.match(text):
        names = match[1].split(", ")
        return lambda row: next((row[name] for name in names if row.get(name) is not None), None)
    if match := _SUBSTR.match(text):
        name, start, length = match[1], int(match[2]), int(match[3])
        return lambda row: None if row.get(name) is None else row[name][start:start + length]
    terms = [_CONTAINS.match(term) for term in text.split(" + ")]
    if all(terms):
        parts = [(int(term[1] or 1), term[2], term[3]) for term in terms if term]
        return lambda row: str(sum(weight for weight, name, needle in parts if needle in (row.get(name) or "")))
    raise ServiceError("MalformedQueryException", f"unsupported expression {text!r}")


def run_fields(rows: list[dict[str, str]], text: str) -> list[dict[str, str]]:
    """``fields EXPR as NAME, ...``: each row with the new fields added."""
    assignments = []
    for item in top_level_items(text.removeprefix("fields ")):
        source, _, name = item.rpartition(" as ")
        assignments.append((name, expression(source)))
    for row in rows:
        for name, function in assignments:
            value = function(row)
            if value is not None:
                row[name] = value
    return rows


def run_stats(rows: list[dict[str, str]], text: str) -> list[dict[str, str]]:
    """``stats count(*) as N[, sum(F) as S] by K1, K2, ...``: one row per distinct key."""
    match = _STATS.match(text)
    if not match:
        raise ServiceError("MalformedQueryException", f"unsupported stats command {text!r}")
    keys = [key.strip() for key in match["keys"].split(",")]
    counts, sums, extremes = [], [], []
    for aggregate in top_level_items(match["aggregates"]):
        if count := _COUNT.match(aggregate):
            counts.append(count[1])
        elif total := _SUM.match(aggregate):
            sums.append((total[1], total[2]))
        elif extreme := _EXTREME.match(aggregate):
            extremes.append((_EXTREMES[extreme[1]], extreme[2], extreme[3]))
        else:
            raise ServiceError("MalformedQueryException", f"unsupported aggregate {aggregate!r}")
    groups: dict[tuple, dict[str, float]] = {}
    found: dict[tuple, str] = {}
    """(group, name) -> the smallest or largest text value of a ``min`` or ``max`` aggregate."""
    for row in rows:
        group_key = tuple(row.get(key) for key in keys)
        group = groups.setdefault(group_key, dict.fromkeys([*counts, *(s[1] for s in sums)], 0))
        for name in counts:
            group[name] += 1
        for source, name in sums:
            group[name] += float(row.get(source) or 0)
        for pick, source, name in extremes:
            if row.get(source) is not None:
                known = found.get((group_key, name))
                found[(group_key, name)] = row[source] if known is None else pick(known, row[source])
    return [{**{key: value for key, value in zip(keys, group) if value is not None},
             **{name: f"{value:g}" for name, value in totals.items()},
             **{name: found[(group, name)] for _, _, name in extremes if (group, name) in found}}
            for group, totals in groups.items()]


class LogsService(Dispatcher):
    """CloudWatch Logs (2014-03-28) Logs Insights operations on one log group."""

    target_prefix = "Logs_20140328"
    service_name = "logs"
    action_prefix = "logs"

    def __init__(self, data: Path, faults: Faults | None = None, log_group: str = LOG_GROUP,
                 max_running: int = MAX_RUNNING) -> None:
        self.events, self.refused = load(data)
        self.times = [event.millis for event in self.events]
        self.log_group, self.max_running = log_group, max_running
        self.faults = faults or Faults()
        self.shapes = {name: shape_pattern(name) for name in SHAPES}
        self.queries: dict[str, LogsQuery] = {}
        self.calls: list[str] = []
        """Every operation received, in order (tests read it)."""
        self.peak_running = 0
        self.lock = threading.Lock()

    def operations(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
        return {"StartQuery": self.start_query, "GetQueryResults": self.get_query_results,
                "StopQuery": self.stop_query}

    def running(self) -> int:
        return sum(query.status in ("Scheduled", "Running") for query in self.queries.values())

    def start_query(self, body: dict[str, Any]) -> dict[str, Any]:
        groups = body.get("logGroupNames") or ([body["logGroupName"]] if body.get("logGroupName") else [])
        if not groups or any(group != self.log_group for group in groups):
            raise ServiceError("ResourceNotFoundException", "The specified log group does not exist.")
        if body.get("queryLanguage", "CWLI") != "CWLI":
            raise ServiceError("InvalidParameterException", "this local endpoint runs only Logs Insights QL")
        start, end = body.get("startTime"), body.get("endTime")
        if type(start) is not int or type(end) is not int or end < start:
            raise ServiceError("InvalidParameterException", "startTime and endTime must be epoch seconds, "
                               "endTime not before startTime")
        text = str(body.get("queryString") or "")
        shape, values = self.match(text)
        if self.running() >= self.max_running:
            raise ServiceError("LimitExceededException",
                               f"Account maximum query concurrency limit of [{self.max_running}] reached.")
        limit = body.get("limit", DEFAULT_LIMIT)
        if type(limit) is not int or not 1 <= limit <= MAX_LIMIT:
            raise ServiceError("InvalidParameterException", f"limit must be between 1 and {MAX_LIMIT}")
        query = LogsQuery(str(uuid.uuid4()), shape, text, values, start * 1000, (end + 1) * 1000, limit)
        self.queries[query.id] = query
        self.peak_running = max(self.peak_running, self.running())
        return {"queryId": query.id}

    def match(self, text: str) -> tuple[str, dict[str, Any]]:
        """The kit shape ``text`` is, with its values; MalformedQueryException for anything else."""
        for name, pattern in self.shapes.items():
            found = pattern.fullmatch(text)
            if not found:
                continue
            values: dict[str, Any] = {"start": int(found["start_ms"]), "end": int(found["end_ms"]),
                                      "accounts": None, "unnamed": False, "other": False}
            if found.groupdict().get("scope"):
                parts = scope_parts(found["scope"])
                if parts is None:
                    break
                values["accounts"] = set(re.findall(r"\d{12}", parts.get("named", "")))
                values["unnamed"], values["other"] = "unnamed" in parts, "other" in parts
            if found.groupdict().get("account"):
                values["account"] = found["account"].strip('"')
                values["principals"] = set(re.findall(r'"([^"]+)"', found["principals"]))
            if found.groupdict().get("keys"):
                values["keys"] = set(re.findall(r'"([^"]+)"', found["keys"]))
            return name, values
        raise ServiceError("MalformedQueryException", "this local endpoint runs only the kit's Logs Insights "
                           "queries (kit/queries/logs_insights)")

    def query(self, query_id: Any) -> LogsQuery:
        query = self.queries.get(query_id) if isinstance(query_id, str) else None
        if query is None:
            raise ServiceError("ResourceNotFoundException", f"query {query_id!r} was not found")
        return query

    def advance(self, query: LogsQuery) -> None:
        """One results call: Scheduled -> Running, then run it (unless held) or fail as the faults say."""
        if query.status == "Scheduled":
            query.status = "Running"
        elif query.status == "Running" and not self.faults.hold:
            if self.faults.fail:
                query.status = "Failed"
            elif self.faults.timeout:
                query.status = "Timeout"
            else:
                self.execute(query)

    def execute(self, query: LogsQuery) -> None:
        """Run the query over its time range and keep at most its row cap of results."""
        values = query.values
        low = bisect.bisect_left(self.times, max(query.start_ms, values["start"]))
        high = bisect.bisect_left(self.times, min(query.end_ms, values["end"]))
        scanned = self.events[bisect.bisect_left(self.times, query.start_ms):bisect.bisect_left(self.times, query.end_ms)]
        rows = [dict(event.fields) for event in self.events[low:high] if self.selects(query.shape, values, event.fields)]
        matched = len(rows)
        for command in commands(query.text)[1:]:
            rows = run_fields(rows, command) if command.startswith("fields ") else run_stats(rows, command)
        query.rows = rows[:query.limit]
        query.statistics = {"recordsMatched": float(matched), "recordsScanned": float(len(scanned)),
                            "bytesScanned": float(sum(event.size for event in scanned))}
        query.status = "Complete"

    @staticmethod
    def selects(shape: str, values: dict[str, Any], fields: dict[str, str]) -> bool:
        """The query's filter beyond time: the event source of its shape and its account scope."""
        source = fields.get("eventSource")
        if shape == "sts_events" and source != events.STS_SOURCE:
            return False
        if shape == "activity_events" and source == events.STS_SOURCE:
            return False
        if shape == "verify_callers":
            return source == events.STS_SOURCE and LogsService.verifies(values, fields)
        if shape == KEY_QUERY:
            issued = fields.get("responseElements.credentials.accessKeyId")
            return source == events.STS_SOURCE and issued in values["keys"]
        if shape == "token_uses" and not LogsService.opt_in_use(fields):
            return False
        if values["accounts"] is None:
            return True
        account = fields.get("recipientAccountId")
        if account is None:
            return values["unnamed"]
        return account in values["accounts"] or (values["other"] and not re.fullmatch(r"[0-9]{12}", account))

    @staticmethod
    def opt_in_use(fields: dict[str, str]) -> bool:
        """``token_uses``' filter beyond time and scope, as written: an ``ASIA`` key, an awsRegion
        that is not a default Region and is shaped like a Region code."""
        region = fields.get("awsRegion")
        return ((fields.get("userIdentity.accessKeyId") or "").startswith("ASIA") and region is not None
                and region not in DEFAULT_REGIONS and is_region_code(region))

    @staticmethod
    def verifies(values: dict[str, Any], fields: dict[str, str]) -> bool:
        """The verification query's filter beyond time and source: the account, a checked
        principal and a global call (kit/queries/logs_insights/verify_callers.cwl, as written)."""
        account, principals = values["account"], values["principals"]
        if account not in (fields.get("userIdentity.accountId"), fields.get("recipientAccountId")):
            return False
        if not (fields.get("userIdentity.arn") in principals
                or fields.get("userIdentity.sessionContext.sessionIssuer.arn") in principals
                or (fields.get("userIdentity.type") in ("WebIdentityUser", "SAMLUser")
                    and fields.get("requestParameters.roleArn") in principals)):
            return False
        kind = fields.get("additionalEventData.RequestDetails.endpointType")
        host = fields.get("tlsDetails.clientProvidedHostHeader")
        if kind is not None:
            return kind == "global"
        return host is not None and (host == "sts.amazonaws.com" or bool(_GLOBAL_HOST.match(host)))

    def get_query_results(self, body: dict[str, Any]) -> dict[str, Any]:
        query = self.query(body.get("queryId"))
        self.advance(query)
        answer: dict[str, Any] = {"queryLanguage": "CWLI", "status": query.status, "results": []}
        if query.status == "Complete":
            chunk, token = page(query.rows, body, "maxItems", DEFAULT_LIMIT)
            answer["results"] = [[{"field": name, "value": value} for name, value in row.items()] for row in chunk]
            answer["statistics"] = query.statistics
            if token:
                answer["nextToken"] = token
        return answer

    def stop_query(self, body: dict[str, Any]) -> dict[str, Any]:
        query = self.query(body.get("queryId"))
        if query.status not in ("Scheduled", "Running"):
            return {"success": False}
        query.status = "Cancelled"
        return {"success": True}
