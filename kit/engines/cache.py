"""The cache of the local engine: each batch's partial rollup, keyed by what the batch read.

A key covers the batch's file names, sizes and modification times, the window, the accounts
filter, ``FORMAT`` and the fingerprint of the judging code, so a touched, added or removed file
re-reads only its batch. The folder is ``$STS_KIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/sts-kit``,
else ``~/.cache/sts-kit``; it is created private, and used only when it is the user's own and
nobody else can write it (``refusal`` says why not; the run then goes on without the cache).

An entry is data, never code: a header line (magic, format, key, payload length and sha256) and
the payload, the aggregator's attributes in the tagged msgpack encoding of ``kit.engines.codec``
(measured against the alternatives in bench/RESULTS.md). An entry whose header, digest, key or
contents do not check out is ignored, counted by reason, and its files are read again.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import stat
from pathlib import Path
from typing import Any, Sequence

import orjson

from kit.engines import codec
from kit.events import Aggregator
from kit.trailfiles import TrailFile

FORMAT = 9
"""Bump when what a batch result holds changes: older entries are then never looked up."""
RULE_MODULES = ("events", "eventids", "texthash", "secondcounts", "stscounts", "signalcounts", "signals", "usecounts",
                "fieldgaps", "regions", "readreport", "judgedfields", "trailfiles", "spill", "sortedruns", "bloom",
                "errors", "callerkeys", "sortedset", "ipv4text")
"""The modules of ``kit`` whose code or constants may shape a batch's state: events and every kit module it
reads, and every one those read."""
RULES = hashlib.sha256(b"".join(Path(importlib.util.find_spec(f"kit.{name}").origin).read_bytes()
                                for name in RULE_MODULES)).hexdigest()
"""Fingerprint of the code that reads and judges events: a new kit version never reuses old verdicts."""
MAGIC = b"sts-kit cache entry"
ENTRY_SUFFIX = ".stscache"

Entry = tuple[Aggregator, int, dict[str, str]]
"""What a batch made: its aggregator, the number of files read and the unreadable files with reasons."""


def cache_dir() -> Path:
    """The folder of the cache entries (not created here)."""
    if os.environ.get("STS_KIT_CACHE_DIR"):
        return Path(os.environ["STS_KIT_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "sts-kit"


def refusal() -> str | None:
    """Create the cache folder when missing; why it must not be used, or None when it may."""
    folder = cache_dir()
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.stat()
    except OSError as error:
        return f"cache folder {folder} cannot be created or read ({error.strerror or error})"
    if not stat.S_ISDIR(info.st_mode):
        return f"cache folder {folder} is not a folder"
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        return f"cache folder {folder} belongs to another user (uid {info.st_uid}); set STS_KIT_CACHE_DIR to a folder of yours"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"cache folder {folder} can be written by others (mode {stat.S_IMODE(info.st_mode):o}); chmod go-w it"
    return None


def batch_key(files: Sequence[TrailFile], window: tuple[str, str], accounts: Sequence[str]) -> str:
    """The cache key of one batch read with one window and accounts filter."""
    what = [FORMAT, RULES, list(window), list(accounts), [(f.path, f.size, f.mtime_ns) for f in files]]
    return hashlib.sha256(orjson.dumps(what)).hexdigest()


def entry_path(key: str) -> Path:
    """Where the entry of ``key`` lives."""
    return cache_dir() / f"batch-{key}{ENTRY_SUFFIX}"


def encode_entry(key: str, entry: Entry) -> bytes:
    """The bytes of an entry: header line, then the payload."""
    aggregator, files_read, invalid = entry
    payload = codec.pack({"aggregator": codec.state_of(aggregator), "files_read": files_read, "invalid": invalid})
    header = {"format": FORMAT, "key": key, "length": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}
    return MAGIC + b" " + orjson.dumps(header) + b"\n" + payload


def decode_entry(key: str, data: bytes) -> Entry:
    """The entry in ``data`` stored under ``key``; ``ValueError`` saying what is wrong otherwise."""
    head, newline, payload = data.partition(b"\n")
    if not newline or not head.startswith(MAGIC + b" "):
        raise ValueError("not a cache entry")
    try:
        header = orjson.loads(head[len(MAGIC) + 1:])
    except orjson.JSONDecodeError:
        raise ValueError("unreadable header") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError("another format")
    if header.get("key") != key:
        raise ValueError("stored under another key")
    if header.get("length") != len(payload):
        raise ValueError("truncated")
    if header.get("sha256") != hashlib.sha256(payload).hexdigest():
        raise ValueError("digest mismatch")
    return _entry_of(codec.unpack(payload))


def _entry_of(value: Any) -> Entry:
    """The entry of a decoded payload, after checking its shape."""
    if not isinstance(value, dict) or set(value) != {"aggregator", "files_read", "invalid"}:
        raise ValueError("unexpected contents")
    state, files_read, invalid = value["aggregator"], value["files_read"], value["invalid"]
    expected = set(codec.state_of(Aggregator("", "")))
    if not isinstance(state, dict) or set(state) != expected:
        raise ValueError("aggregator attributes differ from this kit's")
    if type(files_read) is not int or not isinstance(invalid, dict) or \
            not all(type(path) is str and type(reason) is str for path, reason in invalid.items()):
        raise ValueError("unexpected contents")
    return codec.restore(Aggregator, state), files_read, invalid


def read_own_file(path: Path) -> bytes | None:
    """The bytes of ``path`` when it is a regular file of this user, not reached through a link;
    None when there is no such file; ``ValueError`` saying why a file there is not usable."""
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        return None
    except OSError as error:
        raise ValueError(f"cannot be opened ({error.strerror or error})") from None
    with os.fdopen(descriptor, "rb") as handle:
        info = os.fstat(handle.fileno())
        if hasattr(os, "getuid") and info.st_uid != os.getuid():
            raise ValueError("owned by another user")
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("not a file")
        try:
            return handle.read()
        except OSError as error:
            raise ValueError(f"cannot be read ({error.strerror or error})") from None


def load(key: str, rejected: dict[str, str]) -> Entry | None:
    """The stored entry of ``key``; None when there is none or it is unusable (then
    ``rejected`` maps the entry's file name to the reason)."""
    path = entry_path(key)
    try:
        data = read_own_file(path)
    except ValueError as error:
        return _reject(rejected, path, str(error))
    if data is None:
        return None
    try:
        return decode_entry(key, data)
    except (ValueError, TypeError, RecursionError, MemoryError) as error:
        return _reject(rejected, path, str(error) if isinstance(error, ValueError) else type(error).__name__)


def _reject(rejected: dict[str, str], path: Path, reason: str) -> None:
    rejected[path.name] = reason
    return None


def rejected_note(rejected: dict[str, str], shown: int = 5) -> str:
    """One note naming the unusable entries (the first ``shown``) and why."""
    named = "; ".join(f"{name}: {reason}" for name, reason in sorted(rejected.items())[:shown])
    more = f"; and {len(rejected) - shown} more" if len(rejected) > shown else ""
    return f"{len(rejected)} cache entries in {cache_dir()} could not be used, their files were read again ({named}{more})"


def store(key: str, entry: Entry) -> None:
    """Store an entry atomically; a cache that cannot be written is no error."""
    path = entry_path(key)
    partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        data = encode_entry(key, entry)
        with open(partial, "xb") as handle:
            handle.write(data)
        os.replace(partial, path)
    except OSError:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
