"""kit.texthash: 64-bit hashes of texts that depend on the text alone, spread over all 64 bits."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import numpy as np

from kit.bloom import BloomFilter
from kit.texthash import hash_texts

ODD = ["", "a", "a\0", "\0", "ab", "é", "e\u0301", "\ud800", "日本", "x" * 7, "x" * 8, "x" * 9, "y" * 10_000,
       "0123456789abcdef", "0123456789abcdeg"]
"""Texts of every awkward kind: empty, NUL (also trailing), non-ASCII, a lone surrogate, word edges, long."""


def test_a_text_hashes_the_same_alone_and_among_texts_of_any_other_lengths():
    uuids = [str(uuid.UUID(int=n)) for n in range(1, 200)]
    together = hash_texts([*uuids, *ODD])
    assert together.dtype == np.uint64 and len(together) == len(uuids) + len(ODD)
    assert together[:len(uuids)].tolist() == hash_texts(uuids).tolist()  # the all-ASCII, one-length path
    assert [int(hash_texts([text])[0]) for text in [*uuids, *ODD]] == together.tolist()
    assert hash_texts(list(reversed(ODD))).tolist() == list(reversed(together[len(uuids):].tolist()))
    assert hash_texts([]).tolist() == []


def test_distinct_texts_get_distinct_hashes():
    texts = [*ODD, *(f"event-{n}" for n in range(300_000)), *(str(uuid.UUID(int=n)) for n in range(300_000))]
    assert len(np.unique(hash_texts(texts))) == len(set(texts))


def test_hashes_are_the_same_in_another_process():
    """Cache entries and the parent's set of ids hold hashes made by other processes and runs."""
    code = "import sys, json; from kit.texthash import hash_texts; print(json.dumps(hash_texts(json.load(sys.stdin)).tolist()))"
    done = subprocess.run([sys.executable, "-c", code], input=json.dumps(ODD).encode(), capture_output=True, check=True,
                          env={**os.environ, "PYTHONHASHSEED": "1"})  # another seed of Python's own str hashes
    assert json.loads(done.stdout) == hash_texts(ODD).tolist()


def test_hashes_of_similar_ids_are_uniform_enough_for_the_bloom_filters():
    """The filters take one block with the high half of a hash and its bits with the low half."""
    ids = hash_texts([str(uuid.UUID(int=n)) for n in range(200_000)])
    bloom = BloomFilter(200_000)
    bloom.add(ids)
    others = hash_texts([str(uuid.UUID(int=n)) for n in range(200_000, 700_000)])
    rate = bloom.may_contain(others).mean()
    assert 0 < rate < 0.008  # as for random hashes (tests/test_bloom.py); sequential ids, badly mixed, would not be
    bits = np.unpackbits(ids.view(np.uint8)).reshape(len(ids), 64).mean(axis=0)
    assert np.abs(bits - 0.5).max() < 0.01
