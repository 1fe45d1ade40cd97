"""kit.eventids.SeenIds: which event ids were counted before, across batches."""
from __future__ import annotations

import numpy as np

from kit.eventids import SeenIds, hash_ids


def test_a_batch_of_only_repeated_ids_leaves_the_set_usable():
    seen = SeenIds()
    first = hash_ids(["a", "b", "c"])
    assert not seen.add(first).any()
    assert seen.add(first[:2]).all()  # a batch made only of redelivered events
    assert seen.add(hash_ids(["c", "d"])).tolist() == [True, False]
    assert seen.add(np.zeros(0, np.uint64)).tolist() == []


def test_repeats_are_found_whatever_the_order_of_the_batches():
    rng = np.random.default_rng(7)
    ids = [f"event-{n}" for n in rng.integers(0, 500, 2_000)]
    seen, found = SeenIds(), set()
    for start in range(0, len(ids), 97):
        batch = list(dict.fromkeys(ids[start:start + 97]))  # distinct within a batch, as the engine sends them
        flags = seen.add(hash_ids(batch))
        assert flags.tolist() == [event in found for event in batch]
        found.update(batch)


def test_each_distinct_id_is_held_once_in_one_part():
    seen = SeenIds()
    ids = hash_ids([f"event-{n}" for n in range(5_000)])
    for start in range(0, len(ids), 300):
        seen.add(ids[start:start + 600])  # overlapping batches: half of each batch seen before
    assert seen.nbytes == 8 * len(ids)
    assert sum(len(runs) > 0 for runs in seen.parts) > 1
    assert seen.contains(ids).all() and not seen.contains(hash_ids(["event-5000"])).any()
