"""The source addresses of ``sts_calls``, classified once per plan, and those of each caller of the
global endpoint, read from the column's codes.

A caller can use hundreds of thousands of addresses (pods, build runners: an address a call), so
they are counted per (caller, address) as numbers, never as a table row each: the plan keeps, per
caller, the few addresses it shows (``listed``) and per kind of address the most used one and how many
of that kind there are (``by_kind``, what ``kit.callers.origin`` reads).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from kit.codedseconds import GROUP_ROWS, distinct_pairs, group_ranges, text_codes
from kit.ipranges import AddressBook, AddressClass

LISTED = 5
"""Distinct addresses a caller's ``source_ips`` names before saying how many more (laptops change
address daily)."""

KindUse = tuple[str, AddressClass, int]
"""Of one kind of address a caller used: its most used address, that address's class, how many
distinct addresses of the kind the caller used."""


@dataclass
class SourceAddresses:
    """``sts_calls``' source addresses: a code per row, the distinct addresses in text order and the class
    of each (``kit.ipranges.AddressBook``), classified once for the plan's steps that read them."""

    codes: np.ndarray
    texts: np.ndarray
    classes: np.ndarray

    @classmethod
    def of(cls, sts_calls: pd.DataFrame, book: AddressBook) -> "SourceAddresses":
        codes, texts = text_codes(sts_calls.source_ip)
        classes = np.empty(len(texts), dtype=object)
        classes[:] = book.classify_many(texts.tolist())
        return cls(codes, texts, classes)


@dataclass
class AddressUse:
    """Per caller (in caller number order): what the plan says of its source addresses."""

    listed: list[str]
    """Up to ``LISTED`` distinct non-empty addresses in text order, then ';(+N more)' when there are more."""
    by_kind: list[list[KindUse]]
    """Per kind of address used, the most used first (ties: by address)."""


def address_use(sources: SourceAddresses, calls: np.ndarray, rows: np.ndarray, caller_of_row: np.ndarray,
                callers: int) -> AddressUse:
    """``AddressUse`` of ``callers`` callers from the rows at positions ``rows`` of ``sts_calls`` (its
    ``sources`` and ``calls``; the number of each row's caller, 0 to ``callers`` - 1, in ``caller_of_row``),
    counted per (caller, address) code, for a range of callers of about ``GROUP_ROWS`` rows at a time (an
    org of thousands of callers has millions of global rows, about a pair each: bench/RESULTS.md)."""
    texts = sources.texts
    kinds, kind_of_ip = np.unique(np.array([found.kind for found in sources.classes], dtype=object),
                                  return_inverse=True)
    ranges = group_ranges(np.bincount(caller_of_row, minlength=callers), GROUP_ROWS)
    listed: list[str] = []
    by_kind: list[list[KindUse]] = []
    for low, high in ranges:
        part = np.flatnonzero((caller_of_row >= low) & (caller_of_row < high)) if len(ranges) > 1 else slice(None)
        part_rows = rows[part]
        caller, ip, pair_of_row = distinct_pairs(caller_of_row[part] - low, sources.codes[part_rows], len(texts))
        pair_calls = np.bincount(pair_of_row, weights=calls[part_rows], minlength=len(caller)).astype(np.int64)
        listed += _listed(caller, ip, texts, high - low)
        by_kind += _by_kind(caller, ip, pair_calls, sources, high - low, kind_of_ip.reshape(-1), len(kinds))
    return AddressUse(listed, by_kind)


def _listed(caller: np.ndarray, ip: np.ndarray, texts: np.ndarray, callers: int) -> list[str]:
    """Each caller's ``AddressUse.listed`` text from its distinct (caller, address) pairs, sorted."""
    named = texts[ip] != ""
    caller, ip = caller[named], ip[named]
    counts = np.bincount(caller, minlength=callers)
    rank = np.arange(len(caller)) - (np.cumsum(counts) - counts)[caller]  # place among the caller's addresses
    shown: list[list[str]] = [[] for _ in range(callers)]
    for number, code in zip(caller[rank < LISTED].tolist(), ip[rank < LISTED].tolist()):
        shown[number].append(texts[code])
    return [";".join(names) + (f";(+{count - LISTED} more)" if count > LISTED else "")
            for names, count in zip(shown, counts.tolist())]


def _by_kind(caller: np.ndarray, ip: np.ndarray, calls: np.ndarray, sources: SourceAddresses,
             callers: int, kind_of_ip: np.ndarray, kinds: int) -> list[list[KindUse]]:
    """Each caller's ``AddressUse.by_kind`` from its distinct (caller, address) pairs and their calls
    (``kind_of_ip``: the kind of each address code, below ``kinds``)."""
    order = np.lexsort((ip, -calls, caller))  # per caller: most calls first, then by address
    _, first, count = np.unique(caller[order] * kinds + kind_of_ip[ip[order]], return_index=True,
                                return_counts=True)
    by_kind: list[list[KindUse]] = [[] for _ in range(callers)]
    for place, number in sorted(zip(first.tolist(), count.tolist())):  # a caller's kinds by their top address
        pair = order[place]
        by_kind[int(caller[pair])].append((sources.texts[ip[pair]], sources.classes[ip[pair]], number))
    return by_kind
