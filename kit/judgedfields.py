"""Typed partial decoding of trail files: only the fields ``kit.events`` reads, the rest skipped.

``msgspec`` decodes a trail file into the same plain dicts ``orjson`` would make, minus every field
the rules never read (most of ``responseElements``, resources...): fewer Python objects to
build and free. Values the rules type-check themselves are ``Any``; the objects on the way to them
must be objects (or null). A file of any other shape (a record that is no object, ``userIdentity``
as text...) raises ``msgspec.ValidationError`` and is read again by the full parser, so its
records are judged or counted exactly as before.
"""
from __future__ import annotations

from typing import Any, Optional, TypedDict

import msgspec


class _Issuer(TypedDict, total=False):
    arn: Any


class _SessionContext(TypedDict, total=False):
    sessionIssuer: Optional[_Issuer]


class _Identity(TypedDict, total=False):
    type: Any
    accessKeyId: Any
    arn: Any
    accountId: Any
    principalId: Any
    userName: Any
    invokedBy: Any
    sessionContext: Optional[_SessionContext]


class _Tls(TypedDict, total=False):
    clientProvidedHostHeader: Any


class _RequestDetails(TypedDict, total=False):
    endpointType: Any
    awsServingRegion: Any


class _AdditionalEventData(TypedDict, total=False):
    RequestDetails: Optional[_RequestDetails]


class _RequestParameters(TypedDict, total=False):
    roleArn: Any


class _Credentials(TypedDict, total=False):
    accessKeyId: Any


class _ResponseElements(TypedDict, total=False):
    credentials: Optional[_Credentials]


class JudgedRecord(TypedDict, total=False):
    """The fields of a CloudTrail record that ``kit.events.Aggregator`` and ``kit.fieldgaps`` read."""

    eventTime: Any
    eventID: Any
    eventSource: Any
    eventName: Any
    awsRegion: Any
    sourceIPAddress: Any
    userAgent: Any
    recipientAccountId: Any
    errorCode: Any
    errorMessage: Any
    sharedEventID: Any
    userIdentity: Optional[_Identity]
    tlsDetails: Optional[_Tls]
    additionalEventData: Optional[_AdditionalEventData]
    requestParameters: Optional[_RequestParameters]
    responseElements: Optional[_ResponseElements]


class _TrailDocument(TypedDict):
    Records: list[JudgedRecord]


_DECODER = msgspec.json.Decoder(_TrailDocument)


def judged_fields(data: bytes) -> list[dict[str, Any]] | None:
    """The records of a trail file's JSON with only the judged fields; None when the file is not of
    the expected shape (the caller parses it whole)."""
    try:
        return _DECODER.decode(data)["Records"]
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
