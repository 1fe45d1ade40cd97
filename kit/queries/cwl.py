"""The Logs Insights queries (``kit/queries/logs_insights/*.cwl``) and their renderer.

The files are written in the CloudWatch Logs Insights query language; ``#`` lines are their
header. Placeholders ``{name}`` are filled only with ``Cwl`` fragments made here from validated
values: epoch milliseconds, kit-owned string literals, 12-digit account ids, temporary access key
ids, and the constants of ``fixed_values`` (default Regions, the Region-code pattern...).

Example event ids: ``kit.signals`` names the smallest eventID of a signal's events. Logs Insights
orders text by a natural sort (CWL_QuerySyntax-Sort: runs of digits compare as numbers), so
``min(eventID)`` could name another id than a plain text order. The queries therefore take the
minimum of ``sortable(eventID)``: the id with ``/`` written ``/-`` and each digit ``/A``..``/J``.
That text has no digit, every character of a CloudTrail eventID (hex digits and ``-``) keeps its
order, and the natural and the plain order agree on it; ``event_id_of`` turns it back.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from kit import events, regions, signals
from kit.params import ACCOUNT_ID, Params
from kit.queries import RenderError, compiles, principal_arn

FOLDER = Path(__file__).resolve().parent / "logs_insights"
QUERIES = ("sts_events", "activity_events", "token_uses")
"""The queries of one slice; ``accounts`` is run only to cut an overflowing second by account, and
``issued_keys`` (``KEY_QUERY``) once every use is known, for the keys the uses name."""
KEY_QUERY = "issued_keys"
MAX_QUERY_STRING = 10_000
"""StartQuery ``queryString``: at most 10,000 characters (botocore's ``logs`` service model,
``QueryString`` max 10000, checked 2026; the API Reference page API_StartQuery says the same length
constraint, UNCONFIRMED here: not in the stored documentation)."""
ACCESS_KEY = re.compile(r"^ASIA[A-Z0-9]{12,124}$")
"""A temporary access key id as STS issues them: ``ASIA`` and upper-case letters and digits, 16 to
128 characters in all (IAM's limits for an access key id)."""

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_TEXT = re.compile(r"^[A-Za-z0-9 .:/_-]{1,200}$")
OTHER_ACCOUNT_IDS = "(ispresent(recipientAccountId) and recipientAccountId not like /^[0-9]{12}$/)"
"""The events whose recipientAccountId is present but not a 12-digit id (a regular expression:
CWL_QuerySyntax-operations-functions, "like"/"=~"), selected together since they cannot be named."""
_LAST_MS = 253_402_300_799_999
"""9999-12-31T23:59:59.999Z: the largest time a query may name."""
_SORTABLE = (("/", "/-"), *((digit, "/" + letter) for digit, letter in zip("0123456789", "ABCDEFGHIJ")))
"""``sortable``'s replacements, in the order they are applied (the escape character first)."""
_UNSORTABLE = {code[1]: text for text, code in _SORTABLE}


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


def access_key(value: str) -> Cwl:
    """A double-quoted temporary access key id (``ACCESS_KEY``)."""
    if not isinstance(value, str) or not ACCESS_KEY.match(value):
        raise RenderError(f"{value!r} is not a temporary access key id")
    return Cwl(f'"{value}"')


def regex(value: str) -> Cwl:
    """A Logs Insights regular expression literal ``/.../`` of a kit-owned pattern."""
    if not isinstance(value, str) or not value or "/" in value or "\n" in value:
        raise RenderError(f"refusing to put {value!r} into a query as a regular expression")
    return Cwl(f"/{compiles(value)}/")


def sortable(field: str) -> Cwl:
    """The expression of field ``field`` with ``/`` written ``/-`` and digits ``/A``..``/J`` (see the module)."""
    if not re.match(r"^[A-Za-z][A-Za-z0-9.]*$", field):
        raise RenderError(f"{field!r} is not a field name")
    text = field
    for old, new in _SORTABLE:
        text = f"replace({text}, {string(old)}, {string(new)})"
    return Cwl(text)


def event_id_of(text: str) -> str:
    """The eventID whose ``sortable`` form is ``text``; ValueError when ``text`` is not one."""
    out, chars = [], iter(text)
    for char in chars:
        if char == "/":
            code = next(chars, "")
            if code not in _UNSORTABLE:
                raise ValueError(f"{text!r} is not an encoded eventID")
            char = _UNSORTABLE[code]
        out.append(char)
    return "".join(out)


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


def fixed_values() -> dict[str, Cwl]:
    """The placeholders whose text never changes: the STS source, the opt-in Region test of
    ``kit.regions.is_opt_in`` (default Regions, Region-code pattern), the length of
    ``kit.signals.REJECTED_MESSAGE`` and the sortable eventID."""
    return {"sts_source": string(events.STS_SOURCE),
            "default_regions": Cwl(", ".join(string(region) for region in sorted(regions.DEFAULT_REGIONS))),
            "region_code": regex(regions.REGION_CODE.pattern),
            "message_head": Cwl(str(len(signals.REJECTED_MESSAGE))), "sortable_event_id": sortable("eventID")}


def render(name: str, start_ms: int, end_ms: int, scope: Scope = EVERY_EVENT, keys: Sequence[str] = ()) -> Cwl:
    """Query ``name`` over the half-open slice [start_ms, end_ms) of ``scope`` (``keys``: the access
    key ids of ``issued_keys``)."""
    if end_ms <= start_ms:
        raise RenderError(f"empty slice: {start_ms} to {end_ms}")
    values = {"start_ms": millis(start_ms), "end_ms": millis(end_ms), "scope": scope.filter(), **fixed_values()}
    if keys:
        values["keys"] = Cwl(", ".join(map(access_key, keys)))
    text = fill(template(name), values)
    if len(text) > MAX_QUERY_STRING:
        raise RenderError(f"Logs Insights query {name} is {len(text):,} characters, over the limit of "
                          f"{MAX_QUERY_STRING:,}")
    return text


def key_chunks(keys: Sequence[str], start_ms: int, end_ms: int, most: int) -> list[tuple[str, ...]]:
    """``keys`` in their order, cut into runs of at most ``most`` whose ``issued_keys`` query over
    [start_ms, end_ms) stays within ``MAX_QUERY_STRING`` (any slice of the same window: same length)."""
    if not keys:
        return []
    base = len(render(KEY_QUERY, start_ms, end_ms, keys=keys[:1])) - len(access_key(keys[0]))
    chunks: list[tuple[str, ...]] = []
    chunk: list[str] = []
    length = base
    for key in keys:
        cost = len(access_key(key)) + 2 * bool(chunk)  # ', ' between literals
        if chunk and (len(chunk) >= most or length + cost > MAX_QUERY_STRING):
            chunks.append(tuple(chunk))
            chunk, length, cost = [], base, cost - 2
        chunk.append(key)
        length += cost
    return [*chunks, tuple(chunk)]


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
    runs the same text over slices of the window when a query would return too many rows, then
    ``issued_keys`` for the keys the rows of ``token_uses`` name (so it is not among these)."""
    if params.start is None or params.end is None:
        raise RenderError("the Logs Insights queries need a time window (start before end)")
    start, end = epoch_millis(params.start), epoch_millis(params.end)
    return {name: render(name, start, end) for name in QUERIES}
