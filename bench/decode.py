"""Decompression and decoding of trail files, one core: which gunzip, which parser.

``python -m bench.decode --path bench/data/org-315000/trail --files 1500 --rounds 3`` prints, per
candidate, the median seconds over ``--rounds`` alternating rounds for the same files held in
memory: gzip/zlib, ISA-L (``isal``), zlib-ng (``zlib-ng``), then ``orjson.loads`` of whole files
against ``msgspec`` decoding of only the judged fields (``kit.judgedfields``), freeing included.
"""
from __future__ import annotations

import argparse
import gzip
import statistics
import time
import zlib
from pathlib import Path
from typing import Callable

import orjson
from isal import igzip, isal_zlib
from zlib_ng import gzip_ng, zlib_ng

from kit.engines.local import gc_paused
from kit.judgedfields import judged_fields

GUNZIP: dict[str, Callable[[bytes], bytes]] = {
    "gzip.decompress (before)": gzip.decompress,
    "zlib.decompress(wbits=31)": lambda data: zlib.decompress(data, 31),
    "isal igzip.decompress": igzip.decompress,
    "isal_zlib.decompress(wbits=31) (kit.trailfiles.gunzip)": lambda data: isal_zlib.decompress(data, 31),
    "zlib_ng gzip_ng.decompress": gzip_ng.decompress,
    "zlib_ng.decompress(wbits=31)": lambda data: zlib_ng.decompress(data, 31),
}
PARSE: dict[str, Callable[[bytes], list]] = {
    "orjson.loads, whole records (before)": lambda text: orjson.loads(text)["Records"],
    "msgspec, judged fields only (kit.judgedfields)": judged_fields,
}


def timed(function: Callable, inputs: list[bytes]) -> float:
    """Seconds to apply ``function`` to every input and drop the results."""
    began = time.perf_counter()
    results = [function(item) for item in inputs]
    del results
    return time.perf_counter() - began


def main(argv: list[str] | None = None) -> int:
    """Command line: ``--path DIR --files N --rounds R``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, required=True)
    parser.add_argument("--files", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    paths = sorted(args.path.rglob("*.json.gz"))[:args.files]
    compressed = [path.read_bytes() for path in paths]
    texts = [gzip.decompress(data) for data in compressed]
    print(f"{len(paths)} files, {sum(map(len, compressed)) / 1e6:.0f} MB .json.gz, {sum(map(len, texts)) / 1e6:.0f} MB JSON, "
          f"{sum(len(orjson.loads(text)['Records']) for text in texts):,} events; medians of {args.rounds} rounds")
    for title, candidates, inputs in (("gunzip", GUNZIP, compressed), ("parse", PARSE, texts)):
        seconds: dict[str, list[float]] = {name: [] for name in candidates}
        with gc_paused():
            for round_ in range(args.rounds):
                names = list(candidates)
                for name in names[round_ % len(names):] + names[:round_ % len(names)]:
                    seconds[name].append(timed(candidates[name], inputs))
        print(f"| {title} | seconds |\n|---|---:|")
        for name, values in seconds.items():
            print(f"| {name} | {statistics.median(values):.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
