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
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Mapping

from kit.errors import ParameterError
from kit.regions import is_region_code

SOURCES = ("samples", "local", "lake", "athena", "security-lake", "logs-insights")
POLICY_SOURCES = ("none", "offline", "live")
SAMPLES_DIR = Path(__file__).resolve().parent.parent / "data" / "samples"
SAMPLE_WINDOW = ("2025-03-01T00:00:00Z", "2025-09-01T00:00:00Z")

WINDOW_BOUNDS = (datetime(2005, 1, 1, tzinfo=timezone.utc), datetime(2100, 1, 1, tzinfo=timezone.utc))
"""The window must lie within these times (later dates overflow date arithmetic, none hold events)."""
ACCOUNT_ID = re.compile(r"\A[0-9]{12}\Z")
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
    try:
        parsed = parsed.astimezone(timezone.utc)
    except OverflowError:  # within a day of year 1 or 9999: out of bounds all the same
        parsed = None
    if parsed is None or not WINDOW_BOUNDS[0] <= parsed <= WINDOW_BOUNDS[1]:
        tomorrow = (datetime.now(timezone.utc) + timedelta(days=1)).strftime("%Y-%m-%d")
        raise ParameterError(name, f"{value} lies outside {WINDOW_BOUNDS[0]:%Y-%m-%d} to {WINDOW_BOUNDS[1]:%Y-%m-%d}, "
                                   f"where CloudTrail can hold events; write a real date (e.g. {tomorrow} for "
                                   "up to now)")
    return parsed


def _accounts(name: str, value: Any) -> tuple[str, ...]:
    if value in (None, "", [], ()):
        return ()
    if not isinstance(value, (str, list, tuple)):
        raise ParameterError(name, f"expected comma-separated 12-digit account ids, got {type(value).__name__}")
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


QUOTA_BUCKETS = ("regional", "global")
_OVERRIDE_FORM = "ACCOUNT/REGION[/BUCKET]=RPS (e.g. 111122223333/eu-west-1=1500 or 111122223333/eu-west-1/global=900)"


def _quota_overrides(name: str, value: Any) -> dict[tuple[str, str], int]:
    """Raised STS quotas, one per bucket: ``ACCOUNT/REGION[/BUCKET]=RPS`` entries (a comma-separated
    string or list of them) or a mapping ``{"ACCOUNT/REGION[/BUCKET]": RPS}``. BUCKET is ``regional``
    (the default) or ``global``. Keys are ``(account, region)`` for a Regional bucket and
    ``(account, "region/global")`` for a global one, so they print back as they are written."""
    if value in (None, "", {}, []):
        return {}
    if isinstance(value, dict):
        pairs = [(str(key), limit) for key, limit in value.items()]
    elif isinstance(value, (str, list, tuple)):
        items = value.split(",") if isinstance(value, str) else value
        if not all(isinstance(item, str) for item in items):
            raise ParameterError(name, f"expected {_OVERRIDE_FORM}, comma-separated or as a mapping")
        pairs = [tuple(item.split("=", 1)) if "=" in item else (item, None) for item in items if item.strip()]
    else:
        raise ParameterError(name, f"expected {_OVERRIDE_FORM}, comma-separated or as a mapping")
    overrides: dict[tuple[str, str], int] = {}
    for key, limit in pairs:
        key = key.strip()
        parts = key.split("/")
        if len(parts) not in (2, 3) or not ACCOUNT_ID.match(parts[0]) or not is_region_code(parts[1]):
            raise ParameterError(name, f"{key[:80]!r} is not {_OVERRIDE_FORM}")
        account, region, bucket = parts[0], parts[1], parts[2] if len(parts) == 3 else "regional"
        if bucket not in QUOTA_BUCKETS:
            raise ParameterError(name, f"{account}/{region}: bucket must be regional or global, got {bucket[:20]!r}")
        if limit is None or (isinstance(limit, str) and not limit.strip()):
            raise ParameterError(name, f"{key!r} has no quota; write {key}=RPS")
        bucket_key = (account, region if bucket == "regional" else f"{region}/global")
        if bucket_key in overrides:
            raise ParameterError(name, f"the {bucket} bucket of {account} in {region} is given twice")
        if isinstance(limit, float) and not limit.is_integer():
            raise ParameterError(name, f"quota for {key} must be a whole number of requests per second, got {limit}")
        overrides[bucket_key] = _int(name, limit.strip() if isinstance(limit, str) else limit)
        if overrides[bucket_key] <= 0:
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
    Param("path", _path, None, "local: folder of CloudTrail trail files (.json/.json.gz, any depth); security-lake: "
          "folder of Security Lake Parquet files (region=/accountId=/eventDay= folders)", "DIR"),
    Param("start", _optional_time, None,
          "window start, ISO 8601 (inclusive; required except for samples)", "TIME"),
    Param("end", _optional_time, None,
          "window end, ISO 8601 (exclusive; required except for samples)", "TIME"),
    Param("accounts", _accounts, (), "only these caller accounts (comma-separated 12-digit ids)", "IDS"),
    Param("out_dir", _path, Path("out"), "folder for plan.csv, quota.csv, summary.json, plan.md", "DIR"),
    Param("ip_ranges", _path, None,
          "AWS ip-ranges.json, consulted before the bundled cloud address database for AWS "
          "(samples ship their own)", "FILE"),
    Param("quota", _int, 600, "STS requests per second per account and Region", "RPS"),
    Param("quota_overrides", _quota_overrides, None,
          "raised quotas per bucket: ACCOUNT/REGION[/BUCKET]=RPS, comma-separated; BUCKET is regional "
          "(default) or global (e.g. 111122223333/eu-west-1=1500,111122223333/eu-west-1/global=900)", "LIST"),
    Param("risk_threshold", _fraction, 0.8, "share of the quota at which a bucket is at risk", "FRACTION"),
    Param("workers", _int, 0, "processes that read trail files (0: one per core)", "N"),
    Param("cache", _bool, True, "reuse the rollup of unchanged trail files", "BOOL"),
    Param("quiet", _bool, False, "no progress bar", "BOOL"),
    Param("event_data_store", _pattern(_EVENT_DATA_STORE, "a CloudTrail Lake event data store id or ARN"),
          None, "lake: event data store id or ARN", "EDS", "aws"),
    Param("owner_account_id", _pattern(ACCOUNT_ID, "a 12-digit AWS account id"), None,
          "lake: owner account of the event data store (delegated administrators)", "ID", "aws"),
    Param("database", _pattern(IDENTIFIER, "an Athena database name (letters, digits, _)"), None,
          "athena: database of the CloudTrail table; security-lake: Glue database of the Security Lake "
          "table", "NAME", "aws"),
    Param("table", _pattern(IDENTIFIER, "an Athena table name (letters, digits, _)"), None,
          "athena: CloudTrail table; security-lake: the CloudTrail management events table",
          "NAME", "aws"),
    Param("workgroup", _pattern(IDENTIFIER, "an Athena workgroup name"), None, "athena: workgroup", "NAME", "aws"),
    Param("output_location", _text, None, "athena: s3:// location for query results", "S3URI", "aws"),
    Param("log_group", _log_groups, (), "logs-insights: log group(s) CloudTrail delivers to "
          "(repeatable or comma-separated)", "NAME", "aws"),
    Param("max_queries", _int, 4, "logs-insights: queries in flight at once (within the concurrent-query quota)",
          "N", "aws"),
    Param("aws_region", _region, None, "AWS engines and live policies: AWS Region of the service", "REGION", "aws"),
    Param("aws_profile", _pattern(_PROFILE, "an AWS profile name"), None, "AWS engines and live policies: AWS profile", "NAME", "aws"),
    Param("endpoint_url", _text, None, "AWS engines: endpoint URL (local endpoints for tests and workshops)",
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
    unknown = sorted(str(name) for name in values if name not in PARAMS_BY_NAME)
    if unknown:
        raise ParameterError(unknown[0], unknown_names_message(unknown))
    converted = {}
    for param in SCHEMA:
        raw = values.get(param.name, param.default)
        if isinstance(raw, (list, tuple, set, dict)) and param.name not in _COLLECTION_PARAMS and raw:
            raise ParameterError(param.name, f"expected a single value, got a {type(raw).__name__}")
        converted[param.name] = param.convert(param.name, raw if raw is not None else param.default)
    return _apply_rules(Params(**converted))


_COLLECTION_PARAMS = ("accounts", "quota_overrides", "log_group")
PARAMETERS_FILE_MAX_BYTES = 1_000_000


def load_parameters_file(path: Path) -> dict[str, Any]:
    """The parameters of a YAML file (``sts-kit run -f``): a mapping of names to plain values.
    YAML dates are kept as dates; aliases are refused (no expansion bombs), and so are files
    over 1 MB. Values are checked later by ``validate``."""
    import yaml

    class NoAliasLoader(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                mark = self.peek_event().start_mark
                raise ParameterError("parameters_file", f"{path}: line {mark.line + 1}: YAML aliases (*name) are "
                                                        "not accepted; write the value out")
            return super().compose_node(parent, index)

    try:
        with open(path, "rb") as file:
            text = file.read(PARAMETERS_FILE_MAX_BYTES + 1)
    except OSError as error:
        raise ParameterError("parameters_file", f"{path}: {error.strerror}") from None
    if len(text) > PARAMETERS_FILE_MAX_BYTES:
        raise ParameterError("parameters_file", f"{path} is over {PARAMETERS_FILE_MAX_BYTES:,} bytes; "
                                                "a parameters file holds a few names and values")
    try:
        loaded = yaml.load(text, Loader=NoAliasLoader)  # noqa: S506 (a SafeLoader without aliases)
    except yaml.YAMLError as error:
        raise ParameterError("parameters_file", f"{path} is not valid YAML: "
                                                + " ".join(str(error).split())) from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict) or not all(isinstance(name, str) for name in loaded):
        raise ParameterError("parameters_file", f"{path} must hold a mapping of parameter names to values")
    return loaded


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
    if params.source == "security-lake" and params.path is None and (params.database is None or params.table is None):
        raise ParameterError("path", "source 'security-lake' needs --path (a folder of Security Lake Parquet files) "
                                     "or --database and --table (the Security Lake table in Athena)")
    if params.source == "security-lake" and params.path is not None and (params.database or params.table):
        raise ParameterError("path", "give either --path (local Parquet files) or --database/--table (Athena), "
                                     "not both")
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
