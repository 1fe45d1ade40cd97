"""Engines: each turns raw events of one kind of store into the same ``Rollup``.

``samples`` and ``local`` read trail files on disk (``kit.engines.local``); ``lake`` and
``athena`` run the rollup queries inside AWS and bring back only the rollup; ``security-lake``
runs the same queries over OCSF events, in DuckDB on local Parquet or in Athena; ``logs-insights``
groups and deduplicates events inside CloudWatch Logs Insights and judges the groups here.
"""
from __future__ import annotations

import importlib

from kit.params import Params
from kit.rollup import Rollup

_MODULES = {"samples": "local", "local": "local", "lake": "lake", "athena": "athena",
            "security-lake": "security_lake", "logs-insights": "logs_insights"}


def collect(params: Params) -> Rollup:
    """The rollup of the events ``params`` select, from the engine of ``params.source``."""
    module = importlib.import_module(f"kit.engines.{_MODULES[params.source]}")
    return module.collect(params)
