"""Requests in the REST-JSON protocol, mapped back to an operation and its input.

botocore moves services between wire protocols (Athena went from JSON 1.1 to REST-JSON in botocore
1.44), so the local endpoints read both: a ``POST /`` with ``X-Amz-Target`` is JSON 1.1, anything
else is matched against the HTTP routes of botocore's own service model, so the routes are those of
the installed botocore, never a copy of ours.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import botocore.session

REST_JSON = "application/json"


@dataclass(frozen=True)
class Route:
    """One operation's HTTP method, path pattern and where its input members travel."""

    operation: str
    method: str
    path: re.Pattern[str]
    uri_members: tuple[tuple[str, str], ...]
    """(member, path label) pairs."""
    query_members: tuple[tuple[str, str], ...]
    """(member, query string name) pairs."""


def _pattern(request_uri: str) -> re.Pattern[str]:
    """The regular expression of a model ``requestUri`` such as ``/query-executions/{QueryExecutionId}``
    (a greedy label ``{Key+}`` may hold slashes)."""
    path = request_uri.split("?", 1)[0]
    parts, last = [], 0
    for label in re.finditer(r"\{([A-Za-z0-9_]+)(\+?)\}", path):
        parts.append(re.escape(path[last:label.start()]))
        parts.append(f"(?P<{label[1]}>{'.+' if label[2] else '[^/]+'})")
        last = label.end()
    parts.append(re.escape(path[last:]))
    return re.compile("^" + "".join(parts) + "$")


@lru_cache(maxsize=None)
def routes(service_name: str, operations: tuple[str, ...]) -> tuple[Route, ...]:
    """The REST routes of ``operations`` in botocore's model of ``service_name`` (none when the
    installed botocore speaks another protocol to it)."""
    model = botocore.session.get_session().get_service_model(service_name)
    if model.protocol != "rest-json":
        return ()
    found = []
    for name in operations:
        operation = model.operation_model(name)
        members = operation.input_shape.members.items() if operation.input_shape else ()
        located = [(member, shape.serialization.get("location"), shape.serialization.get("name", member))
                   for member, shape in members]
        found.append(Route(name, operation.http["method"], _pattern(operation.http["requestUri"]),
                           tuple((member, label) for member, where, label in located if where == "uri"),
                           tuple((member, label) for member, where, label in located if where == "querystring")))
    # literal paths before patterns that could swallow them
    return tuple(sorted(found, key=lambda route: -len(route.path.pattern)))


def read(service_name: str, operations: tuple[str, ...], method: str, target: str,
         body: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(operation, input) of a REST-JSON request, or None when no route of the model matches."""
    url = urlsplit(target)
    query = parse_qs(url.query, keep_blank_values=True)
    for route in routes(service_name, operations):
        match = route.path.match(url.path) if route.method == method else None
        if match is None:
            continue
        params = dict(body)
        params.update({member: unquote(match[label]) for member, label in route.uri_members})
        params.update({member: query[name][0] for member, name in route.query_members if name in query})
        return route.operation, params
    return None
