"""Quota overrides name their bucket: the Regional one by default, the global one with /global."""
from __future__ import annotations

from dataclasses import replace

import pytest
import yaml

from builders import repeated, role_session, sts, write_trail
from kit.engines import collect
from kit.errors import ParameterError
from kit.params import validate
from kit.plan import plan_from_rollup
from kit.quota import QUOTA_COLUMNS, Quotas
from kit.rollup import THROTTLED_COLUMNS, frame
from kit.views import projection_series, throttled_buckets, throttled_series

A, B = "111122223333", "444455556666"
LOCAL = {"source": "local", "path": "/tmp", "start": "2025-07-01", "end": "2025-07-02"}


def overrides(value):
    return validate({**LOCAL, "quota_overrides": value}).quota_overrides


def test_a_bare_override_is_the_regional_bucket_and_a_suffix_selects_one():
    assert overrides(f"{A}/eu-west-1=1500") == {(A, "eu-west-1"): 1500}
    assert overrides(f"{A}/eu-west-1/regional=1500") == {(A, "eu-west-1"): 1500}
    assert overrides(f" {A}/eu-west-1/global = 900 ,{B}/us-east-1=700") == {(A, "eu-west-1/global"): 900,
                                                                           (B, "us-east-1"): 700}


def test_overrides_from_a_yaml_mapping_or_list_and_back():
    from_yaml = yaml.safe_load(f'quota_overrides: {{"{A}/eu-west-1/global": 1500, "{A}/eu-west-1": "800"}}\n')
    params = validate({**LOCAL, **from_yaml})
    assert params.quota_overrides == {(A, "eu-west-1/global"): 1500, (A, "eu-west-1"): 800}
    assert params.to_dict()["quota_overrides"] == {f"{A}/eu-west-1/global": 1500, f"{A}/eu-west-1": 800}
    assert validate({**LOCAL, "quota_overrides": params.to_dict()["quota_overrides"]}) == params
    assert overrides([f"{A}/eu-west-1/global=10"]) == {(A, "eu-west-1/global"): 10}


@pytest.mark.parametrize("value, fragment", [
    (f"{A}/eu-west-1/globl=5", "bucket must be regional or global, got 'globl'"),
    (f"{A}/eu-west-1/global/x=5", "is not ACCOUNT/REGION[/BUCKET]=RPS"),
    (f"{A}=5", "is not ACCOUNT/REGION[/BUCKET]=RPS"),
    (f"{A}/eu-west-1", "has no quota; write"),
    (f"{A}/eu-west-1=", "has no quota; write"),
    (f"{A}/eu-west-1=5,{A}/eu-west-1/regional=6", "the regional bucket of 111122223333 in eu-west-1 is given twice"),
    ({f"{A}/eu-west-1/global": 1500.5}, "must be a whole number of requests per second, got 1500.5"),
    ({f"{A}/eu-west-1/global": True}, "expected a whole number"),
    ({f"{A}/eu-west-1": None}, "has no quota"),
    ({f"{A}/eu-west-1": -3}, "positive"),
    ([f"{A}/eu-west-1=5", 7], "comma-separated or as a mapping"),
    (42, "comma-separated or as a mapping"),
    ("x" * 10_000 + "=5", "is not ACCOUNT/REGION"),
])
def test_malformed_overrides_are_one_line_errors(value, fragment):
    with pytest.raises(ParameterError, match=fragment.replace("[", r"\[").replace("]", r"\]")) as raised:
        overrides(value)
    assert "\n" not in str(raised.value) and len(str(raised.value)) < 300


def test_quotas_of_each_bucket():
    quotas = Quotas(600, {(A, "eu-west-1/global"): 900, (A, "us-east-1"): 1200})
    assert (quotas.of(A, "eu-west-1"), quotas.of(A, "eu-west-1", "global")) == (600, 900)
    assert (quotas.of(A, "us-east-1"), quotas.of(A, "us-east-1", "global")) == (1200, 600)


@pytest.fixture(scope="module")
def rollup(tmp_path_factory):
    """eu-west-1 of A: a mover calls the global endpoint (served in eu-west-1) 300 times in one second;
    a resident calls the Regional endpoint 300 times in the same second."""
    folder = tmp_path_factory.mktemp("trail")
    mover, resident = role_session(A, "mover"), role_session(A, "resident")
    records = repeated(sts(mover, "2025-07-01T10:00:01Z", endpoint_type="global", serving="eu-west-1"), 300)
    records += repeated(sts(resident, "2025-07-01T10:00:01Z", "sts.eu-west-1.amazonaws.com", endpoint_type="regional",
                             region="eu-west-1"), 300)
    records += [sts(mover, "2025-07-01T10:00:01Z", "sts.eu-west-1.amazonaws.com", endpoint_type="regional",
                    region="eu-west-1")]  # the mover's own Regional call: its workload Region
    write_trail(folder / "f.json", records)
    return collect(validate({"source": "local", "path": folder, "start": "2025-07-01", "end": "2025-07-02",
                             "quiet": True, "cache": False}))


def buckets(rollup, **extra):
    plan = plan_from_rollup(rollup, validate({"source": "local", "path": "/tmp", "start": "2025-07-01",
                                              "end": "2025-07-02", "quiet": True, "quota": 500, **extra}))
    table = plan.quota.set_index(["region", "bucket"])
    return plan, table.loc[("eu-west-1", "regional")], table.loc[("eu-west-1", "global")]


def test_quota_csv_shows_both_quotas_of_the_region(rollup):
    plan, regional, glob = buckets(rollup)
    assert list(plan.quota.columns) == QUOTA_COLUMNS
    assert (regional.peak_rps_now, regional.projected_peak_rps, glob.peak_rps_now) == (301, 601, 300)
    assert (regional.quota, regional.other_bucket_quota, glob.quota, glob.other_bucket_quota) == (500, 500, 500, 500)
    assert regional.at_risk and "quota" in plan.callers.risks.iloc[0]


def test_a_regional_override_raises_only_the_regional_bucket(rollup):
    plan, regional, glob = buckets(rollup, quota_overrides=f"{A}/eu-west-1=1000")
    assert (regional.quota, regional.other_bucket_quota, glob.quota, glob.other_bucket_quota) == (1000, 500, 500, 1000)
    assert not regional.at_risk and "quota" not in plan.callers.risks.iloc[0]


def test_a_global_override_raises_only_the_global_bucket(rollup):
    plan, regional, glob = buckets(rollup, quota_overrides=f"{A}/eu-west-1/global=1000")
    assert (regional.quota, regional.other_bucket_quota, glob.quota, glob.other_bucket_quota) == (500, 1000, 1000, 500)
    assert regional.at_risk and "quota" in plan.callers.risks.iloc[0]
    assert glob.headroom_pct == 100.0  # the mover leaves the global bucket empty


@pytest.fixture(scope="module")
def samples_plan_object():
    params = validate({})
    return plan_from_rollup(collect(params), params)


def test_the_projection_chart_peaks_where_quota_csv_says(samples_plan_object):
    plan = samples_plan_object
    moving = plan.quota[(plan.quota.bucket == "regional") & (plan.quota.moving_callers > 0)]
    assert len(moving)
    for row in moving.itertuples():
        series = projection_series(plan, row.account_id, row.region)
        assert series.projected.max() == row.projected_peak_rps
        assert series.projected.idxmax() == row.projected_peak_second
        assert (series.projected == series.regional_now + series.moving_global).all()


def test_the_throttled_chart_shows_the_bucket_s_calls_of_the_seconds_table(samples_plan_object):
    """Around each throttled bucket's worst second, its calls second by second are those of the
    ``seconds`` table (the rollup's rows as numbers, read by key) and never fewer than the throttled."""
    plan = samples_plan_object
    buckets = throttled_buckets(plan)
    assert len(buckets)
    seconds = plan.rollup.seconds
    for row in buckets.itertuples():
        series = throttled_series(plan, row.account_id, row.bucket, row.region)
        rows = seconds[(seconds.account_id == row.account_id) & (seconds.bucket == row.bucket)
                       & (seconds.bucket_region == row.region)]
        assert series.calls.tolist() == rows.groupby("second").calls.sum().reindex(series.index, fill_value=0).tolist()
        assert series.throttled.idxmax() == row.worst_second and series.calls.sum() > 0
        assert (series.throttled <= series.calls).all()
        assert (series.index.to_series().diff().dropna().dt.seconds == 1).all()


def test_the_throttled_chart_counts_the_calls_of_its_own_account_only(samples_plan_object):
    """A second in which two accounts called the same bucket and Region, throttled in one of them:
    the chart of that account's bucket shows its own calls, not those of both."""
    plan = samples_plan_object
    seconds = plan.rollup.seconds
    shared = seconds.groupby(["bucket", "bucket_region", "second"], observed=True).account_id.nunique()
    bucket, region, second = shared[shared >= 2].index[0]
    rows = seconds[(seconds.bucket == bucket) & (seconds.bucket_region == region) & (seconds.second == second)]
    account = rows.account_id.iloc[0]
    throttled = frame([[account], ["arn:aws:iam::1:role/r"], ["aws-cli/2"], [bucket], [region],
                       [second.strftime("%Y-%m-%dT%H:%M:%SZ")], [1]], THROTTLED_COLUMNS)
    chart = throttled_series(replace(plan, rollup=replace(plan.rollup, throttled=throttled)), account, bucket, region)
    assert chart.calls[second] == rows[rows.account_id == account].calls.sum() < rows.calls.sum()
    assert chart.throttled[second] == 1
