"""Writing output files safely: whole files or none, one consistent set, one writer per folder.

A set of files (the plan files, the per-account reports) is written in two phases. First every
file goes to a hidden temporary name in its own folder (``.plan.csv.<random>.tmp``), flushed to
disk. Then, in a few renames: the previous manifest (``summary.json``) is removed, each file is
renamed into place, files the previous manifest listed and this set does not hold are removed,
and the new manifest is renamed in last. The manifest names every file with its size and
sha256, so a reader can tell a complete set (``verify_set``): at any moment the folder holds the
previous complete set, a set without manifest (only if killed within the renames), or the new
complete set; never a cut file. Temporary files of a killed writer are removed by the next one.

Folders are locked with ``flock`` on the folder itself (no lock file to leave behind): a second
writer gets ``OutputError`` at once. A notebook kernel started by ``sts-kit run`` inherits its
parent's lock on the run folder through ``STS_KIT_HELD_LOCK``.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping

from kit.errors import OutputError

if TYPE_CHECKING:  # pandas only where a table is written: the CLI locks its --out before pandas is imported
    import pandas as pd

MANIFEST = "summary.json"
HELD_LOCK_ENV = "STS_KIT_HELD_LOCK"
PAUSE_ENV = "STS_KIT_TEST_PAUSE_BETWEEN_FILES"
"""Seconds to pause after each staged file: lets tests kill a writer mid-set."""
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_OUR_NAMES = re.compile(r"^(plan\.csv|quota\.csv|plan\.md|changes\.csv|report\.html|reports/\d{12}\.(md|html))$")
_TEMP = re.compile(r"^\.(plan\.csv|quota\.csv|plan\.md|changes\.csv|report\.html|summary\.json|run\.json|rollup\.msgpack"
                   r"|rollup\.json|\d{12}\.(md|html))\.[a-z0-9_]{8}\.tmp$")
_held: dict[Path, int] = {}


# --- CSV cells a spreadsheet would evaluate ---------------------------------------------------

def inert_cell(value: Any) -> Any:
    """A text cell that starts a formula (=, +, -, @, tab, CR) gets a leading single quote (OWASP)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_bytes(table: pd.DataFrame) -> bytes:
    """``table`` as CSV with every text cell made inert: the one CSV writer of the kit."""
    from pandas.api.types import is_datetime64_any_dtype, is_numeric_dtype

    out = table.copy()
    for column in out.columns:
        dtype = out[column].dtype
        if not (is_numeric_dtype(dtype) or is_datetime64_any_dtype(dtype)):  # text, categories, objects
            out[column] = out[column].astype(object).map(inert_cell)
    return out.to_csv(index=False, lineterminator="\n").encode()


# --- the output folder ------------------------------------------------------------------------

def check_out_dir(folder: Path, what: str = "--out") -> None:
    """Fail with one line, before any work, when ``folder`` cannot receive files."""
    folder = Path(folder)
    if folder.exists():
        if not folder.is_dir():
            raise OutputError(f"{what} {folder} is a file, not a folder; choose a folder")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise OutputError(f"{what} {folder} is not writable; choose a folder you can write to")
        return
    ancestor = folder.absolute().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputError(f"{what} {folder}: {ancestor} is a file, not a folder; choose another path")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise OutputError(f"{what} {folder} cannot be created: {ancestor} is not writable")


@contextlib.contextmanager
def folder_lock(folder: Path, what: str = "--out") -> Iterator[Path]:
    """Hold the only writer's lock on ``folder`` (created if missing; the folders this lock
    created are removed again when nothing was written). Re-entrant within a process."""
    folder = Path(folder).resolve()
    if folder in _held or _inherited(folder):
        _held[folder] = _held.get(folder, 0) + 1
        try:
            yield folder
        finally:
            _held[folder] -= 1
            if not _held[folder]:
                del _held[folder]
        return
    check_out_dir(folder, what)
    created = [path for path in (folder, *folder.parents) if not path.exists()]  # leaf first
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"{what} {folder} cannot be created: {error.strerror}") from None
    handle = os.open(folder, os.O_RDONLY) if os.name != "nt" else -1  # Windows: folders cannot be opened
    try:
        if not _try_lock(handle):
            raise OutputError(f"{what} {folder} is being written by another sts-kit; wait for it to finish "
                              "or choose another folder")
        _held[folder] = 1
        try:
            yield folder
        finally:
            del _held[folder]
            for path in created:
                with contextlib.suppress(OSError):
                    path.rmdir()  # only when empty: nothing was written
    finally:
        if handle >= 0:
            os.close(handle)


def held_lock_env(folder: Path) -> dict[str, str]:
    """The environment entry that lets child processes of this one write into ``folder``."""
    return {HELD_LOCK_ENV: f"{os.getpid()}:{Path(folder).resolve()}"}


def _inherited(folder: Path) -> bool:
    """Whether the parent process holds the lock on ``folder`` for us (a notebook kernel)."""
    pid, _, path = os.environ.get(HELD_LOCK_ENV, "").partition(":")
    return pid.isdigit() and int(pid) == os.getppid() and Path(path) == folder


def _try_lock(handle: int) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks on folders; a single writer is assumed
        return True
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


# --- writing a set ----------------------------------------------------------------------------

def write_file(path: Path, data: bytes) -> Path:
    """Write one file whole or not at all (temporary name in the same folder, then rename)."""
    os.replace(_stage(path, data), path)
    _sync_folder(path.parent)
    return path


def write_set(folder: Path, files: Mapping[str, bytes], summary: Mapping[str, Any]) -> list[Path]:
    """Replace the set in ``folder`` by ``files`` (names relative to it) and a manifest holding
    ``summary`` plus ``files``: name -> bytes and sha256. Returns the paths, manifest last."""
    with folder_lock(folder) as folder:
        remove_stale_temps(folder)
        staged: dict[str, Path] = {}
        try:
            for name, data in files.items():
                staged[name] = _stage(folder / name, data)
                _pause_for_tests()
            listing = {name: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                       for name, data in files.items()}
            manifest = json.dumps({**summary, "files": listing}, indent=2, default=str) + "\n"
            staged[MANIFEST] = _stage(folder / MANIFEST, manifest.encode())
            previous = listed_files(folder)
            (folder / MANIFEST).unlink(missing_ok=True)  # from here on the folder says "incomplete"
            for name in files:
                os.replace(staged[name], folder / name)
            for name in previous - set(files):
                (folder / name).unlink(missing_ok=True)
            os.replace(staged[MANIFEST], folder / MANIFEST)
            for parent in {(folder / name).parent for name in files} | {folder}:
                _sync_folder(parent)
        finally:
            for temporary in staged.values():
                temporary.unlink(missing_ok=True)
    return [folder / name for name in files] + [folder / MANIFEST]


def listed_files(folder: Path) -> set[str]:
    """The kit's own file names the manifest in ``folder`` lists (other names are ignored)."""
    try:
        listing = json.loads((folder / MANIFEST).read_text()).get("files", {})
    except (OSError, ValueError, AttributeError):
        return set()
    return {name for name in listing if isinstance(name, str) and _OUR_NAMES.match(name)} if isinstance(
        listing, dict) else set()


def verify_set(folder: Path) -> list[str]:
    """Problems of the set in ``folder``: missing manifest, missing or changed files. Empty: complete."""
    try:
        listing = json.loads((Path(folder) / MANIFEST).read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return [f"{MANIFEST} is missing or names no files: the set is incomplete"]
    problems = []
    for name, expected in listing.items():
        try:
            data = (Path(folder) / name).read_bytes()
        except OSError:
            problems.append(f"{name} is missing")
            continue
        if len(data) != expected.get("bytes") or hashlib.sha256(data).hexdigest() != expected.get("sha256"):
            problems.append(f"{name} differs from {MANIFEST}")
    return problems


def remove_stale_temps(folder: Path) -> None:
    """Remove temporary files a killed writer left in ``folder`` and its ``reports/``."""
    for parent in (folder, folder / "reports"):
        if parent.is_dir():
            for path in parent.iterdir():
                if _TEMP.match(path.name) and path.is_file():
                    path.unlink(missing_ok=True)


def _stage(path: Path, data: bytes) -> Path:
    """``data`` in a hidden temporary file beside ``path``, flushed to disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(name, 0o666 & ~_umask())
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _sync_folder(folder: Path) -> None:
    """Make the renames in ``folder`` durable (no-op where folders cannot be opened)."""
    with contextlib.suppress(OSError):
        handle = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


def _pause_for_tests() -> None:
    seconds = os.environ.get(PAUSE_ENV)
    if seconds:
        time.sleep(float(seconds))
