"""Typed decoding (``kit.judgedfields``) and the lenient conversion of records parsed whole judge alike:
a field of an unexpected type counts as absent whichever way a record was read."""
from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np
import pytest

from builders import activity, role_session, sts, user, write_trail
from kit.events import Aggregator
from kit.judgedfields import Record, judged_fields, record_of
from kit.trailfiles import read_records

A, B = "111122223333", "222233334444"
WINDOW = ("2025-03-01T00:00:00Z", "2025-09-01T00:00:00Z")
WEB = {"type": "WebIdentityUser", "userName": "system:serviceaccount:app", "principalId": "oidc:app"}


def records() -> list[dict[str, Any]]:
    """Events whose every judged field matters: sessions, a web identity, an issued key used in an
    opt-in Region, a throttled call, a resource account's copy."""
    session = role_session(A, "app")
    session["sessionContext"]["sessionIssuer"]["arn"] = f"arn:aws:iam::{A}:role/team/app"  # a path: not in the ARN
    issuing = sts(session, "2025-07-01T10:00:00Z", endpoint_type="global", serving="eu-west-1", name="AssumeRole")
    issuing["responseElements"] = {"credentials": {"accessKeyId": "ASIAISSUED", "sessionToken": "t"}}
    use = activity({**role_session(A, "app"), "accessKeyId": "ASIAISSUED"}, "2025-07-01T10:00:05Z", "ap-east-1")
    use["errorCode"] = "InvalidClientTokenId"
    throttled = sts(user(A, "burst"), "2025-07-01T10:00:02Z", error="RequestLimitExceeded",
                    host="sts.eu-west-1.amazonaws.com", endpoint_type="regional", region="eu-west-1")
    throttled["errorMessage"] = "Rate exceeded"
    events = [issuing, use, throttled,
              sts(WEB, "2025-07-01T10:00:03Z", name="AssumeRoleWithWebIdentity",
                  request={"roleArn": f"arn:aws:iam::{A}:role/web"}),
              sts(role_session(B, "job"), "2025-07-01T10:00:04Z", recipient=A, shared="shared-1"),
              sts({**user(A, "svc"), "invokedBy": "ec2.amazonaws.com"}, "2025-07-01T10:00:06Z"),
              activity(user(A, "alice"), "2025-07-01T10:00:07Z", "eu-west-1")]
    return [{**event, "eventID": f"event-{number}"} for number, event in enumerate(events)]


ODD = [  # (record index, path to a field, a value of an unexpected type)
    (0, ("userIdentity", "sessionContext"), "RoleSession"),
    (0, ("userIdentity", "sessionContext", "sessionIssuer"), 7),
    (0, ("userIdentity", "sessionContext", "sessionIssuer", "arn"), ["arn"]),
    (0, ("userIdentity",), ["AssumedRole"]),
    (0, ("tlsDetails",), 7),
    (0, ("tlsDetails", "clientProvidedHostHeader"), 443),
    (0, ("additionalEventData", "RequestDetails"), "global"),
    (0, ("additionalEventData", "RequestDetails", "endpointType"), 1),
    (0, ("responseElements", "credentials"), "ASIAISSUED"),
    (0, ("responseElements", "credentials", "accessKeyId"), {"id": "ASIAISSUED"}),
    (0, ("userAgent",), 5),
    (0, ("eventTime",), 20250701),
    (0, ("eventID",), 12),
    (0, ("eventSource",), True),
    (1, ("userIdentity", "accessKeyId"), 5),
    (1, ("awsRegion",), ["ap-east-1"]),
    (1, ("errorCode",), 400),
    (2, ("errorMessage",), {"text": "Rate exceeded"}),
    (3, ("requestParameters",), ["roleArn"]),
    (3, ("requestParameters", "roleArn"), 3.5),
    (4, ("sharedEventID",), 1),
    (4, ("recipientAccountId",), int(A)),
    (5, ("userIdentity", "invokedBy"), {"service": "ec2"}),
]


def changed(index: int, path: tuple[str, ...], value: Any) -> list[dict[str, Any]]:
    """``records()`` with the field at ``path`` of record ``index`` set to ``value``, or removed (None)."""
    events = copy.deepcopy(records())
    holder = events[index]
    for name in path[:-1]:
        holder = holder[name]
    if value is None:
        holder.pop(path[-1], None)
    else:
        holder[path[-1]] = value
    return events


def sealed_state(events: list[Any]) -> dict[str, Any]:
    """The sealed state of an aggregator of ``events``, the signal counts' fields flattened."""
    aggregator = Aggregator(*WINDOW)
    aggregator.add(events)
    aggregator.seal()
    state = aggregator.state()
    state.update({f"breakage.{name}": value for name, value in state.pop("breakage").items()})
    return state


def assert_same(mine: dict[str, Any], theirs: dict[str, Any]) -> None:
    assert mine.keys() == theirs.keys()
    for name, value in mine.items():
        assert np.array_equal(value, theirs[name]) if isinstance(value, np.ndarray) else value == theirs[name], name


@pytest.mark.parametrize("index, path, value", ODD, ids=[".".join(path) for _, path, _ in ODD])
def test_a_field_of_an_unexpected_type_counts_as_absent_on_both_paths(tmp_path, index, path, value):
    odd = write_trail(tmp_path / "odd.json.gz", changed(index, path, value))
    absent = write_trail(tmp_path / "absent.json.gz", changed(index, path, None))
    assert judged_fields(json.dumps({"Records": changed(index, path, value)}).encode()) is None, "read whole"
    typed = read_records(str(absent), judged_only=True)
    assert all(type(record) is Record for record in typed), "the typed path"
    expected = sealed_state(typed)
    assert_same(sealed_state(read_records(str(odd), judged_only=True)), expected)
    assert_same(sealed_state(changed(index, path, value)), expected)  # dicts handed to add directly


def test_the_judged_records_make_a_difference():
    """The cases above are not vacuous: removing the fields changes what is counted."""
    whole = sealed_state(records())
    for index, path, _ in ODD:
        without = sealed_state(changed(index, path, None))
        assert any(not np.array_equal(value, whole[name]) if isinstance(value, np.ndarray) else value != whole[name]
                   for name, value in without.items()), path


def test_the_lenient_conversion_of_well_typed_records_equals_their_typed_decoding():
    events = records() + [{**records()[0], "errorCode": None, "tlsDetails": None, "requestParameters": None,
                           "additionalEventData": {"RequestDetails": None}}]
    decoded = judged_fields(json.dumps({"Records": events}).encode())
    assert decoded is not None and decoded == [record_of(event) for event in events]
    assert record_of("not an object") is None and record_of(["a", "list"]) is None


def test_records_that_are_no_objects_are_skipped_among_others(tmp_path):
    path = write_trail(tmp_path / "mixed.json.gz", [*records(), "text", 7, None])
    state = sealed_state(read_records(str(path), judged_only=True))
    assert state["skipped"]["record is not a JSON object"] == 3
    assert_same({**state, "skipped": {}, "events": 0},
                {**sealed_state(records()), "skipped": {}, "events": 0})


def test_a_record_repeated_in_one_list_counts_as_often_as_copies_of_it():
    record = {key: value for key, value in records()[2].items() if key != "eventID"}
    assert_same(sealed_state([record] * 3), sealed_state([dict(record) for _ in range(3)]))
    assert sealed_state([record] * 3)["sts_calls"].tolist() == [3]
