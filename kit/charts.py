"""The notebooks' charts (matplotlib): each takes a table from ``kit.views`` and returns a Figure.

Drawn to be read at a glance: legends sit outside the data, every number that matters is written
on the chart, and what needs action (calls served in us-east-1, a bucket over its quota) is named.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap, LogNorm
from matplotlib.figure import Figure

from kit.regions import GLOBAL_ENDPOINT_REGION
from kit.views import CALLER_GROUPS, ROLLOUT_DATE, WEEKLY_KINDS, caller_group

HEAT_COLOURS = ListedColormap(plt.get_cmap("Blues")(np.linspace(0.22, 1.0, 256)))
"""Blues without its white end: the smallest count is still visibly blue."""
OVER_QUOTA = "#c0392b"
AT_RISK = "#e67e22"
SMALL_BUCKET_SHARE = 0.05
"""Buckets whose peaks stay under this share of their quota are left out of the bucket chart."""


def serving_heatmap(matrix: pd.DataFrame, reasons: dict[str, str] | None = None) -> Figure:
    """Heatmap of global calls: caller location (rows, grouped) by serving Region (columns), on a log
    colour scale; the us-east-1 column says why each row is served there (``reasons``)."""
    reasons = reasons or {}
    counts = matrix.to_numpy()
    figure, axes = plt.subplots(figsize=(3.2 + 1.5 * len(matrix.columns), 1.4 + 0.55 * len(matrix)))
    peak = max(int(counts.max()) if counts.size else 1, 2)
    image = axes.imshow(np.ma.masked_equal(counts, 0), cmap=HEAT_COLOURS, norm=LogNorm(vmin=1, vmax=peak),
                        aspect="auto")
    axes.set_xticks(range(len(matrix.columns)), matrix.columns, rotation=30, ha="right")
    axes.set_yticks(range(len(matrix.index)), matrix.index)
    for row, (label, values) in enumerate(matrix.iterrows()):
        for column, (served, value) in enumerate(values.items()):
            if not value:
                continue
            dark = image.norm(value) > 0.55
            text = f"{value:,}"
            if served == GLOBAL_ENDPOINT_REGION and label in reasons:
                text += f"\n{reasons[label]}"
            axes.text(column, row, text, ha="center", va="center", fontsize=8,
                      color="white" if dark else "black")
    _mark_groups(axes, list(matrix.index))
    axes.set_xlabel("Region that served the global call (awsServingRegion)")
    axes.set_title("Global-endpoint calls since the 2025 change:\nserving Region by where the caller runs",
                   fontsize=11)
    figure.colorbar(image, ax=axes, label="global calls (log scale)")
    figure.tight_layout()
    return figure


def _mark_groups(axes, labels: list[str]) -> None:
    """Separator lines between caller groups and the group names left of the Region names."""
    groups = [caller_group(label) for label in labels]
    centres, names = [], []
    for group in CALLER_GROUPS:
        rows = [index for index, name in enumerate(groups) if name == group]
        if not rows:
            continue
        if rows[0] > 0:
            axes.axhline(rows[0] - 0.5, color="black", linewidth=1.2)
        if group not in labels:  # a Region list gets a group name; 'outside AWS' and 'unknown' name themselves
            centres.append((rows[0] + rows[-1]) / 2)
            names.append(group)
    secondary = axes.secondary_yaxis(-0.28)
    secondary.set_yticks(centres, names, fontsize=9, fontweight="bold")
    secondary.tick_params(length=0)
    secondary.spines["left"].set_visible(False)


def share_over_time(weekly: pd.DataFrame) -> Figure:
    """Per account, weekly STS calls stacked by endpoint and serving Region, with the 2025 rollout marked
    (legend above the panels, off the data)."""
    accounts = sorted(weekly.account_id.unique())
    columns = 2 if len(accounts) > 1 else 1
    rows = -(-len(accounts) // columns)
    figure, grid = plt.subplots(rows, columns, figsize=(6 * columns, 1.0 + 2.6 * rows), sharex=True, squeeze=False)
    rollout = ROLLOUT_DATE.tz_localize(None)
    for axes, account in zip(grid.flat, accounts):
        part = weekly[weekly.account_id == account]
        totals = part[list(WEEKLY_KINDS)].sum(axis=1)
        axes.stackplot(part.week, [100 * part[kind] / totals for kind in WEEKLY_KINDS],
                       labels=list(WEEKLY_KINDS.values()),
                       colors=["#d62728", "#2ca02c", "#1f77b4"], alpha=0.85)
        axes.axvline(rollout, color="black", linestyle="--", linewidth=1, label="local serving in every default Region")
        axes.set_title(f"account {account}: {int(totals.sum()):,} STS calls", fontsize=10)
        axes.set_ylabel("share of STS calls (%)")
        axes.set_ylim(0, 100)
    for axes in grid.flat[len(accounts):]:
        axes.set_visible(False)
    for axes in grid[-1]:
        axes.set_xlabel("week (UTC)")
    handles, labels = grid.flat[0].get_legend_handles_labels()
    figure.suptitle("Global vs Regional STS calls per account, and where global calls were served")
    figure.autofmt_xdate()
    figure.tight_layout(rect=(0, 0, 1, 0.93))
    figure.legend(handles, labels, loc="upper center", ncol=len(labels), fontsize=8, frameon=False,
                  bbox_to_anchor=(0.5, 0.96))
    return figure


def buckets_that_matter(quota: pd.DataFrame, share: float = SMALL_BUCKET_SHARE) -> pd.DataFrame:
    """(account, Region) pairs whose global or Regional peak, now or projected, reaches ``share`` of the
    quota, or that are at risk; one row each with the peaks as columns and the Regional bucket's
    quota (the moves land there; the global bucket's quota is raised separately)."""
    table = (quota.pivot_table(index=["account_id", "region"], columns="bucket",
                               values=["peak_rps_now", "projected_peak_rps"], aggfunc="max", fill_value=0)
             .reindex(columns=[("peak_rps_now", "global"), ("peak_rps_now", "regional"),
                               ("projected_peak_rps", "regional")], fill_value=0))
    table.columns = ["global_now", "regional_now", "regional_after"]
    regional_quota = quota[quota.bucket == "regional"].groupby(["account_id", "region"]).quota.max()
    any_quota = quota.groupby(["account_id", "region"]).quota.max()
    table["quota"] = regional_quota.reindex(table.index).fillna(any_quota.reindex(table.index)).astype("int64")
    table["at_risk"] = (quota[quota.bucket == "regional"].groupby(["account_id", "region"]).at_risk.any()
                        .reindex(table.index, fill_value=False))
    peak = table[["global_now", "regional_now", "regional_after"]].max(axis=1)
    return table[(peak >= share * table.quota) | table.at_risk]


def bucket_peaks(quota: pd.DataFrame, threshold: float) -> Figure:
    """The buckets that matter: global and Regional peaks now and the projected Regional peak, labelled
    with their numbers against each bucket's quota; a bucket at risk is called out."""
    shown = buckets_that_matter(quota)
    left_out = quota.groupby(["account_id", "region"]).ngroups - len(shown)
    series = {"global_now": ("global bucket, now", "#7f7f7f"), "regional_now": ("Regional bucket, now", "#1f77b4"),
              "regional_after": ("Regional bucket, after the moves", "#2ca02c")}
    figure, axes = plt.subplots(figsize=(max(7.0, 2.6 * len(shown) + 3.5), 4.6))
    width = 0.26
    for offset, (column, (name, colour)) in enumerate(series.items()):
        positions = [i + (offset - 1) * width for i in range(len(shown))]
        bars = axes.bar(positions, shown[column], width, label=name, color=colour)
        axes.bar_label(bars, [f"{value:,}/s" for value in shown[column]], fontsize=8, padding=2)
    for i, ((account, region), row) in enumerate(shown.iterrows()):
        axes.hlines(row.quota, i - 0.5, i + 0.5, color=OVER_QUOTA, linewidth=1.5,
                    label="quota" if i == 0 else None)
        axes.text(i - 0.48, row.quota, f"quota {row.quota:,}/s", color=OVER_QUOTA, fontsize=8, va="bottom")
        axes.hlines(threshold * row.quota, i - 0.5, i + 0.5, color=AT_RISK, linestyles="--", linewidth=1.2,
                    label=f"at risk from {threshold:.0%} of quota" if i == 0 else None)
        if row.at_risk:
            verdict = "over the quota" if row.regional_after >= row.quota else "at risk"
            axes.annotate(f"{verdict}: {row.regional_after:,}/s after the moves\n"
                          f"= {row.regional_after / row.quota:.0%} of its {row.quota:,}/s quota",
                          xy=(i + width, row.regional_after), xytext=(i + 0.55, row.regional_after * 0.7),
                          fontsize=9, color=OVER_QUOTA, fontweight="bold",
                          arrowprops={"arrowstyle": "->", "color": OVER_QUOTA})
    axes.set_xlim(-0.5, max(len(shown), 1) - 0.5 + (1.6 if shown.at_risk.any() else 0))
    axes.set_ylim(0, max([1.0, *shown.quota * 1.15, *shown.regional_after * 1.15]))
    axes.set_xticks(range(len(shown)), [f"{account}\n{region}" for account, region in shown.index])
    axes.set_ylabel("peak requests per second")
    title = "STS request buckets at their peak second, now and after migration"
    if left_out:
        pairs = "account/Region pair peaks" if left_out == 1 else "account/Region pairs peak"
        title += f"\n({left_out} other {pairs} under {SMALL_BUCKET_SHARE:.0%} of their quota: not drawn)"
    axes.set_title(title, fontsize=10)
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    figure.tight_layout()
    return figure


def projection(series: pd.DataFrame, limit: int, threshold: float, title: str) -> Figure:
    """Second-by-second Regional bucket around its projected peak: now, the moving global calls, after;
    the overshoot above the quota is shaded and annotated; the legend sits right of the chart."""
    figure, axes = plt.subplots(figsize=(11, 4))
    index = series.index.tz_localize(None) if getattr(series.index, "tz", None) else series.index
    axes.step(index, series.regional_now, where="mid", label="Regional calls now")
    axes.step(index, series.moving_global, where="mid", label="global calls that will move")
    axes.step(index, series.projected, where="mid", linewidth=2, label="Regional after the move")
    axes.axhline(limit, color=OVER_QUOTA, linewidth=1, label=f"quota {limit:,}/s")
    axes.axhline(threshold * limit, color=AT_RISK, linestyle="--", linewidth=1, label=f"{threshold:.0%} of quota")
    axes.fill_between(index, limit, series.projected, where=series.projected > limit, step="mid",
                      color=OVER_QUOTA, alpha=0.25)
    if len(series):
        peak_at = series.projected.idxmax()
        peak = int(series.projected.max())
        over = peak - limit
        seconds = int((series.projected > limit).sum())
        text = (f"peak {peak:,}/s: {over:,} over the quota for {seconds} s" if over > 0
                else f"peak {peak:,}/s: {peak / limit:.0%} of the quota")
        x = peak_at.tz_localize(None) if getattr(peak_at, "tzinfo", None) else peak_at
        axes.annotate(text, xy=(x, peak), xytext=(index[0], peak * 1.08), fontsize=9, fontweight="bold",
                      color=OVER_QUOTA if over > 0 else "black", va="bottom",
                      arrowprops={"arrowstyle": "->", "color": OVER_QUOTA if over > 0 else "black"})
        axes.set_ylim(0, max(peak, limit) * 1.3)
    axes.set_xlabel("second (UTC)")
    axes.set_ylabel("requests per second")
    axes.set_title(title, fontsize=10)
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    figure.autofmt_xdate()
    figure.tight_layout()
    return figure


def throttled(series: pd.DataFrame, limit: int, title: str) -> Figure:
    """A bucket's STS calls second by second around its throttled burst, the throttled calls drawn
    over them in red, against the bucket's quota."""
    figure, axes = plt.subplots(figsize=(11, 4))
    index = series.index.tz_localize(None) if getattr(series.index, "tz", None) else series.index
    width = pd.Timedelta(seconds=0.8)
    axes.bar(index, series.calls - series.throttled, width, color="#1f77b4", label="calls served")
    axes.bar(index, series.throttled, width, bottom=series.calls - series.throttled, color=OVER_QUOTA,
             label="calls throttled (ThrottlingException)")
    axes.axhline(limit, color=OVER_QUOTA, linewidth=1, linestyle="--", label=f"quota {limit:,}/s")
    if len(series) and series.throttled.any():
        worst = series.throttled.idxmax()
        x = worst.tz_localize(None) if getattr(worst, "tzinfo", None) else worst
        total = int(series.calls.loc[worst])
        text = (f"{int(series.throttled.loc[worst]):,} of {total:,} calls throttled at {x:%H:%M:%S}; "
                f"{int(series.throttled.sum()):,} throttled in {int((series.throttled > 0).sum())} s")
        axes.annotate(text, xy=(x, total), xytext=(index[0], max(total, limit) * 1.12), fontsize=9,
                      fontweight="bold", color=OVER_QUOTA, arrowprops={"arrowstyle": "->", "color": OVER_QUOTA})
        axes.set_ylim(0, max(total, limit) * 1.3)
    axes.set_xlabel("second (UTC)")
    axes.set_ylabel("STS requests per second")
    axes.set_title(title, fontsize=10)
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    figure.autofmt_xdate()
    figure.tight_layout()
    return figure
