"""Engines: each turns raw events of one kind of store into the same ``Rollup``.

``samples`` and ``local`` read trail files on disk (``kit.engines.local``); ``lake`` and
``athena`` run the rollup queries inside AWS and bring back only the rollup; ``security-lake``
runs the same queries over OCSF events, in DuckDB on local Parquet or in Athena; ``logs-insights``
groups and deduplicates events inside CloudWatch Logs Insights and judges the groups here.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Callable

from kit.params import Params

if TYPE_CHECKING:  # pandas: the local engine forks its workers before it is imported
    from kit.rollup import Rollup

_MODULES = {"samples": "local", "local": "local", "lake": "lake", "athena": "athena",
            "security-lake": "security_lake", "logs-insights": "logs_insights"}


def collect(params: Params, warm_up: Callable[[], object] | None = None) -> Rollup:
    """The rollup of the events ``params`` select, from the engine of ``params.source``. ``warm_up``
    imports what comes after the read: the local engine runs it while its workers read (the other
    engines leave it to their caller's own imports)."""
    module = importlib.import_module(f"kit.engines.{_MODULES[params.source]}")
    if _MODULES[params.source] == "local":
        return module.collect(params, warm_up)
    return module.collect(params)
