"""kit.usecounts.MergedUses: the uses of merged batches as arrays count as the batches' dicts would."""
from __future__ import annotations

import random

import pytest

from kit import secondcounts, usecounts
from kit.signalcounts import _fold, _take
from kit.usecounts import NO_EXAMPLE, MergedUses

REGIONS = ("ap-east-1", "me-south-1", "af-south-1")


def batch_uses(rng: random.Random) -> dict[tuple, list]:
    """A sealed batch's uses: keys from a small pool, times and examples at random (some without one)."""
    uses: dict[tuple, list] = {}
    for _ in range(rng.randint(0, 30)):
        key = (rng.randrange(40) * 0x9E3779B97F4A7C15 % 2**64, rng.choice(REGIONS), rng.random() < 0.3)
        first, last = sorted(f"2025-07-{rng.randint(1, 3):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:"
                             f"{rng.randint(0, 59):02d}Z" for _ in range(2))
        example = rng.choice(["", f"e-{rng.randrange(10_000)}", f"é-{rng.randrange(99)}", "e", "\U0001f600"])
        uses[key] = [rng.randint(1, 4), first, last, example]
    return uses


def entries(merged: MergedUses) -> list[tuple[tuple, list]]:
    """The kept rows of ``merged`` as (key, [events, first, last, example]) pairs, as a batch's dict holds them."""
    (hashes, regions, rejected, events, first, last, examples), names = merged.kept()
    return [((hash_, names[region], flag), [count, first_seen, last_seen, "" if example == NO_EXAMPLE else example])
            for hash_, region, flag, count, first_seen, last_seen, example
            in zip(hashes.tolist(), regions.tolist(), rejected.tolist(), events.tolist(), secondcounts.texts_of(first),
                   secondcounts.texts_of(last), examples.tolist())]


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("fold_rows", [1, 1 << 16])
def test_merged_uses_equal_the_dict_fold_with_uses_taken_out(seed, fold_rows, monkeypatch):
    monkeypatch.setattr(usecounts, "FOLD_ROWS", fold_rows)  # 1: compacted at every batch
    rng = random.Random(seed)
    expected: dict[tuple, list] = {}
    merged = MergedUses()
    for _ in range(25):
        uses = batch_uses(rng)
        _fold(expected, uses)
        merged.add(uses)
        for key in [key for key in uses if expected[key][0] >= 2 and rng.random() < 0.4]:  # a duplicate: the key holds it twice
            _take(expected, key, 0)
            merged.take(key)
    assert dict(entries(merged)) == expected
    assert dict(entries(merged)) == expected  # read again


def test_no_uses_give_no_entries():
    merged = MergedUses()
    merged.add({})
    assert entries(merged) == []


def test_an_example_with_a_nul_character_is_kept_whole():
    merged = MergedUses()
    merged.add({(1, "ap-east-1", False): [1, "2025-07-01T00:00:00Z", "2025-07-01T00:00:00Z", "e\x00b"]})
    merged.add({(1, "ap-east-1", False): [1, "2025-07-02T00:00:00Z", "2025-07-02T00:00:00Z", ""]})
    assert entries(merged) == [((1, "ap-east-1", False), [2, "2025-07-01T00:00:00Z", "2025-07-02T00:00:00Z",
                                                                 "e\x00b"])]
