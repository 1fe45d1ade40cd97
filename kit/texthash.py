"""64-bit hashes of texts with numpy alone (the event ids of ``kit.eventids``).

A text's hash depends on its UTF-8 bytes only, the same in every process, run and batch: its length
seeds the hash, then each 8-byte word (little-endian, the last one padded with zero bytes) is XORed in
and mixed with splitmix64's finalizer. Texts of one length are hashed together, a word column at a
time, so a batch of event ids (CloudTrail's are all 36 characters) costs a few array operations per
word, whatever their number. No pandas: the worker processes that hash their batch's ids are forked
before the parent imports it (``kit.engines.local``).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_SHIFTS = (np.uint64(30), np.uint64(27), np.uint64(31))
WORD = 8
"""Bytes per word."""


def hash_texts(texts: list[str]) -> np.ndarray:
    """The 64-bit hashes (uint64) of ``texts``, in their order."""
    joined = "".join(texts)
    if joined.isascii():  # one byte a character: the texts' own lengths
        return _hashed(texts, np.fromiter(map(len, texts), np.int64, len(texts)), joined.encode("ascii"),
                       lambda group: "".join(group).encode("ascii"))
    data = [text.encode("utf-8", "surrogatepass") for text in texts]
    return _hashed(data, np.fromiter(map(len, data), np.int64, len(data)), b"".join(data), b"".join)


def _hashed(texts: list, sizes: np.ndarray, data: bytes, joined: Callable[[list], bytes]) -> np.ndarray:
    """The hashes of ``texts`` of ``sizes`` bytes each, ``data`` their bytes one after the other
    (``joined``: the bytes of a list of them)."""
    hashes = np.empty(len(texts), np.uint64)
    if not len(texts):
        return hashes
    if sizes.min() == sizes.max():
        hashes[:] = _of_size(data, len(texts), int(sizes[0]))
        return hashes
    order = np.argsort(sizes, kind="stable")
    bounds = np.flatnonzero(np.diff(sizes[order])) + 1
    for rows in np.split(order, bounds):
        hashes[rows] = _of_size(joined([texts[row] for row in rows.tolist()]), len(rows), int(sizes[rows[0]]))
    return hashes


def _of_size(data: bytes, count: int, size: int) -> np.ndarray:
    """The hashes of ``count`` texts of ``size`` bytes each, one after the other in ``data``."""
    words = -(-size // WORD)
    padded = np.zeros((count, words * WORD), np.uint8)
    padded[:, :size] = np.frombuffer(data, np.uint8).reshape(count, size)
    columns = padded.view("<u8")
    hashes = _mixed(np.full(count, size, np.uint64) * _GOLDEN + _GOLDEN)
    for word in range(words):
        hashes ^= columns[:, word]
        _mixed(hashes)
    return hashes


def _mixed(values: np.ndarray) -> np.ndarray:
    """``values`` mixed in place by splitmix64's finalizer (each bit in changes about half the bits out)."""
    first, second, third = _SHIFTS
    values ^= values >> first
    values *= _MIX1
    values ^= values >> second
    values *= _MIX2
    values ^= values >> third
    return values
