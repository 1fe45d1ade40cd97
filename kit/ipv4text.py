"""IPv4 addresses read from texts many at a time, with numpy alone (the workers import it).

A text is an address only when written canonically, as CloudTrail and ``socket.inet_ntoa`` write
them (and as ``socket.inet_pton`` and ``ipaddress`` read them): four decimal numbers from 0 to 255
without leading zeros, joined by dots.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

_WIDE = len("255.255.255.255") + 1
"""Characters a text is read in (``ipv4_numbers``): the longest address and the NUL that ends it."""


def ipv4_numbers(texts: Sequence[str]) -> np.ndarray:
    """Per text, its IPv4 address as a number when it is written canonically (four decimal numbers
    from 0 to 255 without leading zeros, joined by dots, as CloudTrail and ``socket.inet_ntoa`` write
    them: the text comes back from the number), else -1 (int64). The texts are read together, a
    character column at a time."""
    numbers = np.full(len(texts), -1, np.int64)
    sizes = np.fromiter(map(len, texts), np.int64, len(texts))
    rows = np.flatnonzero((sizes >= len("0.0.0.0")) & (sizes < _WIDE))
    chosen = [texts[row] for row in rows.tolist()]
    joined = "".join(chosen)
    if not joined.isascii() or "\0" in joined:  # such texts are no IPv4 address: left out
        keep = [text.isascii() and "\0" not in text for text in chosen]
        rows, chosen = rows[keep], [text for text, kept in zip(chosen, keep) if kept]
    if chosen:
        numbers[rows] = _canonical_ipv4(np.array(chosen, dtype=f"S{_WIDE}").view(np.uint8).reshape(-1, _WIDE))
    return numbers


def _canonical_ipv4(chars: np.ndarray) -> np.ndarray:
    """``ipv4_numbers`` of ASCII texts without NUL, a row of ``chars`` each, padded with NULs: each dot,
    and the end of the text, closes a number (of 1 to 3 digits, at most 255)."""
    count = len(chars)
    digits = (chars >= ord("0")) & (chars <= ord("9"))
    dots, ends = chars == ord("."), chars == 0
    good = (digits | dots | ends).all(axis=1) & (dots.sum(axis=1) == 3)
    number, current = np.zeros(count, np.int64), np.zeros(count, np.int64)
    length, zero_first, ended = np.zeros(count, np.int64), np.zeros(count, bool), np.zeros(count, bool)
    for column in range(_WIDE):
        digit = digits[:, column]
        closing = dots[:, column] | (ends[:, column] & ~ended)
        ended |= ends[:, column]
        good &= ~(digit & zero_first)  # a digit after a leading zero
        zero_first |= digit & (length == 0) & (chars[:, column] == ord("0"))
        current = np.where(digit, current * 10 + chars[:, column] - ord("0"), current)
        length += digit
        good &= ~(closing & ((length == 0) | (current > 255)))
        number = np.where(closing, number << 8 | current, number)
        current, length, zero_first = current * ~closing, length * ~closing, zero_first & ~closing
    return np.where(good, number, -1)
