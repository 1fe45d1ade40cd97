"""Typed partial decoding of trail files: only the fields ``kit.events`` reads, the rest skipped.

``msgspec`` decodes a trail file into ``Record`` structs holding only the fields the rules read
(most of ``responseElements``, resources... are skipped): slotted objects that the cyclic garbage
collector never tracks, cheaper to build, read and free than dicts. Every field is a string or an
object of the fields read below it, or None (absent or null), so the rules need no type checks. A
file of any other shape (a record that is no object, ``userIdentity`` as text, a number where a
string belongs...) raises ``msgspec.ValidationError`` and is read again by the full parser;
``record_of`` turns its records (and the dicts of other callers) into the same structs, a field of
another type becoming None: a field of an unexpected type counts as absent, whichever way the
record was read.
"""
from __future__ import annotations

from typing import Any, Optional, get_args, get_type_hints

import msgspec


class Issuer(msgspec.Struct, gc=False):
    arn: Optional[str] = None


class SessionContext(msgspec.Struct, gc=False):
    sessionIssuer: Optional[Issuer] = None


class Identity(msgspec.Struct, gc=False):
    type: Optional[str] = None
    accessKeyId: Optional[str] = None
    arn: Optional[str] = None
    accountId: Optional[str] = None
    principalId: Optional[str] = None
    userName: Optional[str] = None
    invokedBy: Optional[str] = None
    sessionContext: Optional[SessionContext] = None


class Tls(msgspec.Struct, gc=False):
    clientProvidedHostHeader: Optional[str] = None


class RequestDetails(msgspec.Struct, gc=False):
    endpointType: Optional[str] = None
    awsServingRegion: Optional[str] = None


class AdditionalEventData(msgspec.Struct, gc=False):
    RequestDetails: Optional[RequestDetails] = None


class RequestParameters(msgspec.Struct, gc=False):
    roleArn: Optional[str] = None


class Credentials(msgspec.Struct, gc=False):
    accessKeyId: Optional[str] = None


class ResponseElements(msgspec.Struct, gc=False):
    credentials: Optional[Credentials] = None


class Record(msgspec.Struct, gc=False):
    """The fields of a CloudTrail record that ``kit.events.Aggregator`` reads (None when absent)."""

    eventTime: Optional[str] = None
    eventID: Optional[str] = None
    eventSource: Optional[str] = None
    eventName: Optional[str] = None
    awsRegion: Optional[str] = None
    sourceIPAddress: Optional[str] = None
    userAgent: Optional[str] = None
    recipientAccountId: Optional[str] = None
    errorCode: Optional[str] = None
    errorMessage: Optional[str] = None
    sharedEventID: Optional[str] = None
    userIdentity: Optional[Identity] = None
    tlsDetails: Optional[Tls] = None
    additionalEventData: Optional[AdditionalEventData] = None
    requestParameters: Optional[RequestParameters] = None
    responseElements: Optional[ResponseElements] = None


class _TrailDocument(msgspec.Struct, gc=False):
    Records: list[Record]


_DECODER = msgspec.json.Decoder(_TrailDocument)
NO_IDENTITY = Identity()
"""The ``userIdentity`` of a record without one: every field absent."""


def judged_fields(data: bytes) -> list[Record] | None:
    """The records of a trail file's JSON with only the judged fields; None when the file is not of
    the expected shape (the caller parses it whole)."""
    try:
        return _DECODER.decode(data).Records
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None


def _fields(struct: type[msgspec.Struct]) -> tuple[tuple[str, type[msgspec.Struct] | None], ...]:
    """(name, struct type of a nested object or None for a string) of each field of ``struct``, in order."""
    hints = get_type_hints(struct)
    kinds = {name: next(kind for kind in get_args(hints[name]) if kind is not type(None))
             for name in struct.__struct_fields__}
    return tuple((name, kinds[name] if kinds[name] is not str else None) for name in struct.__struct_fields__)


_FIELDS = {struct: _fields(struct) for struct in (Issuer, SessionContext, Identity, Tls, RequestDetails,
                                                  AdditionalEventData, RequestParameters, Credentials,
                                                  ResponseElements, Record)}


def _lenient(struct: type[msgspec.Struct], value: Any) -> Any:
    """``value`` as a ``struct`` when it is an object (its nested objects likewise, its other fields
    when strings), else None."""
    if type(value) is not dict:
        return None
    get = value.get
    return struct(*[_text(get(name)) if nested is None else _lenient(nested, get(name))
                    for name, nested in _FIELDS[struct]])


def _text(value: Any) -> str | None:
    """``value`` when it is a string, else None."""
    return value if type(value) is str else None


def record_of(value: Any) -> Record | None:
    """A record parsed whole (a dict) as a ``Record``: a field that is no object where one belongs, or
    no string where a string belongs, is absent; None when ``value`` is not an object."""
    return _lenient(Record, value)
