"""The per-second counts as compact arrays: merged by sorting, duplicates taken out, same table."""
from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from kit import secondcounts
from kit.engines import cache
from kit.events import Aggregator
from kit.params import WINDOW_BOUNDS
from kit.rollup import SECOND_COLUMNS, frame, seconds_frame

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


@pytest.mark.parametrize("key_chunk", [1, 3, 1 << 20])
def test_folding_rows_in_equals_compacting_them_together_whatever_the_key_chunk(monkeypatch, key_chunk):
    monkeypatch.setattr(secondcounts, "KEY_CHUNK", key_chunk)
    rng = np.random.default_rng(11)

    def rows(count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return secondcounts.compact(rng.integers(0, 5, count).astype(secondcounts.CODE),
                                    rng.integers(1_700_000_000, 1_700_000_040, count).astype(secondcounts.TIME),
                                    rng.integers(-2, 4, count).astype(secondcounts.CALLS))

    merged = list(rows(60))
    for _ in range(8):
        new = rows(25)
        expected = secondcounts.compact(*(np.concatenate((mine, theirs)) for mine, theirs in zip(merged, new)))
        secondcounts.fold(merged, new)
        assert all(np.array_equal(mine, theirs) and mine.dtype == theirs.dtype
                   for mine, theirs in zip(merged, expected))


def sealed(counts: dict[tuple, int]) -> Aggregator:
    aggregator = Aggregator("2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z")
    table = aggregator.second_keys
    aggregator.seconds = {(table.setdefault(key[:-1], len(table)), f"{key[-1]}Z"): calls
                          for key, calls in counts.items()}
    aggregator.seal()
    return aggregator


def rows_of(aggregator: Aggregator) -> Counter:
    keys, codes, times, calls = aggregator.second_rows()
    seconds = np.asarray(times, dtype="datetime64[s]").astype(str)
    return Counter({(*keys[code], second): count for code, second, count in zip(codes.tolist(), seconds, calls.tolist())})


def test_merged_batches_add_up_like_dicts_even_after_many_compactions():
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
        total._compact_seconds()  # as when the waiting rows outnumber the compacted ones
    assert rows_of(total) == expected


def test_seconds_frame_equals_the_frame_of_the_same_rows():
    counts = {(*CALLER, "2025-03-01T10:00:01"): 3, (*OTHER, "2025-03-01T10:00:00"): 1}
    keys, codes, times, calls = sealed(counts).second_rows()
    compact = seconds_frame(keys, codes, times, calls)
    plain = frame([*zip(*counts), tuple(counts.values())], SECOND_COLUMNS)
    ordered = [list(SECOND_COLUMNS[:-1])]
    assert compact.dtypes.equals(plain.dtypes)
    assert compact.sort_values(*ordered).reset_index(drop=True).equals(plain.sort_values(*ordered).reset_index(drop=True))
    assert seconds_frame([], *secondcounts.empty()).dtypes.equals(frame([], SECOND_COLUMNS).dtypes)


def test_the_cache_fingerprint_covers_every_kit_module_the_rules_read():
    from kit import events
    tree = ast.parse(Path(events.__file__).read_text())
    read = {f"kit.{alias.name}" for node in tree.body if isinstance(node, ast.ImportFrom) and node.module == "kit"
            for alias in node.names}
    read |= {node.module for node in tree.body if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("kit.")}
    covered = {module.__name__ for module in cache.RULE_MODULES}
    assert read and read <= covered, read - covered


def test_every_second_a_window_can_hold_fits_in_a_time():
    first, last = (int(bound.timestamp()) for bound in WINDOW_BOUNDS)
    assert secondcounts.TIME_ORIGIN == first
    seconds = np.array([first, first + 1, 1_750_000_000, last - 1], np.int64)
    times = secondcounts.since_origin(seconds)
    assert times.dtype == secondcounts.TIME and times[0] == 0
    assert secondcounts.since_1970(times).tolist() == seconds.tolist()
