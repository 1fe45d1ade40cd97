"""The merged caller-key table as numbers gives the codes and key columns a dict of tuples gives."""
from __future__ import annotations

import random
import socket

import numpy as np
import pytest

from kit.callerkeys import CallerKeys
from kit.ipv4text import ipv4_numbers
from kit.rollup import key_columns

AWKWARD = ["1.2.3.4", "0.0.0.0", "255.255.255.255", "10.0.0.10", "256.1.1.1", "01.2.3.4", "1.2.3.04", "0.0.0.00",
           "1.2.3", "1.2.3.4.5", "1..3.4", ".1.2.3", "1.2.3.", " 1.2.3.4", "1.2.3.4 ", "1.2.3.4\n", "1.2.3.4\x00",
           "١.٢.٣.٤", "１.２.３.４", "::1", "2001:db8::1", "::ffff:1.2.3.4", "AWS Internal", "", "ec2.amazonaws.com",
           "1234.1.1.1", "1.2.3.400", "999.999.999.999", "1.2.3.4/32", "a.b.c.d", "1.2.3.-4", "+1.2.3.4",
           "100.200.250.255", "1.1.1.0123"]


def reference(text: str) -> int:
    """The address's number when ``socket`` reads the text and writes it back the same, else -1."""
    try:
        packed = socket.inet_pton(socket.AF_INET, text)
    except (OSError, ValueError):
        return -1
    return int.from_bytes(packed, "big") if socket.inet_ntop(socket.AF_INET, packed) == text else -1


def test_ipv4_numbers_read_canonical_addresses_only_as_socket_does():
    rng = random.Random(7)
    texts = AWKWARD + [socket.inet_ntoa(rng.getrandbits(32).to_bytes(4, "big")) for _ in range(3000)]
    texts += ["".join(rng.choice("0123456789.") for _ in range(rng.randint(5, 17))) for _ in range(20000)]
    numbers = ipv4_numbers(texts).tolist()
    assert numbers == [reference(text) for text in texts]
    assert sum(number >= 0 for number in numbers) > 3000  # the random digits and dots hold some addresses
    ascii_only = [text for text in AWKWARD if text.isascii()]  # read together, without the others' checks
    assert ipv4_numbers(ascii_only).tolist() == [reference(text) for text in ascii_only]
    assert ipv4_numbers([]).tolist() == []


def random_keys(rng: random.Random, count: int) -> list[tuple]:
    """Caller keys of a few callers from many addresses: IPv4 ones, and texts that are no canonical IPv4."""
    others = [(f"1111{n % 3}", f"arn:aws:iam::1111{n % 3}:role/r{n % 7}", rng.choice(["AssumedRole", None, ""]),
               f"agent/{n % 4}", rng.choice(["AssumeRole", "GetCallerIdentity"]), "sts.amazonaws.com",
               rng.choice(["global", "regional"]), rng.choice(["us-east-1", "eu-west-1"]), "us-east-1")
              for n in range(12)]
    addresses = [socket.inet_ntoa(rng.getrandbits(32).to_bytes(4, "big")) for _ in range(count // 3)]
    addresses += ["01.2.3.4", "2001:db8::7", "", "AWS Internal", "10.0.0.1", "10.0.0.10", "9.0.0.1"]
    return [(*other[:4], rng.choice(addresses), *other[4:]) for other in rng.choices(others, k=count)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_caller_keys_code_and_give_columns_as_a_dict_of_tuples_does(seed: int):
    rng = random.Random(seed)
    keys = random_keys(rng, 6000)
    table: dict[tuple, int] = {}
    numbers = CallerKeys()
    while keys:
        size = rng.randint(1, 900)
        batch, keys = keys[:size], keys[size:]
        batch += rng.sample(batch, len(batch) // 4)  # keys seen again in the same call
        assert numbers.codes(batch).tolist() == [table.setdefault(key, len(table)) for key in batch]
    assert len(numbers) == len(table)
    key = random_keys(rng, 1)[0]
    assert numbers.setdefault(key, len(numbers)) == table.setdefault(key, len(table))
    by_code = list(table)
    codes = np.array(rng.choices(range(len(table) - 50), k=4000))  # some keys without rows
    for mine, theirs in zip(numbers.columns(codes), key_columns(by_code, 10, codes), strict=True):
        assert mine[0].tolist() == theirs[0].tolist()
        assert mine[1].dtype == theirs[1].dtype and mine[1].tolist() == theirs[1].tolist()
    again = CallerKeys()
    assert again.codes(by_code).tolist() == list(range(len(table))) == again.codes(by_code[::-1])[::-1].tolist()
