"""A local AWS endpoint for the live policy tests: answers what moto lacks, forwards the rest to moto.

moto 5 serves Organizations and IAM, but GetAccountSummary always reports
GlobalEndpointTokenVersion 1 (SetSecurityTokenServicePreferences is not implemented), and there
is no switch to refuse an operation. This stdlib server answers GetAccountSummary with a chosen
version, refuses chosen operations as AWS does (AccessDeniedException for the JSON protocol,
AccessDenied for the IAM query protocol) and forwards every other request to moto unchanged.
"""
from __future__ import annotations

import contextlib
import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator
from urllib.parse import parse_qs

import pytest

SUMMARY = ('<GetAccountSummaryResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><GetAccountSummaryResult>'
           '<SummaryMap><entry><key>GlobalEndpointTokenVersion</key><value>{version}</value></entry>'
           '<entry><key>Roles</key><value>3</value></entry></SummaryMap></GetAccountSummaryResult>'
           '<ResponseMetadata><RequestId>local-1</RequestId></ResponseMetadata></GetAccountSummaryResponse>')
QUERY_DENIED = ('<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type>'
                '<Code>AccessDenied</Code><Message>User is not authorized to perform: iam:{op}</Message></Error>'
                '<RequestId>local-2</RequestId></ErrorResponse>')


class LocalAws(ThreadingHTTPServer):
    """``token_version`` answers GetAccountSummary (None: forward to moto); ``deny`` lists refused operations."""

    def __init__(self, upstream: str, token_version: int | None = None, deny: tuple[str, ...] = ()) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream, self.token_version, self.deny = upstream, token_version, set(deny)
        self.seen: list[str] = []
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> LocalAws:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: LocalAws

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802 (http.server naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        target = self.headers.get("X-Amz-Target", "")
        operation = target.rsplit(".", 1)[-1] if target else parse_qs(body.decode()).get("Action", [""])[0]
        self.server.seen.append(operation)
        if operation in self.server.deny:
            if target:
                self._reply(400, json.dumps({"__type": "AccessDeniedException", "Message": f"not authorized to "
                                             f"perform: organizations:{operation}"}).encode(), "application/x-amz-json-1.1")
            else:
                self._reply(403, QUERY_DENIED.format(op=operation).encode(), "text/xml")
        elif operation == "GetAccountSummary" and self.server.token_version is not None:
            self._reply(200, SUMMARY.format(version=self.server.token_version).encode(), "text/xml")
        else:
            self._forward(body)

    def _forward(self, body: bytes) -> None:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
        request = urllib.request.Request(self.server.upstream + self.path, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                status, data, kind = answer.status, answer.read(), answer.headers.get("Content-Type", "")
        except urllib.error.HTTPError as error:
            status, data, kind = error.code, error.read(), error.headers.get("Content-Type", "")
        self._reply(status, data, kind)


@contextlib.contextmanager
def moto_on_loopback(patch: pytest.MonkeyPatch) -> Iterator[str]:
    """A moto server on 127.0.0.1 and dummy credentials in this process only (no shared config
    files, no profile or endpoint from the environment); yields its URL."""
    from moto.server import ThreadedMotoServer

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_CONFIG_FILE": "/nonexistent",
                        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        patch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
        patch.delenv(name, raising=False)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()
