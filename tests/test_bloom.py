"""kit.bloom.BloomFilter: hashes added are always found; others seldom are."""
from __future__ import annotations

import numpy as np
import pytest

from kit.bloom import BITS_PER_ITEM, CHUNK, BloomFilter


def _hashes(count: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2**64 - 1, count, dtype=np.uint64, endpoint=True)


def test_every_hash_added_is_found_and_few_others_are():
    bloom = BloomFilter(400_000)
    added = _hashes(400_000, 1)
    bloom.add(added[:2 * CHUNK + 5])  # more than one chunk in one call
    bloom.add(added[2 * CHUNK + 5:])
    bloom.add(added[:10])  # repeats
    assert bloom.may_contain(added).all() and bloom.room == 0
    rate = bloom.may_contain(_hashes(1_000_000, 2)).mean()
    assert 0 < rate < 0.008  # 0.55% measured when filled to its size; a broken filter says yes far more
    assert bloom.nbytes == pytest.approx(400_000 * BITS_PER_ITEM / 8, abs=32)


def test_an_empty_filter_holds_nothing_and_sizes_are_checked():
    bloom = BloomFilter(1)
    assert not bloom.may_contain(_hashes(1_000, 3)).any() and bloom.room == 1
    assert bloom.may_contain(np.zeros(0, np.uint64)).tolist() == []
    with pytest.raises(ValueError, match="holds 1 to"):
        BloomFilter(0)
