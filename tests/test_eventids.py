"""kit.eventids.SeenIds: which event ids were counted before, across batches."""
from __future__ import annotations

import numpy as np
import pytest

import kit.eventids
from kit.eventids import DAY, SeenIds, days_of, hash_ids


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


def test_each_distinct_id_is_held_once_in_sorted_runs_that_at_least_halve():
    seen = SeenIds()
    ids = hash_ids([f"event-{n}" for n in range(5_000)])
    for start in range(0, len(ids), 300):
        seen.add(ids[start:start + 600])  # overlapping batches: half of each batch seen before
    assert sorted(np.concatenate(seen.runs).tolist()) == sorted(ids.tolist())
    assert len(seen.runs) > 1 and all((run[1:] > run[:-1]).all() for run in seen.runs)
    assert all(len(bigger) >= 2 * len(smaller) for bigger, smaller in zip(seen.runs, seen.runs[1:]))
    assert seen.contains(ids).all() and not seen.contains(hash_ids(["event-5000"])).any()


@pytest.mark.parametrize("forget", [False, True], ids=["all filters", "old days forgotten"])
def test_ids_moved_to_disk_are_found_exactly_by_id_and_day(forget):
    rng = np.random.default_rng(11)
    pool = rng.integers(0, 2**64 - 1, 3_000, dtype=np.uint64, endpoint=True)
    seen, found = SeenIds(memory_ids=700), set()
    for batch_number in range(60):
        today = batch_number // 6  # days go forward, a few batches a day, as trail files come by date
        ids = np.unique(rng.choice(pool, 250))  # distinct within a batch, some seen before
        days = np.clip(today - rng.integers(0, 4, len(ids)), 0, None).astype(DAY)  # late events too
        flags = seen.add(ids, days)
        assert flags.tolist() == [(int(id_), int(day)) in found for id_, day in zip(ids, days)]
        found.update(zip(ids.tolist(), days.tolist()))
        if forget:
            seen.forget_before(today - 1)  # later events of older days are looked up on disk
    assert seen._spilled.rows + seen._held == len(found)  # nothing lost
    assert min(seen._filters) == (8 if forget else 0)
    pairs = np.array(sorted(found), np.uint64)
    ids, days = pairs[:, 0], pairs[:, 1].astype(DAY)
    assert seen.contains(ids, days).all()
    assert not seen.contains(ids, (days + 20).astype(DAY)).any()  # the same ids on days never seen
    assert not seen.contains(rng.integers(0, 2**64 - 1, 20_000, dtype=np.uint64, endpoint=True), days[:1].repeat(20_000)).any()
    seen.close()


def test_forgotten_days_drop_their_filters():
    rng = np.random.default_rng(5)
    seen = SeenIds(memory_ids=2_000)
    for day in range(30):
        seen.add(rng.integers(0, 2**64 - 1, 1_000, dtype=np.uint64, endpoint=True), np.full(1_000, day, DAY))
    def filter_bytes() -> int:
        return sum(bloom.nbytes for filters in seen._filters.values() for bloom in filters)

    kept, held = filter_bytes(), seen.nbytes
    seen.forget_before(28)
    assert set(seen._filters) == {28, 29} and filter_bytes() < kept / 10
    assert held - seen.nbytes == kept - filter_bytes()
    seen.close()


def test_days_of_eventtimes_count_from_2005():
    assert days_of(["2005-01-01T00:00:00Z", "2025-03-01T23:59:59Z"]).tolist() == [0, 7364]
    assert days_of([]).dtype == DAY


def test_ids_without_days_move_to_disk_sooner_and_are_still_found(monkeypatch):
    monkeypatch.setattr(kit.eventids, "UNDATED_IDS", 50)
    rng = np.random.default_rng(3)
    ids = rng.integers(1, 2 ** 63, 400, dtype=np.int64).astype(np.uint64)
    undated, dated = SeenIds(), SeenIds()
    for part in np.array_split(ids, 8):
        undated.add(part)
        dated.add(part, np.full(len(part), 7, DAY))
    assert undated._held <= 50 < dated._held, "no day passes for undated ids: they leave memory sooner"
    assert undated.contains(ids).all() and not undated.contains(ids + np.uint64(1)).any()
