"""Policy documents: parse IAM policy JSON (SCPs, identity and VPC endpoint policies) strictly.

Only what the Region check needs is modelled: Effect, Action/NotAction, Resource/NotResource and
Condition. Anything the evaluator could misread (missing Effect, unknown operator, bad JSON)
raises ``PolicyError`` naming the policy, so no policy is ever silently ignored.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kit.errors import PolicyError

OPERATORS = frozenset({
    "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
    "StringLike", "StringNotLike", "ArnEquals", "ArnNotEquals", "ArnLike", "ArnNotLike", "Bool", "Null",
})
QUALIFIERS = {"ForAnyValue": "any", "ForAllValues": "all"}
MAX_POLICY_BYTES = 1_000_000
"""Larger files are refused unread: IAM caps policy documents at a few kilobytes (SCPs 5,120 characters)."""


@dataclass(frozen=True)
class Condition:
    """One key of one condition operator, e.g. ``StringNotEqualsIfExists aws:RequestedRegion [..]``."""

    operator: str  # as written in the policy
    base: str  # operator without qualifier and IfExists, e.g. StringNotEquals
    qualifier: str | None  # "any", "all" or None
    if_exists: bool
    key: str  # lower case: condition keys are case-insensitive
    values: tuple[str, ...]


@dataclass(frozen=True)
class Statement:
    """One statement; ``label`` is its Sid or, without one, ``#<index>`` (0-based)."""

    index: int
    sid: str
    effect: str  # "Allow" or "Deny"
    actions: tuple[str, ...]
    not_actions: tuple[str, ...] | None
    resources: tuple[str, ...]
    not_resources: tuple[str, ...] | None
    conditions: tuple[Condition, ...]

    @property
    def label(self) -> str:
        """Sid, or the statement's position when it has none."""
        return self.sid or f"#{self.index}"


@dataclass(frozen=True)
class Policy:
    """A parsed policy: ``kind`` is scp, identity or vpc-endpoint."""

    kind: str
    id: str
    name: str
    statements: tuple[Statement, ...]

    @property
    def label(self) -> str:
        """How findings name the policy, e.g. ``scp p-abc123 'DenyOutsideApprovedRegions'``."""
        name = f" '{self.name}'" if self.name and self.name != self.id else ""
        return f"{self.kind} {self.id}{name}"


def shape_of(value: Any) -> str:
    """What a JSON value is, in words, without printing it (it may be huge or deeply nested)."""
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value[:40]!r}" + ("..." if len(value) > 40 else "")
    if value is None:
        return "null"
    return {dict: "an object", list: "a list"}.get(type(value), type(value).__name__)


def _strings(policy: str, field: str, value: Any) -> tuple[str, ...]:
    """A string or list of strings; booleans and whole numbers (``"Bool": {...: true}``) as IAM reads them."""
    items = [value] if isinstance(value, (str, bool, int)) else value
    if not isinstance(items, list):
        raise PolicyError(policy, f"{field} must be a string or a list of strings, got {shape_of(value)}")
    bad = next((item for item in items if not isinstance(item, (str, bool, int))), None)
    if bad is not None:
        raise PolicyError(policy, f"{field} must be a string or a list of strings, got a list holding {shape_of(bad)}")
    return tuple(str(item).lower() if isinstance(item, bool) else str(item) for item in items)


def _operator(policy: str, where: str, operator: str) -> tuple[str, str | None, bool]:
    qualifier = None
    base = operator
    if ":" in base:
        prefix, base = base.split(":", 1)
        if prefix not in QUALIFIERS:
            raise PolicyError(policy, f"{where}: unknown set operator {prefix!r} in {operator!r} "
                                      "(use ForAnyValue or ForAllValues)")
        qualifier = QUALIFIERS[prefix]
    if_exists = base.endswith("IfExists") and base != "Null"
    base = base.removesuffix("IfExists") if if_exists else base
    if base not in OPERATORS:
        raise PolicyError(policy, f"{where}: unknown condition operator {operator!r}; "
                                  f"supported: {', '.join(sorted(OPERATORS))} (+IfExists, ForAnyValue:, ForAllValues:)")
    return base, qualifier, if_exists


def _conditions(policy: str, where: str, block: Any) -> tuple[Condition, ...]:
    if block is None:
        return ()
    if not isinstance(block, dict):
        raise PolicyError(policy, f"{where}: Condition must be an object of operators, got {shape_of(block)}")
    out = []
    for operator, keys in block.items():
        base, qualifier, if_exists = _operator(policy, where, operator)
        if not isinstance(keys, dict):
            raise PolicyError(policy, f"{where}: {operator} must map condition keys to values, got {shape_of(keys)}")
        for key, values in keys.items():
            strings = _strings(policy, f"{where} {operator} {key}", values)
            if base == "Null" and (len(strings) != 1 or strings[0].lower() not in ("true", "false")):
                raise PolicyError(policy, f"{where}: Null {key} must be true or false")
            out.append(Condition(operator, base, qualifier, if_exists, key.lower(), strings))
    return tuple(out)


def _pair(policy: str, where: str, raw: dict[str, Any], name: str) -> tuple[tuple[str, ...], tuple[str, ...] | None]:
    positive, negative = raw.get(name), raw.get(f"Not{name}")
    if positive is not None and negative is not None:
        raise PolicyError(policy, f"{where}: has both {name} and Not{name}")
    if negative is not None:
        return (), _strings(policy, f"{where} Not{name}", negative)
    if positive is None:
        return ("*",), None  # SCPs may omit Resource; treat as every resource
    return _strings(policy, f"{where} {name}", positive), None


def _statement(policy: str, index: int, raw: Any) -> Statement:
    where = f"statement {index}"
    if not isinstance(raw, dict):
        raise PolicyError(policy, f"{where} is not a JSON object but {shape_of(raw)}")
    sid = raw.get("Sid", "")
    if not isinstance(sid, (str, int)) or isinstance(sid, bool):
        raise PolicyError(policy, f"{where}: Sid must be text, got {shape_of(sid)}")
    sid = str(sid)
    where = f"statement {sid or index}"
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        shown = repr(effect[:40]) if isinstance(effect, str) else shape_of(effect)
        problem = "has no Effect" if effect is None else f"has Effect {shown}"
        raise PolicyError(policy, f"{where} {problem}; write \"Effect\": \"Allow\" or \"Deny\"")
    if raw.get("Action") is None and raw.get("NotAction") is None:
        raise PolicyError(policy, f"{where} has neither Action nor NotAction")
    actions, not_actions = _pair(policy, where, raw, "Action")
    resources, not_resources = _pair(policy, where, raw, "Resource")
    return Statement(index, sid, effect, actions, not_actions, resources, not_resources,
                     _conditions(policy, where, raw.get("Condition")))


def parse_policy(document: Any, kind: str, policy_id: str, name: str = "") -> Policy:
    """A ``Policy`` from a policy document (dict or JSON text); ``PolicyError`` when malformed."""
    label = f"{kind} {policy_id}" + (f" '{name}'" if name and name != policy_id else "")
    if isinstance(document, str):
        document = _json(label, document)
    if not isinstance(document, dict) or "Statement" not in document:
        raise PolicyError(label, 'has no "Statement"; expected a policy document {"Version": ..., "Statement": ...}')
    raw = document["Statement"]
    statements = raw if isinstance(raw, list) else [raw]
    return Policy(kind, policy_id, name, tuple(_statement(label, i, s) for i, s in enumerate(statements)))


def _json(label: str, text: str | bytes) -> Any:
    """Parsed JSON; bytes may be UTF-8 (with or without BOM), UTF-16 or UTF-32, as ``json`` detects them."""
    try:
        return json.loads(text)
    except UnicodeDecodeError as error:
        raise PolicyError(label, f"is not UTF-8, UTF-16 or UTF-32 text (bad byte at {error.start}); "
                                 "save it as UTF-8") from None
    except RecursionError:
        raise PolicyError(label, "is nested too deeply to be a policy document") from None
    except ValueError as error:
        raise PolicyError(label, f"not valid JSON ({error}); export it again or fix the file") from None


def _text(value: Any, default: str) -> str:
    return str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value) else default


def load_policy_file(path: Path, kind: str) -> Policy:
    """A policy file: a bare document, or ``aws organizations describe-policy`` output (id and name kept)."""
    label = f"{kind} {path.name}"
    try:
        if not path.is_file():
            raise PolicyError(label, "is missing or not a regular file; check the mapping file's paths")
        size = path.stat().st_size
        if size > MAX_POLICY_BYTES:
            raise PolicyError(label, f"is {size:,} bytes; a policy document is at most a few kilobytes")
        data = _json(label, path.read_bytes())
    except OSError as error:
        raise PolicyError(label, f"cannot be read ({error.strerror}); check the mapping file's paths") from None
    if isinstance(data, dict) and isinstance(data.get("Policy"), dict):
        summary = data["Policy"].get("PolicySummary")
        summary = summary if isinstance(summary, dict) else {}
        return parse_policy(data["Policy"].get("Content", ""), kind, _text(summary.get("Id"), path.stem),
                            _text(summary.get("Name"), ""))
    return parse_policy(data, kind, path.stem)
