"""kit.spill: parts of rows kept in an unlinked temporary file, read back whole and in order, and sorted
runs of hashes searched there."""
from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest

from kit import spill
from kit.errors import OutputError
from kit.spill import SpilledColumns, SpilledRuns, SpilledTexts


def _parts(sizes: list[int]) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(7)
    return [(rng.integers(0, 2 ** 64, size, dtype=np.uint64), rng.integers(-5, 5, size).astype(np.int32))
            for size in sizes]


@pytest.mark.parametrize("chunk_rows, chunk_count", [(1, 4), (3, 3), (50, 1), (10 ** 6, 1)])
def test_rows_come_back_in_the_order_appended_whatever_the_chunk_size(chunk_rows, chunk_count):
    parts = _parts([5, 0, 1, 40, 7])
    spilled = SpilledColumns((np.uint64, np.int32), "test rows")
    for part in parts:
        spilled.append(part)
    chunks = list(spilled.chunks(rows=chunk_rows))
    assert all(hashes.dtype == np.uint64 and codes.dtype == np.int32 for hashes, codes in chunks)
    for column in range(2):
        assert np.array_equal(np.concatenate([chunk[column] for chunk in chunks]),
                              np.concatenate([part[column] for part in parts]))
    assert spilled.rows == 53 and len(chunks) == chunk_count  # whole parts, at least ``rows`` a chunk
    assert list(spilled.chunks(rows=chunk_rows))[0][0].tolist() == chunks[0][0].tolist()  # read again from the start


def test_nothing_appended_reads_as_nothing_and_makes_no_file(monkeypatch):
    monkeypatch.setattr(tempfile, "TemporaryFile", lambda **_: pytest.fail("no file for no rows"))
    spilled = SpilledColumns((np.uint64,), "test rows")
    spilled.append((np.zeros(0, np.uint64),))
    assert list(spilled.chunks()) == [] and spilled.rows == 0


def test_the_file_has_no_name_and_close_drops_it(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    spilled = SpilledColumns((np.uint64,), "test rows")
    spilled.append((np.arange(10, dtype=np.uint64),))
    assert os.listdir(tmp_path) == []  # unlinked: no other process can open it, nothing left behind
    spilled.close()
    assert spilled.rows == 0 and list(spilled.chunks()) == []


def test_a_temporary_folder_that_cannot_take_the_file_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "gone"))
    spilled = SpilledColumns((np.uint64,), "keys issued by global calls")
    with pytest.raises(OutputError, match=r"keys issued by global calls .* set TMPDIR"):
        spilled.append((np.arange(3, dtype=np.uint64),))


@pytest.mark.parametrize("group_rows", [1, 7, 60, 10 ** 6])
def test_groups_hold_every_row_once_by_ascending_ranges_of_one_column(group_rows):
    rng = np.random.default_rng(3)
    parts = [(rng.integers(0, 30, size).astype(np.int32), rng.integers(0, 2 ** 32, size, dtype=np.uint64))
             for size in (50, 0, 9, 80)]
    parts.append((np.full(25, 12, np.int32), np.arange(25, dtype=np.uint64)))  # one value past group_rows
    spilled = SpilledColumns((np.int32, np.uint64), "test rows")
    for part in parts:
        spilled.append(part)
    groups = list(spilled.groups(0, rows=group_rows))
    rows = sorted(zip(*(np.concatenate([group[column] for group in groups]).tolist() for column in range(2))))
    assert rows == sorted(zip(*(np.concatenate([part[column] for part in parts]).tolist() for column in range(2))))
    ranges = [(int(values.min()), int(values.max())) for values, _ in groups]
    assert all(high < low for (_, high), (low, _) in zip(ranges, ranges[1:]))  # disjoint, ascending
    assert all(len(values) < group_rows + np.count_nonzero(values == high)  # a group ends with the value that fills it
               for (values, _), (_, high) in zip(groups, ranges))
    assert all(len(values) for values, _ in groups) and (len(groups) == 1) == (group_rows >= 164)



@pytest.mark.parametrize("group_rows", [7, 1000])
def test_groups_by_ranks_give_the_ranks_in_ascending_ranges(group_rows):
    rng = np.random.default_rng(4)
    codes, payload = rng.integers(0, 20, 200).astype(np.int32), np.arange(200, dtype=np.uint64)
    ranks = rng.permutation(25)  # more ranks than the values used
    spilled = SpilledColumns((np.int32, np.uint64), "test rows")
    spilled.append((codes[:120], payload[:120]))
    spilled.append((codes[120:], payload[120:]))
    groups = list(spilled.groups(0, rows=group_rows, ranks=ranks))
    got = sorted(zip(*(np.concatenate([group[column] for group in groups]).tolist() for column in range(2))))
    assert got == sorted(zip(ranks[codes].tolist(), payload.tolist()))
    ranges = [(int(values.min()), int(values.max())) for values, _ in groups]
    assert all(high < low for (_, high), (low, _) in zip(ranges, ranges[1:]))
    assert (len(groups) > 1) == (group_rows < 200)

@pytest.mark.parametrize("ranked", [False, True], ids=["values", "ranks"])
def test_a_value_of_many_rows_is_cut_by_ranges_of_another_column(ranked):
    """A value of more than ``rows`` rows is cut by steps (days) of a second column: the groups still
    hold every row once, in ascending, disjoint ranges of (value, step), and none holds more than
    ``rows`` and the rows of one step."""
    rng = np.random.default_rng(5)
    day = 86_400
    busy = (np.full(400, 3, np.int32), rng.integers(0, 40 * day, 400).astype(np.uint32))
    quiet = (rng.choice([0, 1, 5, 7], 30).astype(np.int32), rng.integers(0, 40 * day, 30).astype(np.uint32))
    ranks = np.array([7, 1, 2, 0, 4, 5, 6, 3]) if ranked else None
    spilled = SpilledColumns((np.int32, np.uint32), "test rows")
    for part in (busy, quiet, (busy[0][:5], busy[1][:5])):  # some seconds of the busy value twice
        spilled.append(part)
    busy_value = 0 if ranked else 3
    groups = list(spilled.groups(0, rows=50, ranks=ranks, cut_by=(1, day)))
    places = [[(value, time // day if value == busy_value else 0)
               for value, time in zip(*map(np.ndarray.tolist, group))] for group in groups]
    assert all(max(group) < min(later) for group, later in zip(places, places[1:]))  # ascending, disjoint
    most_in_a_day = max(np.bincount(np.concatenate([busy[1], busy[1][:5]]) // day))
    assert all(len(group) < 50 + most_in_a_day for group in places) and len(groups) >= 405 // (50 + most_in_a_day)
    got = sorted(zip(*(np.concatenate([group[column] for group in groups]).tolist() for column in range(2))))
    codes = np.concatenate([busy[0], quiet[0], busy[0][:5]])
    values = ranks[codes] if ranked else codes
    assert got == sorted(zip(values.tolist(), np.concatenate([busy[1], quiet[1], busy[1][:5]]).tolist()))
    uncut, cut = (list(spilled.groups(0, rows=1000, ranks=ranks, cut_by=by)) for by in (None, (1, day)))
    assert [[column.tolist() for column in group] for group in cut] == [[column.tolist() for column in group]
                                                                          for group in uncut]  # no value over


def test_no_rows_make_no_groups():
    assert list(SpilledColumns((np.int32,), "test rows").groups(0)) == []


@pytest.mark.parametrize("pread", [True, False], ids=["pread", "seek and read"])
@pytest.mark.parametrize("length", [1, 511, 512, 513, 3_000])
def test_spilled_runs_find_exactly_the_hashes_they_hold(length, pread, monkeypatch):
    if not pread:
        monkeypatch.setattr(spill, "_PREAD", None)  # as on Windows
    rng = np.random.default_rng(length)
    runs = [np.unique(rng.integers(0, 2**64 - 1, length, dtype=np.uint64, endpoint=True)) for _ in range(3)]
    spilled = SpilledRuns("test hashes")
    assert not spilled.contains(runs[0]).any()  # nothing written yet
    for run in runs:
        spilled.append(run)
    spilled.append(np.zeros(0, np.uint64))
    held = np.concatenate(runs)
    queries = np.concatenate((held[::7], rng.integers(0, 2**64 - 1, 500, dtype=np.uint64, endpoint=True),
                              np.array([0, 2**64 - 1], np.uint64), held[-1:], runs[0][:1]))
    assert spilled.contains(queries).tolist() == np.isin(queries, held).tolist()
    assert spilled.rows == len(held) and spilled.nbytes == sum(-(-len(run) // 512) * 8 for run in runs)
    spilled.close()
    assert not spilled.contains(queries).any()


TEXTS = ["a.json", "", "ünïcode.json.gz", os.fsdecode(b"\xff\xfe-not-utf8.json"), "x" * 40, "b c.json", "", "z"]
"""Names of every awkward kind: empty, non-ASCII, bytes that are no UTF-8 (as the system gives them), longer
than a write."""


@pytest.mark.parametrize("text_bytes", [1, 7, 30, 1 << 16])
def test_texts_come_back_the_same_in_any_order_asked(text_bytes, monkeypatch):
    monkeypatch.setattr(spill, "TEXT_BYTES", text_bytes)  # 1 << 16: every text still in memory when read
    texts = SpilledTexts("test names")
    texts.extend(TEXTS[:3])  # a folder's names at a time
    texts.extend(TEXTS[3:])
    assert len(texts) == len(TEXTS)
    assert (texts._file is None) == (text_bytes > sum(len(os.fsencode(text)) for text in TEXTS))
    orders = [range(len(TEXTS)), reversed(range(len(TEXTS))), [3, 4, 5, 0, 1, 7, 7, 2, 6], [], [4]]
    for order in orders:
        order = list(order)
        assert list(texts.read(iter(order))) == [TEXTS[position] for position in order]
    texts.extend(["later"])  # added after a read, read with the others
    assert list(texts.read(range(len(TEXTS) - 2, len(TEXTS) + 1))) == [*TEXTS[-2:], "later"]
    texts.close()
    assert len(texts) == 0


def test_texts_that_cannot_be_written_are_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "gone"))
    monkeypatch.setattr(spill, "TEXT_BYTES", 4)
    texts = SpilledTexts("names of the trail files found")
    with pytest.raises(OutputError, match=r"names of the trail files found .* set TMPDIR"):
        texts.extend(["a-long-name.json"])
