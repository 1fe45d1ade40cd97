"""The plan's legend and the wave-0 action, on quota tables built here."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from kit import legend
from kit.quota import QUOTA_COLUMNS


def _quota(projected: int, limit: int = 600) -> pd.DataFrame:
    rows = [{"account_id": "111122223333", "region": "eu-west-1", "bucket": "regional", "peak_rps_now": 400,
             "projected_peak_rps": projected, "quota": limit, "at_risk": True},
            {"account_id": "111122223333", "region": "eu-west-1", "bucket": "global", "peak_rps_now": 320,
             "projected_peak_rps": 0, "quota": limit, "at_risk": False}]
    return pd.DataFrame(rows).reindex(columns=QUOTA_COLUMNS)


def test_legend_lists_every_priority_and_wave_and_only_the_risks_that_occur():
    text = legend.legend_markdown({"custom-dns", "quota", "not-a-risk"})
    assert all(f"**{name}**" in text for name in ("P1", "P2", "P3", "0"))
    assert "`custom-dns`" in text and "`quota`" in text
    assert "`token-v1`" not in text and "not-a-risk" not in text
    assert all(f"`{name}`" in legend.legend_markdown() for name in legend.RISKS)


def test_every_risk_the_readme_names_is_explained():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    risks_paragraph = readme[readme.index("- **Risks**"):readme.index("- **Waves**")]
    named = set(re.findall(r"`([a-z0-9-]+)`", risks_paragraph))
    assert len(named) >= 10 and named <= set(legend.RISKS)


@pytest.mark.parametrize("peak, threshold, needed", [(650, 0.8, 813), (480, 0.8, 601), (600, 1.0, 601),
                                                     (1, 0.5, 3)])
def test_required_quota_keeps_the_peak_under_the_threshold(peak, threshold, needed):
    assert legend.required_quota(peak, threshold) == needed
    assert peak < threshold * needed and not peak < threshold * (needed - 1)


def test_wave_zero_sentence_names_the_quota_to_request_and_the_region():
    sentence = legend.wave_zero_sentence(_quota(650), "111122223333", "eu-west-1", 0.8)
    assert sentence.startswith("request a quota increase to at least 813 rps in eu-west-1 before moving")
    assert "projected peak 650 rps against 600 rps today" in sentence


def test_wave_zero_actions_only_for_buckets_with_a_wave_zero_caller():
    stages = pd.DataFrame({"account_id": ["111122223333", "111122223333"], "workload_region": ["eu-west-1", "eu-north-1"],
                           "wave": [0, 1]})
    actions = legend.wave_zero_actions(stages, _quota(900), 0.8)
    assert list(actions) == [("111122223333", "eu-west-1")]
    assert "at least 1,126 rps" in actions[("111122223333", "eu-west-1")]


def test_a_missing_bucket_is_named():
    with pytest.raises(KeyError, match="eu-central-1"):
        legend.wave_zero_sentence(_quota(650), "111122223333", "eu-central-1", 0.8)
