"""Arrays kept on disk until the end of a run: read back in the order they were added, or searched.

What grows with the events but is seldom read goes to an anonymous temporary file: unlinked as it is
made, so it is never seen by another process and disappears with the run, whatever ends it. The keys
issued by global calls (12 bytes each, needed once every batch is merged) are read back a chunk at a
time, the per-second STS calls a range of caller codes at a time (``SpilledColumns``); the event ids
counted (``kit.eventids``) are sorted runs of hashes, of which a lookup reads only the blocks that
could hold what it looks for (``SpilledRuns``).
"""
from __future__ import annotations

import os
import tempfile
from array import array
from contextlib import closing
from typing import IO, Callable, Iterable, Iterator, Sequence

import numpy as np

from kit.errors import OutputError

CHUNK_ROWS = 1 << 18
"""Rows read back at a time: 3 MB of 12-byte rows, and what is made of a chunk (an order, sorted
copies, positions) takes a few times that. At 1 << 20, joining the keys global calls issued to their
uses (``kit.signalcounts``) peaked 29 MB higher at 34.2 M events (bench/RESULTS.md)."""
GROUP_ROWS = 1 << 18
"""Rows of a group of ``SpilledColumns.groups`` (about 3 MB of 12-byte rows: what the caller makes of a
group, summing per-second rows for one, takes a few times that)."""
BLOCK_ROWS = 512
"""Hashes per block of a ``SpilledRuns`` run (4 KiB): memory keeps the first hash of each."""
TEXT_BYTES = 1 << 16
"""Bytes of texts ``SpilledTexts`` gathers before it writes them, and reads back at most at a time."""


def _write_to(file: IO[bytes] | None, what: str, write: Callable[[IO[bytes]], None]) -> IO[bytes]:
    """``write`` to ``file`` (a new temporary file when None); the file. ``OutputError`` (``what`` could
    not be kept) when the disk refuses."""
    try:
        if file is None:
            file = tempfile.TemporaryFile(prefix="sts-kit-")
        file.seek(0, 2)
        write(file)
    except OSError as error:
        raise OutputError(f"cannot keep the {what} in a temporary file in {tempfile.gettempdir()} "
                          f"({error.strerror or error}): free some space there or set TMPDIR to a "
                          "folder with room") from None
    return file


_PREAD = getattr(os, "pread", None)
"""Reading at an offset without moving the file's position (not on Windows)."""


def _read_at(file: IO[bytes], offset: int, size: int) -> bytes:
    """``size`` bytes of ``file`` from ``offset`` (one system call where there is ``os.pread``)."""
    if _PREAD is not None:
        return _PREAD(file.fileno(), size, offset)
    file.seek(offset)
    return file.read(size)


class SpilledColumns:
    """Parts of rows, each a tuple of equally long 1-d arrays of the dtypes given, appended to a
    temporary file."""

    def __init__(self, dtypes: Sequence[np.dtype | type], what: str) -> None:
        self.dtypes = [np.dtype(dtype) for dtype in dtypes]
        self.what = what
        """What the rows are, for the error when the file cannot be written."""
        self._parts: list[int] = []
        """Rows per part, in the order appended."""
        self._file: IO[bytes] | None = None

    def append(self, columns: Sequence[np.ndarray]) -> None:
        """Add one part (columns of the dtypes given, equally long)."""
        rows = len(columns[0])
        if not rows:
            return

        def write(file: IO[bytes]) -> None:
            for column, dtype in zip(columns, self.dtypes):
                file.write(np.ascontiguousarray(column, dtype).tobytes())
        self._file = _write_to(self._file, self.what, write)
        self._parts.append(rows)

    @property
    def rows(self) -> int:
        """Rows appended in all."""
        return sum(self._parts)

    def chunks(self, rows: int = CHUNK_ROWS) -> Iterator[tuple[np.ndarray, ...]]:
        """The rows in the order appended, as columns of about ``rows`` rows at a time (whole parts)."""
        if self._file is None:
            return
        self._file.flush()
        self._file.seek(0)
        group: list[int] = []
        in_group = 0
        for index, part in enumerate(self._parts):
            group.append(part)
            in_group += part
            if in_group >= rows or index == len(self._parts) - 1:
                yield self._read(self._file, group)
                group, in_group = [], 0

    def groups(self, by: int, rows: int = GROUP_ROWS, ranks: np.ndarray | None = None,
               cut_by: tuple[int, int] | None = None) -> Iterator[tuple[np.ndarray, ...]]:
        """The rows again, in groups that each hold every row of a range of values of column ``by``
        (non-negative integers below 2**31), the ranges ascending and about ``rows`` rows a group (more
        when one value has more), each in the order appended: a pass over the file counts the rows per
        value, a second one deals each chunk's rows out to a file per group, then each group's file is
        read whole (memory holds a chunk or a group, never every row). With ``ranks`` (a permutation of
        0..n-1, one per possible value), column ``by`` comes back as the ranks of its values, the ranges
        being ranges of ranks. With ``cut_by`` (a column of non-negative integers, a width), a value of
        more than ``rows`` rows is cut further, by that column's values divided by the width (one more
        pass counts them): its groups each hold its rows of a range of those, ascending (a range of days
        of a key's seconds), so a group holds more than about ``rows`` rows only when one value has more
        in one such step."""
        counts = self._counts_per_value(by, ranks)
        cut = np.zeros(len(counts), bool) if cut_by is None else counts > rows
        places, counts = _places(counts, cut)
        if cut_by is not None and cut.any():
            cut_places, cut_counts = self._counts_per_cut(by, ranks, cut, *cut_by)
            places = np.concatenate([places, cut_places])
            order = np.argsort(places, kind="stable")
            places, counts = places[order], np.concatenate([counts, cut_counts])[order]
        ends = np.cumsum(counts)
        bounds = np.unique(np.searchsorted(ends, np.arange(rows, int(ends[-1]) if len(ends) else 0, rows)))
        firsts = places[[low for low in [0, *(bounds + 1).tolist()] if low < len(places)]]
        dealt = [SpilledColumns(self.dtypes, self.what) for _ in firsts]
        try:
            for chunk in self.chunks():
                values = chunk[by] if ranks is None else ranks[chunk[by]]
                place = _place_of(values, cut, None if cut_by is None else chunk[cut_by[0]] // cut_by[1])
                group = (np.searchsorted(firsts, place, side="right") - 1).astype(np.min_scalar_type(len(firsts)))
                del place
                order = np.argsort(group, kind="stable")  # a radix sort: groups fit in one or two bytes
                starts = np.searchsorted(group[order], np.arange(len(firsts) + 1))
                columns = [(values if index == by else column)[order] for index, column in enumerate(chunk)]
                del values, group, order
                for part, start, end in zip(dealt, starts[:-1].tolist(), starts[1:].tolist()):
                    part.append([column[start:end] for column in columns])
            while dealt:
                with closing(dealt.pop(0)) as part:
                    yield from part.chunks(max(part.rows, 1))  # one group, whole
        finally:
            for part in dealt:
                part.close()

    def _counts_per_value(self, by: int, ranks: np.ndarray | None) -> np.ndarray:
        """Rows per value of column ``by`` (per rank with ``ranks``), up to the last one used."""
        per_value = np.zeros(0, np.int64)
        for chunk in self.chunks():
            counts = np.bincount(chunk[by])
            per_value = np.pad(per_value, (0, max(len(counts) - len(per_value), 0)))
            per_value[:len(counts)] += counts
        if ranks is not None:
            per_rank = np.zeros(len(ranks), np.int64)
            per_rank[ranks[:len(per_value)]] = per_value
            used = np.flatnonzero(per_rank)
            per_value = per_rank[:used[-1] + 1 if len(used) else 0]  # no last group of unused ranks only
        return per_value

    def _counts_per_cut(self, by: int, ranks: np.ndarray | None, cut: np.ndarray, column: int,
                        width: int) -> tuple[np.ndarray, np.ndarray]:
        """The places (``_place_of``) of the rows of the values ``cut`` is True for, distinct and sorted,
        and the rows at each."""
        places, counts = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
        for chunk in self.chunks():
            values = chunk[by] if ranks is None else ranks[chunk[by]]
            taken = cut[values]
            found, found_counts = np.unique(_place_of(values[taken], cut, chunk[column][taken] // width),
                                            return_counts=True)
            places.append(found)
            counts.append(found_counts)
        distinct, inverse = np.unique(np.concatenate(places), return_inverse=True)
        return distinct, np.bincount(inverse.reshape(-1), np.concatenate(counts), len(distinct)).astype(np.int64)

    def _read(self, file: IO[bytes], parts: list[int]) -> tuple[np.ndarray, ...]:
        """The next ``parts`` from ``file``'s position, joined."""
        read = [[np.frombuffer(file.read(rows * dtype.itemsize), dtype) for dtype in self.dtypes] for rows in parts]
        return tuple(np.concatenate([columns[index] for columns in read]) for index in range(len(self.dtypes)))

    def close(self) -> None:
        """Drop the file and its rows."""
        if self._file is not None:
            self._file.close()
        self._file, self._parts = None, []


def _place_of(values: np.ndarray, cut: np.ndarray, steps: np.ndarray | None) -> np.ndarray:
    """Where rows go in ``SpilledColumns.groups``' order: their value (below 2**31) in the high 32 bits, and
    for a value ``cut`` is True for, the row's step (below 2**32: its ``cut_by`` column divided by the
    width) in the low ones."""
    place = values.astype(np.int64) << 32
    if steps is not None:
        place |= np.where(cut[values], steps, 0).astype(np.int64)
    return place


def _places(counts: np.ndarray, cut: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The places (``_place_of``) of the values not cut, and their rows (``counts``: rows per value)."""
    kept = np.flatnonzero(~cut)
    return kept.astype(np.int64) << 32, counts[kept]


class SpilledTexts:
    """Texts appended to a temporary file, read back by position; memory holds where each ends (8 bytes
    a text). Texts go through ``os.fsencode``: a file name the system gave comes back the same, even one
    that is not UTF-8."""

    def __init__(self, what: str) -> None:
        self.what = what
        """What the texts are, for the error when the file cannot be written."""
        self._ends = array("q")
        """Per text: its end in the file."""
        self._pending: list[bytes] = []
        """Texts not written yet (a write per ``TEXT_BYTES``, not per text) ..."""
        self._pending_bytes = 0
        """... and their bytes."""
        self._file: IO[bytes] | None = None

    def extend(self, texts: list[str]) -> None:
        """Add ``texts`` after the others, in their order."""
        end = self._ends[-1] if self._ends else 0
        for data in map(os.fsencode, texts):
            end += len(data)
            self._ends.append(end)
            self._pending.append(data)
            self._pending_bytes += len(data)
            if self._pending_bytes >= TEXT_BYTES:
                self._write()

    def __len__(self) -> int:
        return len(self._ends)

    def read(self, positions: Iterable[int]) -> Iterator[str]:
        """The texts at ``positions`` (each in 0..len-1), in that order: a run of consecutive positions is
        read with one system call per ``TEXT_BYTES`` (none while the texts were too few to be written)."""
        if self._file is None:
            held = b"".join(self._pending)
            for position in positions:
                yield os.fsdecode(held[self._start(position):self._ends[position]])
            return
        self._write()
        run: list[int] = []
        for position in positions:
            if run and (position != run[-1] + 1 or self._ends[position] - self._start(run[0]) > TEXT_BYTES):
                yield from self._read_run(run[0], run[-1])
                run = []
            run.append(position)
        if run:
            yield from self._read_run(run[0], run[-1])

    def _start(self, position: int) -> int:
        return self._ends[position - 1] if position else 0

    def _write(self) -> None:
        """Write the pending texts."""
        if self._pending:
            data, self._pending, self._pending_bytes = b"".join(self._pending), [], 0
            self._file = _write_to(self._file, self.what, lambda file: file.write(data))
            self._file.flush()

    def _read_run(self, first: int, last: int) -> Iterator[str]:
        """The texts from position ``first`` to ``last``, read at once."""
        assert self._file is not None
        base = self._start(first)
        data = _read_at(self._file, base, self._ends[last] - base)
        for position in range(first, last + 1):
            yield os.fsdecode(data[self._start(position) - base:self._ends[position] - base])

    def close(self) -> None:
        """Drop the file and the texts."""
        if self._file is not None:
            self._file.close()
        self._file, self._ends, self._pending, self._pending_bytes = None, array("q"), [], 0


class SpilledRuns:
    """Sorted runs of distinct uint64 hashes in a temporary file; memory holds the first hash of each
    block of ``BLOCK_ROWS`` (1/512 of the run)."""

    def __init__(self, what: str) -> None:
        self.what = what
        """What the hashes are, for the error when the file cannot be written."""
        self._runs: list[tuple[int, int, np.ndarray]] = []
        """Per run: its offset in the file, its length and the first hash of each block."""
        self._file: IO[bytes] | None = None

    def append(self, run: np.ndarray) -> None:
        """Add a run: distinct uint64 hashes, sorted (an empty one adds nothing)."""
        if not len(run):
            return
        offset = self._file.seek(0, 2) if self._file is not None else 0
        self._file = _write_to(self._file, self.what, lambda file: file.write(np.ascontiguousarray(run).data))
        self._runs.append((offset, len(run), run[::BLOCK_ROWS].copy()))

    @property
    def rows(self) -> int:
        """Hashes appended in all."""
        return sum(length for _, length, _ in self._runs)

    @property
    def nbytes(self) -> int:
        """Bytes held in memory (the first hash of each block)."""
        return sum(fences.nbytes for _, _, fences in self._runs)

    def contains(self, hashes: np.ndarray, run: int | None = None) -> np.ndarray:
        """True where a hash of ``hashes`` (uint64) is in a run (with ``run``, its number in the order
        appended: in that one); reads each block of a run that could hold one of them once, and searches
        the blocks of a run together (read in order, they are sorted as one)."""
        found = np.zeros(len(hashes), bool)
        if self._file is None or not len(hashes):
            return found
        self._file.flush()
        for offset, length, fences in self._runs if run is None else self._runs[run:run + 1]:
            blocks = np.searchsorted(fences, hashes, side="right") - 1  # -1: below the run's first hash
            starts = np.unique(blocks[blocks >= 0]) * BLOCK_ROWS
            if not len(starts):
                continue
            ends = np.minimum(starts + BLOCK_ROWS, length)
            held = np.frombuffer(b"".join(_read_at(self._file, offset + start * 8, (end - start) * 8)
                                          for start, end in zip(starts.tolist(), ends.tolist())), np.uint64)
            where = np.minimum(np.searchsorted(held, hashes), len(held) - 1)
            found |= held[where] == hashes
        return found

    def close(self) -> None:
        """Drop the file and its runs."""
        if self._file is not None:
            self._file.close()
        self._file, self._runs = None, []
