"""The peer to beat: the notebook way of finding global-endpoint callers.

``json.load`` every trail file, ``pandas.json_normalize`` every record, concatenate, then apply
the kit's current rules the pandas way: one row per eventID, STS calls with a host header, AWS
acting for you left out, the caller's copy of cross-account twins, the instance's own session as
its principal, and count global calls per (account, principal). Prints the counts as JSON lines (for the cross-check in
``bench.run``). Memory grows with the input: that is the point of the comparison.
"""
from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

import pandas as pd


def load(root: Path) -> pd.DataFrame:
    """Every record of every trail file under ``root``, flattened into one frame."""
    frames = [pd.DataFrame()]
    for path in sorted([*root.rglob("*.json.gz"), *root.rglob("*.json")]):
        if "CloudTrail-Digest" in path.parts:
            continue
        try:
            with (gzip.open(path) if path.suffix == ".gz" else path.open("rb")) as handle:
                frames.append(pd.json_normalize(json.load(handle)["Records"]))
        except (OSError, EOFError, ValueError, KeyError, TypeError, AttributeError):
            continue  # not a whole trail file: the notebook would skip it too
    return pd.concat(frames, ignore_index=True)


def global_callers(events: pd.DataFrame) -> pd.Series:
    """Global-endpoint STS calls per (account, principal)."""
    events = events[_column(events, "eventID").isna() | ~_column(events, "eventID").duplicated()]
    sts = events[(_column(events, "eventSource") == "sts.amazonaws.com")
                 & _column(events, "tlsDetails.clientProvidedHostHeader").notna()]
    source_ip, agent = _column(sts, "sourceIPAddress").fillna(""), _column(sts, "userAgent").fillna("")
    aws_acting = ((source_ip == "AWS Internal") | source_ip.str.endswith(".amazonaws.com")
                  | agent.str.startswith("aws-internal/") | (_column(sts, "userIdentity.type") == "AWSService")
                  | _column(sts, "userIdentity.invokedBy").notna())
    sts = sts[~aws_acting].copy()
    host = _column(sts, "tlsDetails.clientProvidedHostHeader")
    endpoint = _column(sts, "additionalEventData.RequestDetails.endpointType")
    legacy_global = (host == "sts.amazonaws.com") | host.str.startswith("sts-global.")
    sts = sts[(endpoint == "global") | (endpoint.isna() & legacy_global)]
    web = _column(sts, "userIdentity.type") == "WebIdentityUser"
    instance = _column(sts, "userIdentity.arn").fillna("").str.contains(":assumed-role/aws:ec2-instance/", regex=False)
    sts["principal"] = (_column(sts, "userIdentity.sessionContext.sessionIssuer.arn").mask(instance)
                        .fillna(_column(sts, "requestParameters.roleArn").where(web))
                        .fillna(_column(sts, "userIdentity.arn")))
    sts["account"] = _column(sts, "userIdentity.accountId").fillna(_column(sts, "recipientAccountId"))
    twin = _column(sts, "sharedEventID").notna() & (_column(sts, "recipientAccountId") != sts.account)
    return sts[~twin].groupby(["account", "principal"]).size().sort_index()


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    """Column ``name`` of ``frame`` (all missing when no record had the field: trails differ in the
    fields their records have)."""
    return frame[name] if name in frame else pd.Series(None, index=frame.index, dtype=object)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``--path DIR``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, required=True)
    args = parser.parse_args(argv)
    for (account, principal), calls in global_callers(load(args.path)).items():
        print(json.dumps({"account": account, "principal": principal, "calls": int(calls)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
