"""Cross-account twins across batches: the merging aggregator leaves a twin out as soon as its
caller's copy is merged (before or after it) and keeps only hashes of the caller copies; the counts
equal those of one batch holding every record, whatever the order and the cut."""
from __future__ import annotations

import pickle
import random
from functools import partial

import pytest

import kit.events
from builders import role_session, sts
from kit.eventids import SeenIds
from kit.events import SKIP_DUPLICATE, SKIP_TWIN, Aggregator
from rollups import row_keys

WINDOW = ("2025-07-01T00:00:00Z", "2025-07-02T00:00:00Z")
A, B = "111122223333", "444455556666"


def call_pair(number: int) -> tuple[dict, dict]:
    """A cross-account call logged in the caller's account A and in the resource account B."""
    time = f"2025-07-01T10:{number % 60:02d}:{number * 7 % 60:02d}Z"
    caller = sts(role_session(A, "app"), time, name="AssumeRole", shared=f"shared-{number}")
    return caller, {**caller, "eventID": f"twin-{number}", "recipientAccountId": B}


def records(seed: int) -> list[dict]:
    """Pairs, twins alone (their caller copy never delivered), a second twin event under one
    sharedEventID, and redelivered copies of some records."""
    rng = random.Random(seed)
    out: list[dict] = []
    for number in range(40):
        caller, twin = call_pair(number)
        if number % 5:
            out.append(caller)
        out.append(twin)
        if number % 9 == 0:
            out.append({**twin, "eventID": f"other-twin-{number}", "eventTime": "2025-07-01T11:00:00Z"})
    out += [dict(record) for record in rng.sample(out, 15)]
    rng.shuffle(out)
    return out


def summary(aggregator: Aggregator) -> tuple:
    aggregator.settle_twins()
    columns, values = aggregator.sts_rows()
    codes, minutes, calls, first, last = (values[name] for name in ("codes", "minute", "calls", "first_seen", "last_seen"))
    rows = sorted(zip(row_keys(columns, codes), minutes.tolist(), calls.tolist(), first.tolist(),
                      last.tolist()))
    return dict(aggregator.skipped), rows


def one_batch(everything: list[dict]) -> tuple:
    aggregator = Aggregator(*WINDOW)
    aggregator.add(everything)
    return summary(aggregator)


def batches(everything: list[dict], size: int) -> tuple:
    total = Aggregator(*WINDOW)
    for start in range(0, len(everything), size):
        batch = Aggregator(*WINDOW)
        batch.add(everything[start:start + size])
        batch.seal()
        total.merge(batch)
    assert len(total.twins) <= 8 + 5, "twins with a caller copy merged do not wait for the end"
    return summary(total)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("size", [1, 7, 30])
@pytest.mark.parametrize("ids_in_memory", [None, 10])
def test_twins_count_as_in_one_batch_whatever_the_order_and_the_cut(seed, size, ids_in_memory, monkeypatch):
    if ids_in_memory:  # the ids seen (event ids, caller copies, settled twins) move to disk every 10 ids
        monkeypatch.setattr(kit.events, "SeenIds", partial(SeenIds, memory_ids=ids_in_memory))
    everything = records(seed)
    expected = one_batch(everything)
    assert expected[0][SKIP_TWIN] == 32 and expected[0][SKIP_DUPLICATE] == 15
    assert batches(everything, size) == expected


def test_a_twin_redelivered_after_its_caller_copy_is_left_out_once():
    caller, twin = call_pair(1)
    skipped, rows = batches([twin, caller, dict(twin), dict(twin)], 1)
    assert skipped == {SKIP_TWIN: 1, SKIP_DUPLICATE: 2}
    assert [row[2] for row in rows] == [1]


def test_a_batch_stores_each_twin_caller_once():
    """Waiting twins share one stored caller per distinct caller, so a batch's pickle writes it once."""
    twins = [call_pair(number)[1] for number in range(50)]
    other_agent = [{**twin, "eventID": f"agent-{twin['eventID']}", "sharedEventID": f"agent-{twin['sharedEventID']}",
                    "userAgent": "aws-cli/2.15"} for twin in twins[:5]]
    batch = Aggregator(*WINDOW)
    batch.add(twins + other_agent)
    batch.seal()
    callers = [twin[0] for twin in batch.twins.values()]
    assert len(callers) == 55
    assert len({id(caller) for caller in callers}) == len(set(callers)) == 2
    again = pickle.loads(pickle.dumps(batch))
    assert len({id(twin[0]) for twin in again.twins.values()}) == 2
