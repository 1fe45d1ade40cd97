"""Evidence of breakage: what CloudTrail records when a caller of the global endpoint already fails.

The plan infers risk from where a caller runs; these signals are the damage itself, found by every
engine with the same rules (facts: ../shared/reference/sts-facts.md §7 and §9):

* ``token-v1-in-use``: a session issued by a global-endpoint STS call (its
  ``responseElements.credentials.accessKeyId``) used in an opt-in Region (an event whose
  ``userIdentity.accessKeyId`` is that key and whose ``awsRegion`` is opt-in). Global-endpoint
  tokens are version 1 unless the account asks for version 2, and version 1 tokens are refused in
  opt-in Regions;
* ``token-rejected``: those uses that failed because the token was refused there
  (``InvalidClientTokenId``, or ``UnrecognizedClientException`` / "The security token included in
  the request is invalid" from services that answer so);
* on the callers' STS calls: ``region-disabled`` (``RegionDisabledException``), ``sts-throttled``
  (``Throttling``/``ThrottlingException`` or "Rate exceeded"), ``signature-region``
  (``SignatureDoesNotMatch`` "Credential should be scoped to a valid region") and ``scp-deny``
  (``AccessDenied`` "... with an explicit deny in a service control policy").

Who a signal belongs to: the STS call's caller (account, principal, user agent, as in
``sts_calls``); for the token signals, the caller whose global call issued the session. Rows of
the rollup table ``signals`` (``kit.rollup.SIGNAL_COLUMNS``), one per caller, signal, endpoint and
Region; per-second throttled STS calls in the table ``throttled`` (``kit.rollup.SECOND_COLUMNS``).

``endpoint`` and ``region`` of a row: for the STS-call signals, the call's endpoint and its quota
bucket's Region (``bucket_region`` of the ``seconds`` table: ``awsRegion`` for a Regional call, the
serving Region, else us-east-1, for a global one); for the token signals, ``global`` (the issuing
endpoint) and the ``awsRegion`` of the use.

Counting rules shared by the engines:

* only events of the window, each eventID once (duplicates dropped, as for the other tables);
* a STS call counts for an error signal when it is a counted caller call (the ``sts_calls`` rules:
  not AWS acting for you, with a host header, of a selected account, a cross-account twin once)
  and ``sts_signal(errorCode, errorMessage)`` names a signal; a throttled one also counts in
  ``throttled`` for its caller, bucket and second;
* an issuance is a counted caller STS call with endpoint ``global``, no ``errorCode`` and a string
  ``responseElements.credentials.accessKeyId``; a use is any event of the window (any source,
  never the issuing call itself) with that key as ``userIdentity.accessKeyId`` in an opt-in Region
  (``kit.regions.is_opt_in``), counted once per ``sharedEventID`` when it has one (the copy with the
  smallest eventID, so the example below is the same whichever copies an engine sees first); every use counts
  for ``token-v1-in-use`` and a rejected one (``is_rejected``) for ``token-rejected`` as well;
* ``events``: how many; ``sessions``: distinct issued keys among them (0 for the STS-call signals);
  ``first_seen``/``last_seen``: their eventTimes; ``example_event_id``: the smallest eventID
  among them ('' when none has one), so every engine names the same example.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kit.judgedfields import ResponseElements

TOKEN_IN_USE = "token-v1-in-use"
TOKEN_REJECTED = "token-rejected"
REGION_DISABLED = "region-disabled"
THROTTLED = "sts-throttled"
SIGNATURE_REGION = "signature-region"
SCP_DENY = "scp-deny"

SIGNALS = (TOKEN_IN_USE, TOKEN_REJECTED, REGION_DISABLED, THROTTLED, SIGNATURE_REGION, SCP_DENY)
"""Every signal code, in the order the plan lists them."""
TOKEN_SIGNALS = (TOKEN_IN_USE, TOKEN_REJECTED)
"""Signals of the issuance-to-use join; the others are read off the callers' own STS calls."""
LIVE_BREAKAGE = (TOKEN_REJECTED, REGION_DISABLED, THROTTLED, SIGNATURE_REGION, SCP_DENY)
"""Signals that show calls failing today: they make a caller P1."""

REGION_DISABLED_CODE = "RegionDisabledException"
REJECTED_CODES = ("InvalidClientTokenId", "UnrecognizedClientException")
REJECTED_MESSAGE = "The security token included in the request is invalid"
"""A use whose token the Region refused: one of these error codes, or this message start."""
THROTTLING_CODES = ("Throttling", "ThrottlingException")
THROTTLING_MESSAGE = "Rate exceeded"
SIGNATURE_CODE = "SignatureDoesNotMatch"
SIGNATURE_MESSAGE = "Credential should be scoped to a valid region"
DENIED_CODES = ("AccessDenied", "AccessDeniedException")
SCP_MESSAGE = "explicit deny in a service control policy"
"""Contained (anywhere) in the message of an access denied by a service control policy."""


def sts_signal(error_code: str, error_message: str) -> str:
    """The signal of a counted caller STS call with ``error_code``/``error_message`` ('' for none).

    The SQL engines express the same tests with the constants above (``kit/queries/_signals.sql``)."""
    if not error_code and not error_message:
        return ""
    if error_code == REGION_DISABLED_CODE:
        return REGION_DISABLED
    if error_code in THROTTLING_CODES or error_message.startswith(THROTTLING_MESSAGE):
        return THROTTLED
    if error_code == SIGNATURE_CODE and SIGNATURE_MESSAGE in error_message:
        return SIGNATURE_REGION
    if error_code in DENIED_CODES and SCP_MESSAGE in error_message:
        return SCP_DENY
    return ""


def is_rejected(error_code: str, error_message: str) -> bool:
    """True when a use of a session failed because the Region refused its token."""
    return error_code in REJECTED_CODES or error_message.startswith(REJECTED_MESSAGE)


def issued_key(response: ResponseElements | None) -> str:
    """The access key id a STS response (``responseElements`` of a ``kit.judgedfields.Record``) handed
    out ('' when there is none)."""
    credentials = response.credentials if response is not None else None
    return (credentials.accessKeyId if credentials is not None else None) or ""
