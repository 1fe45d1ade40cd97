"""Telling AWS from non-AWS source IP addresses with AWS's published ip-ranges.json.

Without the file the kit can still tell private addresses (inside a VPC) from public ones,
but not whether a public address belongs to AWS; origins then stay 'unknown' where it matters.
"""
from __future__ import annotations

import ipaddress
import json
from pathlib import Path

from kit.errors import InputError

PRIVATE = "private"
AWS = "aws"
OUTSIDE = "outside"
PUBLIC = "public"
SERVICE = "service"


VPC_NETWORKS = tuple(ipaddress.ip_network(net) for net in
                     ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"))
"""Address space a VPC can use (RFC 1918, shared address space, IPv6 ULA). Python's ``is_private``
also covers documentation ranges, which are public addresses for our purpose."""


class IpRanges:
    """Lookup of public addresses in AWS's ranges: address -> Region ('' for GLOBAL prefixes)."""

    def __init__(self, prefixes: list[tuple[str, str]]) -> None:
        self._by_length: dict[tuple[int, int], dict[int, str]] = {}
        for prefix, region in prefixes:
            network = ipaddress.ip_network(prefix, strict=False)
            key = (network.version, network.prefixlen)
            self._by_length.setdefault(key, {})[int(network.network_address)] = region

    @classmethod
    def load(cls, path: Path) -> "IpRanges":
        """Read AWS's ip-ranges.json format (``prefixes`` and ``ipv6_prefixes``)."""
        try:
            document = json.loads(Path(path).read_text())
            prefixes = [(item["ip_prefix"], item.get("region", "")) for item in document["prefixes"]]
            prefixes += [(item["ipv6_prefix"], item.get("region", "")) for item in document.get("ipv6_prefixes", [])]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise InputError(f"--ip-ranges {path}: not AWS's ip-ranges.json format ({error})") from None
        try:
            return cls(prefixes)
        except (ValueError, TypeError) as error:
            raise InputError(f"--ip-ranges {path}: a prefix is not an IP network ({error})") from None

    def region_of(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
        """The Region of an AWS address ('' for GLOBAL), None when not in AWS's ranges."""
        bits = 32 if address.version == 4 else 128
        value = int(address)
        for (version, length), networks in self._by_length.items():
            if version == address.version:
                region = networks.get(value >> (bits - length) << (bits - length))
                if region is not None:
                    return "" if region == "GLOBAL" else region
        return None


def classify_ip(source_ip: str, ranges: IpRanges | None) -> tuple[str, str]:
    """(class, Region) of a ``sourceIPAddress``: private, aws, outside, public or service."""
    try:
        address = ipaddress.ip_address(source_ip)
    except ValueError:
        return SERVICE, ""
    if any(address in network for network in VPC_NETWORKS if network.version == address.version):
        return PRIVATE, ""
    if ranges is None:
        return PUBLIC, ""
    region = ranges.region_of(address)
    return (OUTSIDE, "") if region is None else (AWS, region)
