"""Arrays kept on disk until the end of a run, read back in the order they were added.

What grows with the events but is only needed once every batch is merged (the keys issued by global
calls, 12 bytes each) goes to an anonymous temporary file: unlinked as it is made, so it is never seen
by another process and disappears with the run, whatever ends it. Memory holds one chunk at a time.
"""
from __future__ import annotations

import tempfile
from typing import IO, Iterator, Sequence

import numpy as np

from kit.errors import OutputError

CHUNK_ROWS = 1 << 20
"""Rows read back at a time."""


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
        try:
            if self._file is None:
                self._file = tempfile.TemporaryFile(prefix="sts-kit-")
            for column, dtype in zip(columns, self.dtypes):
                self._file.write(np.ascontiguousarray(column, dtype).tobytes())
        except OSError as error:
            raise OutputError(f"cannot keep the {self.what} in a temporary file in {tempfile.gettempdir()} "
                              f"({error.strerror or error}): free some space there or set TMPDIR to a "
                              "folder with room") from None
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

    def _read(self, file: IO[bytes], parts: list[int]) -> tuple[np.ndarray, ...]:
        """The next ``parts`` from ``file``'s position, joined."""
        read = [[np.frombuffer(file.read(rows * dtype.itemsize), dtype) for dtype in self.dtypes] for rows in parts]
        return tuple(np.concatenate([columns[index] for columns in read]) for index in range(len(self.dtypes)))

    def close(self) -> None:
        """Drop the file and its rows."""
        if self._file is not None:
            self._file.close()
        self._file, self._parts = None, []
