"""Rollups as counters, to check that inputs add up: the counts of a run over two sets of records
equal the sums of the runs over each (so extra records changed no count of the others)."""
from __future__ import annotations

from collections import Counter

import numpy as np

from kit.rollup import SECOND_KEYS, STS_CALL_KEYS, Rollup


def counts(rollup: Rollup) -> Counter:
    """Calls and errors of every STS key, calls of every second and activity key, and the skips."""
    total: Counter = Counter()
    for row in rollup.sts_calls.itertuples(index=False):
        key = tuple(getattr(row, name) for name in STS_CALL_KEYS)
        total[("calls", *key)] += row.calls
        total[("errors", *key)] += row.errors
    for row in rollup.seconds.itertuples(index=False):
        total[("second", *(getattr(row, name) for name in SECOND_KEYS))] += row.calls
    for row in rollup.activity.itertuples(index=False):
        total[("activity", row.account_id, row.principal_arn, row.region)] += row.calls
    for reason, count in rollup.report.skipped.items():
        total[("skipped", reason)] += count
    return +total


def without(total: Counter, *reasons: str) -> Counter:
    """``total`` without the skip counts of ``reasons``."""
    return Counter({key: count for key, count in total.items() if key[:1] != ("skipped",) or key[1] not in reasons})


def row_keys(columns: list[tuple[np.ndarray, np.ndarray]], codes: np.ndarray) -> list[tuple]:
    """The key of each row from key columns (``kit.rollup.key_columns``, ``Aggregator.sts_rows``): its texts."""
    return list(zip(*[texts[places[codes]].tolist() for texts, places in columns])) if len(codes) else []
