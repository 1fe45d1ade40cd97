"""A Bloom filter of 64-bit hashes: bits that say which hashes were surely never added.

A split-block filter, as Parquet's: the bits are 256-bit blocks of eight 32-bit words; a hash picks
one block with its high half and sets one bit in each of the block's words with its low half (eight
multiplications by odd constants). Every hash touches one block, so adding and probing are a few
vectorised numpy steps per batch of hashes. With ``BITS_PER_ITEM`` bits per hash it can hold, a
hash never added passes for one that was in about 1 lookup in 180 (a false positive: the caller
checks those exactly); a hash added is always found. The hashes must already be uniform
(``kit.eventids.hash_ids``).
"""
from __future__ import annotations

import numpy as np

BITS_PER_ITEM = 12
"""Bits per hash held: 1.5 bytes (measured false positive rate 0.55% when filled to its size). 16 bits
gave 0.135%, but the parent held 6 MB more at 11.4 M events and 17 MB more at 34 M; the false
positives cost little since a run's blocks are read in one pass (bench/RESULTS.md)."""
MAX_ITEMS = 1 << 30
"""The most a filter can be sized for (its block number must fit in 32 bits)."""
_SALTS = np.array([0x47B6137B, 0x44974D91, 0x8824AD5B, 0xA2B7289D, 0x705495C7, 0x2DF1424B, 0x9EFC4947,
                   0x5C6BFB31], np.uint32)
"""Parquet's split-block constants: which bit of each word a hash sets."""
CHUNK = 1 << 13
"""Hashes taken at a time (their block numbers, bits and blocks read take 72 bytes each: 0.6 MB; 1 << 16
was no faster and took 5 MB more at the parent's peak at 34 M events: bench/RESULTS.md)."""


class BloomFilter:
    """Bits for up to ``capacity`` hashes (more can be added, at a rising false positive rate)."""

    def __init__(self, capacity: int) -> None:
        if not 0 < capacity <= MAX_ITEMS:
            raise ValueError(f"a Bloom filter holds 1 to {MAX_ITEMS:,} hashes, not {capacity:,}")
        self.capacity = capacity
        self.count = 0
        """Hashes added."""
        self.blocks = -(-capacity * BITS_PER_ITEM // 256)
        self.words = np.zeros((self.blocks, len(_SALTS)), np.uint32)
        """A row per block: its eight words."""

    @property
    def room(self) -> int:
        """Hashes it can still take at its false positive rate (none when added past its size)."""
        return max(self.capacity - self.count, 0)

    @property
    def nbytes(self) -> int:
        return self.words.nbytes

    def add(self, hashes: np.ndarray) -> None:
        """Set the bits of ``hashes`` (uint64)."""
        for start in range(0, len(hashes), CHUNK):
            block, masks = self._bits(hashes[start:start + CHUNK])
            self.words[block] |= masks  # two hashes of one block: only the last write stays ...
            lost = ((self.words[block] & masks) != masks).any(axis=1)
            if lost.any():
                np.bitwise_or.at(self.words, block[lost], masks[lost])  # ... so the lost bits are set again
        self.count += len(hashes)

    def may_contain(self, hashes: np.ndarray) -> np.ndarray:
        """False where a hash of ``hashes`` was surely never added."""
        found = np.zeros(len(hashes), bool)
        for start in range(0, len(hashes), CHUNK):
            block, masks = self._bits(hashes[start:start + CHUNK])
            found[start:start + len(block)] = ((self.words[block] & masks) == masks).all(axis=1)
        return found

    def _bits(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The block of each hash and the bit it sets in each of the block's words: (hashes,) and
        (hashes, 8) arrays."""
        block = ((hashes >> np.uint64(32)) * np.uint64(self.blocks)) >> np.uint64(32)
        masks = np.uint32(1) << ((hashes.astype(np.uint32)[:, None] * _SALTS) >> np.uint32(27))
        return block.astype(np.intp), masks
