"""Finding and reading CloudTrail trail files as delivered to S3 (or copied from it).

A trail file is ``{"Records": [...]}`` as ``.json`` or ``.json.gz``. Digest and Insights files
share the folder tree but are not logs: they are ignored. A file that cannot be read (truncated
gzip, not JSON, no ``Records`` list) raises ``InvalidTrailFile`` with the reason.
"""
from __future__ import annotations

import gzip
import os
import re
import zlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

_DATED_FOLDER = re.compile(r"[/\\]CloudTrail[/\\][a-z0-9-]+[/\\](\d{4})[/\\](\d{2})[/\\](\d{2})[/\\]")
_NOT_LOGS = ("CloudTrail-Digest", "CloudTrail-Insight")
DELIVERY_LAG = timedelta(days=1)
"""How long after an event its file may be delivered; files dated outside the window ± this are skipped."""


class InvalidTrailFile(Exception):
    """A file in the trail tree that holds no readable records."""


@dataclass(frozen=True)
class TrailFile:
    """One trail file found on disk."""

    path: str
    size: int
    mtime_ns: int


@dataclass
class Discovery:
    """The trail files to read and how many others were passed over."""

    files: list[TrailFile]
    ignored: int
    outside_window: int


def is_trail_name(name: str) -> bool:
    """True for ``.json`` and ``.json.gz`` file names."""
    return name.endswith(".json") or name.endswith(".json.gz")


def delivery_date(path: str) -> date | None:
    """The date in an S3-layout path (``.../CloudTrail/<region>/Y/M/D/``), if any."""
    match = _DATED_FOLDER.search(path)
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def discover(root: Path, start: datetime, end: datetime) -> Discovery:
    """Every trail file under ``root`` (any depth) that may hold events of [start, end)."""
    files: list[TrailFile] = []
    ignored = outside = 0
    first, last = (start - DELIVERY_LAG).date(), (end + DELIVERY_LAG).date()
    for folder, subfolders, names in os.walk(root):
        subfolders.sort()
        for name in sorted(names):
            path = os.path.join(folder, name)
            if not is_trail_name(name) or any(marker in path for marker in _NOT_LOGS):
                ignored += 1
                continue
            day = delivery_date(path)
            if day is not None and not first <= day <= last:
                outside += 1
                continue
            stat = os.stat(path)
            files.append(TrailFile(path, stat.st_size, stat.st_mtime_ns))
    return Discovery(files, ignored, outside)


def read_records(path: str) -> list[Any]:
    """The ``Records`` list of one trail file; ``InvalidTrailFile`` says why when there is none."""
    with open(path, "rb") as handle:
        data = handle.read()
    if path.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as error:
            raise InvalidTrailFile(f"not a complete gzip file ({error})") from None
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise InvalidTrailFile(f"not JSON ({error})") from None
    records = document.get("Records") if isinstance(document, dict) else None
    if not isinstance(records, list):
        raise InvalidTrailFile('no "Records" list: not a CloudTrail log file')
    return records
