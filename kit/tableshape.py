"""The shape of a user's table, read before querying it: which date and account partitions it has and
whether it has the host header, from its columns and partition keys (Athena ``GetTableMetadata``).

CloudTrail tables in use differ: the kit's DDL (partitions account, region, ``timestamp``), the
Athena User Guide's single-Region projection table (``timestamp`` only), the Knowledge Center's
older table (account, region, year, month, day; no ``tlsdetails`` column) or no partitions at all.
Security Lake's OCSF tables are partitioned by region, accountid and ``eventday`` (yyyyMMdd).
"""
from __future__ import annotations

from dataclasses import dataclass

from kit.errors import KitError

DAY_SCHEMES = ("timestamp", "year_month_day", "eventday", "none")
ACCOUNT_KEYS = ("account", "accountid")
"""Names of the partition key of the account whose folder holds the file: the kit's DDL and the
Knowledge Center's table (``account``), Security Lake's (``accountid``)."""

SKIP_NO_HOST_COLUMN = "STS call without endpointType, in a table without a tlsdetails column: endpoint unknown"
"""Skip reason of STS events a table without the host header cannot judge (events before 2025)."""


class TableShapeError(KitError):
    """The table lacks what the kit needs to read it."""


@dataclass(frozen=True)
class TableShape:
    """What the rollup queries need to know about the table they read."""

    day_partitions: str = "timestamp"
    """How days are partitioned: one of ``DAY_SCHEMES``."""
    numeric_days: bool = False
    """year/month/day partitions are integers (else zero-padded strings, as CloudTrail's folders)."""
    host_column: bool = True
    """The table has ``tlsdetails.clientprovidedhostheader``."""
    account_key: str = ""
    """The partition key of the logging account (one of ``ACCOUNT_KEYS``), '' when there is none."""

    def describe(self) -> str:
        """One line for notes: 'day partitions: year_month_day; account partition: account; no tlsdetails column'."""
        host = "host header column" if self.host_column else "no tlsdetails column"
        account = f"; account partition: {self.account_key}" if self.account_key else ""
        return f"day partitions: {self.day_partitions}{account}; {host}"


KIT_TABLE = TableShape(account_key="account")
SECURITY_LAKE_TABLE = TableShape(day_partitions="eventday", account_key="accountid")

CLOUDTRAIL_COLUMNS = ("eventtime", "eventsource", "eventname", "awsregion", "useridentity")
OCSF_COLUMNS = ("time_dt", "api", "actor", "cloud", "unmapped")


def _names(items: list[dict]) -> dict[str, str]:
    return {str(item.get("Name", "")).lower(): str(item.get("Type", "")).lower() for item in items}


def shape_of(table: str, columns: list[dict], partition_keys: list[dict], ocsf: bool = False) -> TableShape:
    """The shape of ``table`` from Athena's ``Columns`` and ``PartitionKeys`` (``[{"Name", "Type"}]``)."""
    data, keys = _names(columns), _names(partition_keys)
    required = OCSF_COLUMNS if ocsf else CLOUDTRAIL_COLUMNS
    missing = [name for name in required if name not in data and name not in keys]
    if missing:
        kind = "an OCSF Security Lake table (source version 2)" if ocsf else "a CloudTrail table"
        raise TableShapeError(f"table {table} has no column {', '.join(missing)}: is it {kind}?")
    if "timestamp" in keys:
        days = "timestamp"
    elif {"year", "month", "day"} <= set(keys):
        days = "year_month_day"
    elif "eventday" in keys:
        days = "eventday"
    else:
        days = "none"
    numeric = days == "year_month_day" and keys["year"] not in ("string", "varchar")
    host = ocsf or "clientprovidedhostheader" in data.get("tlsdetails", "")
    account = next((name for name in ACCOUNT_KEYS if name in keys), "")
    return TableShape(days, numeric, host, account)
