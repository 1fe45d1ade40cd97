"""The rollup queries, kept as SQL files here, and the renderer that fills them.

Each ``<name>.sql`` (``sts_calls``, ``activity``, ``seconds``, ``skips``, ``field_gaps``,
``signals``, ``throttled``) is written once in Trino SQL and includes the fragment ``_judged.sql``
that applies the rules of ``kit.events``; ``signals`` and ``throttled`` also include
``_signals.sql``, the tests of ``kit.signals.sts_signal``. Lake and Athena differ only in how nested
fields and the event time are read: ``DIALECTS``. Placeholders ``{name}`` are filled only with
``Sql`` fragments made here from validated values.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

from kit import events, ocsf, regions, signals
from kit.errors import KitError
from kit.fieldgaps import ROLLOUT
from kit.params import ACCOUNT_ID, IDENTIFIER, Params
from kit.regions import DEFAULT_REGIONS, GLOBAL_ENDPOINT_REGION, GLOBAL_SERVICE_SOURCES
from kit.tableshape import KIT_TABLE, SECURITY_LAKE_TABLE, SKIP_NO_HOST_COLUMN, TableShape
from kit.trailfiles import DELIVERY_LAG

FOLDER = Path(__file__).resolve().parent
ROLLUP_QUERIES = ("sts_calls", "activity", "seconds", "skips", "field_gaps", "signals", "throttled")
ACCOUNT_PRUNED = ("sts_calls", "seconds", "throttled")
"""The rollup queries that read only the selected accounts' partitions (``--accounts`` on a table with
an account partition): they count the selected callers' STS calls (``counted``), each logged in the
caller's own account, whose folder is that account's partition. Another account logs only the
resource account's copy of a cross-account call (same sharedEventID), which kit.events counts only
when the caller's copy is missing, and it is never missing when the caller's account is logged to
the table (a selected account that is not, known only from other accounts' copies, gets no rows in
these three queries). The other queries read every account, as the local engine does: activity
counts both copies of a cross-account call, signals finds the uses of issued keys in the account of
the role assumed, field_gaps counts the callers' STS calls in either account, and skips every event."""
LOCAL_OCSF = ("security_lake", "events")
"""The table of local Security Lake Parquet files the security-lake engine queries with DuckDB."""
MAX_STATEMENT = 10_000
"""CloudTrail Lake's limit on ``QueryStatement`` (characters); Athena's is far larger."""
MAX_ATHENA_STATEMENT = 262_144
"""Athena's limit on ``QueryString`` (botocore's model of StartQueryExecution): what the athena and
security-lake queries are checked against (local Parquet files have none)."""

_PLACEHOLDER = re.compile(r"(?<!\$)\{([a-z_]+)\}")
"""``{name}``; ``${name}`` is left alone (Athena projection templates)."""
_STORE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{2,127}$")
_STORE_ARN = re.compile(r"^arn:aws[a-z-]*:cloudtrail:[a-z0-9-]+:\d{12}:eventdatastore/([A-Za-z0-9-]{3,128})$")
_PRINCIPAL_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:(root|(user|role)/[A-Za-z0-9+=,.@_/-]{1,512})$")
_TEXT = re.compile(r"^[A-Za-z0-9 .,:;()/'_-]{1,200}$")
_PATTERN = re.compile(r"^[A-Za-z0-9 .,:;()/_^$\\\[\]{}+*?|-]{1,200}$")


class RenderError(KitError):
    """A value cannot be put into a query, or the rendered query is unusable."""


class Sql(str):
    """A piece of SQL the kit made (a template, a dialect field or a checked literal)."""


def string(value: str) -> Sql:
    """A quoted string literal of kit-owned text (letters, digits, spaces and ``.,:;()/'_-``)."""
    if not isinstance(value, str) or not _TEXT.match(value):
        raise RenderError(f"refusing to put {value!r} into a query: only plain kit-owned text is allowed")
    return Sql("'" + value.replace("'", "''") + "'")


def strings(values: Iterable[str]) -> Sql:
    """``'a', 'b'``: ``string`` literals for ``IN (...)``, in sorted order."""
    return Sql(", ".join(string(value) for value in sorted(values)))


def compiles(value: str) -> str:
    """``value`` when it is a regular expression (``RenderError`` saying why not)."""
    try:
        re.compile(value)
    except re.error as error:
        raise RenderError(f"{value!r} is not a regular expression: {error}") from None
    return value


def pattern(value: str) -> Sql:
    """A quoted regular expression of kit-owned text (no quotes; it must compile)."""
    if not isinstance(value, str) or not _PATTERN.match(value):
        raise RenderError(f"refusing to put {value!r} into a query: not a plain kit-owned pattern")
    return Sql(f"'{compiles(value)}'")


def principal_arn(value: str) -> Sql:
    """A quoted IAM user, role or root ARN (the characters IAM allows in names and paths)."""
    if not isinstance(value, str) or not _PRINCIPAL_ARN.match(value):
        raise RenderError(f"refusing to put {value!r} into a query: not an IAM user, role or root ARN")
    return Sql(f"'{value}'")


def identifier(value: str) -> Sql:
    """A double-quoted identifier (database, table): letters, digits and ``_`` only."""
    if not isinstance(value, str) or not IDENTIFIER.match(value):
        raise RenderError(f"{value!r} is not a valid identifier (letters, digits and _, not starting with a digit)")
    return Sql(f'"{value}"')


def store_id(value: str) -> Sql:
    """The event data store id for ``FROM`` (from an id or an ARN), unquoted as Lake expects."""
    text = value if isinstance(value, str) else ""
    match = _STORE_ARN.match(text)
    text = match[1] if match else text
    if not _STORE_ID.match(text):
        raise RenderError(f"{value!r} is not a CloudTrail Lake event data store id or ARN "
                          "(see `aws cloudtrail list-event-data-stores`)")
    return Sql(text)


def accounts_in(column: str, accounts: tuple[str, ...]) -> Sql:
    """``TRUE`` or ``<column> IN ('111122223333', ...)`` for 12-digit account ids."""
    if not accounts:
        return Sql("TRUE")
    for account in accounts:
        if not isinstance(account, str) or not ACCOUNT_ID.match(account):
            raise RenderError(f"{account!r} is not a 12-digit AWS account id")
    return Sql(f"{column} IN ({', '.join(string(account) for account in accounts)})")


def _utc(value: datetime) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise RenderError(f"{value!r} is not a timezone-aware datetime")
    return value.astimezone(timezone.utc)


@dataclass(frozen=True)
class Dialect:
    """How one engine family reads the time and the nested fields; everything else is shared."""

    fields: dict[str, str]
    """SQL expressions for the placeholders {time_text}, {endpoint_type}, ...; {time_text} is the
    event time as UTC text 'YYYY-MM-DDTHH:MM:SSZ', NULL when it cannot be parsed."""
    prefilter: str
    """The first WHERE condition over the store, with ``{start}``/``{end}`` for ``time`` literals."""
    time_literal: str
    """strftime pattern of a literal comparable with the store's ``eventtime``."""
    partitioned: bool
    """True when the table may have day partitions to prune (their scheme: ``shape``)."""
    shape: TableShape = KIT_TABLE
    """The table's shape when it was not read from the table itself."""

    def time(self, value: datetime) -> Sql:
        """A literal comparable with the store's ``eventtime``."""
        return Sql(_utc(value).strftime(self.time_literal))

    def window(self, start: datetime, end: datetime) -> Sql:
        """The condition that reads the store's events of the window (and, where the store keeps
        times as text, those whose time must be parsed first)."""
        return Sql(self.prefilter.format(start=self.time(start), end=self.time(end)))

    def partition_filter(self, start: datetime, end: datetime, shape: TableShape | None = None,
                         accounts: tuple[str, ...] = ()) -> Sql:
        """The day partitions that may hold the window's events (delivery may lag a day), if any, and
        the partitions of ``accounts`` when the table has an account partition."""
        return Sql(self._days(start, end, shape or self.shape) + self._accounts(shape or self.shape, accounts))

    def _days(self, start: datetime, end: datetime, shape: TableShape) -> str:
        days = shape.day_partitions if self.partitioned else "none"
        first, last = _utc(start) - DELIVERY_LAG, _utc(end) + DELIVERY_LAG
        if days == "timestamp":
            return f"\n    AND \"timestamp\" BETWEEN '{first:%Y/%m/%d}' AND '{last:%Y/%m/%d}'"
        if days == "eventday":
            return f"\n    AND eventday BETWEEN '{first:%Y%m%d}' AND '{last:%Y%m%d}'"
        if days == "year_month_day" and shape.numeric_days:
            return (f"\n    AND year BETWEEN {first.year} AND {last.year} AND year * 10000 + month * 100 + day "
                    f"BETWEEN {first:%Y%m%d} AND {last:%Y%m%d}")
        if days == "year_month_day":
            return (f"\n    AND year BETWEEN '{first.year}' AND '{last.year}' "
                    f"AND concat(year, '/', month, '/', day) BETWEEN '{first:%Y/%m/%d}' AND '{last:%Y/%m/%d}'")
        return ""

    def _accounts(self, shape: TableShape, accounts: tuple[str, ...]) -> str:
        if not self.prunes_accounts(shape, accounts):
            return ""
        return f"\n    AND {accounts_in(identifier(shape.account_key), accounts)}"

    def prunes_accounts(self, shape: TableShape, accounts: tuple[str, ...]) -> bool:
        """Whether ``accounts`` bound the account partition of a table of ``shape``."""
        return bool(self.partitioned and shape.account_key and accounts)

    def host_values(self, shape: TableShape | None = None) -> dict[str, Sql]:
        """The shape-dependent pieces of _judged.sql: {host}, {host_missing} and, for a table without
        the host header, the skip reason of STS events that endpointType alone cannot judge."""
        if (shape or self.shape).host_column:
            return {"host": Sql("tlsdetails.clientprovidedhostheader"), "host_missing": Sql("host = ''")}
        return {"host": Sql("CAST(NULL AS VARCHAR)"), "skip_no_host": string(SKIP_NO_HOST_COLUMN),
                "host_missing": Sql("endpoint_type NOT IN ('global', 'regional')")}


def text_time(value: datetime) -> Sql:
    """A 'YYYY-MM-DDTHH:MM:SSZ' literal, comparable with ``{time_text}``."""
    return Sql(_utc(value).strftime("'%Y-%m-%dT%H:%M:%SZ'"))


_PARSED_TIME = (f"CASE WHEN regexp_like(eventtime, '{events.TIME_PATTERN}') THEN date_format("
                "try(from_iso8601_timestamp(replace(eventtime, ' ', 'T') || CASE WHEN regexp_like(eventtime, "
                "'(Z|[+-][0-9]{2}:[0-9]{2})$') THEN '' ELSE 'Z' END)) AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%i:%sZ') END")
"""Athena's text eventTime as UTC text: the forms kit.events.utc_text accepts, offsets applied."""

DIALECTS = {
    "lake": Dialect({
        "time_text": "date_format(eventtime, '%Y-%m-%dT%H:%i:%sZ')",
        "endpoint_type": "json_extract_scalar(element_at(additionaleventdata, 'RequestDetails'), '$.endpointType')",
        "serving_region": "json_extract_scalar(element_at(additionaleventdata, 'RequestDetails'), "
                          "'$.awsServingRegion')",
        "role_arn": "element_at(requestparameters, 'roleArn')",
        "issued_key": "try(json_extract(element_at(responseelements, 'credentials'), '$.accessKeyId'))",
    }, "eventtime >= {start} AND eventtime < {end}", "TIMESTAMP '%Y-%m-%d %H:%M:%S'", partitioned=False),
    "athena": Dialect({
        "time_text": _PARSED_TIME,
        "endpoint_type": "json_extract_scalar(additionaleventdata, '$.RequestDetails.endpointType')",
        "serving_region": "json_extract_scalar(additionaleventdata, '$.RequestDetails.awsServingRegion')",
        "role_arn": "json_extract_scalar(requestparameters, '$.roleArn')",
        "issued_key": "json_extract(responseelements, '$.credentials.accessKeyId')",
    }, "eventtime <> ''", "'%Y-%m-%dT%H:%M:%SZ'", partitioned=True),
    "security-lake": Dialect({
        "time_text": "date_format(time_dt, '%Y-%m-%dT%H:%i:%sZ')",
        "endpoint_type": "ocsf_endpoint_type",
        "serving_region": "ocsf_serving_region",
        "role_arn": "json_extract_scalar(requestparameters, '$.roleArn')",
        "issued_key": "json_extract(responseelements, '$.credentials.accessKeyId')",
    }, "time_dt >= {start} AND time_dt < {end}", "TIMESTAMP '%Y-%m-%d %H:%M:%S'", partitioned=True,
        shape=SECURITY_LAKE_TABLE),
}
"""Lake: ``additionaleventdata``/``requestparameters``/``responseelements`` are map<string,string>
(nested objects as JSON text, UNCONFIRMED for ``credentials`` as for ``RequestDetails``: sts-facts §3),
``eventtime`` a timestamp (UTC). Athena's CloudTrail table: JSON strings, ``eventtime`` the string of
the trail file, parsed here (ISO 8601, offsets normalized to UTC). Security Lake: OCSF rows reshaped
by ``security_lake_events.sql``, ``time_dt`` a timestamp. ``{issued_key}`` is the JSON value of
``responseElements.credentials.accessKeyId`` (``try``: a ``credentials`` text that is not JSON has
none), so the queries can tell a string from other types."""

SKIP_REASONS = {name.lower(): value for name, value in vars(events).items() if name.startswith("SKIP_")}
"""``skip_service`` -> ``kit.events.SKIP_SERVICE`` and so on: the placeholders of the skip reasons."""


def template(name: str) -> str:
    """The text of ``<name>.sql`` without its header comment lines."""
    path = FOLDER / f"{name}.sql"
    if not re.match(r"^_?[a-z_]+$", name) or not path.is_file():
        raise RenderError(f"no query named {name!r} in {FOLDER}")
    lines = path.read_text(encoding="utf-8").splitlines()
    return "\n".join(line for line in lines if not line.lstrip().startswith("--")).strip() + "\n"


def fill(text: str, values: dict[str, Sql]) -> Sql:
    """Replace every ``{name}`` by ``values[name]``; refuse unknown names and anything not ``Sql``."""
    for key, value in values.items():
        if not isinstance(value, Sql):
            raise RenderError(f"refusing {key}={value!r}: only SQL made by kit.queries can be filled in")

    def replace(match: re.Match[str]) -> str:
        if match[1] not in values:
            raise RenderError(f"placeholder {{{match[1]}}} has no value")
        return values[match[1]]

    return Sql(_PLACEHOLDER.sub(replace, text))


def store(params: Params) -> Sql:
    """What the queries read: the event data store (Lake), ``"database"."table"`` (Athena) or the
    OCSF table reshaped as a CloudTrail table (Security Lake; local Parquet: the table ``LOCAL_OCSF``)."""
    if params.source == "lake":
        return store_id(params.event_data_store or "")
    if params.source == "athena":
        return Sql(f"{identifier(params.database or '')}.{identifier(params.table or '')}")
    if params.source == "security-lake":
        table = (Sql(f"{identifier(params.database)}.{identifier(params.table)}") if params.database and params.table
                 else Sql(".".join(map(identifier, LOCAL_OCSF))))
        return fill(template("security_lake_events").rstrip(), {
            "ocsf_table": table, "unmapped_host": string(ocsf.UNMAPPED_HOST),
            "unmapped_endpoint_type": string(ocsf.UNMAPPED_ENDPOINT_TYPE),
            "unmapped_serving_region": string(ocsf.UNMAPPED_SERVING_REGION),
            "unmapped_shared_id": string(ocsf.SHARED_EVENT_ID)})
    raise _no_sql(params)


def _no_sql(params: Params) -> RenderError:
    return RenderError(f"source {params.source!r} reads trail files: only lake, athena and security-lake run SQL")


def values(params: Params, shape: TableShape | None = None, prune_accounts: bool = False) -> dict[str, Sql]:
    """Every placeholder value of the rollup queries for ``params`` over a table of ``shape``
    (default: the dialect's own shape); ``prune_accounts``: read only the partitions of the selected
    accounts (``ACCOUNT_PRUNED``)."""
    dialect = DIALECTS.get(params.source)
    if dialect is None:
        raise _no_sql(params)
    if params.start is None or params.end is None or params.end <= params.start:
        raise RenderError("the rollup queries need a time window (start before end)")
    out = {**{key: Sql(value) for key, value in dialect.fields.items()}, **{key: string(value) for key, value in SKIP_REASONS.items()}}
    out.update(store=store(params), start=text_time(params.start), end=text_time(params.end),
               prefilter=dialect.window(params.start, params.end),
               partition_filter=dialect.partition_filter(params.start, params.end, shape,
                                                         params.accounts if prune_accounts else ()),
               rollout=string(f"{ROLLOUT:%Y-%m-%dT%H:%M:%SZ}"),
               selected=accounts_in("account", params.accounts),
               global_sources=strings(GLOBAL_SERVICE_SOURCES),
               global_region=string(GLOBAL_ENDPOINT_REGION), sts_source=string(events.STS_SOURCE))
    out.update(dialect.host_values(shape))
    out.update(signal_values())
    out["judged"] = fill(template("_judged"), out)
    out["sts_signal"] = fill(template("_signals"), out)
    return out


def signal_values() -> dict[str, Sql]:
    """The placeholders of ``_signals.sql`` and ``signals.sql``: the signal codes and error tests of
    ``kit.signals`` and the opt-in Region test of ``kit.regions.is_opt_in``, as literals."""
    return {
        "token_in_use": string(signals.TOKEN_IN_USE), "token_rejected": string(signals.TOKEN_REJECTED),
        "region_disabled": string(signals.REGION_DISABLED), "throttled": string(signals.THROTTLED),
        "signature_region": string(signals.SIGNATURE_REGION), "scp_deny": string(signals.SCP_DENY),
        "region_disabled_code": string(signals.REGION_DISABLED_CODE),
        "rejected_codes": strings(signals.REJECTED_CODES), "rejected_message": string(signals.REJECTED_MESSAGE),
        "throttling_codes": strings(signals.THROTTLING_CODES),
        "throttling_message": string(signals.THROTTLING_MESSAGE),
        "signature_code": string(signals.SIGNATURE_CODE), "signature_message": string(signals.SIGNATURE_MESSAGE),
        "denied_codes": strings(signals.DENIED_CODES), "scp_message": string(signals.SCP_MESSAGE),
        "default_regions": strings(DEFAULT_REGIONS), "region_code": pattern(regions.REGION_CODE.pattern),
    }


def render(name: str, params: Params, shape: TableShape | None = None) -> Sql:
    """The statement of query ``name`` for ``params``, checked against the length limit of the
    service that runs it (Lake's 10,000 characters, Athena's for the others)."""
    sql = fill(template(name), values(params, shape, name in ACCOUNT_PRUNED))
    limit, service = ((MAX_STATEMENT, "CloudTrail Lake") if params.source == "lake"
                      else (MAX_ATHENA_STATEMENT, "Athena"))
    if len(sql) > limit:
        raise RenderError(f"query {name} is {len(sql):,} characters, over {service}'s limit of "
                          f"{limit:,}; select fewer accounts (--accounts) or query them in several runs")
    return sql


def account_pruned(name: str, params: Params, shape: TableShape | None = None) -> bool:
    """Whether rollup query ``name`` reads only the selected accounts' partitions (``ACCOUNT_PRUNED``)."""
    dialect = DIALECTS.get(params.source)
    return bool(name in ACCOUNT_PRUNED and dialect and dialect.prunes_accounts(shape or dialect.shape, params.accounts))


def render_all(params: Params, shape: TableShape | None = None) -> dict[str, str]:
    """Every rollup query for ``params`` (what ``--dry-run`` prints; notebooks can show it)."""
    if params.source == "logs-insights":
        from kit.queries import cwl

        return cwl.render_all(params)
    return {name: render(name, params, shape) for name in ROLLUP_QUERIES}


def render_verification(params: Params, principals: list[str]) -> Sql:
    """The query that checks, in the window of ``params`` (start it after the change), whether
    ``principals`` still call the global endpoint."""
    if not principals:
        raise RenderError("no principals to verify")
    sql = fill(template("verify_callers"), {**values(params),
                                            "principals": Sql(", ".join(map(principal_arn, sorted(set(principals)))))})
    if len(sql) > MAX_STATEMENT:
        raise RenderError(f"the verification query is {len(sql):,} characters, over CloudTrail Lake's limit of "
                          f"{MAX_STATEMENT:,}; verify fewer callers at once")
    return sql
