"""How to check, after a change, that callers no longer use the global endpoint.

Every fix in plan.csv ends by pointing here: a fixed caller must show no global call in the week
after its change (kit/queries/verify_callers.sql on Lake and Athena, a new plan elsewhere).
"""
from __future__ import annotations

import dataclasses
import re
from datetime import timedelta

from kit.params import Params

VERIFY_DAYS = 7
"""The verification window: a week after the change catches daily and weekly jobs."""

INSTANCE_PRINCIPAL = re.compile(r"^arn:aws[a-z-]*:(sts::\d{12}:assumed-role/aws:ec2-instance/i-[0-9a-f]{8,17}"
                                r"|iam::\d{12}:role/aws:ec2-instance)$")
"""Instance credentials (role name ``aws:ec2-instance``): a principal the verification query's IAM
ARN literals cannot carry; named after the query instead (the pattern admits nothing else)."""


def verification_step(account: str, principals: list[str], params: Params) -> str:
    """What to run once the change is deployed: the SQL for Lake and Athena (a week from the end of
    this window: set ``start`` to the change date), else the plan command; fixed callers must show no
    global calls."""
    if params.source in ("lake", "athena"):
        from kit.queries import render_verification

        instances = sorted(p for p in set(principals) if INSTANCE_PRINCIPAL.match(p))
        others = [p for p in principals if p not in instances]
        after = dataclasses.replace(params, start=params.end, end=params.end + timedelta(days=VERIFY_DAYS),
                                    accounts=(account,))
        sql = render_verification(after, others) if others or not instances else ""
        if instances:
            sql += ("\n" if sql else "") + ("-- instance credentials, not in the query (it takes IAM ARNs): "
                                            "check them in plan.csv of a plan run on the week after the change: "
                                            + ", ".join(instances))
        return sql
    return (f"sts-kit plan --source local --path <trail files since the change> --start <change date> "
            f"--end <a week later> --accounts {account}   # fixed callers must be gone from plan.csv: "
            + ", ".join(principals))
