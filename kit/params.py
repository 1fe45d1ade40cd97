"""One parameter schema for the notebooks, the CLI and the query renderer.

Each parameter is declared once in ``SCHEMA`` with its type, default and help text.
``validate`` turns a mapping of raw values (strings from the CLI, values from a notebook's
``parameters`` cell or a papermill YAML file) into a frozen ``Params``; unknown names and
malformed values raise ``ParameterError`` with a message that says what to fix.
"""
from __future__ import annotations

import dataclasses
import difflib
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping

from kit.errors import ParameterError
from kit.regions import is_region_code

SOURCES = ("samples", "local", "lake", "athena", "logs-insights")
POLICY_SOURCES = ("none", "offline", "live")
SAMPLES_DIR = Path(__file__).resolve().parent.parent / "data" / "samples"
SAMPLE_WINDOW = ("2025-03-01T00:00:00Z", "2025-09-01T00:00:00Z")

ACCOUNT_ID = re.compile(r"^\d{12}$")
_EVENT_DATA_STORE = re.compile(
    r"^(arn:aws[a-z-]*:cloudtrail:[a-z0-9-]+:\d{12}:eventdatastore/)?[A-Za-z0-9-]{3,128}$")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_PROFILE = re.compile(r"^[A-Za-z0-9_.@+-]{1,64}$")
LOG_GROUP = re.compile(r"^[.\-_/#A-Za-z0-9]{1,512}$")
"""A CloudWatch Logs log group name (the ``LogGroupName`` pattern of botocore's service model)."""
MAX_LOG_GROUPS = 50
"""Log groups one Logs Insights query may name (``logGroupNames``)."""


def parse_time(name: str, value: Any) -> datetime:
    """An ISO 8601 date or date-time, as an aware UTC datetime (naive values are UTC)."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ParameterError(name, f"{value!r} is not an ISO 8601 date or time; "
                                       "write e.g. 2025-07-01 or 2025-07-01T12:00:00Z") from None
    else:
        raise ParameterError(name, f"expected an ISO 8601 date or time, got {type(value).__name__}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def _accounts(name: str, value: Any) -> tuple[str, ...]:
    if value in (None, "", [], ()):
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    accounts = tuple(str(item).strip() for item in items if str(item).strip())
    for account in accounts:
        if not ACCOUNT_ID.match(account):
            raise ParameterError(name, f"{account!r} is not a 12-digit AWS account id")
    return tuple(sorted(set(accounts)))


def _log_groups(name: str, value: Any) -> tuple[str, ...]:
    if value in (None, "", [], ()):
        return ()
    items = value.split(",") if isinstance(value, str) else [part for item in value for part in str(item).split(",")]
    groups = tuple(dict.fromkeys(str(item).strip() for item in items if str(item).strip()))
    for group in groups:
        if not LOG_GROUP.match(group):
            raise ParameterError(name, f"{group!r} is not a CloudWatch Logs log group name "
                                       "(1-512 of letters, digits and . - _ / #)")
    if len(groups) > MAX_LOG_GROUPS:
        raise ParameterError(name, f"{len(groups)} log groups: one query can name at most {MAX_LOG_GROUPS}")
    return groups


def _int(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise ParameterError(name, f"expected a whole number, got {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ParameterError(name, f"expected a whole number, got {value!r}") from None


def _fraction(name: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ParameterError(name, f"expected a number between 0 and 1, got {value!r}") from None
    if not 0 < number <= 1:
        raise ParameterError(name, f"expected a number between 0 and 1, got {value!r}")
    return number


def _quota_overrides(name: str, value: Any) -> dict[tuple[str, str], int]:
    """``ACCOUNT/REGION=RPS`` pairs (comma-separated string or mapping) of raised STS quotas."""
    if value in (None, "", {}):
        return {}
    pairs = value.items() if isinstance(value, dict) else (
        item.split("=", 1) if "=" in item else (item, "") for item in str(value).split(",") if item.strip())
    overrides = {}
    for key, limit in pairs:
        account, _, region = str(key).strip().partition("/")
        if not ACCOUNT_ID.match(account) or not is_region_code(region):
            raise ParameterError(name, f"{key!r} is not ACCOUNT/REGION (e.g. 111122223333/eu-west-1)")
        overrides[(account, region)] = _int(name, limit)
        if overrides[(account, region)] <= 0:
            raise ParameterError(name, f"quota for {key} must be a positive number of requests per second")
    return overrides


def _bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ParameterError(name, f"expected true or false, got {value!r}")


def _pattern(pattern: re.Pattern[str], what: str) -> Callable[[str, Any], str | None]:
    def convert(name: str, value: Any) -> str | None:
        if value in (None, ""):
            return None
        text = str(value).strip()
        if not pattern.match(text):
            raise ParameterError(name, f"{text!r} is not {what}")
        return text
    return convert


def _region(name: str, value: Any) -> str | None:
    if value in (None, ""):
        return None
    text = str(value).strip()
    if not is_region_code(text):
        raise ParameterError(name, f"{text!r} is not an AWS Region code such as eu-west-1")
    return text


def _path(name: str, value: Any) -> Path | None:
    if value in (None, ""):
        return None
    if not isinstance(value, (str, Path)):
        raise ParameterError(name, f"expected a path, got {type(value).__name__}")
    return Path(value).expanduser()


def _text(name: str, value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _source(name: str, value: Any) -> str:
    text = str(value).strip().lower()
    if text not in SOURCES:
        raise ParameterError(name, f"{value!r} is not one of {', '.join(SOURCES)}")
    return text


def _policy_source(name: str, value: Any) -> str | None:
    if value in (None, ""):
        return None
    text = str(value).strip().lower()
    if text not in POLICY_SOURCES:
        raise ParameterError(name, f"{value!r} is not one of {', '.join(POLICY_SOURCES)}")
    return text


def _optional_time(name: str, value: Any) -> datetime | None:
    return None if value in (None, "") else parse_time(name, value)


@dataclass(frozen=True)
class Param:
    """The declaration of one parameter."""

    name: str
    convert: Callable[[str, Any], Any]
    default: Any
    help: str
    metavar: str = "VALUE"
    group: str = "run"


SCHEMA: tuple[Param, ...] = (
    Param("source", _source, "samples", f"where events come from: {', '.join(SOURCES)}", "SOURCE"),
    Param("path", _path, None, "local: folder of CloudTrail trail files (.json/.json.gz, any depth)", "DIR"),
    Param("start", _optional_time, None,
          "window start, ISO 8601 (inclusive; required except for samples)", "TIME"),
    Param("end", _optional_time, None,
          "window end, ISO 8601 (exclusive; required except for samples)", "TIME"),
    Param("accounts", _accounts, (), "only these caller accounts (comma-separated 12-digit ids)", "IDS"),
    Param("out_dir", _path, Path("out"), "folder for plan.csv, quota.csv, summary.json, plan.md", "DIR"),
    Param("ip_ranges", _path, None,
          "AWS ip-ranges.json, to tell AWS from non-AWS source IPs (samples ship their own)", "FILE"),
    Param("quota", _int, 600, "STS requests per second per account and Region", "RPS"),
    Param("quota_overrides", _quota_overrides, None,
          "raised quotas: ACCOUNT/REGION=RPS, comma-separated (e.g. 111122223333/eu-west-1=1500)", "LIST"),
    Param("risk_threshold", _fraction, 0.8, "share of the quota at which a bucket is at risk", "FRACTION"),
    Param("workers", _int, 0, "processes that read trail files (0: one per core)", "N"),
    Param("cache", _bool, True, "reuse the rollup of unchanged trail files", "BOOL"),
    Param("quiet", _bool, False, "no progress bar", "BOOL"),
    Param("event_data_store", _pattern(_EVENT_DATA_STORE, "a CloudTrail Lake event data store id or ARN"),
          None, "lake: event data store id or ARN", "EDS", "aws"),
    Param("owner_account_id", _pattern(ACCOUNT_ID, "a 12-digit AWS account id"), None,
          "lake: owner account of the event data store (delegated administrators)", "ID", "aws"),
    Param("database", _pattern(IDENTIFIER, "an Athena database name (letters, digits, _)"), None,
          "athena: database of the CloudTrail table", "NAME", "aws"),
    Param("table", _pattern(IDENTIFIER, "an Athena table name (letters, digits, _)"), None,
          "athena: CloudTrail table", "NAME", "aws"),
    Param("workgroup", _pattern(IDENTIFIER, "an Athena workgroup name"), None, "athena: workgroup", "NAME", "aws"),
    Param("output_location", _text, None, "athena: s3:// location for query results", "S3URI", "aws"),
    Param("log_group", _log_groups, (), "logs-insights: log group(s) CloudTrail delivers to "
          "(repeatable or comma-separated)", "NAME", "aws"),
    Param("max_queries", _int, 4, "logs-insights: queries in flight at once (within the concurrent-query quota)",
          "N", "aws"),
    Param("aws_region", _region, None, "lake/athena/live policies: AWS Region of the service", "REGION", "aws"),
    Param("aws_profile", _pattern(_PROFILE, "an AWS profile name"), None, "lake/athena/live policies: AWS profile", "NAME", "aws"),
    Param("endpoint_url", _text, None, "lake/athena: endpoint URL (local endpoints for tests and workshops)",
          "URL", "aws"),
    Param("policy_source", _policy_source, None,
          f"where SCPs and token settings come from: {', '.join(POLICY_SOURCES)} "
          "(default: offline when --policies is given or for samples, else none)", "SOURCE"),
    Param("policies", _path, None,
          "offline: folder of exported policy JSON files and mapping.yaml (samples ship their own)", "DIR"),
)
PARAMS_BY_NAME = {param.name: param for param in SCHEMA}


@dataclass(frozen=True)
class Params:
    """Validated parameters; build with ``validate``."""

    source: str = "samples"
    path: Path | None = None
    start: datetime | None = None
    end: datetime | None = None
    accounts: tuple[str, ...] = ()
    out_dir: Path = Path("out")
    ip_ranges: Path | None = None
    quota: int = 600
    quota_overrides: dict[tuple[str, str], int] = field(default_factory=dict)
    risk_threshold: float = 0.8
    workers: int = 0
    cache: bool = True
    quiet: bool = False
    event_data_store: str | None = None
    owner_account_id: str | None = None
    database: str | None = None
    table: str | None = None
    workgroup: str | None = None
    output_location: str | None = None
    log_group: tuple[str, ...] = ()
    max_queries: int = 4
    aws_region: str | None = None
    aws_profile: str | None = None
    endpoint_url: str | None = None
    policy_source: str | None = None
    policies: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (paths and times as strings)."""
        out: dict[str, Any] = {}
        for param in SCHEMA:
            value = getattr(self, param.name)
            if isinstance(value, datetime):
                value = value.strftime("%Y-%m-%dT%H:%M:%SZ")
            elif isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple):
                value = list(value)
            elif param.name == "quota_overrides":
                value = {f"{account}/{region}": limit for (account, region), limit in value.items()}
            out[param.name] = value
        return out


def unknown_names_message(names: list[str]) -> str:
    """A message naming the unknown parameters, a close match for each, and the valid names."""
    hints = []
    for name in names:
        close = difflib.get_close_matches(name, PARAMS_BY_NAME, n=1)
        hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return (f"unknown parameter{'s' if len(names) > 1 else ''} {', '.join(hints)}; "
            f"valid parameters: {', '.join(PARAMS_BY_NAME)}")


def validate(values: Mapping[str, Any]) -> Params:
    """Check and convert raw parameter values; fill defaults; apply cross-parameter rules."""
    unknown = sorted(name for name in values if name not in PARAMS_BY_NAME)
    if unknown:
        raise ParameterError(unknown[0], unknown_names_message(unknown))
    converted = {}
    for param in SCHEMA:
        raw = values.get(param.name, param.default)
        converted[param.name] = param.convert(param.name, raw if raw is not None else param.default)
    return _apply_rules(Params(**converted))


def _apply_rules(params: Params) -> Params:
    changes: dict[str, Any] = {}
    if params.source == "samples":
        changes["path"] = params.path or SAMPLES_DIR / "trail"
        changes["ip_ranges"] = params.ip_ranges or SAMPLES_DIR / "ip-ranges.json"
        changes["start"] = params.start or parse_time("start", SAMPLE_WINDOW[0])
        changes["end"] = params.end or parse_time("end", SAMPLE_WINDOW[1])
        changes["policies"] = params.policies or (SAMPLES_DIR / "policies" if params.policy_source in (None, "offline")
                                                  else None)
    else:
        for name in ("start", "end"):
            if getattr(params, name) is None:
                raise ParameterError(name, f"required for source {params.source!r} "
                                           "(ISO 8601, e.g. 2025-07-01T00:00:00Z): it bounds what is read")
    if params.source == "local" and params.path is None:
        raise ParameterError("path", "required for source 'local': a folder of CloudTrail trail files")
    if params.source == "lake" and params.event_data_store is None:
        raise ParameterError("event_data_store", "required for source 'lake'")
    if params.source == "athena":
        for name in ("database", "table"):
            if getattr(params, name) is None:
                raise ParameterError(name, "required for source 'athena'")
    if params.source == "logs-insights" and not params.log_group:
        raise ParameterError("log_group", "required for source 'logs-insights': the log group CloudTrail delivers to")
    if params.max_queries < 1:
        raise ParameterError("max_queries", f"must be 1 or more, got {params.max_queries}")
    params = dataclasses.replace(params, **changes)
    if params.policy_source is None:
        params = dataclasses.replace(params, policy_source="offline" if params.policies else "none")
    if params.policy_source == "offline" and params.policies is None:
        raise ParameterError("policies", "required for policy_source 'offline': a folder of policy JSON files "
                                         "with a mapping.yaml")
    if params.policy_source == "offline" and not params.policies.is_dir():
        raise ParameterError("policies", f"{params.policies} is not a folder of policy JSON files")
    if params.end <= params.start:
        raise ParameterError("end", f"end {params.to_dict()['end']} must be after start {params.to_dict()['start']}")
    if params.quota <= 0:
        raise ParameterError("quota", f"must be a positive number of requests per second, got {params.quota}")
    if params.workers < 0:
        raise ParameterError("workers", f"must be 0 (one per core) or more, got {params.workers}")
    return params
