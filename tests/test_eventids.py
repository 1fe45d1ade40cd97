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


def test_ids_moved_to_disk_are_found_exactly_at_any_size():
    rng = np.random.default_rng(11)
    pool = rng.integers(0, 2**64 - 1, 6_000, dtype=np.uint64, endpoint=True)
    seen, found = SeenIds(memory_ids=700, first_filter=500), set()
    for _ in range(60):
        batch = np.unique(rng.choice(pool, 250))  # distinct within a batch, a third of them seen before
        rng.shuffle(batch)
        flags = seen.add(batch)
        assert flags.tolist() == [int(value) in found for value in batch]
        found.update(batch.tolist())
    assert len(seen._filters) >= 2 and seen._spilled.rows + seen._held == len(found)  # filters grew, nothing lost
    unseen = rng.integers(0, 2**64 - 1, 20_000, dtype=np.uint64, endpoint=True)
    assert seen.contains(pool).tolist() == [int(value) in found for value in pool]
    assert not seen.contains(unseen[~np.isin(unseen, pool)]).any()
    assert seen.nbytes < 8 * len(found)
    seen.close()


def test_filters_sized_from_an_early_estimate_far_over_hold_little_more_than_the_ids():
    rng = np.random.default_rng(5)
    batches = [rng.integers(0, 2**64 - 1, 1_000, dtype=np.uint64, endpoint=True) for _ in range(40)]
    seen = SeenIds(memory_ids=2_000, first_filter=100)
    for done, batch in enumerate(batches, 1):
        assert not seen.add(batch).any()
        seen.expect(done / 40 * (0.7 if done <= 4 else 1))  # the first batches look 1.4 times their share
    capacities = [bloom.capacity for bloom in seen._filters]
    assert capacities[0] == 57_142 // 2  # half the ids expected when the first 3,000 move: 2,000 seen / 0.035 share
    assert len(seen._filters) == 2 and seen._spilled.rows <= sum(capacities) < 1.05 * seen._spilled.rows  # the ids on disk
    assert seen.contains(np.concatenate(batches)).all()
    seen.close()
