"""Runs of equal rows in sorted numpy arrays (numpy alone: the worker processes use it)."""
from __future__ import annotations

import numpy as np


def run_starts(*columns: np.ndarray) -> np.ndarray:
    """Positions where runs of rows equal in every one of ``columns`` (arrays of one length) begin."""
    if not columns or not len(columns[0]):
        return np.zeros(0, np.intp)
    new = np.zeros(len(columns[0]), bool)
    new[0] = True
    for values in columns:
        new[1:] |= values[1:] != values[:-1]
    return np.flatnonzero(new)


def run_firsts(values: np.ndarray) -> np.ndarray:
    """The first row of each run of equal values of a sorted array (``values[run_starts(values)]`` through a
    mask of one byte a row, not a position of eight for each run)."""
    new = np.ones(len(values), bool)
    np.not_equal(values[1:], values[:-1], out=new[1:])
    return values[new]
