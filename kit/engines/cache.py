"""The cache of the local engine: each batch's partial rollup, keyed by what the batch read.

A key covers the batch's file names, sizes and modification times, the window, the accounts
filter, ``FORMAT`` and the fingerprint of the judging code, so a touched, added or removed file re-reads only its batch. Entries are
pickles of plain dicts and lists: the fastest form to write from a worker and load back, and
safe here because they are only read from the user's own cache folder (created private):
``$STS_KIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/sts-kit``, else ``~/.cache/sts-kit``.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Sequence

import orjson

from kit import events, trailfiles
from kit.trailfiles import TrailFile

FORMAT = 1
"""Bump when what a batch result holds changes: older entries are then never looked up."""
RULES = hashlib.sha256(b"".join(Path(module.__file__).read_bytes() for module in (events, trailfiles))).hexdigest()
"""Fingerprint of the code that reads and judges events: a new kit version never reuses old verdicts."""


def cache_dir() -> Path:
    """The folder of the cache entries (not created here)."""
    if os.environ.get("STS_KIT_CACHE_DIR"):
        return Path(os.environ["STS_KIT_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "sts-kit"


def batch_key(files: Sequence[TrailFile], window: tuple[str, str], accounts: Sequence[str]) -> str:
    """The cache key of one batch read with one window and accounts filter."""
    what = [FORMAT, RULES, list(window), list(accounts), [(f.path, f.size, f.mtime_ns) for f in files]]
    return hashlib.sha256(orjson.dumps(what)).hexdigest()


def entry_path(key: str) -> Path:
    """Where the entry of ``key`` lives."""
    return cache_dir() / f"batch-{key}.pickle"


def load(key: str) -> bytes | None:
    """The stored entry of ``key``, or None when there is none."""
    try:
        return entry_path(key).read_bytes()
    except OSError:
        return None


def store(key: str, payload: bytes) -> None:
    """Store an entry atomically; a cache that cannot be written is no error."""
    path = entry_path(key)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(payload)
        os.replace(partial, path)
    except OSError:
        pass
