"""Evidence of breakage counted by the local engine (the rules: ``kit.signals``).

``kit.events.Aggregator`` hands each judged event here; this module keeps, per batch:

* ``calls``: the counted caller STS calls whose error names a signal, per caller, signal, endpoint
  and bucket Region: [events, first, last, smallest eventID];
* ``throttled``: the throttled ones per caller, bucket and second;
* the issuances: 64-bit hashes of the keys successful global calls handed out, with a code of the
  issuing caller (12 bytes each, never the event; merged batches' on disk, ``kit.spill``);
* ``uses``: events in opt-in Regions per (access key, Region, rejected): [events, first, last,
  smallest eventID] (the key as a hash once sealed; the merged batches' as arrays, ``kit.usecounts``).
  Keys are few next to events: a session makes many calls;
* what each event with an eventID contributed, so a duplicate found in a later batch is taken out
  again (a batch's own: the merged whole keeps none). Uses are often most of a batch's events, so
  they are arrays once sealed: per plain use (one without a sharedEventID) the event's hash and the
  row of its key (``use_ids``, ``use_codes``); per use with a sharedEventID, that id's hash and the
  row of its key (``shared_ids``, ``shared_codes``): a use logged in two accounts, or delivered
  twice, counts once. Signalled calls as objects (``refs``).

``rows`` joins uses to issuances once every batch is merged.
"""
from __future__ import annotations

from itertools import chain
from typing import TYPE_CHECKING, Any

import numpy as np

from kit import secondcounts
from kit.eventids import SeenIds, hash_ids
from kit.regions import DEFAULT_REGIONS, is_opt_in
from kit.sortedruns import run_starts
from kit.spill import SpilledColumns
from kit.usecounts import NO_EXAMPLE, MergedUses
from kit.signals import THROTTLED, TOKEN_IN_USE, TOKEN_REJECTED, is_rejected, issued_key, sts_signal

if TYPE_CHECKING:
    from kit.judgedfields import Record

OPT_IN: dict[str | None, bool] = {None: False}
"""awsRegion -> whether it is an opt-in Region (a few dozen values, asked for every event)."""


def _opt_in(region: str | None) -> bool:
    known = OPT_IN.get(region)
    if known is None:
        known = OPT_IN[region] = region not in DEFAULT_REGIONS and is_opt_in(region)
    return known


def _counted(entry: list, time: str, event_id: str) -> None:
    """One more event in an [events, first, last, example] entry."""
    entry[0] += 1
    _widened(entry, time, time, event_id)


def _widened(entry: list, first: str, last: str, example: str) -> None:
    """Widen an entry's time span and keep the smaller non-empty example eventID."""
    entry[1] = min(entry[1], first)
    entry[2] = max(entry[2], last)
    if example and (not entry[3] or example < entry[3]):
        entry[3] = example


def _fold(target: dict[tuple, list], source: dict[tuple, list]) -> None:
    """Add the entries of ``source`` into ``target``."""
    for key, (events, first, last, example) in source.items():
        entry = target.get(key)
        if entry is None:
            target[key] = [events, first, last, example]
        else:
            entry[0] += events
            _widened(entry, first, last, example)


def _take(counts: dict[tuple, Any], key: tuple, index: int | None = None) -> None:
    """One event fewer in ``counts[key]`` (a count, or an entry's ``index`` field); gone at zero."""
    if key not in counts:
        return
    if index is None:
        counts[key] -= 1
        left = counts[key]
    else:
        counts[key][index] -= 1
        left = counts[key][index]
    if left <= 0:
        del counts[key]


class SignalCounts:
    """The signals of one batch, or of the batches merged so far."""

    STATE = ("calls", "throttled", "issuers", "issued_hashes", "issued_codes", "uses", "refs", "use_ids", "use_codes",
             "shared_ids", "shared_codes")
    """Plain data (dicts keyed by tuples of str and int, numpy arrays): what a cache entry holds."""

    def __init__(self) -> None:
        self.calls: dict[tuple, list] = {}
        self.throttled: dict[tuple, int] = {}
        self.issuers: dict[tuple, int] = {}
        """(account, principal, user agent) of an issuing call -> its code in ``issued_codes``."""
        self.issued_hashes = np.zeros(0, np.uint64)
        self.issued_codes = np.zeros(0, np.int32)
        self._issued_keys: list[str] = []
        self._issued_codes: list[int] = []
        """Until ``seal``: the keys issued and the codes of their issuers."""
        self._merged_issued = SpilledColumns((np.uint64, np.int32), "keys issued by global calls")
        """In the instance that merges batches: each batch's issued hashes and issuer codes, in the order
        merged, in a temporary file (they grow with the global calls and are read once, by ``rows``)."""
        self.uses: dict[tuple, list] = {}
        """A batch's uses: (access key, Region, rejected) -> [events, first, last, example] (the key hashed
        once sealed) ..."""
        self._merged_uses = MergedUses()
        """... and those of the batches merged (arrays)."""
        self.refs: dict[Any, list] = {}
        """eventID (its hash once sealed) -> the signalled calls it added: (key, throttled key or None)."""
        self.use_ids = np.zeros(0, np.uint64)
        self.use_codes = np.zeros(0, np.int32)
        """Once sealed: the eventID hash of each plain use and the row of its key in ``uses`` ..."""
        self._plain_uses: tuple[list[str], list[tuple]] = ([], [])
        """... until then, the eventID of each plain use and its key."""
        self.shared_ids = np.zeros(0, np.uint64)
        self.shared_codes = np.zeros(0, np.int32)
        """Once sealed, per use with a sharedEventID: that id's hash and the row of its key in ``uses`` ..."""
        self.use_shared: dict[str, tuple] = {}
        """... until then, sharedEventID -> the key of its use."""
        self._merged_shared = SeenIds()
        """In the instance that merges batches: the hashes of the sharedEventIDs merged."""

    def state(self) -> dict[str, Any]:
        """The plain data of a sealed instance."""
        return {name: getattr(self, name) for name in self.STATE}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "SignalCounts":
        """The instance of ``state()`` (``ValueError`` when it lacks a field)."""
        if not isinstance(state, dict) or set(state) != set(cls.STATE):
            raise ValueError("signal counts of an unknown shape")
        counts = cls()
        for name in cls.STATE:
            setattr(counts, name, state[name])
        return counts

    def use(self, record: Record, time: str, event_id: str | None) -> None:
        """Keep ``record`` when it is a use of an access key in an opt-in Region."""
        region = record.awsRegion
        if not _opt_in(region):
            return
        identity = record.userIdentity
        key = identity.accessKeyId if identity is not None else None
        if not key or issued_key(record.responseElements) == key:
            return  # no key, or the issuing call itself
        error, message = record.errorCode or "", record.errorMessage or ""
        use_key = (key, region, is_rejected(error, message))
        entry = self.uses.get(use_key)
        if entry is None:
            entry = self.uses[use_key] = [0, time, time, ""]
        shared = record.sharedEventID or None
        if shared is not None and shared in self.use_shared:
            _widened(entry, entry[1], entry[2], event_id or "")  # another account's copy: once
            return
        _counted(entry, time, event_id or "")
        if shared is not None:
            self.use_shared[shared] = use_key
        elif event_id is not None:
            self._plain_uses[0].append(event_id)
            self._plain_uses[1].append(use_key)

    def call(self, bucket_caller: tuple, second: str, error: str, message: str, issued: str,
             event_id: str | None) -> None:
        """Count a counted caller STS call of ``seconds`` key caller ``bucket_caller`` (caller, bucket,
        bucket Region) made in ``second`` ('YYYY-MM-DDTHH:MM:SS'): its signal, if any, and the key it
        issued ('' for none)."""
        if issued:
            self.issued(bucket_caller, issued)
        signal = sts_signal(error, message)
        if not signal:
            return
        caller, (endpoint, bucket_region) = bucket_caller[:3], bucket_caller[3:]
        key = (*caller, signal, endpoint, bucket_region)
        time = second + "Z"
        entry = self.calls.get(key)
        if entry is None:
            entry = self.calls[key] = [0, time, time, ""]
        _counted(entry, time, event_id or "")
        throttled = None
        if signal == THROTTLED:
            throttled = (*caller, endpoint, bucket_region, second)
            self.throttled[throttled] = self.throttled.get(throttled, 0) + 1
        if event_id is not None:
            self.refs.setdefault(event_id, []).append((key, throttled))

    def issued(self, bucket_caller: tuple, key: str) -> None:
        """Note the access key ``key`` issued by a counted caller STS call of ``seconds`` key caller
        ``bucket_caller`` (``call`` for a call that failed or has an error message)."""
        self._issued_keys.append(key)
        self._issued_codes.append(self.issuers.setdefault(bucket_caller[:3], len(self.issuers)))

    def seal(self) -> None:
        """End a batch: event ids and issued keys become 64-bit hashes."""
        self.refs = dict(zip(hash_ids(list(self.refs)).tolist(), self.refs.values()))
        events, keys = self._plain_uses
        rows = {key: row for row, key in enumerate(self.uses)}
        self.use_ids, self.use_codes = hash_ids(events), np.fromiter(map(rows.__getitem__, keys), np.int32, len(keys))
        self._plain_uses = ([], [])
        self.shared_ids = hash_ids(list(self.use_shared))
        self.shared_codes = np.fromiter(map(rows.__getitem__, self.use_shared.values()), np.int32, len(self.use_shared))
        self.use_shared = {}
        self._hash_issued()
        texts = [key for key, _, _ in self.uses]
        by_text = dict(zip(texts, hash_ids(texts).tolist()))
        self.uses = {(by_text[key], region, rejected): entry for (key, region, rejected), entry in self.uses.items()}

    def _hash_issued(self) -> None:
        """The keys issued since the last call join ``issued_hashes`` as hashes."""
        if self._issued_keys:
            self.issued_hashes = np.concatenate((self.issued_hashes, hash_ids(self._issued_keys)))
            self.issued_codes = np.concatenate((self.issued_codes, np.array(self._issued_codes, np.int32)))
        self._issued_keys, self._issued_codes = [], []

    def merge(self, other: "SignalCounts", repeated: np.ndarray) -> None:
        """Fold a sealed batch in; ``repeated``: hashes of its event ids counted by an earlier batch,
        whose contributions are taken out again."""
        _fold(self.calls, other.calls)
        self._merged_uses.add(other.uses)
        for key, calls in other.throttled.items():
            self.throttled[key] = self.throttled.get(key, 0) + calls
        if len(other.issued_hashes):
            self._merged_issued.append((other.issued_hashes,
                                        secondcounts.recode(other.issued_codes, other.issuers, self.issuers)))
        for event in repeated.tolist():
            for key, throttled in other.refs.get(event, ()):
                _take(self.calls, key, 0)
                if throttled is not None:
                    _take(self.throttled, throttled)
        copied = self._merged_shared.add(other.shared_ids)  # a copy counted already: another account's, or this one
        taken = [other.use_codes[np.isin(other.use_ids, repeated)], other.shared_codes[copied]]
        if any(len(rows) for rows in taken):
            keys = list(other.uses)  # sealed: the access keys hashed, in their rows' order
            for row in np.concatenate(taken).tolist():
                self._merged_uses.take(keys[row])

    def _first_issuers(self, hashes: np.ndarray) -> np.ndarray:
        """Per hash of ``hashes``: the code of the first caller that issued it (batches in the order
        merged, then this instance's own keys), -1 where none did; only the issued keys wanted are
        ever gathered."""
        wanted, at_wanted = np.unique(hashes, return_inverse=True)
        first = np.full(len(wanted), -1, np.int64)
        if not len(wanted):
            return first
        for issued, codes in chain(self._merged_issued.chunks(), [(self.issued_hashes, self.issued_codes)]):
            order = np.argsort(issued, kind="stable")  # searches in order: 1.5x faster than as issued, same first
            issued, codes = issued[order], codes[order]
            at = np.minimum(np.searchsorted(wanted, issued), len(wanted) - 1)
            hit = np.flatnonzero(wanted[at] == issued)
            hit = hit[first[at[hit]] < 0]  # not issued in an earlier chunk
            found, earliest = np.unique(at[hit], return_index=True)  # the first issuance within this chunk
            first[found] = codes[hit[earliest]]
        return first[at_wanted]

    def close(self) -> None:
        """Drop the merged batches' issued keys and sharedEventIDs (their temporary files) and uses: once
        ``rows`` is taken."""
        self._merged_issued.close()
        self._merged_shared.close()
        self._merged_uses = MergedUses()

    def rows(self) -> tuple[list[tuple], dict[tuple, int]]:
        """(signals rows as ``kit.rollup.SIGNAL_COLUMNS`` tuples, throttled calls per second key)."""
        self._hash_issued()  # keys issued after the last batch: resource-account copies settled at the end
        self._merged_uses.add(self.uses)
        self.uses = {}
        rows = [(*key, events, 0, first, last, example) for key, (events, first, last, example) in self.calls.items()
                if events > 0]
        return rows + self._token_rows(), {key: calls for key, calls in self.throttled.items() if calls > 0}

    def _token_rows(self) -> list[tuple]:
        """The token signals' rows: each use joined to the first caller that issued its key (token in use
        for every use, token rejected also for a rejected one), summed per issuing caller, signal and
        Region, with the distinct keys as sessions; as arrays, a row per group (keys are sessions:
        millions in a large trail)."""
        (hashes, regions, rejected, events, first, last, examples), region_names = self._merged_uses.kept()
        issuer = self._first_issuers(hashes)
        in_use, refused = np.flatnonzero(issuer >= 0), np.flatnonzero((issuer >= 0) & rejected)
        taken = np.concatenate((in_use, refused))
        if not len(taken):
            return []
        signal = np.repeat(np.array([0, 1], np.int8), [len(in_use), len(refused)])  # 0 in use, 1 rejected
        order = np.lexsort((examples[taken], regions[taken], signal, issuer[taken]))  # a group's smallest example first
        taken, signal = taken[order], signal[order]
        caller, region = issuer[taken], regions[taken]
        starts = run_starts(caller, signal, region)
        group = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(taken))))  # per row: its group
        by_key = np.lexsort((hashes[taken], group))
        sessions = np.bincount(group[by_key][run_starts(group[by_key], hashes[taken][by_key])], minlength=len(starts))
        callers = {code: caller for caller, code in self.issuers.items()}
        names = ((TOKEN_IN_USE, TOKEN_REJECTED)[index] for index in signal[starts].tolist())
        firsts = secondcounts.texts_of(np.minimum.reduceat(first[taken], starts))
        lasts = secondcounts.texts_of(np.maximum.reduceat(last[taken], starts))
        totals = np.add.reduceat(events[taken], starts).tolist()
        return [(*callers[code], name, "global", region_names[region_code], total, count, first_seen, last_seen,
                 "" if example == NO_EXAMPLE else example)
                for code, name, region_code, total, count, first_seen, last_seen, example
                in zip(caller[starts].tolist(), names, region[starts].tolist(), totals, sessions.tolist(), firsts,
                       lasts, examples[taken[starts]].tolist())]
