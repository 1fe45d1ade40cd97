"""How to check, after a change, that callers no longer use the global endpoint."""
from __future__ import annotations

import dataclasses
from datetime import timedelta

from kit.params import Params

VERIFY_DAYS = 7
"""The verification window: a week after the change catches daily and weekly jobs."""


def verification_step(account: str, principals: list[str], params: Params) -> str:
    """What to run once the change is deployed: the SQL for Lake and Athena (a week from the end of
    this window: set ``start`` to the change date), else the plan command; fixed callers must show no
    global calls."""
    if params.source in ("lake", "athena"):
        from kit.queries import render_verification

        after = dataclasses.replace(params, start=params.end, end=params.end + timedelta(days=VERIFY_DAYS),
                                    accounts=(account,))
        return render_verification(after, principals)
    return (f"sts-kit plan --source local --path <trail files since the change> --start <change date> "
            f"--end <a week later> --accounts {account}   # fixed callers must be gone from plan.csv: "
            + ", ".join(principals))
