"""Finding and reading CloudTrail trail files as delivered to S3 (or copied from it).

A trail file is ``{"Records": [...]}`` as ``.json`` or ``.json.gz``. Digest and Insights files
share the folder tree but are not logs: they are ignored. A file that cannot be read (truncated
gzip, not JSON, no ``Records`` list, gone, not a regular file) raises ``InvalidTrailFile`` with
the reason. Discovery follows symbolic links to folders (each real folder and file once, so no
loop) and never stops on what it cannot read: a folder it cannot list, a dangling link, a FIFO or
socket with a trail name are named in ``Discovery.unreadable`` with the reason.
"""
from __future__ import annotations

import errno
import heapq
import os
import re
import stat
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Iterator, overload

import numpy as np
import orjson
from isal import igzip, isal_zlib

from kit.judgedfields import judged_fields
from kit.sortedset import SortedSet
from kit.spill import SpilledTexts

_DATED_FOLDER = re.compile(r"[/\\]CloudTrail(?:-Digest|-Insight)?[/\\][a-z0-9-]+[/\\](\d{4})[/\\](\d{2})[/\\](\d{2})[/\\]")
"""A day folder of the S3 layout, of log files or of the digest and Insights files beside them (not
read, but dated: those outside the window are not listed either)."""
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


class TrailFiles(Sequence[TrailFile]):
    """Trail files in the order found, held compactly: each folder once, per file its size and
    modification time in memory (24 bytes), its name in a temporary file (``kit.spill.SpilledTexts``).
    The names were most of the memory: 130 bytes a file as strings, 18 MB at 139,161 files, whose
    memory stayed held by the process while it read (bench/RESULTS.md). Dated folders can be kept to
    be listed when ``drain`` reaches them (``defer``): until then only ``drain`` gives their files, and
    ``len`` and ``total_bytes`` count them once listed."""

    def __init__(self) -> None:
        self._folders: list[str] = []
        """Each folder's path as its files' paths begin (separator included)."""
        self._folder_numbers: dict[str, int] = {}
        self._folder = array("l")
        self._names = SpilledTexts("names of the trail files found")
        self._drained = False
        self._sizes = array("q")
        self._mtimes = array("q")
        self.total_bytes = 0
        """The files' sizes added up."""
        self._deferred: list[tuple[int, int, str]] = []
        """Dated folders to list when ``drain`` reaches their date: a heap of (day, order found, path), see
        ``defer``."""
        self._deferred_count = 0
        self._lister: Callable[[str], Iterator[tuple[str, list[tuple[str, os.stat_result]]]]] | None = None
        self._listed_folders = 0
        """Deferred folders listed so far ..."""
        self._files_of_listed = 0
        """... and their files ..."""
        self._drained_later = 0
        """... of which those listed while draining (not held: counted in ``len`` and ``total_bytes``)."""

    def extend(self, folder: str, files: list[tuple[str, os.stat_result]]) -> None:
        """Add the files of one ``folder`` (as its files' paths begin): each name, with what its path leads to."""
        number = self._folder_numbers.get(folder)
        if number is None:
            number = self._folder_numbers[folder] = len(self._folders)
            self._folders.append(folder)
        self._names.extend([name for name, _ in files])
        for _, info in files:
            self._folder.append(number)
            self._sizes.append(info.st_size)
            self._mtimes.append(info.st_mtime_ns)
            self.total_bytes += info.st_size

    def defer(self, folder: str, day: date,
              lister: Callable[[str], Iterator[tuple[str, list[tuple[str, os.stat_result]]]]]) -> None:
        """Keep a dated folder to be listed (by ``lister``: its folders' trail files, each with what its path
        leads to) when ``drain`` reaches its date, not now: reading starts before every folder is listed,
        and the names of a folder's files are held only while they are read."""
        heapq.heappush(self._deferred, (day.toordinal(), self._deferred_count, folder))
        self._deferred_count += 1
        self._lister = lister

    def look_ahead(self, enough_bytes: int) -> None:
        """List deferred folders, earliest first, into the files found until ``total_bytes`` reaches
        ``enough_bytes`` or none is left. They come out of ``drain`` in the same place: after the undated
        files, by date, before the folders left."""
        while self._deferred and self.total_bytes < enough_bytes:
            for folder, files in self._list_earliest():
                self.extend(folder, files)

    def expected(self) -> int:
        """Files found so far, and as many more per deferred folder left as the folders listed held."""
        per_folder = self._files_of_listed / self._listed_folders if self._listed_folders else 0
        return len(self) + round(per_folder * len(self._deferred))

    def expected_bytes(self) -> int:
        """``expected`` files times the mean size of those found so far."""
        return round(self.total_bytes / len(self) * self.expected()) if len(self) else 0

    def _list_earliest(self) -> Iterator[tuple[str, list[tuple[str, os.stat_result]]]]:
        """The files of the earliest deferred folder, a folder at a time (as ``defer``'s lister gives them)."""
        _, _, folder = heapq.heappop(self._deferred)
        self._listed_folders += 1
        for folder_path, files in self._lister(folder):  # type: ignore[misc]
            self._files_of_listed += len(files)
            yield folder_path, files

    def __len__(self) -> int:
        return len(self._sizes) + self._drained_later

    @overload
    def __getitem__(self, index: int) -> TrailFile: ...

    @overload
    def __getitem__(self, index: slice) -> list[TrailFile]: ...

    def __getitem__(self, index: int | slice) -> TrailFile | list[TrailFile]:
        if self._drained:
            raise IndexError(f"trail file {index} was drained")
        if isinstance(index, slice):
            return self._files(range(*index.indices(len(self))))
        position = index + len(self) if index < 0 else index
        if not 0 <= position < len(self):
            raise IndexError(f"trail file {index} of {len(self)}")
        return self._files([position])[0]

    def __iter__(self) -> Iterator[TrailFile]:
        """The files in the order found (their names read back a run at a time); none once drained."""
        return iter(()) if self._drained else self._named(np.arange(len(self)))

    def _files(self, positions: Sequence[int]) -> list[TrailFile]:
        return list(self._named(np.array(positions, np.int64)))

    def _named(self, positions: np.ndarray) -> Iterator[TrailFile]:
        """The files at ``positions``, in that order (their names read back as they are given)."""
        folders, folder, sizes, mtimes = self._folders, self._folder, self._sizes, self._mtimes
        for position, name in zip(map(int, positions), self._names.read(map(int, positions))):
            yield TrailFile(folders[folder[position]] + name, sizes[position], mtimes[position])

    def drain(self) -> Iterator[TrailFile]:
        """Each file once, in the order to read them, then the names are dropped (the length and
        ``total_bytes`` stay). Files in no dated folder come first, as found; then those in dated
        folders, by date (then as found; a deferred folder is listed when its turn comes): the events of
        a day come together, so the engine can drop what it keeps of days long past (``kit.eventids``)."""
        dates = [delivery_date(folder) for folder in self._folders]
        folder_days = np.array([when.toordinal() if when else 0 for when in dates], np.int64)
        order = np.argsort(folder_days[np.array(self._folder, np.intp)], kind="stable")  # 8 bytes a file, no list
        self._drained = True
        try:
            yield from self._named(order)
        finally:
            self._names.close()
        while self._deferred:
            for folder, files in self._list_earliest():
                for name, info in files:
                    self._drained_later += 1
                    self.total_bytes += info.st_size
                    yield TrailFile(folder + name, info.st_size, info.st_mtime_ns)


@dataclass
class Discovery:
    """The trail files to read, how many others were passed over, and what could not be read."""

    files: TrailFiles
    ignored: int
    outside_window: int
    """Dated folders (``.../CloudTrail/<region>/Y/M/D``) outside the window, not listed."""
    unreadable: dict[str, str] = field(default_factory=dict)
    """Path -> reason, for folders that cannot be listed and trail names that are no readable file."""


def is_trail_name(name: str) -> bool:
    """True for ``.json`` and ``.json.gz`` file names."""
    return name.endswith(".json") or name.endswith(".json.gz")


def delivery_date(path: str) -> date | None:
    """The date in an S3-layout path (``.../CloudTrail/<region>/Y/M/D/``, or ``CloudTrail-Digest`` or
    ``CloudTrail-Insight`` in place of ``CloudTrail``), if any."""
    match = _DATED_FOLDER.search(path)
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def discover(root: Path, start: datetime, end: datetime, on_file: Callable[[TrailFiles], None] | None = None,
             defer_dated: bool = False) -> Discovery:
    """Every trail file under ``root`` (any depth, through linked folders) that may hold events of
    [start, end), in a stable order: a folder's files by name, then its subfolders by name. Dated
    folders outside the window are not listed (a trail bucket holds years of them).
    ``on_file`` is called with the files found so far after each folder whose files add some.
    ``defer_dated``: dated folders (``.../CloudTrail/<region>/Y/M/D``) are listed only when
    ``TrailFiles.drain`` reaches their date (``TrailFiles.defer``; their files, odd entries and ignored
    names are found then)."""
    found = Discovery(TrailFiles(), 0, 0)
    walk = _Walk(found, ((start - DELIVERY_LAG).date(), (end + DELIVERY_LAG).date()), defer_dated)
    try:
        info = os.stat(root)
    except OSError as error:
        found.unreadable[str(root)] = _reason(error, "folder")
        return found
    walk.seen_folders.add((info.st_dev, info.st_ino))
    top = str(root)
    if _outside(top + os.sep, walk.window):  # a dated folder given as the root
        found.outside_window = 1
        return found
    day = delivery_date(top + os.sep) if defer_dated else None
    if day is not None:
        found.files.defer(top, day, walk.listing)
        return found
    for folder, files in walk.listing(top):
        found.files.extend(folder, files)
        if on_file:
            on_file(found.files)
    return found


class _Walk:
    """What a walk of the folders under a root has seen, so that each folder and file is taken once
    however it is reached, now or when a deferred folder is listed."""

    def __init__(self, found: Discovery, window: tuple[date, date], defer_dated: bool) -> None:
        self.found = found
        self.window = window
        self.defer_dated = defer_dated
        self.seen_folders: set[tuple[int, int]] = set()
        self.seen_files = _SeenFiles()

    def listing(self, top: str) -> Iterator[tuple[str, list[tuple[str, os.stat_result]]]]:
        """The trail files under ``top``, a folder at a time (as its files' paths begin; each file's name
        and what its path leads to), depth first by name. Dated subfolders are deferred when the walk
        defers them and ``top`` is undated (a deferred folder is listed whole)."""
        defer = self.defer_dated and delivery_date(top + os.sep) is None
        pending = [top]
        while pending:
            folder = pending.pop()
            subfolders, files = [], []
            for entry in _entries(folder, self.found):
                if _is_folder(entry):
                    if _outside(entry.path + os.sep, self.window):
                        self.found.outside_window += 1
                        continue
                    info = _stat(entry.path, self.found, "folder")
                    if info and (info.st_dev, info.st_ino) not in self.seen_folders:
                        self.seen_folders.add((info.st_dev, info.st_ino))
                        day = delivery_date(entry.path + os.sep) if defer else None
                        if day is not None:
                            self.found.files.defer(entry.path, day, self.listing)
                        else:
                            subfolders.append(entry.path)
                else:
                    files.append(entry)
            taken = _take(files, self.seen_files, self.found) if files else None
            if taken:
                yield taken
            pending.extend(reversed(subfolders))


def _entries(folder: str, found: Discovery) -> list[os.DirEntry]:
    """The entries of ``folder`` by name; none (with the reason noted) when it cannot be listed."""
    try:
        with os.scandir(folder) as listing:
            return sorted(listing, key=lambda entry: entry.name)
    except OSError as error:
        found.unreadable[folder] = _reason(error, "folder")
        return []


def _is_folder(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _is_link(entry: os.DirEntry) -> bool:
    """True for a symbolic link, and for an entry that cannot be told (taken as one: looked for with care)."""
    try:
        return entry.is_symlink()
    except OSError:
        return True


def _stat(path: str, found: Discovery, kind: str) -> os.stat_result | None:
    """What ``path`` leads to; None (with the reason noted) when it leads nowhere usable."""
    try:
        info = os.stat(path)
    except OSError as error:
        found.unreadable[path] = _reason(error, kind)
        return None
    if kind == "file" and not stat.S_ISREG(info.st_mode):
        found.unreadable[path] = "not a regular file (a FIFO, socket or device): not read"
        return None
    return info


def _outside(folder: str, window: tuple[date, date]) -> bool:
    """True when ``folder`` (its path and a separator) is dated (``delivery_date``) outside ``window``."""
    day = delivery_date(folder)
    return day is not None and not window[0] <= day <= window[1]


class _SeenFiles:
    """The files taken so far, by device and inode, so that a file reached by two names (a symbolic link
    to it, a second hard link) is read once. A file of one name reached by no link is the common case: its
    inode is only noted (8 bytes, in an array; a set of Python ints held about 50 bytes a file, 750 MB for
    15 million files, a month of a hundred accounts' deliveries) and searched for, sorted once
    (``kit.sortedset.SortedSet``), when a link comes. Those reached by a link are few: a set."""

    def __init__(self) -> None:
        self._noted: dict[int, array] = {}
        """Per device, the inodes of files taken by their one name, not yet in ``_sorted`` ..."""
        self._sorted: dict[int, SortedSet] = {}
        """... and those already sorted into it."""
        self._linked: dict[int, set[int]] = {}
        """Per device, the inodes of files taken through a link, or with several names."""

    def take(self, entry: os.DirEntry, info: os.stat_result) -> bool:
        """True when the file of ``entry`` (``info``: what its path leads to) was not taken before."""
        device, inode = info.st_dev, info.st_ino
        linked = self._linked.get(device)
        if linked is not None and inode in linked:
            return False
        if info.st_nlink > 1 or _is_link(entry):
            if self._taken_by_name(device, inode):
                return False
            self._linked.setdefault(device, set()).add(inode)
        else:
            noted = self._noted.get(device)
            if noted is None:
                noted = self._noted[device] = array("Q")
            noted.append(inode)
        return True

    def _taken_by_name(self, device: int, inode: int) -> bool:
        """True when a file of ``inode`` was taken by its one name (the inodes noted since are sorted in first)."""
        inodes = self._sorted.setdefault(device, SortedSet())
        noted = self._noted.pop(device, None)
        if noted:
            inodes.add(np.unique(np.frombuffer(noted, np.uint64)))
        return bool(inodes.holds(np.array([inode], np.uint64))[0])


def _take(entries: list[os.DirEntry], seen: _SeenFiles,
          found: Discovery) -> tuple[str, list[tuple[str, os.stat_result]]] | None:
    """The trail files among ``entries`` (the files of one folder, listed: in the window or undated), each
    name with what its path leads to, and the folder as their paths begin; None when there is none. Why
    the others are not taken is counted in ``found``. The folder's name is judged once."""
    folder = entries[0].path[:len(entries[0].path) - len(entries[0].name)]  # as the entries' paths begin
    logs = not any(marker in folder for marker in _NOT_LOGS)
    taken: list[tuple[str, os.stat_result]] = []
    for entry in entries:
        name = entry.name
        if not (logs and is_trail_name(name)) or any(marker in name for marker in _NOT_LOGS):
            found.ignored += 1
            continue
        info = _stat(entry.path, found, "file")
        if info is not None and seen.take(entry, info):
            taken.append((name, info))
    return (folder, taken) if taken else None


def _reason(error: OSError, kind: str) -> str:
    """Why a folder or file could not be used, in words."""
    if error.errno == errno.ELOOP:
        return "symbolic link loop: not followed"
    if error.errno == errno.ENOENT:
        return "dangling symbolic link or removed while listed: not read"
    return f"{kind} cannot be read ({error.strerror or error})"


def read_records(path: str, judged_only: bool = False) -> list[Any]:
    """The ``Records`` list of one trail file; ``InvalidTrailFile`` says why when there is none.
    ``judged_only``: records are ``kit.judgedfields.Record`` structs of only the fields the rules read
    when the file has the expected shape, else whole (dicts). Opened without blocking: a FIFO put in
    place of a file after discovery is refused, not waited on."""
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise InvalidTrailFile("gone before it was read (removed or a dangling link)") from None
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise InvalidTrailFile("not a regular file (a FIFO, socket or device): not read")
        data = _read_to_end(descriptor, info.st_size)
    finally:
        os.close(descriptor)
    if path.endswith(".gz"):
        try:
            data = gunzip(data)
        except (OSError, EOFError, isal_zlib.error) as error:
            raise InvalidTrailFile(f"not a complete gzip file ({error})") from None
    if judged_only:
        records = judged_fields(data)
        if records is not None:
            return records
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise InvalidTrailFile(f"not JSON ({error})") from None
    records = document.get("Records") if isinstance(document, dict) else None
    if not isinstance(records, list):
        raise InvalidTrailFile('no "Records" list: not a CloudTrail log file')
    return records


def _read_to_end(descriptor: int, size: int) -> bytes:
    """The bytes of an open regular file of ``size`` bytes: one system call when it still has that size
    (asked for a byte more, the read got ``size``: the end); a file that grew, or a read cut short, is
    read on to the end. Half the time of a file object's ``read`` for a small file, as most trail files
    are (bench/RESULTS.md)."""
    data = os.read(descriptor, size + 1)
    if len(data) == size:
        return data
    parts = [data]
    while part := os.read(descriptor, 1 << 20):
        parts.append(part)
    return b"".join(parts)


def gunzip(data: bytes) -> bytes:
    """The content of a gzip file, with ISA-L (2.5x zlib here: bench/RESULTS.md); a file of several
    gzip members (``cat a.gz b.gz``) is read whole and an empty file is empty, as ``gzip.decompress``
    would."""
    if not data:
        return data
    inflater = isal_zlib.decompressobj(31)
    text = inflater.decompress(data)
    if not inflater.eof:
        raise EOFError("compressed file ended before the end-of-stream marker was reached")
    return igzip.decompress(data) if inflater.unused_data else text
