"""The notebooks' charts (matplotlib): each takes a table from ``kit.views`` and returns a Figure."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from kit.views import ROLLOUT_DATE, WEEKLY_KINDS


def serving_heatmap(matrix: pd.DataFrame) -> Figure:
    """Heatmap of global calls: caller location (rows) by serving Region (columns)."""
    figure, axes = plt.subplots(figsize=(1.6 + 1.3 * len(matrix.columns), 1.2 + 0.55 * len(matrix)))
    image = axes.imshow(matrix.to_numpy(), cmap="Blues", aspect="auto")
    axes.set_xticks(range(len(matrix.columns)), matrix.columns, rotation=30, ha="right")
    axes.set_yticks(range(len(matrix.index)), matrix.index)
    peak = matrix.to_numpy().max() if matrix.size else 0
    for row, (_, values) in enumerate(matrix.iterrows()):
        for column, value in enumerate(values):
            if value:
                axes.text(column, row, f"{value:,}", ha="center", va="center",
                          color="white" if value > peak / 2 else "black", fontsize=9)
    axes.set_xlabel("Region that served the global call (awsServingRegion)")
    axes.set_ylabel("Where the caller runs")
    axes.set_title("Global-endpoint calls since the 2025 change: serving Region by caller Region")
    figure.colorbar(image, ax=axes, label="global calls")
    figure.tight_layout()
    return figure


def share_over_time(weekly: pd.DataFrame) -> Figure:
    """Per account, weekly STS calls stacked by endpoint and serving Region, with the 2025 rollout marked."""
    accounts = sorted(weekly.account_id.unique())
    columns = 2 if len(accounts) > 1 else 1
    rows = -(-len(accounts) // columns)
    figure, grid = plt.subplots(rows, columns, figsize=(6 * columns, 2.8 * rows), sharex=True, squeeze=False)
    rollout = ROLLOUT_DATE.tz_localize(None)
    for axes, account in zip(grid.flat, accounts):
        part = weekly[weekly.account_id == account]
        totals = part[list(WEEKLY_KINDS)].sum(axis=1)
        axes.stackplot(part.week, [100 * part[kind] / totals for kind in WEEKLY_KINDS],
                       labels=list(WEEKLY_KINDS.values()),
                       colors=["#d62728", "#2ca02c", "#1f77b4"], alpha=0.85)
        axes.axvline(rollout, color="black", linestyle="--", linewidth=1)
        axes.set_title(f"account {account}: {int(totals.sum()):,} STS calls", fontsize=10)
        axes.set_ylabel("share of STS calls (%)")
        axes.set_ylim(0, 100)
    for axes in grid.flat[len(accounts):]:
        axes.set_visible(False)
    for axes in grid[-1]:
        axes.set_xlabel("week (UTC); dashed line: local serving complete in default Regions")
    grid.flat[0].legend(fontsize=8, loc="lower left", framealpha=0.9)
    figure.suptitle("Global vs Regional STS calls per account, and where global calls were served")
    figure.autofmt_xdate()
    figure.tight_layout()
    return figure


def bucket_peaks(quota: pd.DataFrame, threshold: float) -> Figure:
    """Per account and Region: global and Regional bucket peaks now, the projected Regional peak, and the quota."""
    columns = {("peak_rps_now", "global"): "global, now", ("peak_rps_now", "regional"): "Regional, now",
               ("projected_peak_rps", "regional"): "Regional, after moves"}
    table = (quota.pivot_table(index=["account_id", "region"], columns="bucket",
                               values=["peak_rps_now", "projected_peak_rps"], aggfunc="max", fill_value=0)
             .reindex(columns=list(columns), fill_value=0))
    limits = quota.groupby(["account_id", "region"]).quota.max().reindex(table.index)
    labels = [f"{account}\n{region}" for account, region in table.index]
    figure, axes = plt.subplots(figsize=(max(8, 1.1 * len(labels)), 4.5))
    width = 0.27
    for offset, (column, name) in enumerate(columns.items()):
        axes.bar([i + (offset - 1) * width for i in range(len(labels))], table[column], width, label=name)
    positions = range(len(labels))
    axes.hlines(limits, [i - 0.45 for i in positions], [i + 0.45 for i in positions], color="red",
                label="quota")
    axes.hlines(threshold * limits, [i - 0.45 for i in positions], [i + 0.45 for i in positions],
                color="orange", linestyles="--", label=f"at risk (≥ {threshold:.0%} of quota)")
    axes.set_xticks(range(len(labels)), labels, fontsize=8)
    axes.set_ylabel("peak requests per second")
    axes.set_xlabel("account and Region")
    axes.set_title("STS request buckets at their peak second: global and Regional, now and after migration")
    axes.legend(fontsize=8)
    figure.tight_layout()
    return figure


def projection(series: pd.DataFrame, limit: int, threshold: float, title: str) -> Figure:
    """Second-by-second Regional bucket around its projected peak: now, the moving global calls, after."""
    figure, axes = plt.subplots(figsize=(10, 4))
    index = series.index.tz_localize(None) if getattr(series.index, "tz", None) else series.index
    axes.step(index, series.regional_now, where="mid", label="Regional calls now")
    axes.step(index, series.moving_global, where="mid", label="global calls that will move")
    axes.step(index, series.projected, where="mid", linewidth=2, label="Regional after the move")
    axes.axhline(limit, color="red", linewidth=1, label=f"quota {limit}/s")
    axes.axhline(threshold * limit, color="orange", linestyle="--", linewidth=1, label=f"{threshold:.0%} of quota")
    axes.set_xlabel("second (UTC)")
    axes.set_ylabel("requests per second")
    axes.set_title(title)
    axes.legend(fontsize=8, loc="upper left")
    figure.autofmt_xdate()
    figure.tight_layout()
    return figure
