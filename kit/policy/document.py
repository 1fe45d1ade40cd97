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


def _strings(policy: str, field: str, value: Any) -> tuple[str, ...]:
    items = [value] if isinstance(value, (str, bool, int)) else value
    if not isinstance(items, list) or not all(isinstance(item, (str, bool, int)) for item in items):
        raise PolicyError(policy, f"{field} must be a string or a list of strings, got {json.dumps(value)}")
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
        raise PolicyError(policy, f"{where}: Condition must be an object of operators")
    out = []
    for operator, keys in block.items():
        base, qualifier, if_exists = _operator(policy, where, operator)
        if not isinstance(keys, dict):
            raise PolicyError(policy, f"{where}: {operator} must map condition keys to values")
        for key, values in keys.items():
            out.append(Condition(operator, base, qualifier, if_exists, key.lower(),
                                 _strings(policy, f"{where} {operator} {key}", values)))
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
        raise PolicyError(policy, f"{where} is not a JSON object")
    sid = str(raw.get("Sid", ""))
    where = f"statement {sid or index}"
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        problem = "has no Effect" if effect is None else f"has Effect {effect!r}"
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
        try:
            document = json.loads(document)
        except json.JSONDecodeError as error:
            raise PolicyError(label, f"not valid JSON ({error}); export it again or fix the file") from None
    if not isinstance(document, dict) or "Statement" not in document:
        raise PolicyError(label, 'has no "Statement"; expected a policy document {"Version": ..., "Statement": ...}')
    raw = document["Statement"]
    statements = raw if isinstance(raw, list) else [raw]
    return Policy(kind, policy_id, name, tuple(_statement(label, i, s) for i, s in enumerate(statements)))


def load_policy_file(path: Path, kind: str) -> Policy:
    """A policy file: a bare document, or ``aws organizations describe-policy`` output (id and name kept)."""
    label = f"{kind} {path.name}"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise PolicyError(label, f"cannot be read ({error.strerror}); check the mapping file's paths") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise PolicyError(label, f"not valid JSON ({error}); export it again or fix the file") from None
    if isinstance(data, dict) and isinstance(data.get("Policy"), dict):
        summary = data["Policy"].get("PolicySummary", {})
        return parse_policy(data["Policy"].get("Content", ""), kind, summary.get("Id", path.stem),
                            summary.get("Name", ""))
    return parse_policy(data, kind, path.stem)
