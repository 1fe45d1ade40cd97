"""The per-second counts as compact arrays: merged by sorting, duplicates taken out, same table."""
from __future__ import annotations

import ast
import importlib.util
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from kit import secondcounts
from kit.engines import cache
from kit.events import Aggregator
from kit.params import WINDOW_BOUNDS
from kit.codedseconds import CodedSeconds
from kit.readreport import ReadReport
from kit.rollup import (ACTIVITY_COLUMNS, SECOND_COLUMNS, SECOND_KEY_COLUMNS, STS_CALL_COLUMNS, Rollup, frame,
                        seconds_frame)

CALLER = ("111122223333", "arn:aws:iam::111122223333:role/app", "aws-cli/2", "global", "us-east-1")
OTHER = ("444455556666", "arn:aws:iam::444455556666:role/job", "boto3/1.34", "regional", "eu-west-1")


def test_compact_sums_equal_rows_sorts_them_and_drops_zero_sums():
    codes = np.array([1, 0, 1, 0, 1], secondcounts.CODE)
    times = np.array([20, 10, 20, 11, 30], secondcounts.TIME)
    calls = np.array([2, 1, 3, 4, -1], secondcounts.CALLS)
    codes, times, calls = secondcounts.compact(codes, times, calls)
    assert list(zip(codes.tolist(), times.tolist(), calls.tolist())) == [(0, 10, 1), (0, 11, 4), (1, 20, 5),
                                                                         (1, 30, -1)]
    codes, times, calls = secondcounts.compact(np.append(codes, 1), np.append(times, 30), np.append(calls, 1))
    assert list(zip(codes.tolist(), times.tolist(), calls.tolist())) == [(0, 10, 1), (0, 11, 4), (1, 20, 5)]


def test_recode_maps_a_batch_table_onto_the_merged_one():
    table = {OTHER: 0}
    batch = {CALLER: 0, OTHER: 1}
    assert secondcounts.recode(np.array([0, 1, 1, 0], secondcounts.CODE), batch, table).tolist() == [1, 0, 0, 1]
    assert table == {OTHER: 0, CALLER: 1}


def _rows(size: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows with repeats, codes and times up to their dtypes' ends, calls of both signs."""
    rng = np.random.default_rng(seed)
    codes = rng.choice(np.array([0, 1, 2 ** 31 - 1], secondcounts.CODE), size)
    times = rng.choice(np.array([0, 5, 2 ** 32 - 1], np.uint64), size).astype(secondcounts.TIME)
    return codes, times, rng.integers(-2, 3, size).astype(secondcounts.CALLS)


@pytest.mark.parametrize("seed", range(4))
def test_compact_orders_by_code_then_time_up_to_the_largest_values(seed):
    codes, times, calls = _rows(200, seed)
    order = np.lexsort((times, codes))  # the reference: sort by code, then time, and sum runs
    expected: dict[tuple[int, int], int] = {}
    for code, time, count in zip(codes[order].tolist(), times[order].tolist(), calls[order].tolist()):
        expected[(code, time)] = expected.get((code, time), 0) + count
    rows = list(zip(*(column.tolist() for column in secondcounts.compact(codes, times, calls))))
    assert rows == [(*key, count) for key, count in expected.items() if count]


@pytest.mark.parametrize("group_size", [1, 37, 1000])
def test_gathered_groups_equal_one_compaction_and_hold_no_spare_rows(group_size):
    codes, times, calls = _rows(600, 11)
    order = np.argsort(codes, kind="stable")
    codes, times, calls = codes[order], times[order], calls[order]
    starts = [0, *np.flatnonzero(codes[1:] != codes[:-1]) + 1]  # groups end where a code does
    bounds = sorted({0, len(codes), *[start for start in starts if start % group_size < 200]})
    groups = [(codes[low:high], times[low:high], calls[low:high]) for low, high in zip(bounds, bounds[1:])]
    gathered = secondcounts.gathered(groups, len(codes))
    expected = secondcounts.compact(codes, times, calls)
    assert all(np.array_equal(mine, theirs) and mine.dtype == theirs.dtype for mine, theirs in zip(gathered, expected))
    assert len(expected[0]) < len(codes) * 7 // 8 and all(column.base is None for column in gathered)  # cut to size
    wide = secondcounts.gathered(groups, len(codes), code_type=np.int64)
    assert wide[0].dtype == np.int64 and all(np.array_equal(mine, theirs) for mine, theirs in zip(wide, expected))


def sealed(counts: dict[tuple, int]) -> Aggregator:
    """A sealed batch of ``counts`` calls per ``seconds`` key (caller, bucket, bucket Region, second)."""
    aggregator = Aggregator("2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z")
    for (account, principal, agent, endpoint, region, second), calls in counts.items():
        caller = (account, principal, "AssumedRole", agent, "10.0.0.1", "AssumeRole", "sts.amazonaws.com", endpoint,
                  region if endpoint == "regional" else "", region if endpoint == "global" else "")
        for _ in range(calls):
            aggregator._count(caller, 0, f"{second}Z", ("", "", "", None))
    aggregator.seal()
    return aggregator


def rows_of(aggregator: Aggregator) -> Counter:
    keys, codes, times, calls = aggregator.take_second_rows()
    assert codes.dtype == np.min_scalar_type(len(keys))  # the codes of a table: 1 byte for up to 256 keys
    assert calls.dtype == secondcounts.calls_type(calls)  # and the calls: 1 byte up to 255 calls in a second
    seconds = secondcounts.since_1970(times).astype("datetime64[s]").astype(str)
    return Counter({(*keys[code], second): count for code, second, count in zip(codes.tolist(), seconds, calls.tolist())})


def test_merged_batches_add_up_like_dicts():
    rng = np.random.default_rng(7)
    total = Aggregator("2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z")
    expected: Counter = Counter()
    for _ in range(12):
        batch: dict[tuple, int] = {}
        for caller, second in zip(rng.integers(0, 2, 300), rng.integers(0, 50, 300)):
            key = (*(CALLER, OTHER)[caller], f"2025-03-01T10:00:{second:02d}")
            batch[key] = batch.get(key, 0) + 1
        expected.update(batch)
        total.merge(sealed(batch))
    assert rows_of(total) == expected



def test_a_busy_second_widens_the_calls_of_merged_batches_and_keeps_every_sum():
    """300 calls of one key in one second, counted over three batches, need two bytes: the rows gathered
    before that sum keep theirs, and so do those after it."""
    total, expected = Aggregator("2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z"), Counter()
    for batch in ({(*CALLER, "2025-03-01T10:00:00"): 200, (*OTHER, "2025-03-01T10:00:00"): 255},
                  {(*CALLER, "2025-03-01T10:00:00"): 100, (*OTHER, "2025-03-01T10:00:01"): 7}):
        expected.update(batch)
        total.merge(sealed(batch))
    assert rows_of(total) == expected  # in two bytes (``rows_of`` checks the calls' type: 300 needs two)


def test_calls_take_the_fewest_bytes_that_hold_them_never_fewer_than_asked():
    calls_type = secondcounts.calls_type
    assert [calls_type(np.array(values, np.int32)) for values in ([], [1, 255], [256], [65_535], [65_536], [-1])] \
        == [np.uint8, np.uint8, np.uint16, np.uint16, np.int32, np.int32]
    assert calls_type(np.array([3], np.int32), np.uint16) == np.uint16
    assert calls_type(np.array([3], np.int32), np.int32) == np.int32


def test_gathered_calls_widen_as_the_groups_need_and_never_narrow_again():
    def group(code: int, calls: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (np.full(len(calls), code, secondcounts.CODE), np.arange(len(calls), dtype=secondcounts.TIME),
                np.array(calls, secondcounts.CALLS))
    groups = [group(0, [5, 255]), group(1, [300, 2]), group(2, [70_000]), group(3, [1])]
    for count, dtype in ((1, np.uint8), (2, np.uint16), (4, np.int32)):
        _, _, calls = secondcounts.gathered(groups[:count], 8)
        assert calls.dtype == dtype
        assert calls.tolist() == [5, 255, 300, 2, 70_000, 1][:len(calls)]

def test_seconds_frame_equals_the_frame_of_the_same_rows():
    counts = {(*CALLER, "2025-03-01T10:00:01"): 3, (*OTHER, "2025-03-01T10:00:00"): 1}
    keys, codes, times, calls = sealed(counts).take_second_rows()
    assert codes.dtype == np.uint8 and calls.dtype == np.uint8  # two keys, three calls at most
    compact = seconds_frame(keys, codes, times, calls)
    plain = frame([*zip(*counts), tuple(counts.values())], SECOND_COLUMNS)
    ordered = [list(SECOND_COLUMNS[:-1])]
    assert compact.dtypes.equals(plain.dtypes)
    assert compact.sort_values(*ordered).reset_index(drop=True).equals(plain.sort_values(*ordered).reset_index(drop=True))
    assert seconds_frame([], *secondcounts.empty()).dtypes.equals(frame([], SECOND_COLUMNS).dtypes)


@pytest.mark.parametrize("keys", [3, 40, 300])
def test_the_rows_as_numbers_are_those_read_from_the_table_made_of_them(keys):
    """``CodedSeconds.from_keys`` (the local engine's rows, never a table) numbers keys and rows as
    ``CodedSeconds.of`` numbers the table ``seconds_frame`` makes of the same rows: keys that have rows
    only (every third key has none, as when all its calls were duplicates), in their sorted order; and
    ``Rollup.seconds`` makes that very table of them, once."""
    rng = np.random.default_rng(keys)
    names = [(f"{rng.integers(10**11, 10**12)}", f"arn:aws:iam::1:role/r{rng.integers(0, 9)}", "aws-cli/2",
              str(rng.choice(["global", "regional"])), str(rng.choice(["us-east-1", "eu-west-1"])))
             for _ in range(keys)]
    codes = rng.integers(0, keys, 2_000)
    codes = codes[codes % 3 != 2].astype(np.min_scalar_type(keys))
    times = secondcounts.since_origin(1_740_000_000 + rng.integers(0, 10**6, len(codes)))
    calls = rng.integers(1, 50, len(codes)).astype(np.int32)
    coded = CodedSeconds.from_keys(names, SECOND_KEY_COLUMNS, codes, times, calls)
    table = seconds_frame(names, codes, times, calls)
    read = CodedSeconds.of(table, SECOND_KEY_COLUMNS)
    assert len(coded.keys) == len({names[code] for code in codes.tolist()}) < keys
    assert coded.keys.equals(read.keys)
    assert coded.key.dtype == read.key.dtype and np.array_equal(coded.key, read.key)
    assert np.array_equal(coded.times, read.times) and np.array_equal(coded.calls, read.calls)
    assert coded.time_dtype == read.time_dtype
    rollup = Rollup(frame([], STS_CALL_COLUMNS), frame([], ACTIVITY_COLUMNS), coded, ReadReport())
    assert rollup.coded_seconds() is coded
    assert rollup.seconds.equals(table) and rollup.seconds is rollup.seconds


def test_no_rows_as_numbers_make_the_empty_table():
    coded = CodedSeconds.from_keys([], SECOND_KEY_COLUMNS, *secondcounts.empty())
    rollup = Rollup(frame([], STS_CALL_COLUMNS), frame([], ACTIVITY_COLUMNS), coded, ReadReport())
    assert rollup.seconds.empty and rollup.seconds.dtypes.equals(frame([], SECOND_COLUMNS).dtypes)
    assert coded.keys.columns.tolist() == SECOND_KEY_COLUMNS and coded.keys.empty


def _kit_imports(module: str) -> set[str]:
    """The kit modules ``module`` imports at its top level (``from kit import x``, ``from kit.x import y``)."""
    path = Path(importlib.util.find_spec(module).origin)
    tree = ast.parse(path.read_text())
    found = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "kit":
            found |= {f"kit.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("kit."):
            found.add(node.module)
    return found


def test_the_cache_fingerprint_covers_every_kit_module_the_rules_read():
    read, todo = set(), ["kit.events"]
    while todo:  # every kit module the judging code reads, and the modules those read
        module = todo.pop()
        if module not in read:
            read.add(module)
            todo += _kit_imports(module)
    covered = {f"kit.{name}" for name in cache.RULE_MODULES}
    assert len(read) > 5 and read <= covered, read - covered


def test_every_second_a_window_can_hold_fits_in_a_time():
    first, last = (int(bound.timestamp()) for bound in WINDOW_BOUNDS)
    assert secondcounts.TIME_ORIGIN == first
    seconds = np.array([first, first + 1, 1_750_000_000, last - 1], np.int64)
    times = secondcounts.since_origin(seconds)
    assert times.dtype == secondcounts.TIME and times[0] == 0
    assert secondcounts.since_1970(times).tolist() == seconds.tolist()


def test_a_sealed_batch_holds_its_per_second_rows_compacted():
    batch = sealed({(*OTHER, "2025-03-01T10:00:05"): 1, (*CALLER, "2025-03-01T10:00:01"): 2,
                    (*OTHER, "2025-03-01T10:00:00"): 3})
    keys = batch.second_codes.astype(np.int64) << 32 | batch.second_times.astype(np.int64)
    assert len(keys) == 3 and (np.diff(keys) > 0).all()  # what ``take_second_rows`` may return as it is
