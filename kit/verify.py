"""How to check, after a change, that a caller no longer uses the global endpoint."""
from __future__ import annotations

from kit.params import Params


def verification_step(account: str, principal_arn: str, params: Params) -> str:
    """The command to run once the change is deployed: the caller must be gone from the new plan."""
    if params.source in ("samples", "local"):
        return (f"sts-kit plan --source local --path <trail files since the change> --start <change date> "
                f"--end <a week later> --accounts {account}  → {principal_arn} must not appear in plan.csv")
    return (f"sts-kit plan --source {params.source} --start <change date> --end <a week later> "
            f"--accounts {account}  → {principal_arn} must not appear in plan.csv")
