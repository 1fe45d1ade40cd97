"""The charts as a reader sees them: colours, labels and where legends sit, on small tables built here."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.legend import Legend  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from kit import charts, views  # noqa: E402
from kit.quota import QUOTA_COLUMNS  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _texts(figure) -> list[str]:
    return [text.get_text() for text in figure.findobj(Text)]


def _matrix() -> pd.DataFrame:
    rows = {"unknown": [0, 0, 153], "ap-east-1": [0, 0, 711], "eu-west-1": [0, 2881, 68],
            "outside AWS": [0, 0, 1033], "eu-central-1": [666, 0, 64]}
    matrix = pd.DataFrame.from_dict(rows, orient="index", columns=["eu-central-1", "eu-west-1", "us-east-1"])
    order = sorted(matrix.index, key=lambda label: (views.CALLER_GROUPS.index(views.caller_group(label)), label))
    return matrix.reindex(order)


def test_heatmap_small_counts_are_coloured_and_rows_grouped():
    matrix = _matrix()
    figure = charts.serving_heatmap(matrix, {"eu-central-1": "during the rollout", "ap-east-1": "opt-in Region"})
    image = figure.axes[0].images[0]
    red, green, blue, _ = image.cmap(image.norm(64))
    assert min(red, green, blue) < 0.85, "64 calls must not look white next to 2,881"
    assert list(matrix.index) == ["eu-central-1", "eu-west-1", "ap-east-1", "outside AWS", "unknown"]
    texts = _texts(figure)
    assert "64\nduring the rollout" in texts and "711\nopt-in Region" in texts
    assert {"default Regions", "opt-in Regions"} <= set(texts)


def _weekly() -> pd.DataFrame:
    weeks = pd.date_range("2025-03-03", "2025-06-30", freq="7D")
    frames = []
    for account in ("111122223333", "222233334444"):
        before = weeks < pd.Timestamp("2025-04-14")
        frames.append(pd.DataFrame({"account_id": account, "week": weeks, "global_us_east_1": before * 60,
                                    "global_local": (~before) * 60, "regional": 40}))
    return pd.concat(frames, ignore_index=True)


def _overlaps_an_axes(figure, legend: Legend) -> bool:
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    box = legend.get_window_extent(renderer)
    return any(box.overlaps(axes.get_window_extent(renderer)) for axes in figure.axes if axes.get_visible())


def test_rollout_legend_sits_off_every_panel():
    figure = charts.share_over_time(_weekly())
    legends = figure.legends + [axes.get_legend() for axes in figure.axes if axes.get_legend()]
    assert legends and not any(_overlaps_an_axes(figure, legend) for legend in legends)


def _quota() -> pd.DataFrame:
    rows = [("111122223333", "eu-west-1", "regional", 400, 650, True),
            ("111122223333", "eu-west-1", "global", 320, 0, False),
            ("111122223333", "eu-north-1", "regional", 0, 1, False),
            ("222233334444", "us-east-1", "global", 2, 1, False),
            ("222233334444", "eu-central-1", "regional", 90, 120, False)]
    table = pd.DataFrame(rows, columns=["account_id", "region", "bucket", "peak_rps_now", "projected_peak_rps",
                                        "at_risk"])
    table["quota"] = 600
    return table.reindex(columns=QUOTA_COLUMNS)


def test_bucket_chart_draws_only_buckets_that_matter_labelled_with_the_one_at_risk_called_out():
    figure = charts.bucket_peaks(_quota(), 0.8)
    axes = figure.axes[0]
    assert [label.get_text() for label in axes.get_xticklabels()] == ["111122223333\neu-west-1",
                                                                     "222233334444\neu-central-1"]
    texts = _texts(figure)
    assert {"650/s", "400/s", "320/s", "120/s"} <= set(texts)
    assert any(text.startswith("over the quota: 650/s") and "108%" in text for text in texts)
    assert not any(text.startswith(("over the quota", "at risk:")) and "120/s" in text for text in texts)
    assert "2 other account/Region pairs" in axes.get_title()
    figure.canvas.draw()
    assert not _overlaps_an_axes(figure, axes.get_legend())


def _series() -> pd.DataFrame:
    index = pd.date_range("2025-07-15 13:59:50", periods=21, freq="s", tz="UTC")
    regional = pd.Series(0, index=index)
    regional[10:15] = 400
    moving = pd.Series(0, index=index)
    moving[10:15] = 250
    return pd.DataFrame({"regional_now": regional, "moving_global": moving, "projected": regional + moving})


def test_projection_annotates_the_overshoot_with_its_legend_off_the_quota_lines():
    figure = charts.projection(_series(), 600, 0.8, "111122223333 eu-west-1")
    axes = figure.axes[0]
    assert "peak 650/s: 50 over the quota for 5 s" in _texts(figure)
    assert not _overlaps_an_axes(figure, axes.get_legend())


def test_projection_under_the_quota_says_its_share():
    series = _series()
    series["projected"] = series.regional_now
    assert "peak 400/s: 67% of the quota" in _texts(charts.projection(series, 600, 0.8, "t"))


def test_the_bucket_chart_measures_the_moves_against_the_regional_quota():
    """The two buckets' quotas are separate: a raised global quota must not hide a Regional overshoot."""
    quota = _quota()
    quota.loc[quota.bucket == "global", "quota"] = 2000
    shown = charts.buckets_that_matter(quota)
    assert shown.loc[("111122223333", "eu-west-1"), "quota"] == 600
    assert any(text.startswith("over the quota: 650/s") for text in _texts(charts.bucket_peaks(quota, 0.8)))
