"""The per-minute STS rows as compact arrays: merged by sorting, duplicates taken out across batches,
the same rows as the dict they replace, the same table."""
from __future__ import annotations

import copy
import random
from functools import partial

import numpy as np
import pandas as pd
import pytest

import kit.events
from builders import role_session, sts, user
from kit import secondcounts, stscounts
from kit.eventids import SeenIds
from kit.events import COUNTED_STS, COUNTED_STS_FAILED, ERROR, KIND_BITS, REF_SHIFT, Aggregator, second_of
from kit.rollup import STS_CALL_COLUMNS, frame, key_columns, key_ranks, sts_calls_frame
from kit.spill import SpilledColumns
from rollups import row_keys

WINDOW = ("2025-07-01T00:00:00Z", "2025-07-02T00:00:00Z")
LAYOUT = stscounts.Layout.of_window(*WINDOW)
A, B = "111122223333", "444455556666"


def rows(*values: tuple[int, int, int, int, int]) -> stscounts.Rows:
    """Rows from (slot, calls, errors, first, last) tuples."""
    columns = list(zip(*values)) or [()] * 5
    return tuple(np.array(column, dtype) for column, dtype in  # type: ignore[return-value]
                 zip(columns, (stscounts.SLOT, stscounts.COUNT, stscounts.COUNT, stscounts.SECOND, stscounts.SECOND)))


def as_tuples(compact: stscounts.Rows) -> list[tuple]:
    return list(zip(*(column.tolist() for column in compact)))


def test_the_layout_puts_a_code_and_a_minute_of_the_window_in_one_slot():
    assert LAYOUT.span == 24 * 60 + 1
    minute = np.datetime64("2025-07-01T10:07", "m").astype(np.int64)
    slot = 3 * LAYOUT.span + minute - LAYOUT.start
    assert LAYOUT.codes(np.array([slot])).tolist() == [3]
    assert LAYOUT.minutes(np.array([slot])).tolist() == [minute * 60]


def test_compact_sums_widens_sorts_and_drops_rows_of_no_calls():
    first = rows((7, 2, 1, 30, 40), (3, 1, 0, 5, 5), (9, 1, 1, 0, 0))
    second = rows((3, 2, 2, 1, 59), (7, 0, 0, 10, 50), (9, -1, -1, 0, 0), (4, 0, 0, 1, 1))
    assert as_tuples(stscounts.compact([first, second])) == [(3, 3, 2, 1, 59), (7, 2, 1, 10, 50)]
    assert as_tuples(stscounts.compact([rows(), rows()])) == []


def test_take_out_leaves_the_times_and_the_rows_it_was_given():
    given = rows((1, 3, 2, 4, 9), (2, 1, 0, 0, 0))
    taken = stscounts.take_out(given, np.array([0, 0, 1]), np.array([True, False, False]))
    assert as_tuples(taken) == [(1, 1, 1, 4, 9), (2, 0, 0, 0, 0)]
    assert as_tuples(given) == [(1, 3, 2, 4, 9), (2, 1, 0, 0, 0)]


def test_gathered_groups_give_the_compact_rows_sorted_by_slot():
    spill = SpilledColumns(stscounts.SPILLED, "rows")
    for part in (rows((2 * LAYOUT.span + 5, 1, 0, 3, 3), (0 * LAYOUT.span + 9, 2, 1, 1, 8)),
                 rows((2 * LAYOUT.span + 5, 2, 2, 0, 1), (1 * LAYOUT.span + 0, 1, 0, 59, 59))):
        spill.append(stscounts.spilled(part, LAYOUT))
    expected = [(9, 2, 1, 1, 8), (LAYOUT.span, 1, 0, 59, 59), (2 * LAYOUT.span + 5, 3, 2, 0, 3)]
    for group_rows in (1, 2, 100):  # a code per group, or all together
        assert as_tuples(stscounts.gathered(spill.groups(0, group_rows), LAYOUT)) == expected
    assert as_tuples(stscounts.gathered([], LAYOUT)) == []


def random_batches(seed: int, batches: int = 8, events: int = 150, altered: float = 0.3) -> list[list[dict]]:
    """Batches of STS calls of a few callers in a few minutes; later batches repeat earlier events:
    identical copies (a redelivered file) and, a share ``altered`` of them, copies of other content
    under the same eventID."""
    rng = random.Random(seed)
    identities = [user(A, "alice"), user(B, "bob"), role_session(A, "app"), role_session(B, "job", "j")]
    hosts = ["sts.amazonaws.com", "sts.eu-west-1.amazonaws.com"]
    made: list[dict] = []
    out = []
    for _ in range(batches):
        batch = []
        for _ in range(events):
            if made and rng.random() < 0.15:
                record = copy.deepcopy(rng.choice(made))
                if rng.random() < altered:  # same eventID, other content
                    record["eventTime"] = f"2025-07-01T10:{rng.randrange(4):02d}:{rng.randrange(60):02d}Z"
                    record["userIdentity"] = rng.choice(identities)
            else:
                record = sts(rng.choice(identities), f"2025-07-01T10:{rng.randrange(4):02d}:{rng.randrange(60):02d}Z",
                             rng.choice(hosts), error=rng.choice([None, None, "AccessDenied"]),
                             ip=rng.choice(["10.0.0.1", "10.0.0.2"]))
                made.append(record)
            batch.append(record)
        out.append(batch)
    return out


def reference(batches: list[list[dict]]) -> dict[tuple, list]:
    """The per-minute rows as dicts would make them: each batch's entries less its events already
    counted by an earlier batch (an entry left at zero deleted: a call not counted widens nothing),
    then summed and widened into the total batch after batch."""
    total: dict[tuple, list] = {}
    seen: set[str] = set()
    for records in batches:
        batch = Aggregator(*WINDOW)
        batch.add(records)
        entries, keys = sts_entries(batch)
        for event_id, made in batch._ids.items():
            kind = made & (1 << KIND_BITS) - 1
            if event_id in seen and kind in (COUNTED_STS, COUNTED_STS_FAILED):
                key = keys[(made >> REF_SHIFT) - 1]
                entries[key][0] -= 1
                entries[key][1] -= kind == COUNTED_STS_FAILED
        for key, (calls, errors, first, last) in entries.items():
            if calls:
                entry = total.setdefault(key, [0, 0, first, last])
                entry[0] += calls
                entry[1] += errors
                entry[2], entry[3] = min(entry[2], first), max(entry[3], last)
        seen |= set(batch._ids)
    return total


def sts_entries(batch: Aggregator) -> tuple[dict[tuple, list], dict[int, tuple]]:
    """The per-minute entries of an unsealed batch as the dict that counted them did them, keyed by
    their whole ``sts`` keys ([calls, errors, first, last]), and the key of each per-second row."""
    callers = {code: caller for caller, code in batch.sts_keys.items()}
    entries: dict[tuple, list] = {}
    keys: dict[int, tuple] = {}
    for (code, time), row in batch.per_second.items():
        count, key = batch.per_second_counts[row], (*callers[code], time[:16])
        entry = entries.setdefault(key, [0, 0, time, time])
        entry[0] += count % ERROR
        entry[1] += count // ERROR
        entry[2], entry[3] = min(entry[2], time), max(entry[3], time)
        keys[row] = key
    return entries, keys


def merged(batches: list[list[dict]]) -> Aggregator:
    """The batches sealed and merged as the local engine does."""
    total = Aggregator(*WINDOW)
    for records in batches:
        batch = Aggregator(*WINDOW)
        batch.add(records)
        batch.seal()
        total.merge(batch)
    return total


def as_entries(aggregator: Aggregator) -> dict[tuple, list]:
    """The rows of ``sts_rows`` keyed and valued like the dict entries."""
    columns, rows = aggregator.sts_rows()
    codes, minutes, calls, errors, first, last = (rows[name] for name in ("codes", *STS_CALL_COLUMNS[10:]))
    def text(seconds: np.ndarray, unit: str) -> list[str]:
        return np.asarray(seconds, dtype="datetime64[s]").astype(f"datetime64[{unit}]").astype(str).tolist()
    return {(*key, minute): [count, failed, f"{start}Z", f"{end}Z"]
            for key, minute, count, failed, start, end in zip(row_keys(columns, codes), text(minutes, "m"), calls.tolist(),
                                                               errors.tolist(), text(first, "s"), text(last, "s"))}


def first_copies_per_second(batches: list[list[dict]]) -> dict[tuple, int]:
    """Calls per ``seconds`` key of the first copy of every eventID (what counts)."""
    seen: set[str] = set()
    first = [record for batch in batches for record in batch
             if record["eventID"] not in seen and not seen.add(record["eventID"])]
    one = Aggregator(*WINDOW)
    one.add(first)
    callers = {code: second_of((*caller, ""), "")[:-1] for caller, code in one.sts_keys.items()}
    counts: dict[tuple, int] = {}
    for (code, time), row in one.per_second.items():
        key = (*callers[code], time[:19])
        counts[key] = counts.get(key, 0) + one.per_second_counts[row] % ERROR
    return counts


def per_second(aggregator: Aggregator) -> dict[tuple, int]:
    keys, codes, times, calls = aggregator.take_second_rows()
    seconds = secondcounts.since_1970(times).astype("datetime64[s]").astype(str)
    return {(*keys[code], second): count for code, second, count in zip(codes.tolist(), seconds, calls.tolist())}


class SmallGroups(SpilledColumns):
    """Rows read back from disk a few callers at a time, a busy caller's seconds a minute at a time (the
    batches' calls are minutes apart, not days)."""

    def groups(self, by: int, rows: int = 5, ranks: np.ndarray | None = None,
               cut_by: tuple[int, int] | None = None):
        return super().groups(by, rows, ranks, cut_by and (cut_by[0], 60))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("small_groups", [False, True])
@pytest.mark.parametrize("ids_in_memory", [None, 40])
def test_merged_batches_equal_the_dict_merge_with_duplicates_across_batches(seed, small_groups, ids_in_memory,
                                                                           monkeypatch):
    if ids_in_memory:  # the event ids seen move to disk and Bloom filters every 40 ids
        monkeypatch.setattr(kit.events, "SeenIds", partial(SeenIds, memory_ids=ids_in_memory))
    if small_groups:
        monkeypatch.setattr(kit.events, "SpilledColumns", SmallGroups)
    batches = random_batches(seed)
    expected = reference(batches)
    total = merged(batches)
    assert total.skipped.get("duplicate event (same eventID delivered again)", 0) > 50
    entries = as_entries(total)
    assert entries == expected
    assert per_second(total) == first_copies_per_second(batches), "the folded per-second rows"


def test_the_rows_do_not_depend_on_how_the_input_was_cut_into_batches():
    """(Copies of other content under one eventID do: within a batch the later copy is never
    counted; across batches its times stay in the first and last seen of its batch's row when that
    row keeps other calls.)"""
    batches = random_batches(11, altered=0)
    one = merged([[record for batch in batches for record in batch]]).sts_rows()
    several = merged(batches).sts_rows()
    first, second = sts_calls_frame(*one), sts_calls_frame(*several)
    pd.testing.assert_frame_equal(first, second, check_exact=True)


def test_twins_settled_after_the_merge_join_the_rows_of_their_minute():
    caller, resource = role_session(A, "app"), role_session(A, "app")
    twin = sts(resource, "2025-07-01T10:00:30Z", recipient=B, shared="shared-1")
    counted = sts(caller, "2025-07-01T10:00:10Z")
    batch = Aggregator(*WINDOW)
    batch.add([counted, twin])
    batch.seal()
    total = Aggregator(*WINDOW)
    total.merge(batch)
    total.settle_twins()
    assert list(as_entries(total).values()) == [[2, 0, "2025-07-01T10:00:10Z", "2025-07-01T10:00:30Z"]]


def test_the_sts_calls_frame_equals_the_frame_of_the_same_rows():
    batch = Aggregator(*WINDOW)
    batch.add([r for records in random_batches(5, batches=1) for r in records])
    entries, _ = sts_entries(batch)
    plain = frame([*zip(*entries), *list(zip(*entries.values()))[:4]], STS_CALL_COLUMNS)
    total = Aggregator(*WINDOW)
    batch.seal()
    total.merge(batch)
    columns, rows = total.sts_rows()
    compact = sts_calls_frame(columns, rows)
    assert rows == {}, "the rows' arrays become the table's: none is held twice"
    ordered = list(STS_CALL_COLUMNS[:11])
    assert compact.dtypes.equals(plain.dtypes)
    texts = STS_CALL_COLUMNS[:10]  # a code per row, each text once; counts summed per caller stay int64
    assert all(isinstance(compact[column].dtype, pd.CategoricalDtype) for column in texts)
    assert list(compact.dtypes[["calls", "errors"]]) == ["int64", "int64"]
    pd.testing.assert_frame_equal(compact, plain.sort_values(ordered).reset_index(drop=True), check_exact=True)
    empty = Aggregator(*WINDOW).sts_rows()
    assert sts_calls_frame(*empty).dtypes.equals(frame([], STS_CALL_COLUMNS).dtypes)


def test_key_columns_read_none_as_empty_and_leave_out_the_texts_of_keys_without_rows():
    keys = [("b", None), ("a", ""), ("c", "x"), ("a", "y")]
    codes = np.array([0, 1, 3, 1])  # no row of ("c", "x")
    (first, first_places), (second, second_places) = key_columns(keys, 2, codes)
    assert first.tolist() == ["a", "b"] and first_places[[0, 1, 3]].tolist() == [1, 0, 0]
    assert second.tolist() == ["", "y"] and second_places[[0, 1, 3]].tolist() == [0, 0, 1]
    ranks = key_ranks([(first, first_places), (second, second_places)])
    assert sorted([1, 3, 0], key=ranks.__getitem__) == [1, 3, 0]  # ("a", "") < ("a", "y") < ("b", None)
