"""The quota maths on arrays (kit.codedseconds) gives the tables of the pandas way it replaced,
kept here as the reference: on random per-second rows, with ties, waves, callers too big alone,
and with no rows of a kind; so do the callers' peaks."""
from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest

import kit.quota
from kit.callers import CALLER_KEY, assign, caller_peaks, global_seconds
from kit.codedseconds import CALLS, CodedSeconds, KeyedSeconds, _time_ranges, peaks_of, rows_part
from kit.quota import Quotas, quota_columns, quota_table, regional_calls, stage_moves
from kit.readreport import ReadReport
from kit.rollup import ACTIVITY_COLUMNS, SECOND_COLUMNS, STS_CALL_COLUMNS, Rollup, frame
from kit.secondcounts import TIME, since_1970
from kit.sortedruns import run_firsts, run_starts

ACCOUNTS = ("111122223333", "444455556666")
REGIONS = ("eu-west-1", "us-east-1", "ap-south-1")
BUCKET_KEY = ["account_id", "region", "second"]


def reference_global_rows(rollup: Rollup, homes: dict) -> pd.DataFrame:
    """The global per-second rows with caller key columns, as pandas copies (texts, not categories)."""
    rows = texts(rollup.seconds[rollup.seconds.bucket == "global"])
    return assign(rows, rows.bucket_region, homes)


def texts(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with its categorical columns as plain texts."""
    return table.astype({column: str for column in table.columns if isinstance(table[column].dtype, pd.CategoricalDtype)})


def reference_series(table: pd.DataFrame, region_column: str) -> pd.Series:
    return table.rename(columns={region_column: "region"}).groupby(BUCKET_KEY).calls.sum()


def reference_peaks(series: pd.Series, name: str) -> pd.DataFrame:
    if series.empty:
        return pd.DataFrame(columns=["account_id", "region", name, f"{name}_second"])
    table = series.rename(name).reset_index().sort_values([name, "second"], ascending=[False, True])
    top = table.drop_duplicates(["account_id", "region"])
    return top.rename(columns={"second": f"{name}_second"})[["account_id", "region", name, f"{name}_second"]]


def reference_quota_table(regional: pd.Series, global_rows: pd.DataFrame, quotas: Quotas,
                          threshold: float) -> pd.DataFrame:
    moving = global_rows[global_rows.workload_region != ""]
    staying = global_rows[global_rows.workload_region == ""]
    projected = pd.concat([regional, reference_series(moving, "workload_region")]).groupby(level=BUCKET_KEY).sum()
    movers = (moving.drop_duplicates(CALLER_KEY).groupby(["account_id", "workload_region"]).size()
              .rename("moving_callers").reset_index().rename(columns={"workload_region": "region"}))
    regional_table = (reference_peaks(projected, "projected_peak_rps")
                      .merge(reference_peaks(regional, "peak_rps_now"), on=["account_id", "region"], how="outer")
                      .merge(movers, on=["account_id", "region"], how="left").assign(bucket="regional"))
    global_table = (reference_peaks(reference_series(global_rows, "bucket_region"), "peak_rps_now")
                    .merge(reference_peaks(reference_series(staying, "bucket_region"), "projected_peak_rps"),
                           on=["account_id", "region"], how="left").assign(bucket="global", moving_callers=0))
    return quota_columns(regional_table, global_table, quotas, threshold)


def reference_stage_moves(regional: pd.Series, global_rows: pd.DataFrame, quotas: Quotas,
                          threshold: float) -> pd.DataFrame:
    moving = global_rows[global_rows.workload_region != ""]
    rows = []
    for (account, region), group in moving.groupby(["account_id", "workload_region"]):
        limit = threshold * quotas.of(account, region)
        known = (account, region) in regional.index.droplevel(2)
        base = regional[(account, region)] if known else pd.Series(dtype="int64")
        per_caller = {key: part.groupby("second").calls.sum() for key, part in group.groupby(CALLER_KEY)}
        order = sorted(per_caller, key=lambda key: (-per_caller[key].max(), key))
        load, wave = base.copy(), 1
        for key in order:
            candidate = load.add(per_caller[key], fill_value=0)
            alone = base.add(per_caller[key], fill_value=0).max()
            if alone >= limit:
                rows.append((*key, 0, int(candidate.max())))
                continue
            if candidate.max() >= limit:
                wave += 1
                load = base.add(per_caller[key], fill_value=0)
            else:
                load = candidate
            rows.append((*key, wave, int(load.max())))
    return pd.DataFrame(rows, columns=CALLER_KEY + ["wave", "bucket_peak_after_wave"])


def random_rollup(seed: int, rows: int, buckets: tuple[str, ...] = ("global", "regional")) -> tuple[Rollup, dict]:
    """Per-second rows of a few callers over a few seconds (ties and overlaps), and homes."""
    rng = random.Random(seed)
    counts: dict[tuple, int] = {}
    for _ in range(rows):
        account = rng.choice(ACCOUNTS)
        key = (account, f"arn:aws:iam::{account}:role/r{rng.randrange(5)}", rng.choice(["aws-cli/2", "Boto3/1.34"]),
               rng.choice(buckets), rng.choice(REGIONS), f"2025-07-01T10:00:{rng.randrange(12):02d}")
        counts[key] = counts.get(key, 0) + rng.randint(1, 4)
    seconds = frame([*zip(*counts), tuple(counts.values())], SECOND_COLUMNS)
    homes = {(account, f"arn:aws:iam::{account}:role/r{role}"): rng.choice([*REGIONS, ""])
             for account in ACCOUNTS for role in range(5)}
    return Rollup(frame([], STS_CALL_COLUMNS), frame([], ACTIVITY_COLUMNS), seconds, ReadReport()), homes


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("buckets", [("global", "regional"), ("global",), ("regional",)])
def test_the_quota_tables_equal_the_pandas_way(seed, buckets):
    assert_the_pandas_way(seed, buckets)


@pytest.mark.parametrize("seed", range(4))
def test_summed_in_groups_of_a_few_rows_the_tables_are_the_same(seed, monkeypatch):
    in_groups = KeyedSeconds.in_groups
    monkeypatch.setattr(KeyedSeconds, "in_groups", staticmethod(  # a large key's seconds split too
        lambda parts, time_dtype, **options: in_groups(parts, time_dtype, rows=3, **options)))
    monkeypatch.setattr(kit.quota, "GROUP_ROWS", 3)  # the waves' callers summed a few at a time
    assert_the_pandas_way(seed, ("global", "regional"))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("seconds", ["ascending", "descending", "a second twice"])
def test_rows_together_per_key_give_the_same_tables(seed, seconds, monkeypatch):
    """Each key's rows together: a caller of one key whose seconds ascend (as the local engine gives them)
    is placed on its bucket's seconds as it is, not summed by sorting; one whose seconds do not (in
    another order, or one of them twice) is summed; the waves are the same either way (seconds placed
    three at a time)."""
    monkeypatch.setattr(kit.quota, "POSITION_ROWS", 3)
    placed = []
    ascending = kit.quota._ascending
    monkeypatch.setattr(kit.quota, "_ascending", lambda times: placed.append(ascending(times)) or placed[-1])
    assert_the_pandas_way(seed, ("global", "regional"), key_order=(True,) * 5 + (seconds != "descending",),
                          repeated=seconds == "a second twice")
    assert placed and all(placed) == (seconds == "ascending")  # a key of one row ascends either way


def assert_the_pandas_way(seed: int, buckets: tuple[str, ...], key_order: tuple[bool, ...] | None = None,
                          repeated: bool = False) -> None:
    """The plan's quota tables and waves against pandas' (``key_order``: the rows sorted by key and second
    first, ascending or not per column; ``repeated``: every fifth row twice)."""
    rollup, homes = random_rollup(seed, 40 + 30 * seed, buckets)
    if repeated:
        rollup.second_rows = pd.concat([rollup.seconds, rollup.seconds[::5]], ignore_index=True)
    if key_order:
        rollup.second_rows = rollup.seconds.sort_values(list(SECOND_COLUMNS[:-1]), ascending=list(key_order),
                                                        ignore_index=True)
    global_rows = reference_global_rows(rollup, homes)
    coded = rollup.coded_seconds()
    coded_global = global_seconds(coded, homes)
    quotas = Quotas(12, {(ACCOUNTS[0], "eu-west-1"): 20, (ACCOUNTS[1], "us-east-1/global"): 9})
    regional_rows = texts(rollup.seconds[rollup.seconds.bucket == "regional"])
    reference_regional = reference_series(regional_rows, "bucket_region")
    regional = regional_calls(coded)
    for threshold in (0.5, 0.8):
        expected = reference_quota_table(reference_regional, global_rows, quotas, threshold)
        table = quota_table(regional, coded_global, quotas, threshold)
        assert table.to_csv(index=False) == expected.to_csv(index=False)
        pd.testing.assert_frame_equal(table, expected, check_dtype=False)
        expected_waves = reference_stage_moves(reference_regional, global_rows, quotas, threshold)
        waves = stage_moves(regional, coded_global, quotas, threshold)
        assert waves.to_csv(index=False) == expected_waves.to_csv(index=False)
    expected_peaks = (global_rows.groupby(CALLER_KEY + ["second"]).calls.sum().groupby(level=CALLER_KEY).max()
                      .rename("peak_rps").reset_index())
    assert caller_peaks(coded_global).to_csv(index=False) == expected_peaks.to_csv(index=False)


def test_no_rows_at_all():
    rollup, _ = random_rollup(0, 0)
    coded = rollup.coded_seconds()
    global_rows = global_seconds(coded, {})
    quotas = Quotas()
    expected = reference_quota_table(reference_series(texts(rollup.seconds), "bucket_region"),
                                     reference_global_rows(rollup, {}), quotas, 0.8)
    assert quota_table(regional_calls(coded), global_rows, quotas, 0.8).to_csv(index=False) == expected.to_csv(index=False)
    assert stage_moves(regional_calls(coded), global_rows, quotas, 0.8).empty
    assert caller_peaks(global_rows).empty


def rows_of(keyed: KeyedSeconds) -> list[tuple]:
    return [(keyed.keys[key], second, calls)
            for key, second, calls in zip(keyed.key.tolist(), keyed.seconds.tolist(), keyed.calls.tolist())]


@pytest.mark.parametrize("rows", [1, 7, 1_000_000])
def test_groups_hold_the_rows_of_their_keys_once(rows):
    rollup, homes = random_rollup(3, 200)
    coded = global_seconds(rollup.coded_seconds(), homes)
    moving = (coded.keys.workload_region != "").to_numpy()
    parts = [rows_part(coded, ["account_id", "workload_region", "principal_arn"], moving)]
    groups = list(KeyedSeconds.in_groups(parts, coded.time_dtype, rows=rows))
    assert sorted(sum((rows_of(group) for group in groups), [])) == rows_of(KeyedSeconds.of(parts, coded.time_dtype))
    if rows == 1_000_000:  # all in one group
        assert len(groups) == 1


@pytest.mark.parametrize("rows", [1, 5, 40, 1_000_000])
def test_a_large_key_is_summed_a_range_of_seconds_at_a_time_and_its_peak_is_the_same(rows):
    rng = random.Random(rows)
    seconds = np.array(sorted(rng.sample(range(100_000, 200_000), 300)), TIME)
    calls = np.array([rng.randint(1, 9) for _ in seconds], CALLS)
    calls[[40, 250]] = 50  # the peak twice: the earliest second is given
    keys = [("a", "x"), ("b", "y")]
    codes = np.array([rng.randrange(2) for _ in seconds], np.uint8)
    codes[[40, 250]] = 0  # in two groups of key a's seconds when they are few rows each
    part = (keys, codes, seconds, calls, codes < 2)
    utc = pd.DatetimeTZDtype("us", "UTC")
    groups = list(KeyedSeconds.in_groups([part], utc, rows=rows))
    assert sorted(sum((rows_of(group) for group in groups), [])) == rows_of(KeyedSeconds.of([part], utc))
    assert all(len(group.key) for group in groups), "no range of seconds without rows"
    if rows < 100:  # each key alone, a range of seconds a group, about ``rows`` rows each
        assert all(len({key for key, _, _ in rows_of(group)}) == 1 for group in groups)
        assert len(groups) > len(keys)
    peaks = peaks_of([part], utc, "peak")
    assert peaks.to_csv(index=False) == KeyedSeconds.of([part], utc).peaks("peak").to_csv(index=False)


def test_ranges_of_seconds_hold_rows_and_cover_them_all():
    def ranges(seconds: list[int], rows: int) -> list[tuple[int, int]]:
        times = np.array(seconds, TIME)
        return _time_ranges([([("a",)], np.zeros(len(times), np.uint8), times, np.ones(len(times), CALLS), None)], rows)

    assert ranges([100, 101, 101], 2) == [(100, 102)]  # a cut in the last second would leave nothing after it
    assert ranges(list(range(100, 110)), 3) == [(100, 103), (103, 106), (106, 109), (109, 110)]
    assert ranges([5, 5_000_000], 1) == [(5, 5 + 1221), (5 + 1221, 5_000_001)]  # 4,096 ranges of 1,221 seconds


def test_run_starts_of_several_columns():
    assert run_starts(np.array([1, 1, 1, 2, 2]), np.array(["a", "a", "b", "b", "b"])).tolist() == [0, 2, 3]
    assert run_starts(np.zeros(0)).tolist() == []


@pytest.mark.parametrize("values", [[], [4], [4, 4], [1, 1, 3, 7, 7, 7, 9]])
def test_run_firsts_are_the_values_at_the_run_starts(values):
    values = np.array(values, TIME)
    assert run_firsts(values).tolist() == values[run_starts(values)].tolist() == sorted(set(values.tolist()))


def test_coded_rows_do_not_depend_on_their_order():
    rollup, _ = random_rollup(5, 300)
    columns = ["account_id", "principal_arn", "user_agent", "bucket", "bucket_region"]
    table = rollup.seconds.sort_values(columns, kind="stable").reset_index(drop=True)  # a key's rows consecutive
    mixed = table.sample(frac=1, random_state=1).reset_index(drop=True)
    for rows in (table, mixed):
        coded = CodedSeconds.of(rows, columns)
        keyed = [tuple(key) for key in coded.keys.to_numpy()[coded.key]]
        assert keyed == list(rows[columns].astype(str).itertuples(index=False, name=None))
        assert coded.keys.equals(CodedSeconds.of(table, columns).keys)


def test_the_plan_reads_the_seconds_calls_without_a_copy_and_their_times_in_four_bytes():
    """The ``seconds`` table's calls are int32, the plan's own type: ``Rollup.coded_seconds`` views them
    (memory: millions of rows); its times are the table's seconds as ``TIME`` (4 bytes, not 8)."""
    rollup, _ = random_rollup(7, 300)
    assert rollup.seconds.calls.dtype == np.int32 and rollup.throttled.calls.dtype == np.int32
    coded = rollup.coded_seconds()
    assert np.shares_memory(coded.calls, rollup.seconds.calls.to_numpy())
    assert coded.times.dtype == TIME
    assert np.array_equal(since_1970(coded.times), rollup.seconds.second.array.asi8 // 1_000_000)


def test_a_table_time_that_four_bytes_from_2005_cannot_hold_is_refused():
    rollup, _ = random_rollup(9, 50)
    table = rollup.seconds.copy()
    columns = ["account_id", "principal_arn", "user_agent", "bucket", "bucket_region"]
    assert len(CodedSeconds.of(table, columns).times) == len(table)
    table.loc[0, "second"] = pd.Timestamp("2004-12-31T23:59:59Z")
    with pytest.raises(ValueError, match="outside 2005-2100"):
        CodedSeconds.of(table, columns)


def test_rows_of_some_keys_are_views_when_consecutive_and_copies_else():
    rollup, _ = random_rollup(8, 300)
    columns = ["account_id", "principal_arn", "user_agent", "bucket", "bucket_region"]
    table = rollup.seconds.sort_values(columns, kind="stable").reset_index(drop=True)
    coded = CodedSeconds.of(table, columns)
    for wanted in ([0], [1, 2], [0, 3], list(range(len(coded.keys)))):
        keys = np.zeros(len(coded.keys), bool)
        keys[wanted] = True
        rows = coded.rows_where(keys)
        mask = keys[coded.key]
        assert rows.key.tolist() == coded.key[mask].tolist() and rows.calls.tolist() == coded.calls[mask].tolist()
        assert rows.times.tolist() == coded.times[mask].tolist()
        consecutive = np.flatnonzero(np.diff(np.flatnonzero(mask)) != 1).size == 0
        assert np.shares_memory(rows.calls, coded.calls) == consecutive
    assert len(coded.rows_where(np.zeros(len(coded.keys), bool)).key) == 0
