"""Allow or deny one action in one request context, over an account's policy layers.

Semantics (IAM policy evaluation, reduced to what the Region check needs): any matching Deny
in any layer denies; otherwise every layer must have a matching Allow. SCPs form one layer per
level of the account's path (root, OUs, account), so an allow-list SCP at any level restricts;
identity and VPC endpoint policies are one layer each, when given. Condition keys missing from
the context follow IAM's missing-key rules and are reported as assumed absent.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from kit.policy.document import Condition, Policy, Statement

_NEGATED = {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "ArnNotEquals", "ArnNotLike"}


def _find(segment: str, value: str, start: int, end: int) -> int:
    """Leftmost position where ``segment`` (``?`` = any one character) fits in ``value[start:end]``, or -1."""
    if "?" not in segment:
        return value.find(segment, start, end)
    for position in range(start, end - len(segment) + 1):
        if all(p == "?" or p == v for p, v in zip(segment, value[position:position + len(segment)])):
            return position
    return -1


def _fits(segment: str, text: str) -> bool:
    """``text`` is exactly ``segment`` (``?`` = any one character)."""
    return len(segment) == len(text) and all(p == "?" or p == v for p, v in zip(segment, text))


def matches(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """IAM wildcard match: ``*`` any run of characters, ``?`` one character.

    No backtracking: the pattern is cut at its ``*`` into literal segments; the first must start
    the value, the last must end it, and each one between is placed at its leftmost fit after the
    previous one (leftmost is always safe, since a ``*`` can absorb whatever lies between). Each
    segment is placed once, so a pattern with many ``*`` costs one scan of the value per segment.
    """
    if ignore_case:
        pattern, value = pattern.lower(), value.lower()
    if "*" not in pattern:
        return _fits(pattern, value)
    first, *middle, last = pattern.split("*")
    if len(first) + len(last) > len(value) or not _fits(first, value[:len(first)]) \
            or not _fits(last, value[len(value) - len(last):]):
        return False
    position, end = len(first), len(value) - len(last)
    for segment in middle:
        if not segment:
            continue
        found = _find(segment, value, position, end)
        if found < 0:
            return False
        position = found + len(segment)
    return True


def _value_matches(base: str, policy_value: str, value: str) -> bool:
    if base in ("StringLike", "StringNotLike", "ArnLike", "ArnNotLike", "ArnEquals", "ArnNotEquals"):
        return matches(policy_value, value)
    if base in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "Bool"):
        return policy_value.lower() == value.lower()
    return policy_value == value


def _one(condition: Condition, value: str) -> bool:
    """The operator applied to one request value (negated operators: matches none of the values)."""
    hit = any(_value_matches(condition.base, policy_value, value) for policy_value in condition.values)
    return not hit if condition.base in _NEGATED else hit


def condition_holds(condition: Condition, context: dict[str, tuple[str, ...]]) -> bool:
    """Whether one condition is met; ``context`` maps lower-case keys to request values."""
    values = context.get(condition.key)
    if condition.base == "Null":
        return (values is None) == (condition.values[0].lower() == "true")
    if not values:
        if condition.if_exists or condition.qualifier == "all":
            return True
        return condition.qualifier is None and condition.base in _NEGATED
    if condition.qualifier == "all":
        return all(_one(condition, value) for value in values)
    return any(_one(condition, value) for value in values)


@dataclass(frozen=True)
class Request:
    """What is asked: an action (``sts:AssumeRole``) and condition-key values; resource unknown = any."""

    action: str
    context: dict[str, tuple[str, ...]]
    resource: str | None = None

    def with_region(self, region: str) -> Request:
        """The same request reporting ``aws:RequestedRegion = region``."""
        return Request(self.action, {**self.context, "aws:requestedregion": (region,)}, self.resource)


def _action_applies(statement: Statement, action: str) -> bool:
    if statement.not_actions is not None:
        return not any(matches(pattern, action, True) for pattern in statement.not_actions)
    return any(matches(pattern, action, True) for pattern in statement.actions)


def _resource_applies(statement: Statement, resource: str | None) -> bool:
    if resource is None:
        return True
    if statement.not_resources is not None:
        return not any(matches(pattern, resource) for pattern in statement.not_resources)
    return any(matches(pattern, resource) for pattern in statement.resources)


def statement_applies(statement: Statement, request: Request) -> bool:
    """Action, resource and every condition match."""
    return (_action_applies(statement, request.action) and _resource_applies(statement, request.resource)
            and all(condition_holds(condition, request.context) for condition in statement.conditions))


def exempted_by(statement: Statement, request: Request) -> bool:
    """A Deny whose conditions hold but whose NotAction leaves ``request.action`` out."""
    return (statement.effect == "Deny" and statement.not_actions is not None
            and not _action_applies(statement, request.action) and _resource_applies(statement, request.resource)
            and all(condition_holds(condition, request.context) for condition in statement.conditions))


@dataclass(frozen=True)
class Layer:
    """Policies that must together allow the action: one SCP level, identity or VPC endpoint policies."""

    name: str  # e.g. "SCPs on ou-a1b2-identity"
    policies: tuple[Policy, ...]


@dataclass(frozen=True)
class Hit:
    """A statement that decided, or helped decide."""

    layer: str
    policy: Policy
    statement: Statement

    def describe(self) -> str:
        """``scp p-1 'Name' statement Sid``."""
        return f"{self.policy.label} statement {self.statement.label}"


@dataclass(frozen=True)
class Decision:
    """Allowed or not; ``deny`` is the deciding Deny, ``missing_allow`` the layer nothing allowed in."""

    allowed: bool
    deny: Hit | None = None
    missing_allow: Layer | None = None
    allows: tuple[Hit, ...] = ()
    assumed_absent: tuple[str, ...] = field(default=())


def _absent_keys(layers: tuple[Layer, ...], context: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    keys = {condition.key for layer in layers for policy in layer.policies for statement in policy.statements
            for condition in statement.conditions}
    return tuple(sorted(key for key in keys if key not in context))


def decide(layers: tuple[Layer, ...], request: Request) -> Decision:
    """Explicit deny wins; else each layer needs an Allow; no layers at all means allowed."""
    absent = _absent_keys(layers, request.context)
    for layer in layers:
        for policy in layer.policies:
            for statement in policy.statements:
                if statement.effect == "Deny" and statement_applies(statement, request):
                    return Decision(False, deny=Hit(layer.name, policy, statement), assumed_absent=absent)
    allows = []
    for layer in layers:
        hit = next((Hit(layer.name, policy, statement) for policy in layer.policies for statement in policy.statements
                    if statement.effect == "Allow" and statement_applies(statement, request)), None)
        if hit is None:
            return Decision(False, missing_allow=layer, allows=tuple(allows), assumed_absent=absent)
        allows.append(hit)
    return Decision(True, allows=tuple(allows), assumed_absent=absent)


def exemptions(layers: tuple[Layer, ...], request: Request) -> tuple[Hit, ...]:
    """Deny statements that would apply to this request but for their NotAction exemption."""
    return tuple(Hit(layer.name, policy, statement) for layer in layers for policy in layer.policies
                 for statement in policy.statements if exempted_by(statement, request))
