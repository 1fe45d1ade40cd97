"""Evidence of breakage (kit.signals) from the Logs Insights engine, against the local engine over
the same hand-made trail folder: the error signals of STS calls, ``throttled``, and the token join
(``token_uses`` then ``issued_keys`` in chunks)."""
from __future__ import annotations

import itertools
import re
from functools import cmp_to_key
from pathlib import Path
from typing import Any, Iterator

import boto3
import pandas as pd
import pytest
from botocore.exceptions import ClientError

import kit.engines.logs_insights as li
from aws_endpoints import dummy_aws, ordered, serve
from builders import activity, role_session, sts, write_trail
from kit.engines import collect
from kit.localaws.logs_server import LOG_GROUP, LogsService
from kit.params import validate
from kit.queries import RenderError
from kit.queries.cwl import KEY_QUERY, event_id_of, key_chunks, render, sortable
from kit.rollup import Rollup
from kit.signals import (REGION_DISABLED, SCP_DENY, SIGNATURE_REGION, THROTTLED, TOKEN_IN_USE, TOKEN_REJECTED)

A, B = "111122223333", "222233334444"
APP = role_session(A, "app")
"""The caller whose global-endpoint sessions are used in opt-in Regions."""
LOCAL = role_session(A, "local-app")
"""A caller that gets its sessions from the Regional endpoint in ap-east-1."""
WINDOW = {"start": "2025-06-01T00:00:00Z", "end": "2025-06-01T01:00:00Z"}
KEYS = [f"ASIATESTKEY{n:09d}" for n in range(12)]
"""Issued by APP on the global endpoint, three per second."""
REGIONAL_KEY, UNKNOWN_KEY = "ASIAREGIONAL00000001", "ASIANEVERISSUED00001"
_ids = itertools.count(1)


def at(minute: int, second: int = 0) -> str:
    return f"2025-06-01T00:{minute:02d}:{second:02d}Z"


def event_id(first: str = "5") -> str:
    """A fresh eventID whose first characters are ``first`` (ids of uses sort after builders' ids)."""
    return f"{first}{next(_ids):0{8 - len(first)}d}-0000-4000-8000-000000000000"


def issue(identity: dict[str, Any], time: str, key: str, host: str = "sts.amazonaws.com",
          region: str = "us-east-1") -> dict[str, Any]:
    """An AssumeRole call that handed out ``key``."""
    return {**sts(identity, time, host, name="AssumeRole", region=region),
            "responseElements": {"credentials": {"accessKeyId": key, "expiration": "Jun 1, 2025, 1:00:00 AM"}}}


def use(key: str, time: str, region: str = "ap-east-1", *, error: str | None = None, message: str | None = None,
        ident: str | None = None, shared: str | None = None, recipient: str = A) -> dict[str, Any]:
    """A non-STS call made with the session of ``key``."""
    record = activity({**role_session(A, "target", key[-4:]), "accessKeyId": key}, time, region)
    record.update(eventID=ident or event_id(), recipientAccountId=recipient)
    extra = {"errorCode": error, "errorMessage": message, "sharedEventID": shared}
    record.update({name: value for name, value in extra.items() if value is not None})
    return record


def failing(identity: dict[str, Any], time: str, error: str | None, message: str, *,
            ident: str | None = None, **options: Any) -> dict[str, Any]:
    """A STS call that failed with ``error`` (None: only a message) and ``message`` (ids from 8...)."""
    return {**sts(identity, time, error=error, **options), "errorMessage": message, "eventID": ident or event_id("8")}


def breakage_records() -> list[dict[str, Any]]:
    """Every signal, duplicates, cross-account copies and uses that do not count."""
    issued = [issue(APP, at(n // 3, 1), key) for n, key in enumerate(KEYS)]
    regional = issue(LOCAL, at(0, 2), REGIONAL_KEY, host="sts.ap-east-1.amazonaws.com", region="ap-east-1")
    first_use = use(KEYS[0], at(5))
    twin_use = "use-shared-0001"
    uses = [
        first_use, dict(first_use), use(KEYS[0], at(6)), use(KEYS[0], at(7)),  # a duplicate delivery
        use(KEYS[0], at(8), "eu-west-1"),  # a default Region: no signal
        use(KEYS[1], at(8), error="InvalidClientTokenId", message="The security token included in the request is invalid."),
        use(KEYS[1], at(9), error="InvalidClientTokenId"),
        use(KEYS[1], at(10), error="SomethingElse", message="The security token included in the request is invalid"),
        use(KEYS[2], at(11), ident="60000000-0000-4000-8000-000000000000", shared=twin_use),
        use(KEYS[2], at(11), ident="10000000-0000-4000-8000-000000000000", shared=twin_use, recipient=B),
        {**sts({**role_session(A, "target", "k3"), "accessKeyId": KEYS[3]}, at(12), "sts.ap-east-1.amazonaws.com",
               region="ap-east-1"), "eventID": event_id()},  # a STS call is a use too
        use(KEYS[4], at(13), "me-south-1", ident="3e000000-0000-4000-8000-000000000000"),
        use(KEYS[4], at(14), "me-south-1", ident="31000000-0000-4000-8000-000000000000"),  # natural sort: after 3e...
        *[use(key, at(15 + n, n)) for n, key in enumerate(KEYS[5:])],
        use(REGIONAL_KEY, at(20)), use(UNKNOWN_KEY, at(21)),  # issued regionally, or not in the window
    ]
    burst = [failing(APP, at(30, 0), "ThrottlingException", "Rate exceeded") for _ in range(4)]
    burst[2]["eventID"] = "7b000000-0000-4000-8000-000000000000"
    burst[3]["eventID"] = "70000000-0000-4000-8000-000000000000"
    scp = ("User: arn:aws:sts::111122223333:assumed-role/app/s is not authorized to perform: sts:AssumeRole "
           "with an explicit deny in a service control policy")
    errors = [
        *burst, dict(burst[0]),  # a duplicate delivery of a throttled call
        failing(APP, at(30, 1), "Throttling", "Rate exceeded"), failing(APP, at(30, 1), "Throttling", "Rate exceeded"),
        failing(APP, at(30, 2), None, "Rate exceeded"),
        failing(APP, at(31), "RegionDisabledException", "STS is not activated in this region",
                host="sts.eu-central-2.amazonaws.com", region="eu-central-2"),
        failing(APP, at(32), "SignatureDoesNotMatch", "Credential should be scoped to a valid region, not 'us-east-1'."),
        failing(APP, at(33), "AccessDenied", scp, name="AssumeRole", shared="call-shared-0001"),
        failing(APP, at(33), "AccessDenied", scp, name="AssumeRole", shared="call-shared-0001", recipient=B),
        failing(APP, at(34), "AccessDenied", "User: x is not authorized to perform: sts:AssumeRole"),  # no signal
    ]
    return [*issued, regional, *uses, *errors]


def params(folder: Path, url: str | None) -> Any:
    if url is None:
        return validate({"source": "local", "path": str(folder), "cache": False, "quiet": True, **WINDOW})
    return validate({"source": "logs-insights", "log_group": LOG_GROUP, "aws_region": "us-east-1",
                     "endpoint_url": url, **WINDOW})


@pytest.fixture
def quiet_aws(monkeypatch):
    dummy_aws(monkeypatch)
    monkeypatch.setattr(li, "sleep", lambda seconds: None)


def both(folder: Path) -> Iterator[tuple[LogsService, Rollup, Rollup]]:
    """The endpoint over ``folder``, the Logs Insights rollup and the local engine's."""
    for service, url in serve(LogsService(folder)):
        yield service, collect(params(folder, url)), collect(params(folder, None))


def assert_same_signals(got: Rollup, expected: Rollup) -> None:
    for name in ("signals", "throttled"):
        pd.testing.assert_frame_equal(ordered(getattr(got, name)), ordered(getattr(expected, name)))


def row(rollup: Rollup, signal: str, region: str) -> pd.Series:
    """The one ``signals`` row of APP for ``signal`` in ``region``."""
    rows = rollup.signals[(rollup.signals.principal_arn == "arn:aws:iam::111122223333:role/app")
                          & (rollup.signals.signal == signal) & (rollup.signals.region == region)]
    assert len(rows) == 1, rollup.signals
    return rows.iloc[0]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write_trail(tmp_path / "trail.json", breakage_records())
    return tmp_path


def test_every_signal_equals_the_local_engine(folder, quiet_aws, monkeypatch):
    monkeypatch.setattr(li, "KEYS_PER_QUERY", 5)
    for service, got, expected in both(folder):
        lookups = [query for query in service.queries.values() if query.shape == KEY_QUERY]
    assert_same_signals(got, expected)
    assert set(got.signals.signal) == {TOKEN_IN_USE, TOKEN_REJECTED, REGION_DISABLED, THROTTLED, SIGNATURE_REGION,
                                       SCP_DENY}
    in_use, rejected = row(got, TOKEN_IN_USE, "ap-east-1"), row(got, TOKEN_REJECTED, "ap-east-1")
    assert (in_use.events, in_use.sessions, in_use.endpoint) == (3 + 3 + 1 + 1 + 7, 11, "global")
    assert in_use.example_event_id == "10000000-0000-4000-8000-000000000000"  # the other account's copy
    assert (rejected.events, rejected.sessions) == (3, 1)
    far = row(got, TOKEN_IN_USE, "me-south-1")
    assert (far.events, far.sessions, far.example_event_id) == (2, 1, "31000000-0000-4000-8000-000000000000")
    throttled = row(got, THROTTLED, "us-east-1")
    assert (throttled.events, throttled.sessions, throttled.example_event_id) == \
        (7, 0, "70000000-0000-4000-8000-000000000000")
    assert row(got, SCP_DENY, "us-east-1").events == 1  # the resource account's copy is not counted again
    assert (row(got, REGION_DISABLED, "eu-central-2").endpoint, row(got, SIGNATURE_REGION, "us-east-1").events) == \
        ("regional", 1)
    assert list(ordered(got.throttled).calls) == [4, 2, 1]
    stats = got.report.engine_stats
    assert (stats["keys_looked_up"], stats["key_queries"]) == (14, 3) == (stats["keys_looked_up"], len(lookups))
    assert sorted(len(query.values["keys"]) for query in lookups) == [4, 5, 5]
    window_end = li.epoch_millis(params(folder, None).end)
    assert all(query.values["end"] < window_end for query in lookups)  # ended after the first uses of their keys
    for name in ("sts_calls", "activity", "seconds"):
        pd.testing.assert_frame_equal(ordered(getattr(got, name)), ordered(getattr(expected, name)))
    assert got.report.skipped == expected.report.skipped


def test_small_row_caps_and_key_chunks_lose_no_signal(folder, quiet_aws, monkeypatch):
    monkeypatch.setattr(li, "ROW_CAP", 3)
    monkeypatch.setattr(li, "KEYS_PER_QUERY", 5)
    for service, got, expected in both(folder):
        lookups = [query for query in service.queries.values() if query.shape == KEY_QUERY]
    assert_same_signals(got, expected)
    assert got.report.engine_stats["slices_overflowed"] > 10
    assert any(len(query.values["keys"]) < 3 for query in lookups)  # a full second cut by keys


def test_uses_of_a_full_second_are_read_per_account_and_said_so(tmp_path, quiet_aws, monkeypatch):
    monkeypatch.setattr(li, "ROW_CAP", 3)
    records = [issue(APP, at(0, 1), key) for key in KEYS[:4]]
    records += [use(key, at(5, 5), recipient=(A, B)[n % 2]) for n, key in enumerate(KEYS[:4])]
    records.append(use("ASIA-NOT-A-KEY", at(6)))
    write_trail(tmp_path / "trail.json", records)
    for service, got, expected in both(tmp_path):
        scoped = [query.values for query in service.queries.values()
                  if query.shape == "token_uses" and query.values["accounts"] is not None]
    assert_same_signals(got, expected)
    assert row(got, TOKEN_IN_USE, "ap-east-1").events == 4 and len(scoped) == 2
    assert any("read per account: a use logged in two accounts may count twice" in note for note in got.report.notes)
    assert any("1 access key(s) used in opt-in Regions are not shaped like STS keys" in note
               for note in got.report.notes)


def test_an_issuance_logged_only_in_the_resource_account_counts(tmp_path, quiet_aws):
    """A caller outside the trail's accounts: only the resource account's copy of its call exists."""
    key = "ASIAPARTNER000000001"
    records = [{**issue(APP, at(0, 1), key), "recipientAccountId": B, "sharedEventID": "share-partner-1"},
               use(key, at(5), ident="20000000-0000-4000-8000-000000000000")]
    write_trail(tmp_path / "trail.json", records)
    for _, got, expected in both(tmp_path):
        found = row(got, TOKEN_IN_USE, "ap-east-1")
        assert (found.events, found.sessions, found.example_event_id) == (1, 1, "20000000-0000-4000-8000-000000000000")
        assert_same_signals(got, expected)


def test_key_chunks_fill_the_query_string_and_keep_the_order():
    keys = [f"ASIA{n:016d}" for n in range(1_000)]
    chunks = key_chunks(keys, 1_748_736_000_000, 1_748_739_600_000, 10_000)
    assert [key for chunk in chunks for key in chunk] == keys and len(chunks) == 3
    lengths = [len(render(KEY_QUERY, 1_748_736_000_000, 1_748_739_600_000, keys=chunk)) for chunk in chunks]
    assert all(length <= 10_000 for length in lengths) and lengths[0] > 9_970
    assert [len(chunk) for chunk in key_chunks(keys[:12], 0, 1, 5)] == [5, 5, 2]
    assert key_chunks([], 0, 1, 5) == []


SORTABLE_CODES = [("/", "/-"), *((str(digit), "/" + "ABCDEFGHIJ"[digit]) for digit in range(10))]
"""What ``kit.queries.cwl.sortable`` writes for each character, written out again."""


def natural_order(left: str, right: str) -> int:
    """Logs Insights' natural order of two texts that are not numbers (CWL_QuerySyntax-Sort): a run
    of digits against a run of digits compares by length, then value; other runs by Unicode."""
    lefts, rights = re.findall(r"\d+|\D+", left), re.findall(r"\d+|\D+", right)
    for mine, theirs in zip(lefts, rights):
        if mine != theirs:
            if mine.isdigit() and theirs.isdigit():
                return -1 if (len(mine), int(mine)) < (len(theirs), int(theirs)) else 1
            return -1 if mine < theirs else 1
    return (len(lefts) > len(rights)) - (len(lefts) < len(rights))


natural = cmp_to_key(natural_order)


def test_sortable_ids_make_the_natural_minimum_the_plain_one():
    ids = ["3e000000-0000-4000-8000-000000000000", "31000000-0000-4000-8000-000000000000",
           "a9f00000-0000-4000-8000-000000000000", "a10f0000-0000-4000-8000-000000000000", "x/y9-/"]
    assert min(ids[:4], key=natural) != min(ids[:4])  # why the queries do not take min(eventID)
    encoded = {identifier: "".join(dict(SORTABLE_CODES).get(char, char) for char in identifier) for identifier in ids}
    assert all(not re.search(r"\d", text) for text in encoded.values())
    assert [event_id_of(text) for text in encoded.values()] == ids
    assert event_id_of(min(list(encoded.values())[:4], key=natural)) == min(ids[:4])
    assert sorted(encoded.values()) == [encoded[identifier] for identifier in sorted(ids)]
    assert sortable("eventID").startswith("replace(" * 11 + 'eventID, "/", "/-")')
    with pytest.raises(ValueError):
        event_id_of("/Z")



@pytest.mark.parametrize("tamper", [
    lambda text: text.replace('"us-east-1", ', ""),  # a default Region taken out
    lambda text: text.replace("like /^ASIA/", "like /^AKIA/"),
    lambda text: text.replace('"/", "/-"', '"/", "//"'),
])
def test_the_endpoint_runs_only_the_kits_token_query(folder, quiet_aws, tamper):
    text = render("token_uses", 0, 1000)
    for _, url in serve(LogsService(folder)):
        client = boto3.client("logs", endpoint_url=url, region_name="us-east-1")
        assert client.start_query(logGroupNames=[LOG_GROUP], startTime=0, endTime=1, queryString=text)["queryId"]
        with pytest.raises(ClientError, match="MalformedQueryException"):
            client.start_query(logGroupNames=[LOG_GROUP], startTime=0, endTime=1, queryString=tamper(text))


def test_only_temporary_key_ids_reach_the_key_query(folder, quiet_aws):
    text = render(KEY_QUERY, 0, 1000, keys=KEYS[:2])
    assert f'accessKeyId in ["{KEYS[0]}", "{KEYS[1]}"]' in text
    for bad in ('ASIATESTKEY000000001" or 1=1', "AKIAIOSFODNN7EXAMPLE", "asiatestkey000000001"):
        with pytest.raises(RenderError):
            render(KEY_QUERY, 0, 1000, keys=[bad])
    with pytest.raises(RenderError, match="keys"):
        render(KEY_QUERY, 0, 1000)
    for _, url in serve(LogsService(folder)):
        client = boto3.client("logs", endpoint_url=url, region_name="us-east-1")
        with pytest.raises(ClientError, match="MalformedQueryException"):
            client.start_query(logGroupNames=[LOG_GROUP], startTime=0, endTime=1,
                               queryString=text.replace(f'"{KEYS[1]}"', f'"{KEYS[1]}" or eventName = "x"'))


def test_ctrl_c_while_keys_are_looked_up_stops_those_queries(folder, quiet_aws, monkeypatch):
    monkeypatch.setattr(li, "KEYS_PER_QUERY", 5)
    for service, url in serve(LogsService(folder)):
        def interrupt(seconds: float) -> None:
            if any(query.shape == KEY_QUERY for query in service.queries.values()):
                raise KeyboardInterrupt

        monkeypatch.setattr(li, "sleep", interrupt)
        with pytest.raises(KeyboardInterrupt):
            collect(params(folder, url))
        lookups = [query.status for query in service.queries.values() if query.shape == KEY_QUERY]
        others = {query.status for query in service.queries.values() if query.shape != KEY_QUERY}
    assert lookups == ["Cancelled"] * 3 and others == {"Complete"}
    assert service.calls.count("StopQuery") == 3
