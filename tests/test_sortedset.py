"""A set of 64-bit values in sorted runs finds what a dict of the same values finds."""
from __future__ import annotations

import numpy as np
import pytest

from kit.sortedset import SortedSet


@pytest.mark.parametrize("numbered", [True, False])
def test_a_sorted_set_finds_each_value_added_with_its_number(numbered: bool):
    rng = np.random.default_rng(5)
    values, reference = SortedSet(), {}
    for batch in range(40):
        wanted = rng.integers(0, 2 ** 64, rng.integers(1, 3000), dtype=np.uint64, endpoint=False)
        wanted[:2] = [0, 2 ** 64 - 1]
        held, numbers = values.find(wanted)
        assert held.tolist() == [value in reference for value in wanted.tolist()]
        assert numbers.tolist() == [reference.get(value, 0) if numbered else 0 for value in wanted.tolist()]
        new = np.unique(wanted[~held])
        new_numbers = np.arange(len(reference), len(reference) + len(new)) if numbered else None
        values.add(new, new_numbers)
        reference.update(zip(new.tolist(), new_numbers.tolist() if numbered else [0] * len(new)))
    assert len(reference) > 30_000
