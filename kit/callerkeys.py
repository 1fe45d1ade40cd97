"""The merged table of STS caller keys, one 64-bit number a key: no Python object per key.

A caller key (``kit.events``: account, principal, kind, agent, source address, event name, host,
endpoint, Region, serving Region) gets a code in the order keys are first seen, as a dict's
``setdefault(key, len(table))`` gives it. The process that merges batches meets every key of the
trail, one for each caller and address: half a million keys of ten texts where each call comes from
an address of its own (pods, build runners), 135 MB as a dict of tuples, whose leftovers also kept
the parent's memory fragmented after it was freed (bench/RESULTS.md). Here a key is a number: the
code of its nine other fields (few: callers) shifted above its address, an IPv4 address written
canonically as its 32-bit value (``kit.ipv4text``), any other text (IPv6, a service name, none) as the code of that text
with bit 32 set. The numbers are looked up in a ``kit.sortedset.SortedSet``, about 20 bytes a key;
the texts come back a column at a time, for the keys rows use (``columns``).
"""
from __future__ import annotations

from operator import itemgetter
from typing import Collection, Hashable, Sequence

import numpy as np

from kit.ipv4text import ipv4_numbers
from kit.sortedset import SortedSet

ADDRESS = 4
"""The source address's place in a caller key."""
_OTHERS = itemgetter(0, 1, 2, 3, 5, 6, 7, 8, 9)
"""A caller key's nine other fields."""
WIDTH = 10
"""Fields of a caller key."""
_TEXT = np.uint64(1 << 32)
"""Set in the address part of a key's number when the address is the code of a text."""
_PART_SHIFT = np.uint64(33)


def table_codes(keys: Collection[Hashable], table: dict[Hashable, int]) -> list[int]:
    """The code of each of ``keys`` in ``table`` (key -> code: 0, 1, ... in the order added), those not in
    it added in their order, as ``table.setdefault(key, len(table))`` gives them (looked up first: most
    keys are there already)."""
    codes = list(map(table.get, keys))
    if None in codes:
        codes = [table.setdefault(key, len(table)) if code is None else code for key, code in zip(keys, codes)]
    return codes


class CallerKeys:
    """Caller keys and their codes (0, 1, ... in the order first seen), held as numbers."""

    def __init__(self) -> None:
        self._parts: dict[tuple, int] = {}
        """The nine other fields of the keys -> their code (few: one per caller, whatever its addresses)."""
        self._texts: dict[str, int] = {}
        """Addresses that are no canonical IPv4 text -> their code."""
        self._codes = SortedSet()
        """The keys' numbers, each with its code."""
        self._by_code: list[np.ndarray] = []
        """The keys' numbers in the order of their codes, a part per call of ``codes`` that added some."""
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def setdefault(self, key: tuple, code: int) -> int:
        """As ``dict.setdefault``, with ``code`` the table's length, as ``kit.events`` adds keys: the
        code of ``key``, added when new."""
        return int(self.codes([key])[0])

    def codes(self, keys: Sequence[tuple]) -> np.ndarray:
        """The code of each key (int64), the new ones added in their order."""
        numbers = self._numbers(keys)
        held, codes = self._codes.find(numbers)
        found = codes.astype(np.int64)
        new = np.flatnonzero(~held)
        if len(new):
            distinct, first, inverse = np.unique(numbers[new], return_index=True, return_inverse=True)
            code_of = np.empty(len(distinct), np.int64)
            code_of[np.argsort(first, kind="stable")] = np.arange(self._count, self._count + len(distinct))
            found[new] = code_of[inverse.reshape(-1)]
            self._by_code.append(numbers[new[np.sort(first)]])
            self._count += len(distinct)
            self._codes.add(distinct, code_of)
        return found

    def _numbers(self, keys: Sequence[tuple]) -> np.ndarray:
        """Each key's number (uint64): the code of its other fields, then its address."""
        part_codes = np.array(table_codes(list(map(_OTHERS, keys)), self._parts), np.uint64)
        addresses = [key[ADDRESS] for key in keys]
        numbers = ipv4_numbers(addresses)
        numbers_of_texts = np.zeros(len(keys), np.uint64)
        texts = np.flatnonzero(numbers < 0)
        if len(texts):
            numbers[texts] = 0
            numbers_of_texts[texts] = table_codes([addresses[row] for row in texts.tolist()], self._texts)
            numbers_of_texts[texts] |= _TEXT
        return (part_codes << _PART_SHIFT) | numbers.astype(np.uint64) | numbers_of_texts

    def columns(self, codes: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """``kit.rollup.key_columns`` of the keys for rows of ``codes`` (each row's key): per field,
        the distinct texts of the keys rows use, sorted, and each key's place among them."""
        from kit.rollup import sorted_texts

        numbers = np.concatenate(self._by_code) if self._by_code else np.zeros(0, np.uint64)
        self._by_code = [numbers]
        used = np.zeros(self._count, bool)
        used[codes] = True
        part_of_key = (numbers >> _PART_SHIFT).astype(np.int64)
        address_of_key = numbers & ((_TEXT << np.uint64(1)) - np.uint64(1))
        parts = list(self._parts)
        used_parts, part_place = np.unique(part_of_key[used], return_inverse=True)
        chosen = [parts[code] for code in used_parts.tolist()]
        others = [np.fromiter(map(itemgetter(field), chosen), object, len(chosen)) for field in range(WIDTH - 1)]
        used_addresses, address_place = np.unique(address_of_key[used], return_inverse=True)
        columns = []
        for field in range(WIDTH):
            if field == ADDRESS:
                texts, places = _sorted_distinct(self._address_texts(used_addresses))
                place = address_place.reshape(-1)
            else:
                texts, places = sorted_texts(others[field - (field > ADDRESS)])
                place = part_place.reshape(-1)
            place_of_key = np.zeros(self._count, np.min_scalar_type(-len(texts)))
            place_of_key[used] = places[place]
            columns.append((texts, place_of_key))
        return columns

    def _address_texts(self, addresses: np.ndarray) -> list[str]:
        """The texts of address parts of keys' numbers."""
        texts = list(self._texts)
        return [texts[word] if flagged else f"{word >> 24}.{word >> 16 & 255}.{word >> 8 & 255}.{word & 255}"
                for word, flagged in zip((addresses & np.uint64(0xFFFFFFFF)).tolist(), (addresses & _TEXT != 0).tolist())]


def _sorted_distinct(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """``kit.rollup.sorted_texts`` of texts already distinct (the addresses of distinct numbers): no hashing."""
    order = np.array(sorted(range(len(texts)), key=texts.__getitem__), np.intp)
    places = np.empty(len(order), np.intp)
    places[order] = np.arange(len(order))
    return np.array(texts, dtype=object)[order], places
