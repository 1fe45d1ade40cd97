"""What an engine read, skipped and why (the read report of every rollup, the basis of summary.json).

No pandas here: the local engine's worker processes count their skips into it before the parent
imports pandas (``kit.engines.local``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DUPLICATE_REASON = "duplicate event (same eventID delivered again)"
"""The skip reason of an event whose eventID was already counted (``kit.events.SKIP_DUPLICATE``)."""


@dataclass
class ReadReport:
    """What an engine read, skipped and why: the basis of summary.json."""

    sources: list[str] = field(default_factory=list)
    files_read: int = 0
    files_ignored: int = 0
    invalid_files: dict[str, str] = field(default_factory=dict)
    events_read: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    engine_stats: dict[str, Any] = field(default_factory=dict)
    field_gaps: dict[str, int] = field(default_factory=dict)
    """Post-rollout STS calls lacking endpointType, awsServingRegion or the host header (kit.fieldgaps)."""

    def skip(self, reason: str, count: int = 1) -> None:
        """Count ``count`` events left out for ``reason``."""
        self.skipped[reason] = self.skipped.get(reason, 0) + count

    def skipped_text(self) -> str:
        """The skip counts as one line: '3 outside the time window; 1 no eventTime'."""
        return "; ".join(f"{count:,} {reason}" for reason, count in sorted(self.skipped.items())) or "none"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view."""
        return {
            "sources": self.sources,
            "files_read": self.files_read,
            "files_ignored": self.files_ignored,
            "files_invalid": len(self.invalid_files),
            "invalid_files": dict(sorted(self.invalid_files.items())),
            "events_read": self.events_read,
            "events_skipped": dict(sorted(self.skipped.items())),
            "duplicates_dropped": self.skipped.get(DUPLICATE_REASON, 0),
            "notes": self.notes,
            "field_gaps": dict(sorted(self.field_gaps.items())),
            "engine": self.engine_stats,
        }
