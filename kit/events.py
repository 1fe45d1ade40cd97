"""Judging single CloudTrail events and adding them up into the rollup, in Python.

The local engine runs ``Aggregator.add`` on every record (a ``kit.judgedfields.Record``: fields
of an unexpected type are absent by then); the SQL engines express the same rules in
``kit/queries``. The rules (see README, "How events are judged"):

* a call is global when ``additionalEventData.RequestDetails.endpointType`` says so, or, on
  events from before 2025 that lack it, when the host header is ``sts.amazonaws.com`` or
  ``sts-global.<region>.amazonaws.com``; every other STS host is Regional;
* AWS acting for you is never a caller (``sourceIPAddress`` "AWS Internal" or ending in
  ``.amazonaws.com``, a ``userAgent`` starting "aws-internal/", ``userIdentity.type``
  "AWSService", ``userIdentity.invokedBy`` set), host header or not; other STS events with no
  host header are too old to carry ``tlsDetails``: both are counted in the report and left out;
* an event counts once per ``eventID`` (redelivered files, repeated records); events without
  one count as they are;
* a cross-account call logged in both accounts (same ``sharedEventID``) counts once, for the
  caller; the resource account's copy is used only when the caller's copy is missing;
* principals are stable: the role behind a session, the role id (``principal:AROA...``) of a
  resource account's copy, the session ARN of instance credentials (one caller per instance);
* a field of an unexpected type is absent; ``eventTime`` is ISO 8601 with ``Z`` or an offset,
  normalized to UTC; an impossible time is skipped as unparseable;
* evidence of breakage (``kit.signals``) is counted by ``kit.signalcounts``: the signal of every counted
  caller STS call, the keys successful global calls issue, and every event's use of a key in an
  opt-in Region;
* callers' STS calls since ``kit.fieldgaps.ROLLOUT`` (counted ones and those without a host header)
  that lack endpointType, awsServingRegion or the host header are counted in ``field_gaps``, as the
  SQL engines' ``field_gaps.sql`` counts them.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Any, Iterable

import numpy as np

from kit import secondcounts, stscounts
from kit.callerkeys import CallerKeys
from kit.eventids import DAY, SECONDS_A_DAY, SeenIds, days_of, hash_ids
from kit.fieldgaps import FIELDS, ROLLOUT
from kit.judgedfields import NO_IDENTITY, Identity, Record, RequestParameters, record_of
from kit.readreport import DUPLICATE_REASON
from kit.regions import GLOBAL_ENDPOINT_REGION, GLOBAL_SERVICE_SOURCES
from kit.signalcounts import OPT_IN, SignalCounts
from kit.signals import issued_key
from kit.spill import SpilledColumns

STS_SOURCE = "sts.amazonaws.com"
INSTANCE_SESSION = ":assumed-role/aws:ec2-instance/"
"""In the ARN of instance credentials (the EC2 instance's own session): one principal per instance."""

SKIP_NOT_OBJECT = "record is not a JSON object"
SKIP_NO_TIME = "no eventTime"
SKIP_BAD_TIME = "unparseable eventTime"
SKIP_NO_SOURCE = "no eventSource"
SKIP_OUTSIDE_WINDOW = "outside the time window"
SKIP_DUPLICATE = DUPLICATE_REASON
SKIP_ACCOUNT = "caller account not selected"
SKIP_SERVICE = "STS call made by an AWS service for you (not a caller)"
SKIP_SERVICE_ACTIVITY = "non-STS call made by an AWS service (no workload Region signal)"
SKIP_NO_HOST = "STS call without a host header (event version before 1.08): endpoint unknown"
SKIP_TWIN = "cross-account copy of a call counted in the caller's account"
SKIP_GLOBAL_SERVICE = "global-service event (says us-east-1 wherever the caller runs)"
SKIP_NO_PRINCIPAL = "no identifiable principal"

JUDGED_SKIPS = (SKIP_NO_SOURCE, SKIP_GLOBAL_SERVICE, SKIP_SERVICE, SKIP_SERVICE_ACTIVITY, SKIP_NO_PRINCIPAL,
                SKIP_ACCOUNT, SKIP_NO_HOST)
"""Skip reasons an event can get after the duplicate check (their index is stored per event id)."""
COUNTED_SKIP, COUNTED_STS, COUNTED_STS_FAILED, COUNTED_ACTIVITY, COUNTED_TWIN = range(5)
"""What an event with an eventID contributed: the low bits of ``Aggregator.event_kinds`` ..."""
KIND_BITS = 3
"""... and above them its field gaps: 1 when counted in ``field_gaps``, plus 2, 4, 8 for each field of
``kit.fieldgaps.FIELDS`` it lacks (in that order)."""
REF_SHIFT = 7
"""Until ``seal``, what an event contributed is one int: its kind and gaps (the low ``REF_SHIFT``
bits), then 1 + where (its per-second row, activity key or JUDGED_SKIPS reason; 0 for none)."""
_SKIP_MADE = {reason: COUNTED_SKIP | (index + 1) << REF_SHIFT for index, reason in enumerate(JUDGED_SKIPS)}
ERROR = 1 << 32
"""What a failed call adds to the count of its per-second row (``Aggregator.per_second_counts``) besides 1."""
ROLLOUT_TIME = ROLLOUT.strftime("%Y-%m-%dT%H:%M:%SZ")
"""STS calls from this time on are checked for field gaps."""

TIME_PATTERN = (r"^[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[T ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
                r"(\.[0-9]{1,9})?(Z|[+-](0[0-9]|1[0-4]):[0-5][0-9])?$")
"""The eventTime forms accepted (the SQL engines use the same pattern): seconds, optional fraction
(dropped), ``Z``, an offset up to 14 hours, or no zone at all (UTC, as CloudTrail writes it; SIEM
exports such as Panther's write '2024-06-02 20:16:22.000000000')."""
_TIME = re.compile(TIME_PATTERN)
_MINUTE_SECONDS = frozenset(f":{minute:02d}:{second:02d}Z" for minute in range(60) for second in range(60))
_GOOD_HOURS: set[str] = set()
"""'YYYY-MM-DDTHH' of canonical times already checked (the fast path of ``Aggregator.add``)."""
_GOOD_HOURS_MAX = 200_000


def _remember_hour(value: str) -> None:
    """Let the fast path take the hour of ``value``, a checked UTC time, when it is canonical."""
    if len(value) == 20 and value[10] == "T" and len(_GOOD_HOURS) < _GOOD_HOURS_MAX:
        _GOOD_HOURS.add(value[:13])


def utc_text(value: str) -> str | None:
    """``value`` (an ISO 8601 time with ``Z``, an offset or no zone) as UTC 'YYYY-MM-DDTHH:MM:SSZ'; None
    when it does not match ``TIME_PATTERN`` or names no real instant (30 February)."""
    if len(value) == 20 and value[:13] in _GOOD_HOURS and value[13:] in _MINUTE_SECONDS:
        return value
    match = _TIME.match(value)
    if match is None:
        return None
    zone = match[5] or "Z"
    if zone == "Z" and match[2] <= "28":
        _remember_hour(value)
        return f"{value[:10]}T{value[11:19]}Z"
    try:
        moment = datetime(int(value[:4]), int(match[1]), int(match[2]), int(match[3]), int(value[14:16]),
                          int(value[17:19]))
        if zone != "Z":
            offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
            moment = moment - offset if zone[0] == "+" else moment + offset
    except (ValueError, OverflowError):
        return None
    if zone == "Z":
        _remember_hour(value)  # a real day after the 28th
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment.year >= 1000 else None


def endpoint_of(endpoint_type: str | None, host: str) -> str:
    """'global' or 'regional' for an STS call with a host header."""
    if endpoint_type in ("global", "regional"):
        return endpoint_type
    return "global" if host == "sts.amazonaws.com" or host.startswith("sts-global.") else "regional"


def role_of_session(arn: str) -> str:
    """The IAM role ARN behind an assumed-role session ARN (path unknown, so left out)."""
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[5].startswith("assumed-role/"):
        role = parts[5].split("/")[1]
        return f"arn:{parts[1]}:iam::{parts[4]}:role/{role}"
    return arn


def account_of_arn(arn: str) -> str:
    """The account id field of an ARN ('' when absent)."""
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 else ""


def principal_of(identity: Identity, request: RequestParameters | None) -> tuple[str, str]:
    """(principal, identity type): the role behind a session (the session itself for instance
    credentials), the user, the target role, or the role id of a resource account's copy."""
    kind, arn = identity.type or "", identity.arn or ""
    if kind in ("AssumedRole", "FederatedUser"):
        if INSTANCE_SESSION in arn:
            return arn, kind
        context = identity.sessionContext
        issuer = context.sessionIssuer if context is not None else None
        return (issuer.arn if issuer is not None else None) or role_of_session(arn), kind
    if kind in ("WebIdentityUser", "SAMLUser"):
        return (request.roleArn if request is not None else None) or identity.userName or "", kind
    if arn:
        return arn, kind
    account = identity.accountId
    if kind == "Root" and account:
        return f"arn:aws:iam::{account}:root", kind
    principal_id = identity.principalId or ""
    if principal_id.startswith("AROA") or kind == "AWSAccount":  # ROLEID:session-name -> the role
        principal_id = principal_id.split(":", 1)[0]
    return (f"principal:{principal_id}" if principal_id else ""), kind


def second_of(key: tuple, second: str) -> tuple:
    """The ``seconds`` key of an STS call of ``sts`` key ``key`` made in ``second`` ('YYYY-MM-DDTHH:MM:SS')."""
    account, principal, _, agent, _, _, _, endpoint, region, serving, _ = key
    bucket_region = region if endpoint == "regional" else (serving or GLOBAL_ENDPOINT_REGION)
    return (account, principal, agent, endpoint, bucket_region, second)


class Aggregator:
    """Adds events into rollup dictionaries; partial aggregators merge with ``merge``.

    Its state (what a batch's cache entry must hold) is plain data: see ``state``."""

    def __init__(self, start: str, end: str, accounts: Iterable[str] = ()) -> None:
        self.start = start
        self.end = end
        self.accounts = frozenset(accounts)
        self.per_second: dict[tuple[int, str], int] = {}
        """Until ``seal`` (and for ``settle_twins``): per (caller key code, time 'YYYY-MM-DDTHH:MM:SSZ') of
        STS calls, its row in ``per_second_counts`` (its position in this dict) ..."""
        self.per_second_counts: list[int] = []
        """... and their calls, plus ``ERROR`` for each failed one: both the per-minute and the per-second
        rows are made of them (``_per_second_rows``)."""
        self.sts_keys: dict[tuple, int] | CallerKeys = {}
        """The code of each caller key (the fields of an ``sts`` key but the minute; a ``CallerKeys`` once
        batches are merged into this aggregator, see ``_caller_keys``) ..."""
        self.sts_slots, self.sts_calls, self.sts_errors, self.sts_first, self.sts_last = stscounts.empty()
        """... and a sealed batch's per-minute rows as arrays (see kit.stscounts)."""
        self._minute_parts = SpilledColumns(stscounts.SPILLED, "per-minute STS calls")
        """In the aggregator that merges batches: the merged batches' per-minute rows, on disk until
        ``sts_rows`` (they grow with the calls and are read once, at the end)."""
        self.second_keys: dict[tuple, int] = {}
        """The code of each caller key of a ``second_of`` key (its first five fields) ..."""
        self.second_codes, self.second_times, self.second_calls = secondcounts.empty()
        """... and the per-second calls as arrays, always compacted (see kit.secondcounts)."""
        self._second_parts = SpilledColumns((secondcounts.CODE, secondcounts.TIME, secondcounts.CALLS),
                                            "per-second STS calls")
        """In the aggregator that merges batches: the merged batches' per-second rows, on disk until
        ``take_second_rows`` (they grow with the calls and are read once, at the end)."""
        self.activity: dict[tuple, int] = {}
        self.twins: dict[str, tuple] = {}
        """Resource-account copies (by sharedEventID) waiting for their caller's copy (``settle_twins``): the
        caller (the fields of an ``sts`` key but the minute), failed (1 or 0), the time and the outcome."""
        self._twin_callers: dict[tuple, tuple] = {}
        """The one stored copy of each caller of this batch's twins: the twins share it (memory; the
        pickle of a batch writes it once)."""
        self.caller_copies: set[str] = set()
        """The sharedEventIDs of this batch's caller copies."""
        self._copies: SeenIds | None = None
        """In the aggregator that merges batches: hashes of the merged batches' caller copies ..."""
        self._settled: SeenIds | None = None
        """... and of the sharedEventIDs whose twin was left out for its caller's copy (once each)."""
        self.skipped: dict[str, int] = {}
        self.events = 0
        self.field_gaps = [0] * (1 + len(FIELDS))
        """Callers' STS calls since ``ROLLOUT_TIME``, then how many lack each field of ``kit.fieldgaps.FIELDS``."""
        self.outside: tuple[str, str] | None = None
        """Earliest and latest eventTime of the events outside the window."""
        self.event_ids = np.zeros(0, dtype=np.uint64)
        """After ``seal``: hashes of the eventIDs of this batch's judged events (see kit.eventids)..."""
        self.event_kinds = np.zeros(0, dtype=np.uint8)
        """... what each contributed (COUNTED_*) ..."""
        self.event_refs = np.zeros(0, dtype=np.int32)
        """... where (index of its per-minute row or activity key, or of its JUDGED_SKIPS reason) ..."""
        self.event_seconds = np.zeros(0, dtype=np.int64)
        """... for STS calls, when (seconds since 1970, UTC: the time of its ``seconds`` key) ..."""
        self.event_days = np.zeros(0, dtype=DAY)
        """... and the day of each (``kit.eventids.days_of``: a duplicate is a copy of the same event)."""
        self.names: dict[str, str] = {}
        """One copy of each repeated key string (account, ARN, user agent...): keeps keys small ..."""
        self._callers: dict[tuple, tuple[int, int, tuple]] = {}
        """Caller (the fields of an ``sts`` key but the minute) -> ``_new_caller``."""
        self._ids: dict[str, int] = {}
        """Until ``seal``: eventID -> what the event contributed, packed (see ``REF_SHIFT``; also finds
        repeats in the batch)."""
        self._id_times: list[str] = []
        """Until ``seal``: the eventTime of each id of ``_ids``, in its order."""
        self._activity_rows: dict[tuple, int] = {}
        """Until ``seal``: the position of each ``activity`` key (what its events' refs point to)."""
        self._seen: SeenIds | None = None
        """In the aggregator that merges batches: the ids of the batches merged so far."""
        self.breakage = SignalCounts()
        """Evidence of breakage (kit.signals) found so far."""

    STATE = ("start", "end", "accounts", "sts_keys", "sts_slots", "sts_calls", "sts_errors", "sts_first",
             "sts_last", "second_keys", "second_codes", "second_times", "second_calls",
             "activity", "twins", "caller_copies", "skipped", "events", "field_gaps", "outside",
             "event_ids", "event_kinds", "event_refs", "event_seconds", "event_days", "breakage")
    """What a sealed batch aggregator holds: dicts keyed by tuples of str, lists, sets, str, int,
    None and numpy arrays (no objects of the kit: ``breakage`` as its own state)."""

    def state(self) -> dict[str, Any]:
        """The plain data of a sealed aggregator (for a cache entry)."""
        state = {name: getattr(self, name) for name in self.STATE}
        state["breakage"] = self.breakage.state()
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "Aggregator":
        """The aggregator of ``state()`` (``ValueError`` when its signal counts are malformed)."""
        aggregator = cls(state["start"], state["end"], state["accounts"])
        for name in cls.STATE:
            setattr(aggregator, name, state[name])
        aggregator.breakage = SignalCounts.from_state(state["breakage"])
        return aggregator

    def __getstate__(self) -> dict[str, Any]:
        """Pickled as its state (pickle keeps the sharing of key strings within one dump by itself)."""
        return self.state()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(Aggregator.from_state(state).__dict__)

    def _skip(self, reason: str) -> int:
        """Count a skipped event; what it contributed (packed)."""
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        return _SKIP_MADE.get(reason, COUNTED_SKIP)

    def add(self, records: list[Any]) -> None:
        """Judge and count every record of one trail file: ``kit.judgedfields.Record`` structs, or records
        parsed whole (dicts, turned into structs by ``record_of``)."""
        self.events += len(records)
        start, end, ids, id_times = self.start, self.end, self._ids, self._id_times
        good_hours, minute_seconds, opt_in = _GOOD_HOURS, _MINUTE_SECONDS, OPT_IN
        add_sts, add_activity, skip, use = self._add_sts, self._add_activity, self._skip, self.breakage.use
        whole = converted = None
        for record in records:
            if type(record) is not Record:
                if record is not whole:  # a record parsed whole; the same one repeated is converted once
                    whole, converted = record, record_of(record)
                record = converted
                if record is None:
                    skip(SKIP_NOT_OBJECT)
                    continue
            time = record.eventTime
            if not time:
                skip(SKIP_NO_TIME)
                continue
            if not (len(time) == 20 and time[:13] in good_hours and time[13:] in minute_seconds):
                time = utc_text(time)  # the fast path above: a canonical time of an hour seen before
                if time is None:
                    skip(SKIP_BAD_TIME)
                    continue
            if time < start or time >= end:
                skip(SKIP_OUTSIDE_WINDOW)
                self.outside = (min(self.outside[0], time), max(self.outside[1], time)) if self.outside else (time, time)
                continue
            event_id = record.eventID or None
            if event_id in ids:
                skip(SKIP_DUPLICATE)
                continue
            if opt_in.get(record.awsRegion, True):  # else surely no use in an opt-in Region
                use(record, time, event_id)
            source = record.eventSource
            if source == STS_SOURCE:
                made = add_sts(record, time, event_id)
            elif not source:
                made = skip(SKIP_NO_SOURCE)
            elif source in GLOBAL_SERVICE_SOURCES:
                made = skip(SKIP_GLOBAL_SERVICE)
            else:
                made = add_activity(record)
            if event_id is not None:
                ids[event_id] = made  # what it counted, in case a later batch has it again
                id_times.append(time)

    def _add_activity(self, record: Record) -> int:
        identity = record.userIdentity or NO_IDENTITY
        principal, kind = principal_of(identity, None)
        if kind == "AWSService" or (not principal and identity.invokedBy):
            return self._skip(SKIP_SERVICE_ACTIVITY)
        account, region = identity.accountId or record.recipientAccountId or "", record.awsRegion or ""
        if not principal or (self.accounts and account not in self.accounts):
            return self._skip(SKIP_NO_PRINCIPAL if not principal else SKIP_ACCOUNT)
        key = (account, principal, region)
        row = self._activity_rows.get(key)
        if row is None:
            key = self._shared(key)
            row = self._activity_rows[key] = len(self._activity_rows)
            self.activity[key] = 1
        else:
            self.activity[key] += 1
        return COUNTED_ACTIVITY | (row + 1) << REF_SHIFT

    def _add_sts(self, record: Record, time: str, event_id: str | None) -> int:
        identity = record.userIdentity or NO_IDENTITY
        source_ip, agent, region, name, recipient, error, shared, message = (
            record.sourceIPAddress or "", record.userAgent or "", record.awsRegion or "", record.eventName or "",
            record.recipientAccountId or "", record.errorCode or "", record.sharedEventID, record.errorMessage or "")
        if (source_ip == "AWS Internal" or source_ip.endswith(".amazonaws.com") or agent.startswith("aws-internal/")
                or identity.type == "AWSService" or identity.invokedBy):
            return self._skip(SKIP_SERVICE)  # AWS acting for you: never a caller
        tls, data = record.tlsDetails, record.additionalEventData
        host = (tls.clientProvidedHostHeader if tls is not None else None) or ""
        details = data.RequestDetails if data is not None else None
        endpoint_type, serving = (details.endpointType or "", details.awsServingRegion or "") if details else ("", "")
        gaps = 1 + 2 * (not endpoint_type) + 4 * (not serving) + 8 * (not host) if time >= ROLLOUT_TIME else 0
        if not host:
            return self._skip(SKIP_NO_HOST) | self._gapped(gaps)
        principal, kind = principal_of(identity, record.requestParameters)
        account = identity.accountId or account_of_arn(principal) or recipient
        if self.accounts and account not in self.accounts:
            return self._skip(SKIP_ACCOUNT)
        endpoint = endpoint_of(endpoint_type, host)
        caller = (account, principal, kind, agent, source_ip, name, host, endpoint, region, serving)
        failed = 1 if error else 0
        issued = issued_key(record.responseElements) if endpoint == "global" and not error else ""
        outcome = (error, message, issued, event_id)
        if shared:
            if (recipient or account) != account:
                caller = self._twin_callers.get(caller) or self._twin_caller(caller)
                self.twins[shared] = (caller, failed, time, *outcome)
                return COUNTED_TWIN | self._gapped(gaps)
            self.caller_copies.add(shared)
        row = self._count(caller, failed, time, outcome)
        made = (COUNTED_STS_FAILED if failed else COUNTED_STS) | (row + 1) << REF_SHIFT
        return made | self._gapped(gaps) if gaps else made

    def _twin_caller(self, caller: tuple) -> tuple:
        """``caller`` of a twin seen first, stored once."""
        stored = self._shared(caller)
        self._twin_callers[stored] = stored
        return stored

    def _gapped(self, gaps: int, sign: int = 1) -> int:
        """Count (``sign`` 1) or take out (-1) the field gaps ``gaps`` of one event; their bits in
        its kind (see ``KIND_BITS``)."""
        if gaps:
            counts = self.field_gaps
            counts[0] += sign
            if gaps > 1:
                for field in range(1, len(counts)):
                    if gaps >> field & 1:
                        counts[field] += sign
        return gaps << KIND_BITS

    def _shared(self, key: tuple) -> tuple:
        """``key`` made of the single stored copy of each string."""
        return tuple(map(self.names.setdefault, key, key))

    def _count(self, caller: tuple, failed: int, time: str, outcome: tuple) -> int:
        """Count one STS call of ``caller`` (the fields of an ``sts`` key but the minute) at ``time``
        (``outcome``: error code, message, issued key, eventID); the position of its per-second row."""
        codes = self._callers.get(caller)
        if codes is None:
            codes = self._new_caller(caller)
        if failed or outcome[1]:
            self.breakage.call(codes[2], time[:19], *outcome)
        elif outcome[2]:  # a successful call that issued a key (most global calls): a key, no signal
            self.breakage.issued(codes[2], outcome[2])
        key = (codes[0], time)
        row = self.per_second.get(key)
        if row is None:
            row = self.per_second[key] = len(self.per_second_counts)
            self.per_second_counts.append(ERROR + 1 if failed else 1)
        else:
            self.per_second_counts[row] += ERROR + 1 if failed else 1
        return row

    def _new_caller(self, caller: tuple) -> tuple[int, int, tuple]:
        """Codes for a caller seen first: its code in ``sts_keys``, the code of its ``seconds`` key's
        caller (``second_of``) in ``second_keys``, and that caller."""
        caller = self._shared(caller)
        second_caller = second_of((*caller, ""), "")[:-1]  # of the caller's stored texts already
        codes = self._callers[caller] = (self.sts_keys.setdefault(caller, len(self.sts_keys)),
                                         self.second_keys.setdefault(second_caller, len(self.second_keys)),
                                         second_caller)
        return codes

    def seal(self) -> None:
        """End a batch: its event ids become compact arrays (hash, what, where, when) for ``merge``."""
        self.event_ids, self.event_days = hash_ids(list(self._ids)), days_of(self._id_times)
        made = np.fromiter(self._ids.values(), np.int64, len(self._ids))
        self._ids, self._id_times, self._activity_rows, self._twin_callers = {}, [], {}, {}
        self.event_kinds = (made & ((1 << REF_SHIFT) - 1)).astype(np.uint8)
        refs = (made >> REF_SHIFT) - 1
        del made
        self.breakage.seal()
        minute_rows, minute_of, second_rows, times = self._per_second_rows()
        self._set_sts_rows(minute_rows)
        self.second_codes, self.second_times, self.second_calls = second_rows
        kinds = self.event_kinds & ((1 << KIND_BITS) - 1)
        calls = (kinds == COUNTED_STS) | (kinds == COUNTED_STS_FAILED)
        self.event_seconds = np.full(len(refs), np.datetime64("NaT"), "datetime64[s]").view(np.int64)
        self.event_seconds[calls] = secondcounts.since_1970(times[refs[calls]])
        refs[calls] = minute_of[refs[calls]]
        self.event_refs = refs.astype(np.int32)

    def _per_second_rows(self) -> tuple[stscounts.Rows, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray],
                                        np.ndarray]:
        """Empty ``per_second`` into rows: (the per-minute rows, sorted by slot; the per-minute row of each
        per-second row; the per-second rows of ``second_of`` keys, compacted; the time of each per-second
        row)."""
        count = len(self.per_second_counts)
        codes = np.fromiter(map(itemgetter(0), self.per_second), np.int64, count)
        times = secondcounts.times_of(list(map(itemgetter(1), self.per_second)))
        counts = np.fromiter(self.per_second_counts, np.int64, count)
        self.per_second, self.per_second_counts = {}, []
        calls, errors = (counts % ERROR).astype(stscounts.COUNT), (counts // ERROR).astype(stscounts.COUNT)
        minute_rows, minute_of = stscounts.from_seconds(codes, secondcounts.since_1970(times), calls, errors,
                                                        self.layout)
        second_code_of = np.zeros(len(self.sts_keys), secondcounts.CODE)
        for code, second_code, _ in self._callers.values():
            second_code_of[code] = second_code
        return minute_rows, minute_of, secondcounts.compact(second_code_of[codes], times, calls), times

    def merge(self, other: "Aggregator") -> None:
        """Fold another sealed partial aggregator (of later files) into this one; its events
        whose eventID an earlier partial already counted are taken out again (duplicates)."""
        self.events += other.events
        self.field_gaps = [mine + theirs for mine, theirs in zip(self.field_gaps, other.field_gaps)]
        self._add_second_rows(secondcounts.recode(other.second_codes, other.second_keys, self.second_keys),
                              other.second_times, other.second_calls)
        for target, source in ((self.activity, other.activity),
                               (self.skipped, other.skipped)):
            for key, count in source.items():
                target[key] = target.get(key, 0) + count
        if other.outside:
            spans = [span for span in (self.outside, other.outside) if span]
            self.outside = (min(s[0] for s in spans), max(s[1] for s in spans))
        self._merge_twins(other)
        if self._seen is None:
            self._seen = SeenIds()
        repeated = np.flatnonzero(self._seen.add(other.event_ids, other.event_days))
        self.breakage.merge(other.breakage, other.event_ids[repeated])
        rows = other._sts_arrays()
        if len(repeated):
            rows = self._forget(other, repeated, rows)
        codes = self._caller_keys().codes(_by_code(other.sts_keys))
        self._merge_sts_rows(stscounts.recode(rows[0], codes, self.layout), *rows[1:])

    def _caller_keys(self) -> CallerKeys:
        """``sts_keys`` as numbers (``kit.callerkeys``): so an aggregator holds them once it merges batches
        (a batch's table stays a dict: its state, and a new caller costs it a dict entry, not a search)."""
        if not isinstance(self.sts_keys, CallerKeys):
            keys = CallerKeys()
            keys.codes(_by_code(self.sts_keys))  # the same codes
            self.sts_keys = keys
        return self.sts_keys

    def forget_ids_before(self, day: int) -> None:
        """Say that few events of the days before ``day`` (``kit.eventids.DAY``) are still to come: the
        filters of their ids are dropped (``kit.eventids.SeenIds.forget_before``)."""
        if self._seen is not None:
            self._seen.forget_before(day)

    def _forget(self, other: "Aggregator", rows: np.ndarray, sts_rows: stscounts.Rows) -> stscounts.Rows:
        """Take out what the events ``rows`` of ``other`` (merged but for its per-minute rows
        ``sts_rows``) contributed and count them as duplicates; returns ``sts_rows`` less them. A
        duplicate has the same fields as the copy kept, so the times of ``first_seen``/``last_seen``
        stay right."""
        activity = list(other.activity)
        sts_keys, layout = _by_code(other.sts_keys), self.layout
        second_codes, second_times, taken, failed = [], [], [], []
        for row in rows.tolist():
            kind, where = int(other.event_kinds[row]), int(other.event_refs[row])
            self._gapped(kind >> KIND_BITS, sign=-1)
            kind &= (1 << KIND_BITS) - 1
            if kind == COUNTED_SKIP and where >= 0:
                _take(self.skipped, JUDGED_SKIPS[where], 1)
            elif kind == COUNTED_ACTIVITY:
                _take(self.activity, activity[where], 1)
            elif kind in (COUNTED_STS, COUNTED_STS_FAILED):
                taken.append(where)
                failed.append(kind == COUNTED_STS_FAILED)
                caller = second_of((*sts_keys[int(layout.codes(sts_rows[0][where]))], ""), "")[:-1]
                second_codes.append(self.second_keys.setdefault(caller, len(self.second_keys)))
                second_times.append(int(other.event_seconds[row]))
            self._skip(SKIP_DUPLICATE)
        if second_codes:
            self._add_second_rows(np.array(second_codes, secondcounts.CODE), secondcounts.since_origin(second_times),
                                  np.full(len(second_codes), -1, secondcounts.CALLS))
        return stscounts.take_out(sts_rows, np.array(taken, np.intp), np.array(failed, bool)) if taken else sts_rows

    def _merge_twins(self, other: "Aggregator") -> None:
        """Leave out the twins of merged batches as soon as their caller's copy is merged (once per
        sharedEventID, as ``settle_twins`` would at the end); the others wait, the latest copy of each
        sharedEventID kept. The caller copies are kept as 64-bit hashes."""
        if self._copies is None or self._settled is None:
            self._copies, self._settled = SeenIds(), SeenIds()
        self._copies.add(hash_ids(list(other.caller_copies)))
        copied = [shared for shared in other.caller_copies if shared in self.twins]
        for shared in copied:
            del self.twins[shared]
        if other.twins:
            theirs = list(other.twins)
            for shared, has_copy in zip(theirs, self._copies.contains(hash_ids(theirs)).tolist()):
                if has_copy:
                    copied.append(shared)
                else:
                    self.twins[shared] = other.twins[shared]
        settled_now = np.count_nonzero(~self._settled.add(hash_ids(list(dict.fromkeys(copied)))))
        if settled_now:
            self.skipped[SKIP_TWIN] = self.skipped.get(SKIP_TWIN, 0) + settled_now

    @property
    def layout(self) -> stscounts.Layout:
        """How ``sts_slots`` hold a caller key code and a minute of this aggregator's window."""
        return stscounts.Layout.of_window(self.start, self.end)

    def _sts_arrays(self) -> stscounts.Rows:
        """A sealed batch's per-minute rows, in the order its event refs point into."""
        return self.sts_slots, self.sts_calls, self.sts_errors, self.sts_first, self.sts_last

    def _set_sts_rows(self, rows: stscounts.Rows) -> None:
        self.sts_slots, self.sts_calls, self.sts_errors, self.sts_first, self.sts_last = rows

    def _merge_sts_rows(self, slots: np.ndarray, calls: np.ndarray, errors: np.ndarray, first: np.ndarray,
                        last: np.ndarray) -> None:
        """Add a batch's per-minute rows (slots of ``sts_keys`` codes) to those waiting on disk; rows its
        duplicates left with no calls are dropped (a call not counted widens no row's times)."""
        rows = (slots, calls, errors, first, last)
        if not calls.all():
            rows = stscounts.select(rows, calls != 0)
        self._minute_parts.append(stscounts.spilled(rows, self.layout))

    def _settle_per_second(self) -> None:
        """Move the STS calls counted in ``per_second`` (the twins ``settle_twins`` counted) into the
        waiting per-minute and per-second rows."""
        if self.per_second:
            minute_rows, _, second_rows, _ = self._per_second_rows()
            self._merge_sts_rows(*minute_rows)
            self._add_second_rows(*second_rows)

    def sts_rows(self) -> tuple[list[tuple[np.ndarray, np.ndarray]], dict[str, np.ndarray]]:
        """All per-minute STS rows, compacted, in the order of their caller key codes then minutes: the
        caller keys' columns (``kit.rollup.key_columns``), and the rows' columns by name (``codes``,
        ``minute``, ``calls``, ``errors``, ``first_seen``, ``last_seen``; times in seconds since 1970, UTC)
        of an aggregator that counted events or merged batches (a sealed batch keeps its own in
        ``_sts_arrays``), handed over in a dict that ``kit.rollup.sts_calls_frame`` empties as it builds the
        table: the rows waiting on disk are summed a range of caller codes at a time and the aggregator
        keeps none of them, nor the table of their keys."""
        self._settle_per_second()
        layout = self.layout
        slots, calls, errors, first, last = stscounts.gathered(self._minute_parts.groups(0), layout)
        self._minute_parts.close()
        keys, codes = self._caller_keys(), layout.codes(slots)
        self.sts_keys = {}  # the table's memory goes before the frame is made
        minutes = layout.minutes(slots)
        del slots
        return keys.columns(codes), {"codes": codes, "minute": minutes, "calls": calls, "errors": errors,
                                     "first_seen": minutes + first, "last_seen": minutes + last}

    def release_sts_rows(self) -> None:
        """Drop the per-minute STS rows and their keys (once their table is built: memory)."""
        self.per_second, self.per_second_counts, self.sts_keys, self._callers = {}, [], {}, {}
        self._set_sts_rows(stscounts.empty())
        self._minute_parts.close()

    def _add_second_rows(self, codes: np.ndarray, times: np.ndarray, calls: np.ndarray) -> None:
        """Add per-second rows (codes of ``second_keys``) to those waiting on disk."""
        self._second_parts.append((codes, times, calls))

    def take_second_rows(self) -> tuple[list[tuple], np.ndarray, np.ndarray, np.ndarray]:
        """All per-second counts, compacted: (caller keys by code, codes, times (``kit.secondcounts.TIME``),
        calls), handed over: the aggregator keeps none of them. The rows waiting on disk, those
        compacted before and ``per_second`` are summed a range of caller codes (or one code's days) at a
        time, straight into these arrays (``kit.engines.local.to_rollup`` calls it while little else is
        held); the codes take 1 or 2 bytes (the smallest unsigned integers that hold them), and so do
        the calls, as their largest sum needs (``kit.secondcounts.calls_type``). The keys are numbered
        again, those of the global bucket first: their rows come first, together (the plan reads them in
        place: ``kit.codedseconds.CodedSeconds.rows_where``)."""
        self._settle_per_second()
        waiting, rows = self._second_parts, (self.second_codes, self.second_times, self.second_calls)
        self.second_codes, self.second_times, self.second_calls = secondcounts.empty()
        code_type = np.min_scalar_type(len(self.second_keys))
        if not waiting.rows:
            codes, times, calls = rows
            calls = calls.astype(secondcounts.calls_type(calls))
            return _by_code(self.second_keys), codes.astype(code_type), times, calls
        waiting.append(rows)
        del rows  # written: freed before the sums are made
        groups = waiting.groups(0, ranks=self._global_first(), cut_by=(1, SECONDS_A_DAY))  # a busy key, a day at a time
        codes, times, calls = secondcounts.gathered(groups, waiting.rows, code_type=code_type)
        waiting.close()
        return _by_code(self.second_keys), codes, times, calls

    def _global_first(self) -> np.ndarray:
        """Number the ``second_keys`` again, those of the global bucket first (else in their order);
        the new code of each old one."""
        keys = _by_code(self.second_keys)
        order = np.argsort(np.array([key[3] != "global" for key in keys], bool), kind="stable")
        ranks = np.empty(len(keys), np.int64)
        ranks[order] = np.arange(len(keys))
        self.second_keys = {keys[code]: rank for rank, code in enumerate(order.tolist())}
        self._callers = {caller: (code, int(ranks[second_code]), second_caller)
                         for caller, (code, second_code, second_caller) in self._callers.items()}
        return ranks

    def release_merge_state(self) -> None:
        """Drop what only merging needs, the hashes of event ids and caller copies (once every batch
        is merged and the twins settled: memory, and their temporary files)."""
        for seen in (self._seen, self._copies, self._settled):
            if seen is not None:
                seen.close()
        self._seen = self._copies = self._settled = None

    @property
    def ids_bytes(self) -> int:
        """Bytes held for finding duplicates across batches."""
        return self._seen.nbytes if self._seen else 0

    def settle_twins(self) -> None:
        """Count resource-account copies whose caller-account copy never arrived; drop the rest (the
        twins of merged batches with a caller copy are gone already)."""
        for shared, (caller, failed, time, *outcome) in self.twins.items():
            if shared in self.caller_copies:
                self._skip(SKIP_TWIN)
            else:
                self._count(caller, failed, time, tuple(outcome))
        self.twins.clear()


def _by_code(table: dict[tuple, int]) -> list[tuple]:
    """The keys of a key table (key -> code 0, 1, ...) in the order of their codes."""
    keys: list[tuple] = [()] * len(table)
    for key, code in table.items():
        keys[code] = key
    return keys


def _take(counts: dict, key: Any, amount: int) -> None:
    """Subtract ``amount`` from ``counts[key]``, dropping the key at zero."""
    left = counts[key] - amount
    if left:
        counts[key] = left
    else:
        del counts[key]
