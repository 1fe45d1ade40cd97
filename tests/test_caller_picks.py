"""The per-caller picks made with arrays (``kit.callers.oldest_versions`` and ``joined_texts``,
``kit.breakage.smallest_ids``) equal those of pandas, group by group, as they were first written:
ties, versions that are not numbers and empty texts included."""
from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest

from kit.breakage import smallest_ids
from kit.callers import joined_texts, oldest_versions
from kit.codedseconds import first_appearances, unique_inverse
from kit.fixes import version_tuple

VERSIONS = ["1.2.3", "1.2", "1.2.0", "1.10", "1.9.9", "2.0rc1", "2.0", "0.9", "10", "", "dev", "v1", "latest"]
AGENTS = ["aws-cli/2.0 a", "aws-cli/2.0 b", "Boto3/1.2 x", "Boto3/1.2 y", "aws-sdk-go/1.44", "", "curl"]
TEXTS = ["us-east-1", "eu-west-1", "ap-east-1", "", "AssumeRole", "GetCallerIdentity"]


def _oldest(group: pd.DataFrame) -> tuple[str, str]:
    """The first implementation: a caller's oldest version, and its most used agent of that version."""
    versions = group.groupby("caller_version").calls.sum()
    numbered = [version for version in versions.index if version[:1].isdigit()] or list(versions.index)
    oldest = min(numbered, key=version_tuple)
    agents = group[group.caller_version == oldest].groupby("user_agent").calls.sum()
    return oldest, agents.idxmax()


def _join(values: pd.Series) -> str:
    return ";".join(sorted(value for value in values.unique() if value))


def _example(ids: pd.Series) -> str:
    present = ids[ids != ""]
    return str(present.min()) if len(present) else ""


def random_rows(seed: int, groups: int, rows: int) -> pd.DataFrame:
    """Rows of ``groups`` callers (each with a row at least), of few versions and agents, small counts."""
    rng = random.Random(seed)
    callers = list(range(groups)) + [rng.randrange(groups) for _ in range(rows - groups)]
    rng.shuffle(callers)
    versions = rng.sample(VERSIONS, rng.randint(1, len(VERSIONS)))
    return pd.DataFrame({
        "caller": callers,
        "caller_version": [rng.choice(versions) for _ in callers],
        "user_agent": [rng.choice(AGENTS) for _ in callers],
        "calls": [rng.choice([0, 1, 1, 2, 3]) for _ in callers],
        "text": [rng.choice(TEXTS) for _ in callers],
        "event_id": [rng.choice(["", "", f"{rng.randrange(40):04x}-id"]) for _ in callers],
    }).astype({"caller_version": "str", "user_agent": "str", "text": "str", "event_id": "str"})


@pytest.mark.parametrize("seed", range(40))
def test_oldest_versions_are_those_of_the_per_caller_groups(seed):
    rows = random_rows(seed, groups=random.Random(seed).randint(1, 12), rows=60)
    grouped = rows.groupby("caller", sort=True)
    expected = [_oldest(group) for _, group in grouped]
    picked = oldest_versions(rows, grouped.ngroup().to_numpy(), grouped.ngroups)
    assert list(zip(picked.caller_version, picked.user_agent)) == expected


def test_a_caller_of_unnumbered_versions_only_gets_the_lowest_of_them_and_ties_go_to_text_order():
    rows = pd.DataFrame({"caller_version": ["dev", "latest", "2.0rc1", "2.0", "1.2", "1.2.0"],
                         "user_agent": ["z", "a", "m", "b", "k", "j"], "calls": [1, 5, 1, 1, 2, 2]})
    picked = oldest_versions(rows, np.array([0, 0, 1, 1, 2, 2]), 3)
    assert picked.caller_version.tolist() == ["dev", "2.0", "1.2"]
    assert picked.user_agent.tolist() == ["z", "b", "k"]


@pytest.mark.parametrize("seed", range(20))
def test_joined_texts_are_those_of_the_per_caller_groups(seed):
    rows = random_rows(seed, groups=random.Random(seed).randint(1, 12), rows=50)
    grouped = rows.groupby("caller", sort=True)
    assert joined_texts(rows.text, grouped.ngroup().to_numpy(), grouped.ngroups) == \
        [_join(group.text) for _, group in grouped]


@pytest.mark.parametrize("seed", range(20))
def test_smallest_ids_are_those_of_the_groups_in_their_first_seen_order(seed):
    rows = random_rows(seed, groups=random.Random(seed).randint(1, 12), rows=50)
    grouped = rows.groupby("caller", sort=False)
    assert smallest_ids(rows.event_id, grouped.ngroup().to_numpy(), grouped.ngroups).tolist() == \
        [_example(group.event_id) for _, group in grouped]


@pytest.mark.parametrize("seed", range(10))
def test_unique_inverse_and_first_appearances_are_those_of_numpy(seed):
    rng = np.random.default_rng(seed)
    values = rng.integers(-5, 50, rng.integers(0, 300)) * (1 << 40)
    distinct, inverse = unique_inverse(values)
    expected, expected_inverse = np.unique(values, return_inverse=True)
    assert distinct.tolist() == expected.tolist() and inverse.tolist() == expected_inverse.tolist()
    numbers, _ = pd.factorize(values)
    assert first_appearances(numbers).tolist() == sorted(np.unique(numbers, return_index=True)[1].tolist())
