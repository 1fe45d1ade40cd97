"""Evidence of breakage in the local engine (kit.signalcounts): each signal of kit.signals on
hand-made records, counted once per eventID and sharedEventID whether the copies share a batch or
not, read from the cache as from the files, and the join of issued keys to their uses."""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from builders import activity, role_session, sts, user, write_trail
from kit.engines import collect, local
from kit.judgedfields import Identity, Record
from kit.params import validate
from kit.signalcounts import SignalCounts

A, B = "111122223333", "222233334444"
APP = f"arn:aws:iam::{A}:role/app"
BOTO = "Boto3/1.26.0 Python/3.10 Linux/5 Botocore/1.29.0"
REJECTED = "The security token included in the request is invalid."


def issue(time: str, key: str, *, account: str = A, endpoint: str = "global", region: str = "us-east-1") -> dict:
    """A successful AssumeRole of role ``app`` that hands out ``key``."""
    host = "sts.amazonaws.com" if endpoint == "global" else f"sts.{region}.amazonaws.com"
    record = sts(role_session(account, "app"), time, host, endpoint_type=endpoint, serving=region, region=region,
                 name="AssumeRole", request={"roleArn": f"arn:aws:iam::{account}:role/target"})
    return {**record, "responseElements": {"credentials": {"accessKeyId": key, "sessionToken": "x",
                                                           "expiration": "Jul 1, 2025, 11:00:00 AM"}}}


def use(key: str, time: str, region: str, *, error: str = "", message: str = "", account: str = A,
        event_id: str | None = None, shared: str | None = None) -> dict:
    """An S3 call made with the session of ``key``."""
    identity = {**role_session(account, "target", "t"), "accessKeyId": key}
    record = activity(identity, time, region)
    record["eventID"] = event_id or f"use-{key}-{time}-{region}-{error}"
    if error:
        record.update(errorCode=error, errorMessage=message)
    if shared:
        record["sharedEventID"] = shared
    return record


def failed(identity: dict, time: str, error: str, message: str, *, event_id: str, **kwargs) -> dict:
    """An STS call answered with ``error``/``message``."""
    return {**sts(identity, time, error=error, **kwargs), "errorMessage": message, "eventID": event_id}


def trail_files() -> dict[str, list[dict]]:
    """The records, in files: copies of one event land in different files (batches)."""
    burst = user(A, "burst")
    first = [
        issue("2025-07-01T10:00:00Z", "ASIAKEY1"),
        issue("2025-07-01T10:00:01Z", "ASIAKEY2"),
        issue("2025-07-01T10:00:02Z", "ASIAKEY3"),
        issue("2025-07-01T10:00:03Z", "ASIAREGIONAL", endpoint="regional", region="ap-east-1"),
        {**issue("2025-07-01T10:00:04Z", "ASIANOTISSUED"), "errorCode": "AccessDenied", "responseElements": None},
        use("ASIAKEY1", "2025-07-01T10:05:00Z", "ap-east-1", event_id="u-1"),
        use("ASIAKEY1", "2025-07-01T10:06:00Z", "ap-east-1", error="InvalidClientTokenId", message=REJECTED,
            event_id="u-2"),
        use("ASIAKEY1", "2025-07-01T10:07:00Z", "me-south-1", event_id="u-3"),
        use("ASIAKEY1", "2025-07-01T10:08:00Z", "ap-east-1", event_id="u-4", shared="shared-1"),
        use("ASIAKEY2", "2025-07-01T10:09:00Z", "eu-west-1", event_id="u-5"),
        use("ASIAKEY3", "2025-07-01T10:10:00Z", "us-east-1", event_id="u-6"),
        use("ASIAREGIONAL", "2025-07-01T10:11:00Z", "ap-east-1", event_id="u-7"),
        failed(burst, "2025-07-01T11:00:00Z", "ThrottlingException", "Rate exceeded", event_id="t-1",
               endpoint_type="global", serving="eu-west-1", region="us-east-1"),
        failed(burst, "2025-07-01T11:00:00Z", "Throttling", "Rate exceeded", event_id="t-2",
               endpoint_type="global", serving="eu-west-1", region="us-east-1"),
        failed(burst, "2025-07-01T11:00:01Z", "", "Rate exceeded", event_id="t-3",
               endpoint_type="global", serving="eu-west-1", region="us-east-1"),
        failed(user(A, "ops"), "2025-07-01T12:00:00Z", "AccessDenied", "User: arn:aws:iam::111122223333:user/ops "
               "is not authorized to perform: sts:AssumeRole with an explicit deny in a service control policy",
               event_id="d-1"),
        failed(user(A, "ops"), "2025-07-01T12:00:01Z", "AccessDenied", "not authorized", event_id="d-2"),
    ]
    second = [
        use("ASIAKEY1", "2025-07-01T10:05:00Z", "ap-east-1", event_id="u-1"),  # redelivered
        use("ASIAKEY2", "2025-07-01T10:12:00Z", "ap-east-1", error="UnrecognizedClientException",
            message=REJECTED, event_id="u-8"),
        use("ASIAKEY1", "2025-07-01T10:08:00Z", "ap-east-1", account=B, event_id="u-0-copy", shared="shared-1"),
        failed(burst, "2025-07-01T11:00:00Z", "ThrottlingException", "Rate exceeded", event_id="t-1",
               endpoint_type="global", serving="eu-west-1", region="us-east-1"),  # redelivered
        failed(user(A, "far"), "2025-07-01T13:00:00Z", "RegionDisabledException", "STS is not activated in this "
               "region for account:111122223333.", event_id="r-1", host="sts.me-south-1.amazonaws.com",
               endpoint_type="regional", region="me-south-1"),
        failed(user(A, "far"), "2025-07-01T13:00:01Z", "SignatureDoesNotMatch", "Credential should be scoped to a "
               "valid region. ", event_id="s-1", host="sts.eu-west-1.amazonaws.com", endpoint_type="regional",
               region="eu-west-1"),
        issue("2025-07-01T10:00:00Z", "ASIAKEYB", account=B),
        use("ASIAKEYB", "2025-07-01T10:15:00Z", "ap-east-1", account=B, event_id="u-9"),
    ]
    return {"a.json.gz": first, "b.json.gz": second}


EXPECTED = {
    # (principal, signal, endpoint, region): (events, sessions, first, last, example)
    (APP, "token-v1-in-use", "global", "ap-east-1"): (4, 2, "2025-07-01T10:05:00Z", "2025-07-01T10:12:00Z", "u-0-copy"),
    (APP, "token-v1-in-use", "global", "me-south-1"): (1, 1, "2025-07-01T10:07:00Z", "2025-07-01T10:07:00Z", "u-3"),
    (APP, "token-rejected", "global", "ap-east-1"): (2, 2, "2025-07-01T10:06:00Z", "2025-07-01T10:12:00Z", "u-2"),
    (f"arn:aws:iam::{A}:user/burst", "sts-throttled", "global", "eu-west-1"):
        (3, 0, "2025-07-01T11:00:00Z", "2025-07-01T11:00:01Z", "t-1"),
    (f"arn:aws:iam::{A}:user/ops", "scp-deny", "global", "us-east-1"):
        (1, 0, "2025-07-01T12:00:00Z", "2025-07-01T12:00:00Z", "d-1"),
    (f"arn:aws:iam::{A}:user/far", "region-disabled", "regional", "me-south-1"):
        (1, 0, "2025-07-01T13:00:00Z", "2025-07-01T13:00:00Z", "r-1"),
    (f"arn:aws:iam::{A}:user/far", "signature-region", "regional", "eu-west-1"):
        (1, 0, "2025-07-01T13:00:01Z", "2025-07-01T13:00:01Z", "s-1"),
}
"""Written by hand from kit.signals: 4 uses of KEY1/KEY2 in ap-east-1 (u-1 once, shared-1 once, the
smallest eventID of shared-1's copies is the example), KEY3 and the Regional session never in an
opt-in Region or never global, the failed global call issues nothing, account B not selected."""


def signal_rows(rollup) -> dict:
    return {(row.principal_arn, row.signal, row.endpoint, row.region):
            (row.events, row.sessions, f"{row.first_seen:%Y-%m-%dT%H:%M:%SZ}", f"{row.last_seen:%Y-%m-%dT%H:%M:%SZ}",
             row.example_event_id) for row in rollup.signals.itertuples()}


def run(folder: Path, **extra) -> object:
    return collect(validate({"source": "local", "path": str(folder), "start": "2025-07-01", "end": "2025-07-02",
                             "accounts": [A], "workers": 1, **extra}))


@pytest.fixture
def trail(tmp_path: Path) -> Path:
    for name, records in trail_files().items():
        write_trail(tmp_path / "trail" / name, records)
    return tmp_path / "trail"


@pytest.mark.parametrize("batch_bytes", [1, local.BATCH_BYTES], ids=["a batch per file", "one batch"])
def test_every_signal_counted_once_per_event(trail, monkeypatch, batch_bytes):
    monkeypatch.setattr(local, "BATCH_BYTES", batch_bytes)
    rollup = run(trail, cache=False)
    assert signal_rows(rollup) == EXPECTED
    throttled = rollup.throttled
    assert throttled[["bucket", "bucket_region"]].drop_duplicates().values.tolist() == [["global", "eu-west-1"]]
    assert dict(zip(throttled.second.dt.strftime("%H:%M:%S"), throttled.calls)) == {"11:00:00": 2, "11:00:01": 1}
    assert set(rollup.signals.user_agent) == {BOTO}


def test_signals_from_the_cache_equal_those_read_from_the_files(trail, monkeypatch, tmp_path):
    monkeypatch.setattr(local, "BATCH_BYTES", 1)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir(mode=0o700)
    first, again = run(trail, cache=True), run(trail, cache=True)
    assert again.report.engine_stats["cached_batches"] == 2
    assert signal_rows(again) == signal_rows(first) == EXPECTED
    pd.testing.assert_frame_equal(again.throttled, first.throttled)


def test_a_use_is_joined_to_its_issuer_whatever_file_comes_first(tmp_path, monkeypatch):
    monkeypatch.setattr(local, "BATCH_BYTES", 1)
    files = trail_files()
    write_trail(tmp_path / "trail" / "a.json.gz", files["b.json.gz"])
    write_trail(tmp_path / "trail" / "b.json.gz", files["a.json.gz"])
    assert signal_rows(run(tmp_path / "trail", cache=False)) == EXPECTED


def test_the_issuing_account_must_be_selected(trail):
    rows = signal_rows(run(trail, cache=False, accounts=[B]))
    assert rows == {(f"arn:aws:iam::{B}:role/app", "token-v1-in-use", "global", "ap-east-1"):
                    (1, 1, "2025-07-01T10:15:00Z", "2025-07-01T10:15:00Z", "u-9")}


def test_an_issuance_known_only_from_the_resource_accounts_copy_counts(tmp_path):
    """The caller's own copy of the issuing call is missing: its twin, settled after every batch, issues."""
    twin = {**issue("2025-07-01T10:00:00Z", "ASIATWIN"), "sharedEventID": "twin-1", "recipientAccountId": B}
    write_trail(tmp_path / "trail" / "a.json.gz", [twin, use("ASIATWIN", "2025-07-01T10:05:00Z", "ap-east-1")])
    rows = signal_rows(run(tmp_path / "trail", cache=False))
    assert rows[(APP, "token-v1-in-use", "global", "ap-east-1")][:2] == (1, 1)


def test_the_issuing_call_is_never_its_own_use(tmp_path):
    own = issue("2025-07-01T10:00:00Z", "ASIASELF", region="ap-east-1")
    own["userIdentity"] = {**own["userIdentity"], "accessKeyId": "ASIASELF"}
    write_trail(tmp_path / "trail" / "a.json.gz", [own])
    assert signal_rows(run(tmp_path / "trail", cache=False)) == {}


def test_an_issuance_is_a_global_call_without_an_error_code_whatever_its_message(tmp_path):
    """kit.signals: an issuance has no errorCode; a message alone does not undo it."""
    noted = {**issue("2025-07-01T10:00:00Z", "ASIANOTED"), "errorMessage": "a note from a proxy"}
    write_trail(tmp_path / "trail" / "a.json.gz", [noted, use("ASIANOTED", "2025-07-01T10:05:00Z", "ap-east-1")])
    assert signal_rows(run(tmp_path / "trail", cache=False))[(APP, "token-v1-in-use", "global", "ap-east-1")][:2] \
        == (1, 1)


def test_merged_batches_keep_their_issued_keys_apart_and_the_first_issuer_wins():
    merged = SignalCounts()
    for caller in (("111122223333", "arn:aws:iam::111122223333:role/a", "aws-cli/2"),
                   ("444455556666", "arn:aws:iam::444455556666:role/b", "aws-cli/2")):
        batch = SignalCounts()
        batch.call((*caller, "global", "us-east-1"), "2025-07-01T10:00:00", "", "", "ASIAKEY1", "e-" + caller[0])
        batch.seal()
        merged.merge(batch, np.zeros(0, np.uint64))
    assert merged._merged_issued.rows == 2 and not len(merged.issued_hashes)  # on disk, not copied in memory
    hashes = next(merged._merged_issued.chunks(rows=1))[0]
    assert merged._first_issuers(hashes).tolist() == [0]  # the first batch's caller


def test_the_issuers_of_the_keys_used_are_found_in_every_merged_batch():
    merged = SignalCounts()
    for batch_number in range(3):
        batch = SignalCounts()
        for key in range(4):
            caller = ("111122223333", f"arn:aws:iam::111122223333:role/r{batch_number}", "aws-cli/2")
            batch.call((*caller, "global", "us-east-1"), "2025-07-01T10:00:00", "", "", f"ASIAB{batch_number}K{key}",
                       f"e-{batch_number}-{key}")
        batch.seal()
        merged.merge(batch, np.zeros(0, np.uint64))
    wanted = np.concatenate([hashes[1:3] for hashes, _ in merged._merged_issued.chunks(rows=1)]
                            + [np.array([7], np.uint64)])
    found = merged._first_issuers(wanted[::-1])  # in any order, with a key nobody issued
    assert found.tolist() == [-1, 2, 2, 1, 1, 0, 0]


@pytest.mark.parametrize("seed", range(6))
def test_token_rows_group_every_use_under_the_first_caller_that_issued_its_key(seed):
    rng = random.Random(seed)
    callers = [("111122223333", f"arn:aws:iam::111122223333:role/r{number}", "aws-cli/2") for number in range(3)]
    merged, issuers, uses = SignalCounts(), {}, []
    for batch_number in range(6):
        batch = SignalCounts()
        for number in range(rng.randint(0, 4)):
            key, caller = f"ASIAK{rng.randrange(12)}", rng.choice(callers)
            batch.call((*caller, "global", "us-east-1"), "2025-07-01T10:00:00", "", "", key, f"i-{batch_number}-{number}")
            issuers.setdefault(key, caller)  # batches merge in order, a batch's calls in order
        for number in range(rng.randint(0, 10)):
            key, region, rejected = f"ASIAK{rng.randrange(14)}", rng.choice(["ap-east-1", "me-south-1"]), rng.random() < 0.3
            time, event_id = f"2025-07-01T1{rng.randint(0, 9)}:00:00Z", f"u-{rng.randrange(50)}-{batch_number}-{number}"
            batch.use(Record(eventTime=time, awsRegion=region, userIdentity=Identity(accessKeyId=key),
                             errorCode="InvalidClientTokenId" if rejected else None), time, event_id)
            uses.append((key, region, rejected, time, event_id))
        batch.seal()
        merged.merge(batch, np.zeros(0, np.uint64))
    groups: dict[tuple, list] = {}  # keys issued in a later batch count too: issuers are joined at the end
    for key, region, rejected, time, event_id in uses:
        if key not in issuers:
            continue
        for signal in ("token-v1-in-use", "token-rejected") if rejected else ("token-v1-in-use",):
            group = groups.setdefault((*issuers[key], signal, region), [0, set(), time, time, event_id])
            group[0] += 1
            group[1].add(key)
            group[2:] = [min(group[2], time), max(group[3], time), min(group[4], event_id)]
    rows, _ = merged.rows()
    assert {(*row[:4], row[5]): row[6:] for row in rows} == {
        key: (events, len(keys), first, last, example) for key, (events, keys, first, last, example) in groups.items()}
