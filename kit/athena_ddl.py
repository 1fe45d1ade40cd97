"""The Athena CREATE TABLE statement for the trail's S3 logs, for the user to run once.

``python -m kit.athena_ddl --database cloudtrail --table cloudtrail_logs
--location s3://bucket/AWSLogs/o-abc123/ --accounts 111122223333 --regions us-east-1,eu-west-1``
"""
from __future__ import annotations

import argparse
import re
import sys
from typing import Sequence

from kit.errors import KitError
from kit.params import _accounts, parse_time
from kit.queries import RenderError, Sql, fill, identifier
from kit.queries import template as load_template
from kit.regions import is_region_code

_LOCATION = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/([A-Za-z0-9_.-]+/)*AWSLogs/(o-[a-z0-9]{10,32}/)?$")


def ddl(database: str, table: str, location: str, accounts: Sequence[str], regions: Sequence[str],
        first_day: str = "2020/01/01") -> str:
    """The DDL of the standard CloudTrail table with partition projection (account, Region, day)."""
    if not _LOCATION.match(location):
        raise RenderError(f"{location!r}: give the s3:// URI of the trail's AWSLogs/ folder, ending in "
                          "AWSLogs/ or AWSLogs/o-<org id>/ for an organization trail")
    checked = _accounts("accounts", list(accounts))
    if not checked:
        raise RenderError("give the accounts whose logs the table covers")
    if not regions or not all(is_region_code(region) for region in regions):
        raise RenderError(f"{list(regions)!r}: give the Regions the trail logs, as Region codes")
    day = f"{parse_time('first_day', first_day.replace('/', '-')):%Y/%m/%d}"
    return fill(load_template("athena_table"), {
        "database": Sql(identifier(database).strip('"')), "table": Sql(identifier(table).strip('"')),
        "location": Sql(location), "accounts": Sql(",".join(checked)), "regions": Sql(",".join(regions)),
        "first_day": Sql(day)})


def main(argv: Sequence[str] | None = None) -> int:
    """Print the DDL (exit 2 with a message when a value is unusable)."""
    parser = argparse.ArgumentParser(prog="python -m kit.athena_ddl", description=__doc__)
    parser.add_argument("--database", default="cloudtrail")
    parser.add_argument("--table", default="cloudtrail_logs")
    parser.add_argument("--location", required=True)
    parser.add_argument("--accounts", required=True, help="comma-separated 12-digit ids")
    parser.add_argument("--regions", required=True, help="comma-separated Region codes")
    parser.add_argument("--first-day", default="2020/01/01")
    args = parser.parse_args(argv)
    try:
        print(ddl(args.database, args.table, args.location, args.accounts.split(","), args.regions.split(","),
                  args.first_day) + ";")
    except KitError as error:
        print(f"athena_ddl: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
