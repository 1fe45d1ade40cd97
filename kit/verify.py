"""How to check, after a change, that callers no longer use the global endpoint.

Every fix in plan.csv ends by pointing here: a fixed caller must show no global call in the week
after its change: kit/queries/verify_callers.sql on Lake, Athena and a Security Lake table,
kit/queries/logs_insights/verify_callers.cwl on CloudWatch Logs, a new plan over files elsewhere.
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
    """What to run once the change is deployed, over the week after this window (set its start to
    the change date): SQL for Lake, Athena and a Security Lake table, a Logs Insights query for
    CloudWatch Logs, else the plan command; fixed callers must show no global calls."""
    after = dataclasses.replace(params, start=params.end, end=params.end + timedelta(days=VERIFY_DAYS),
                                accounts=(account,))
    if params.source == "logs-insights":
        from kit.queries.cwl import render_verification

        return (f"# CloudWatch Logs Insights, log groups {', '.join(params.log_group)}: a fixed caller has no row\n"
                + render_verification(after, principals))
    if params.source in ("lake", "athena") or (params.source == "security-lake" and params.path is None):
        from kit.queries import render_verification as render_sql

        instances = sorted(p for p in set(principals) if INSTANCE_PRINCIPAL.match(p))
        others = [p for p in principals if p not in instances]
        sql = render_sql(after, others) if others or not instances else ""
        if instances:
            sql += ("\n" if sql else "") + ("-- instance credentials, not in the query (it takes IAM ARNs): "
                                            "check them in plan.csv of a plan run on the week after the change: "
                                            + ", ".join(instances))
        return sql
    source = "security-lake --path <Security Lake files since the change>" if params.source == "security-lake" \
        else "local --path <trail files since the change>"
    return (f"sts-kit plan --source {source} --start <change date> "
            f"--end <a week later> --accounts {account}   # fixed callers must be gone from plan.csv: "
            + ", ".join(principals))
