"""The Logs Insights queries (``kit/queries/logs_insights/*.cwl``) and their renderer.

The files are written in the CloudWatch Logs Insights query language; ``#`` lines are their
header. Placeholders ``{name}`` are filled only with ``Cwl`` fragments made here from validated
values: epoch milliseconds, kit-owned string literals and 12-digit account ids.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from kit import events
from kit.params import ACCOUNT_ID, Params
from kit.queries import RenderError, principal_arn

FOLDER = Path(__file__).resolve().parent / "logs_insights"
QUERIES = ("sts_events", "activity_events")
"""The queries of one slice; ``accounts`` is run only to cut an overflowing second by account."""
MAX_QUERY_STRING = 10_000
"""StartQuery ``queryString``: at most 10,000 characters (botocore's service model)."""

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_TEXT = re.compile(r"^[A-Za-z0-9 .:/_-]{1,200}$")
OTHER_ACCOUNT_IDS = "(ispresent(recipientAccountId) and recipientAccountId not like /^[0-9]{12}$/)"
"""The events whose recipientAccountId is present but not a 12-digit id (a regular expression:
CWL_QuerySyntax-operations-functions, "like"/"=~"), selected together since they cannot be named."""
_LAST_MS = 253_402_300_799_999
"""9999-12-31T23:59:59.999Z: the largest time a query may name."""


class Cwl(str):
    """A piece of Logs Insights query text the kit made."""


def string(value: str) -> Cwl:
    """A double-quoted string literal of kit-owned text (letters, digits, spaces and ``.:/_-``)."""
    if not isinstance(value, str) or not _TEXT.match(value):
        raise RenderError(f"refusing to put {value!r} into a Logs Insights query: only plain kit-owned text")
    return Cwl(f'"{value}"')


def principal(value: str) -> Cwl:
    """A double-quoted principal ARN: an IAM user, role or root ARN, or instance credentials
    (``kit.verify.INSTANCE_PRINCIPAL``); neither admits a quote or a backslash."""
    from kit.verify import INSTANCE_PRINCIPAL

    if not (isinstance(value, str) and INSTANCE_PRINCIPAL.match(value)):
        principal_arn(value)
    return Cwl(f'"{value}"')


def account_id(value: str) -> Cwl:
    """A double-quoted 12-digit account id."""
    if not isinstance(value, str) or not ACCOUNT_ID.match(value):
        raise RenderError(f"{value!r} is not a 12-digit AWS account id")
    return Cwl(f'"{value}"')


def millis(value: int) -> Cwl:
    """Epoch milliseconds as a number literal."""
    if type(value) is not int or not 0 <= value <= _LAST_MS:
        raise RenderError(f"{value!r} is not a time in epoch milliseconds")
    return Cwl(str(value))


def epoch_millis(value: datetime) -> int:
    """A timezone-aware datetime as epoch milliseconds."""
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise RenderError(f"{value!r} is not a timezone-aware datetime")
    return round(value.astimezone(timezone.utc).timestamp() * 1000)


@dataclass(frozen=True)
class Scope:
    """Which events of a slice a query reads: all, or those of some accounts (and, with
    ``unnamed``, those without a recipientAccountId; with ``other``, those whose recipientAccountId
    is not a 12-digit account id, which cannot be named in a query)."""

    accounts: tuple[str, ...] | None = None
    """None: every event; else these recipient accounts."""
    unnamed: bool = False
    other: bool = False

    def filter(self) -> Cwl:
        """The ``and (...)`` clause that selects the scope ('' for every event)."""
        if self.accounts is None:
            return Cwl("")
        for account in self.accounts:
            if not isinstance(account, str) or not ACCOUNT_ID.match(account):
                raise RenderError(f"{account!r} is not a 12-digit AWS account id")
        parts = []
        if self.accounts:
            parts.append(f"recipientAccountId in [{', '.join(string(account) for account in self.accounts)}]")
        if self.unnamed:
            parts.append("not ispresent(recipientAccountId)")
        if self.other:
            parts.append(OTHER_ACCOUNT_IDS)
        if not parts:
            raise RenderError("an account scope needs accounts or the events without one")
        return Cwl(f"\n  and ({' or '.join(parts)})")


EVERY_EVENT = Scope()


def template(name: str) -> str:
    """The text of ``logs_insights/<name>.cwl`` without its ``#`` header lines."""
    path = FOLDER / f"{name}.cwl"
    if not re.match(r"^[a-z_]+$", name) or not path.is_file():
        raise RenderError(f"no Logs Insights query named {name!r} in {FOLDER}")
    lines = path.read_text(encoding="utf-8").splitlines()
    return "\n".join(line for line in lines if not line.lstrip().startswith("#")).strip() + "\n"


def fill(text: str, values: dict[str, Cwl]) -> Cwl:
    """Replace every ``{name}`` by ``values[name]``; refuse unknown names and anything not ``Cwl``."""
    for key, value in values.items():
        if not isinstance(value, Cwl):
            raise RenderError(f"refusing {key}={value!r}: only query text made by kit.queries.cwl can be filled in")

    def replace(match: re.Match[str]) -> str:
        if match[1] not in values:
            raise RenderError(f"placeholder {{{match[1]}}} has no value")
        return values[match[1]]

    return Cwl(_PLACEHOLDER.sub(replace, text))


def render(name: str, start_ms: int, end_ms: int, scope: Scope = EVERY_EVENT) -> Cwl:
    """Query ``name`` over the half-open slice [start_ms, end_ms) of ``scope``."""
    if end_ms <= start_ms:
        raise RenderError(f"empty slice: {start_ms} to {end_ms}")
    text = fill(template(name), {"start_ms": millis(start_ms), "end_ms": millis(end_ms),
                                 "sts_source": string(events.STS_SOURCE), "scope": scope.filter()})
    if len(text) > MAX_QUERY_STRING:
        raise RenderError(f"Logs Insights query {name} is {len(text):,} characters, over the limit of "
                          f"{MAX_QUERY_STRING:,}")
    return text


def render_verification(params: Params, principals: list[str]) -> Cwl:
    """The query that checks, in the window of ``params`` (start it after the change) and for its
    one account, whether ``principals`` still call the global endpoint."""
    if params.start is None or params.end is None or len(params.accounts) != 1:
        raise RenderError("the verification query needs a time window and one account")
    if not principals:
        raise RenderError("no principals to verify")
    text = fill(template("verify_callers"), {
        "start_ms": millis(epoch_millis(params.start)), "end_ms": millis(epoch_millis(params.end)),
        "sts_source": string(events.STS_SOURCE), "account": account_id(params.accounts[0]),
        "principals": Cwl(", ".join(map(principal, sorted(set(principals)))))})
    if len(text) > MAX_QUERY_STRING:
        raise RenderError(f"the verification query is {len(text):,} characters, over the limit of "
                          f"{MAX_QUERY_STRING:,}; verify fewer callers at once")
    return text


def render_all(params: Params) -> dict[str, str]:
    """The queries over the whole window of ``params`` (what ``--dry-run`` prints); the engine
    runs the same text over slices of the window when a query would return too many rows."""
    if params.start is None or params.end is None:
        raise RenderError("the Logs Insights queries need a time window (start before end)")
    start, end = epoch_millis(params.start), epoch_millis(params.end)
    return {name: render(name, start, end) for name in QUERIES}
