"""The source addresses of each caller of the global endpoint, read from ``sts_calls``' codes.

A caller can use hundreds of thousands of addresses (pods, build runners: an address a call), so
they are counted per (caller, address) as numbers, never as a table row each: the plan keeps, per
caller, the few addresses it shows (``listed``) and per kind of address the most used one and how many
of that kind there are (``by_kind``, what ``kit.callers.origin`` reads).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from kit.codedseconds import text_codes
from kit.ipranges import AddressBook, AddressClass

LISTED = 5
"""Distinct addresses a caller's ``source_ips`` names before saying how many more (laptops change
address daily)."""

KindUse = tuple[str, AddressClass, int]
"""Of one kind of address a caller used: its most used address, that address's class, how many
distinct addresses of the kind the caller used."""


@dataclass
class AddressUse:
    """Per caller (in caller number order): what the plan says of its source addresses."""

    listed: list[str]
    """Up to ``LISTED`` distinct non-empty addresses in text order, then ';(+N more)' when there are more."""
    by_kind: list[list[KindUse]]
    """Per kind of address used, the most used first (ties: by address)."""


def address_use(sts_calls: pd.DataFrame, rows: np.ndarray, caller_of_row: np.ndarray, callers: int,
                book: AddressBook) -> AddressUse:
    """``AddressUse`` of ``callers`` callers from the ``sts_calls`` rows at positions ``rows`` (the number
    of each one's caller, 0 to ``callers`` - 1, in ``caller_of_row``), counted per (caller, address) code."""
    codes, texts = text_codes(sts_calls.source_ip)  # the distinct addresses in text order
    pairs, pair_of_row = np.unique(caller_of_row.astype(np.int64) * len(texts) + codes[rows], return_inverse=True)
    calls = np.bincount(pair_of_row, weights=sts_calls.calls.to_numpy()[rows], minlength=len(pairs))
    caller, ip = pairs // len(texts), pairs % len(texts)  # by caller, then by address text
    return AddressUse(_listed(caller, ip, texts, callers),
                      _by_kind(caller, ip, calls.astype(np.int64), texts, callers, book))


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


def _by_kind(caller: np.ndarray, ip: np.ndarray, calls: np.ndarray, texts: np.ndarray, callers: int,
             book: AddressBook) -> list[list[KindUse]]:
    """Each caller's ``AddressUse.by_kind`` from its distinct (caller, address) pairs and their calls."""
    used = np.unique(ip)
    classes = np.empty(len(texts), dtype=object)
    classes[used] = book.classify_many(texts[used].tolist())
    kinds, kind_of_used = np.unique(np.array([found.kind for found in classes[used]], dtype=object),
                                    return_inverse=True)
    kind_of_ip = np.zeros(len(texts), np.int64)
    kind_of_ip[used] = kind_of_used
    order = np.lexsort((ip, -calls, caller))  # per caller: most calls first, then by address
    _, first, count = np.unique(caller[order] * len(kinds) + kind_of_ip[ip[order]], return_index=True,
                                return_counts=True)
    by_kind: list[list[KindUse]] = [[] for _ in range(callers)]
    for place, number in sorted(zip(first.tolist(), count.tolist())):  # a caller's kinds by their top address
        pair = order[place]
        by_kind[int(caller[pair])].append((texts[ip[pair]], classes[ip[pair]], number))
    return by_kind
