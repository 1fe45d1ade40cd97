"""CloudTrail management events as OCSF API Activity (class 6003) in Amazon Security Lake's layout.

``write_lake(trail_root, out_dir)`` converts the trail files under ``trail_root`` into Parquet
files under ``out_dir/aws/CLOUD_TRAIL_MGMT/2.0/region=<r>/accountId=<a>/eventDay=<yyyymmdd>/``,
the prefix Security Lake (source version 2) writes for CloudTrail management events. The output
is deterministic (same input, same bytes), so it is generated on demand, never committed.

The field mapping follows the OCSF 1.5.0 CloudTrail API Activity dossier (ocsf/examples,
``mappings/markdown/AWS/v1.5.0/CloudTrail/API Activity/README.md``): fields without an explicit
mapping go into ``unmapped``, a map of flattened dotted keys to text (``tlsDetails.clientProvidedHostHeader``
as a public OpenSearch view over Security Lake reads it; sts-facts.md section 9). Every value of
an unexpected type is left out, as the judging rules treat it as absent.
"""
from __future__ import annotations

import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import duckdb
import orjson

from kit.trailfiles import InvalidTrailFile, discover, read_records

LAKE_PREFIX = Path("aws") / "CLOUD_TRAIL_MGMT" / "2.0"
"""Security Lake's S3 prefix of CloudTrail management events, source version 2 (OCSF 1.1)."""
OCSF_VERSION = "1.1.0"
UNMAPPED_HOST = "tlsDetails.clientProvidedHostHeader"
"""Key of the host header in ``unmapped``: seen in a public OpenSearch view over Security Lake (sts-facts §9)."""
UNMAPPED_ENDPOINT_TYPE = "additionalEventData.RequestDetails.endpointType"
UNMAPPED_SERVING_REGION = "additionalEventData.RequestDetails.awsServingRegion"
"""UNCONFIRMED (sts-facts §9): the OCSF dossier leaves ``additionalEventData`` unmapped and Security Lake
flattens unmapped objects into dotted keys, so by analogy with the host header these are the keys."""
SHARED_EVENT_ID = "sharedEventID"

MAPPED = frozenset({"eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion",
                    "sourceIPAddress", "userAgent", "errorCode", "errorMessage", "requestParameters",
                    "responseElements", "requestID", "eventID", "eventType", "apiVersion", "recipientAccountId",
                    "vpcEndpointId", "resources"})
"""CloudTrail fields with an explicit place in the OCSF dossier; every other field goes to ``unmapped``."""

_USER = "STRUCT(type VARCHAR, uid VARCHAR, uid_alt VARCHAR, name VARCHAR, credential_uid VARCHAR, " \
        "account STRUCT(uid VARCHAR))"
COLUMNS = {
    "time": "BIGINT", "time_dt": "TIMESTAMP", "class_uid": "INTEGER", "class_name": "VARCHAR",
    "category_uid": "INTEGER", "category_name": "VARCHAR", "activity_id": "INTEGER", "activity_name": "VARCHAR",
    "type_uid": "BIGINT", "severity_id": "INTEGER", "status": "VARCHAR",
    "metadata": "STRUCT(uid VARCHAR, event_code VARCHAR, version VARCHAR, "
                "product STRUCT(name VARCHAR, vendor_name VARCHAR, version VARCHAR))",
    "actor": f"STRUCT(\"user\" {_USER}, session STRUCT(issuer VARCHAR), invoked_by VARCHAR, "
             "idp STRUCT(name VARCHAR))",
    "api": "STRUCT(operation VARCHAR, version VARCHAR, service STRUCT(name VARCHAR), "
           "request STRUCT(uid VARCHAR, data VARCHAR), response STRUCT(error VARCHAR, message VARCHAR, data VARCHAR))",
    "cloud": "STRUCT(provider VARCHAR, region VARCHAR, account STRUCT(uid VARCHAR))",
    "src_endpoint": "STRUCT(ip VARCHAR, domain VARCHAR, uid VARCHAR)",
    "http_request": "STRUCT(user_agent VARCHAR)",
    "unmapped": "MAP(VARCHAR, VARCHAR)",
    "region": "VARCHAR", "accountId": "VARCHAR", "eventDay": "VARCHAR",
}
"""The Parquet columns written (a subset of the OCSF API Activity class); the last three are the partitions."""
PARTITIONS = ("region", "accountId", "eventDay")
_ACTIVITIES = {1: "Create", 2: "Read", 3: "Update", 4: "Delete", 99: "Other"}


def _text(value: Any) -> str | None:
    """A string value, or None for anything else (R4: a field of the wrong type is absent)."""
    return value if isinstance(value, str) and value else None


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def event_time(record: dict[str, Any]) -> datetime | None:
    """``eventTime`` as an aware UTC datetime, or None when it is missing or not an ISO 8601 time."""
    text = _text(record.get("eventTime"))
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
    except ValueError:
        return None
    return value.astimezone(timezone.utc) if value and value.tzinfo else None


def flatten(prefix: str, value: Any, out: dict[str, str]) -> None:
    """Nested objects as dotted keys (``tlsDetails.clientProvidedHostHeader``); other values as text."""
    if isinstance(value, dict):
        for key in sorted(value):
            flatten(f"{prefix}.{key}", value[key], out)
    elif isinstance(value, str):
        out[prefix] = value
    elif value is not None:
        out[prefix] = orjson.dumps(value).decode()


def activity_of(record: dict[str, Any]) -> int:
    """OCSF activity_id from the API name: Create 1, Read 2, Update 3, Delete 4, Other 99."""
    name = _text(record.get("eventName")) or ""
    if record.get("readOnly") is True or name.startswith(("Get", "List", "Describe")):
        return 2
    for prefix, activity in (("Create", 1), ("Delete", 4), ("Update", 3), ("Put", 3), ("Modify", 3)):
        if name.startswith(prefix):
            return activity
    return 99


def to_ocsf(record: dict[str, Any], folder_account: str | None = None) -> dict[str, Any] | None:
    """One CloudTrail record as an OCSF API Activity row (None when it has no usable eventTime)."""
    when = event_time(record)
    if when is None:
        return None
    identity = _object(record.get("userIdentity"))
    session = _object(identity.get("sessionContext"))
    source_ip = _text(record.get("sourceIPAddress"))
    is_ip = source_ip is not None and (source_ip.replace(".", "").isdigit() or ":" in source_ip)
    activity = activity_of(record)
    unmapped: dict[str, str] = {}
    for key in sorted(set(record) - MAPPED):
        flatten(key, record[key], unmapped)
    region = _text(record.get("awsRegion"))
    account = _text(record.get("recipientAccountId")) or folder_account
    return {
        "time": int(when.timestamp() * 1000), "time_dt": when.strftime("%Y-%m-%d %H:%M:%S"),
        "class_uid": 6003, "class_name": "API Activity", "category_uid": 6, "category_name": "Application Activity",
        "activity_id": activity, "activity_name": _ACTIVITIES[activity], "type_uid": 600300 + activity,
        "severity_id": 1, "status": "Failure" if _text(record.get("errorCode")) else "Success",
        "metadata": {"uid": _text(record.get("eventID")), "event_code": _text(record.get("eventType")),
                     "version": OCSF_VERSION, "product": {"name": "CloudTrail", "vendor_name": "AWS",
                                                          "version": _text(record.get("eventVersion"))}},
        "actor": {"user": {"type": _text(identity.get("type")), "uid": _text(identity.get("arn")),
                           "uid_alt": _text(identity.get("principalId")), "name": _text(identity.get("userName")),
                           "credential_uid": _text(identity.get("accessKeyId")),
                           "account": {"uid": _text(identity.get("accountId"))}},
                  "session": {"issuer": _text(_object(session.get("sessionIssuer")).get("arn"))},
                  "invoked_by": _text(identity.get("invokedBy")),
                  "idp": {"name": _text(identity.get("identityProvider"))}},
        "api": {"operation": _text(record.get("eventName")), "version": _text(record.get("apiVersion")),
                "service": {"name": _text(record.get("eventSource"))},
                "request": {"uid": _text(record.get("requestID")), "data": _json(record.get("requestParameters"))},
                "response": {"error": _text(record.get("errorCode")), "message": _text(record.get("errorMessage")),
                             "data": _json(record.get("responseElements"))}},
        "cloud": {"provider": "AWS", "region": region, "account": {"uid": _text(record.get("recipientAccountId"))}},
        "src_endpoint": {"ip": source_ip if is_ip else None, "domain": None if is_ip else source_ip,
                         "uid": _text(record.get("vpcEndpointId"))},
        "http_request": {"user_agent": _text(record.get("userAgent"))},
        "unmapped": unmapped,
        "region": region or "unknown", "accountId": account or "unknown", "eventDay": when.strftime("%Y%m%d"),
    }


def _rows(trail_root: Path) -> Iterator[dict[str, Any]]:
    everything = (datetime(1970, 1, 1, tzinfo=timezone.utc), datetime(2100, 1, 1, tzinfo=timezone.utc))
    for trail_file in discover(trail_root, *everything).files:
        try:
            records = read_records(trail_file.path)
        except (InvalidTrailFile, OSError):
            continue
        folder_account = Path(trail_file.path).name.split("_")[0]
        for record in records:
            row = to_ocsf(record, folder_account if folder_account.isdigit() else None) \
                if isinstance(record, dict) else None
            if row is not None:
                yield row


def write_lake(trail_root: Path, out_dir: Path, drop: tuple[str, ...] = ()) -> Path:
    """Convert the trail files under ``trail_root`` into Security Lake Parquet under ``out_dir``;
    the folder of the source version (``out_dir/aws/CLOUD_TRAIL_MGMT/2.0``). ``drop`` lists
    ``unmapped`` keys a pipeline lost (tests of "did the fields survive?")."""
    target = Path(out_dir) / LAKE_PREFIX
    target.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect()
    connection.execute("SET threads = 1")
    connection.execute("SET enable_progress_bar = false")
    with tempfile.NamedTemporaryFile(suffix=".ndjson") as handle:
        for row in _rows(Path(trail_root)):
            for key in drop:
                row["unmapped"].pop(key, None)
            handle.write(orjson.dumps(row) + b"\n")
        handle.flush()
        events = connection.read_json(handle.name, format="newline_delimited", columns=dict(COLUMNS))
        ordered = events.order("region, accountId, eventDay, time, metadata.uid")
        ordered.write_parquet(str(target), partition_by=list(PARTITIONS), overwrite=True)
    return target


def main(argv: list[str] | None = None) -> None:
    """``python -m kit.ocsf --data data/samples/trail --out out/security-lake [--drop KEY]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m kit.ocsf", description="Write trail files as Security Lake "
                                     "OCSF Parquet files (for --source security-lake --path OUT).")
    parser.add_argument("--data", type=Path, default=Path("data/samples/trail"), help="folder of trail files")
    parser.add_argument("--out", type=Path, default=Path("out/security-lake"), help="folder to write into")
    parser.add_argument("--drop", action="append", default=[], metavar="KEY",
                        help=f"leave out an unmapped key, as a lossy pipeline would (e.g. {UNMAPPED_SERVING_REGION})")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        parser.error(f"{args.data} is not a folder of trail files")
    print(f"Security Lake Parquet files written under {write_lake(args.data, args.out, tuple(args.drop))}")


if __name__ == "__main__":
    main()
