"""The floor: gunzip and parse every trail file with orjson, nothing else, in N processes.

Same files, same batches and the same number of processes as the local engine, with the
garbage collector paused as the engine pauses it; prints the number of records parsed. The floor
of issue 14 stays what it was (``gzip`` + ``orjson.loads`` of whole files), whatever the kit's own
reading does; ``--fast`` gives the new floor: the kit's own reading alone (ISA-L gunzip, then
``msgspec`` decoding of only the judged fields: ``kit.trailfiles.read_records``).
"""
from __future__ import annotations

import argparse
import gzip
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import orjson

from kit.engines.local import BATCH_BYTES, batches, gc_paused
from kit.trailfiles import InvalidTrailFile, discover, read_records
from kit.params import parse_time


def parse_batch(paths: list[str]) -> int:
    """Records in a batch of files, parsed and dropped (a file that is not a whole trail file counts none)."""
    with gc_paused():
        return sum(_parsed(path) for path in paths)


def _parsed(path: str) -> int:
    """Records of one file, gunzipped and parsed whole."""
    try:
        data = Path(path).read_bytes()
        return len(orjson.loads(gzip.decompress(data) if path.endswith(".gz") else data)["Records"])
    except (OSError, EOFError, ValueError, KeyError, TypeError):
        return 0


def decode_batch(paths: list[str]) -> int:
    """Records in a batch of files, read as the kit reads them (judged fields only) and dropped."""
    with gc_paused():
        return sum(_decoded(path) for path in paths)


def _decoded(path: str) -> int:
    """Records of one file, read as the kit reads them."""
    try:
        return len(read_records(path, judged_only=True))
    except (InvalidTrailFile, OSError):
        return 0


def floor(root: Path, start: str, end: str, workers: int, fast: bool = False) -> tuple[int, int]:
    """(files, records) under ``root`` for the window, parsed by ``workers`` processes."""
    found = discover(root, parse_time("start", start), parse_time("end", end))
    work = [[f.path for f in batch] for batch in batches(found.files, BATCH_BYTES)]
    with ProcessPoolExecutor(workers) as pool:
        return len(found.files), sum(pool.map(decode_batch if fast else parse_batch, work))


def main(argv: list[str] | None = None) -> int:
    """Command line: ``--path DIR --start T --end T --workers N``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, required=True)
    parser.add_argument("--start", default="2025-03-01")
    parser.add_argument("--end", default="2025-09-01")
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--fast", action="store_true", help="ISA-L and partial decoding (the kit's own reading)")
    args = parser.parse_args(argv)
    files, records = floor(args.path, args.start, args.end, args.workers, args.fast)
    print(f"{files} {records}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
