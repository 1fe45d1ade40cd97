"""Did the fields survive? STS events after the 2025 rollout must carry ``endpointType``,
``awsServingRegion`` and the host header; pipelines that drop them (one public pipeline drops
``awsServingRegion`` as a "duplicate of awsRegion") leave the plan blind. Engines count the
callers' STS events after ``ROLLOUT`` that lack each field (query ``field_gaps.sql``) and put
the counts in the ReadReport (``field_gaps`` in summary.json) with a note.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from kit.readreport import ReadReport

ROLLOUT = datetime(2025, 4, 15, tzinfo=timezone.utc)
"""Events from this instant on are "post-change": the date of ``kit.views.ROLLOUT_DATE`` (a test keeps
them equal; kept here so the query renderer does not import the plan's views)."""
FIELDS = {"endpoint_type": "endpointType", "serving_region": "awsServingRegion",
          "host": "tlsDetails.clientProvidedHostHeader"}
"""Column of field_gaps.sql -> the CloudTrail field it counts as missing."""
BLIND_SPOTS = {"endpointType": "whether a call was global or Regional",
               "awsServingRegion": "which Region served a global call",
               "tlsDetails.clientProvidedHostHeader": "the host a caller used"}
"""What the plan cannot tell for a call without the field."""


def missing_in(event: dict[str, Any]) -> list[str]:
    """The fields of ``FIELDS`` a CloudTrail record lacks (a value of the wrong type counts as
    missing), for an engine that judges records in Python (the local engine's callers' STS calls
    after ``ROLLOUT``)."""
    details = event.get("additionalEventData")
    details = details.get("RequestDetails") if isinstance(details, dict) else None
    details = details if isinstance(details, dict) else {}
    tls = event.get("tlsDetails") if isinstance(event.get("tlsDetails"), dict) else {}
    values = {"endpointType": details.get("endpointType"), "awsServingRegion": details.get("awsServingRegion"),
              "tlsDetails.clientProvidedHostHeader": tls.get("clientProvidedHostHeader")}
    return [field for field, value in values.items() if not (isinstance(value, str) and value)]


def record(report: ReadReport, missing: dict[str, int], events: int) -> None:
    """Put the per-field counts of post-rollout STS events lacking a field into ``report``, with a
    note when any is missing (the integrator shows it on the terminal and atop plan.md)."""
    gaps = {FIELDS[column]: count for column, count in missing.items() if count}
    report.field_gaps = dict(sorted(gaps.items()))
    if gaps:
        counts = ", ".join(f"{count:,} without {field}" for field, count in report.field_gaps.items())
        blind = "; ".join(BLIND_SPOTS[field] for field in report.field_gaps)
        report.notes.append(f"fields lost: of {events:,} STS calls since {ROLLOUT:%Y-%m-%d}, {counts}; for those "
                            f"the plan cannot tell {blind}: check the pipeline that delivers these events")
