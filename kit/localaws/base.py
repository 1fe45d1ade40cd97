"""What the local Lake and Athena endpoints share: the JSON 1.1 wire protocol, query life cycle,
result paging and failure injection. Subclasses name the operations, their tables and shape the
answers. Only the kit's kind of query runs (``kit.localaws.guard``): one SELECT over the trail
tables, on a DuckDB connection locked once the tables are loaded; anything else is refused the
way the service refuses a bad statement (``invalid_request``).

Protocols: JSON 1.1 (``POST /`` with ``X-Amz-Target: <prefix>.<Operation>`` and a JSON body,
answers ``application/x-amz-json-1.1``) and, for services botocore now reaches over REST-JSON, the
routes of botocore's model (``kit.localaws.restjson``). Errors are ``{"__type": code, "message": ...}``
with an HTTP status (and ``x-amzn-ErrorType``), so botocore raises ``ClientError`` with that code
(and retries ``ThrottlingException``).
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import duckdb
from sqlglot.errors import SqlglotError

from kit.localaws import guard, restjson

JSON_11 = "application/x-amz-json-1.1"


class ServiceError(Exception):
    """An error answer: AWS error code, message and HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass
class Faults:
    """Failure injection: what the endpoint does wrong, on purpose."""

    fail: str | None = None
    """Every query ends FAILED with this message."""
    timeout: bool = False
    """Every query ends timed out."""
    throttle: int = 0
    """The first ``throttle`` calls answer ThrottlingException."""
    deny: frozenset[str] = frozenset()
    """Operations answered with AccessDeniedException (``*``: all)."""
    hold: bool = False
    """Queries stay RUNNING until cancelled."""


@dataclass
class Query:
    """One submitted query and where it is in its life cycle."""

    id: str
    statement: str
    duckdb_sql: str
    created: float = field(default_factory=time.time)
    state: str = "QUEUED"
    polls: int = 0
    error: str = ""
    columns: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    rows: list[list[str | None]] = field(default_factory=list)
    millis: int = 0
    scanned: int = 0
    """Bytes the query reads, where the service counts them per query (Athena)."""


class Dispatcher:
    """Routes a request to its operation after the injected faults (throttling, denied actions);
    a service sets ``target_prefix``, ``action_prefix``, ``faults``, ``calls``, ``lock`` and
    ``operations``."""

    target_prefix = ""
    action_prefix = ""
    service_name = ""
    """botocore's name of the service (its model gives the REST-JSON routes)."""
    faults: Faults
    calls: list[str]
    lock: threading.Lock

    def operations(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
        """Operation name -> handler; services fill it."""
        raise NotImplementedError

    def handle_rest(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """Answer one REST-JSON request (raises ``ServiceError``)."""
        found = restjson.read(self.service_name, tuple(self.operations()), method, path, body)
        if found is None:
            raise ServiceError("UnknownOperationException", f"unknown operation {method} {path}", 404)
        operation, params = found
        return self.handle(f"{self.target_prefix}.{operation}", params)

    def handle(self, target: str, body: dict[str, Any]) -> dict[str, Any]:
        """Answer one JSON 1.1 request (raises ``ServiceError``)."""
        prefix, _, operation = target.rpartition(".")
        handler = self.operations().get(operation) if prefix == self.target_prefix else None
        if handler is None:
            raise ServiceError("UnknownOperationException", f"unknown operation {target!r}")
        with self.lock:
            self.calls.append(operation)
            if self.faults.throttle > 0:
                self.faults.throttle -= 1
                raise ServiceError("ThrottlingException", "Rate exceeded")
            if operation in self.faults.deny or "*" in self.faults.deny:
                raise ServiceError("AccessDeniedException", "User: arn:aws:iam::000000000000:user/local is not "
                                   f"authorized to perform: {self.action_prefix}:{operation} because no "
                                   "identity-based policy allows the action")
            return handler(body)


class LocalService(Dispatcher):
    """Executes received Trino SQL on DuckDB and keeps the queries; subclasses add the operations."""

    finished = "FINISHED"
    invalid_request = "InvalidRequestException"
    inactive_query = "InvalidRequestException"
    tables: frozenset[tuple[str, ...]] = frozenset()
    """The tables queries may read (name parts, lower case); subclasses set it."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, faults: Faults | None = None) -> None:
        guard.lock_down(connection)
        self.connection = connection
        self.faults = faults or Faults()
        self.queries: dict[str, Query] = {}
        self.calls: list[str] = []
        """Every operation received, in order (tests read it)."""
        self.lock = threading.Lock()

    def translate(self, statement: str) -> str:
        """Trino SQL as DuckDB SQL (``ServiceError`` when it does not parse or is not allowed)."""
        try:
            return guard.translated(statement, self.tables)
        except guard.Refused as error:
            raise ServiceError(self.invalid_request, f"query refused by the local endpoint: {error}") from None
        except SqlglotError as error:
            raise ServiceError(self.invalid_request, f"query does not parse: {error}") from None

    def submit(self, statement: str) -> Query:
        """Accept a query: QUEUED until the first status call."""
        query = Query(str(uuid.uuid4()), statement, self.translate(statement))
        self.queries[query.id] = query
        return query

    def query(self, query_id: Any) -> Query:
        """The query with this id (``ServiceError`` when unknown)."""
        query = self.queries.get(query_id) if isinstance(query_id, str) else None
        if query is None:
            raise ServiceError(self.invalid_request, f"query {query_id!r} was not found")
        return query

    def advance(self, query: Query) -> Query:
        """One status call: QUEUED -> RUNNING, then run it and end it (unless held)."""
        query.polls += 1
        if query.state == "QUEUED":
            query.state = "RUNNING"
        elif query.state == "RUNNING" and not self.faults.hold:
            self.run(query)
        return query

    def run(self, query: Query) -> None:
        """Execute on DuckDB, or end as the faults say."""
        if self.faults.fail:
            query.state, query.error = "FAILED", self.faults.fail
            return
        if self.faults.timeout:
            self.time_out(query)
            return
        started = time.monotonic()
        try:
            cursor = self.connection.cursor().execute(query.duckdb_sql)
        except duckdb.Error as error:
            query.state, query.error = "FAILED", str(error).splitlines()[0]
            return
        query.columns = [column[0] for column in cursor.description]
        query.types = [str(column[1]) for column in cursor.description]
        query.rows = [[_text(value) for value in row] for row in cursor.fetchall()]
        query.millis = int((time.monotonic() - started) * 1000)
        query.state = self.finished

    def time_out(self, query: Query) -> None:
        """How the service ends a query that ran too long."""
        query.state, query.error = "TIMED_OUT", "Query timed out"

    def cancel(self, query: Query) -> Query:
        """Cancel a query that has not ended."""
        if query.state not in ("QUEUED", "RUNNING"):
            raise ServiceError(self.inactive_query, f"query {query.id} already ended {query.state}")
        query.state = "CANCELLED"
        return query


def page(rows: list[Any], body: dict[str, Any], size_key: str, limit: int) -> tuple[list[Any], str | None]:
    """One page of ``rows`` for a request with ``NextToken`` and a page-size field."""
    token = body.get("NextToken")
    try:
        start = int(token.removeprefix("page-")) if token else 0
    except ValueError:
        raise ServiceError("InvalidNextTokenException", f"invalid NextToken {token!r}") from None
    size = int(body.get(size_key) or limit)
    if not 1 <= size <= limit:
        raise ServiceError("InvalidParameterException", f"{size_key} must be between 1 and {limit}")
    end = start + size
    return rows[start:end], (f"page-{end:08d}" if end < len(rows) else None)


def _text(value: Any) -> str | None:
    """A result value as the services send it: a string (timestamps as 'YYYY-MM-DD HH:MM:SS.fff')."""
    if value is None:
        return None
    if hasattr(value, "isoformat") and hasattr(value, "hour"):
        return value.isoformat(sep=" ", timespec="milliseconds")
    return str(value)


class _Handler(BaseHTTPRequestHandler):
    service: LocalService

    def _answer(self) -> None:
        """Read one request in either protocol and write the service's answer."""
        target = self.headers.get("X-Amz-Target")
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
            if not isinstance(body, dict):
                raise json.JSONDecodeError("not an object", "", 0)
            if target is not None:
                answer = self.service.handle(target, body)
            else:
                answer = self.service.handle_rest(self.command, self.path, body)
            status = 200
        except ServiceError as error:
            answer, status = {"__type": error.code, "message": error.message}, error.status
        except json.JSONDecodeError:
            answer, status = {"__type": "SerializationException", "message": "body is not a JSON object"}, 400
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", JSON_11 if target is not None else restjson.REST_JSON)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        if status >= 300:
            self.send_header("x-amzn-ErrorType", str(answer["__type"]))
        self.end_headers()
        self.wfile.write(data)

    do_POST = do_GET = do_PUT = do_DELETE = _answer  # noqa: N815 (http.server's naming)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's signature)
        """Quiet: tests and workshops read the service's ``calls`` instead."""


def make_server(service: LocalService, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """An HTTP server for ``service`` on loopback (port 0: any free port)."""
    handler = type("Handler", (_Handler,), {"service": service})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def url_of(server: ThreadingHTTPServer) -> str:
    """The endpoint URL to give boto3 (``endpoint_url``)."""
    host, port = server.server_address[:2]
    return f"http://{host}:{port}"
