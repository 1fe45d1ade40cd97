"""Concrete per-tool fix for moving an STS caller off the global endpoint (sts-facts.md section 6)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from kit.regions import regional_endpoint
from kit.useragent import ClientTool

_FLAG = "AWS_STS_REGIONAL_ENDPOINTS=regional (shared config `sts_regional_endpoints = regional`)"
_NO_CHANGE = frozenset({"aws-service", "aws-console"})
_ALWAYS_REGIONAL = frozenset({"aws-sdk-rust", "aws-sdk-kotlin", "aws-sdk-swift"})
_WRAPS_SDK = frozenset({"aws-cdk", "github-actions"})

# (family, major version) -> first version that defaults to Regional; None = legacy (global) in every release.
_REGIONAL_SINCE: dict[tuple[str, int | None], tuple[int, ...] | None] = {
    ("boto3", 1): (1, 40, 0),
    ("botocore", 1): (1, 40, 0),
    ("aws-cli", 1): (1, 42, 0),
    ("aws-cli", 2): (),
    ("aws-sdk-java", 1): None,
    ("aws-sdk-java", 2): (),
    ("aws-sdk-go", 1): None,
    ("aws-sdk-go-v2", 1): (),
    ("aws-sdk-js", 2): None,
    ("aws-sdk-js", 3): (),
    ("aws-sdk-php", 3): (3, 351, 12),
    ("aws-sdk-dotnet", 4): (),
    ("aws-sdk-ruby", 3): (),
}

_REGION_NOTES: dict[tuple[str, int | None], str] = {
    ("aws-cli", 2): "AWS CLI v2 falls back to the global endpoint when no Region is configured.",
    ("aws-sdk-java", 2): "Java v2 AssumeRole and web-identity credentials use the global endpoint when no Region is configured.",
    ("aws-sdk-go-v2", 1): "aws-sdk-go-v2 requests fail when no Region is configured.",
    ("aws-sdk-js", 3): "JS v3 calls the us-east-1 Regional endpoint when no Region is configured.",
}

_SET_REGION = (
    "set-region",
    "Regional by default: set the Region (AWS_REGION={region}) and remove any explicit global endpoint "
    "(https://sts.amazonaws.com or Region aws-global).",
)
_CLI_V2 = (
    "set-region",
    "Regional by default: set the Region (AWS_REGION={region} or --region {region}) and remove any "
    "`--endpoint-url https://sts.amazonaws.com` or `--region aws-global`.",
)
_TERRAFORM_V2 = (
    "set-region",
    'Set `sts_region = "{region}"` in the AWS provider block, or `endpoints {{ sts = "{endpoint}" }}`.',
)
_GITHUB_ACTIONS = (
    "upgrade",
    "Set the `aws-region` input ({region}) of aws-actions/configure-aws-credentials and upgrade the action "
    "to its latest major version.",
)
_CUSTOM = ("set-endpoint", "Configure an explicit STS endpoint in this client; its user agent names no known AWS SDK.")
_LEGACY: dict[str, tuple[str, str]] = {
    "boto3": ("upgrade", "Upgrade boto3 to 1.40.0 or later, or set {flag}."),
    "botocore": ("upgrade", "Upgrade botocore to 1.40.0 or later (boto3 1.40.0+), or set {flag}."),
    "aws-cli": ("upgrade", "Upgrade the AWS CLI to 1.42.0 or later (or to v2), or set {flag}."),
    "aws-sdk-java": ("set-regional-flag", "Set {flag}, or migrate to the AWS SDK for Java 2.x."),
    "aws-sdk-go": (
        "set-regional-flag",
        "Set AWS_STS_REGIONAL_ENDPOINTS=regional (the shared-config `sts_regional_endpoints` setting is read "
        "only with AWS_SDK_LOAD_CONFIG=1), or migrate to aws-sdk-go-v2.",
    ),
    "aws-sdk-js": (
        "set-regional-flag",
        "Set AWS_STS_REGIONAL_ENDPOINTS=regional or the STS client option `stsRegionalEndpoints: 'regional'`, "
        "or move to the AWS SDK for JavaScript v3.",
    ),
    "aws-sdk-php": ("upgrade", "Upgrade aws/aws-sdk-php to 3.351.12 or later, or set {flag}."),
    "aws-sdk-dotnet": (
        "upgrade",
        "Upgrade AWSSDK.Core to a release after 31 Jul 2025 (exact version floor UNCONFIRMED), or set {flag}.",
    ),
    "aws-powershell": (
        "upgrade",
        "Upgrade AWS Tools for PowerShell to a release after 31 Jul 2025 (exact version floor UNCONFIRMED), "
        "or set {flag}.",
    ),
    "aws-sdk-ruby": _SET_REGION,
    "aws-sdk-cpp": (
        "set-endpoint",
        "Set `endpointOverride` in the STS client's ClientConfiguration to the target endpoint; sources conflict "
        "on whether STSClient still defaults to the global endpoint.",
    ),
    "aws-cdk": (
        "upgrade",
        "Upgrade the AWS CDK CLI to a release built on the AWS SDK for JavaScript v3 (user agent aws-sdk-js/3.x), "
        "or set AWS_STS_REGIONAL_ENDPOINTS=regional while it runs on JS v2.",
    ),
    "terraform": (
        "upgrade-provider",
        'Upgrade the AWS provider to v5 or set `sts_region = "{region}"` in the provider block; for the S3 backend '
        "and other aws-sdk-go v1 callers also set AWS_STS_REGIONAL_ENDPOINTS=regional.",
    ),
}


@dataclass(frozen=True)
class Fix:
    """Recommended change: action code, concrete text, and a warning about running without a Region."""

    action: str
    fix: str
    region_note: str


def version_tuple(version: str) -> tuple[int, ...]:
    """Leading numeric dot-separated parts: '3.351.12' -> (3, 351, 12), '2.0rc1' -> (2, 0), '' -> ()."""
    match = re.match(r"\d+(?:\.\d+)*", version)
    return tuple(int(part) for part in match.group().split(".")) if match else ()


def _major(version: str) -> int | None:
    """Major version number, or None when the version does not start with a number."""
    parts = version_tuple(version)
    return parts[0] if parts else None


def _below(version: str, floor: tuple[int, ...]) -> bool:
    """True when ``version`` sorts before ``floor`` (missing trailing parts count as 0)."""
    parts = version_tuple(version)
    return parts + (0,) * (len(floor) - len(parts)) < floor


def defaults_to_global(tool: ClientTool) -> bool | None:
    """True if this tool+version uses the global STS endpoint by default, False if Regional, None if unknown."""
    if tool.tool in _WRAPS_SDK and tool.sdk != tool.tool:
        tool = ClientTool(tool.sdk, tool.sdk_version, tool.sdk, tool.sdk_version)
    if tool.tool in _ALWAYS_REGIONAL:
        return False
    key = (tool.tool, _major(tool.version))
    if key not in _REGIONAL_SINCE:
        return None
    floor = _REGIONAL_SINCE[key]
    return True if floor is None else _below(tool.version, floor)


def _template(tool: ClientTool) -> tuple[str, str]:
    """(action, text template) for a tool that needs a change."""
    if tool.tool == "terraform" and tool.sdk == "aws-sdk-go-v2":
        return _TERRAFORM_V2
    if tool.tool == "aws-cli" and _major(tool.version) == 2:
        return _CLI_V2
    if tool.tool == "github-actions":
        return _GITHUB_ACTIONS
    if defaults_to_global(tool) is False:
        return _SET_REGION
    return _LEGACY.get(tool.tool, _CUSTOM)


def fix_for(tool: ClientTool, target_region: str | None) -> Fix:
    """Fix that moves ``tool`` to the Regional endpoint of ``target_region`` (None = Region not yet known)."""
    if tool.tool in _NO_CHANGE:
        return Fix("none", "No change: an AWS service or the AWS console made this call on your behalf.", "")
    region = target_region or "<region>"
    action, template = _template(tool)
    text = template.format(region=region, flag=_FLAG, endpoint=regional_endpoint(region))
    if target_region:
        target = f"Target endpoint: {regional_endpoint(target_region)}."
    else:
        target = "Determine the Region first: the target is the Regional endpoint of the Region where it runs."
    note = _REGION_NOTES.get((tool.tool, _major(tool.version)), "")
    return Fix(action, f"{text} {target}", note)
