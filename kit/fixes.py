"""Concrete per-tool fix for moving an STS caller off the global endpoint.

Every entry names its source (sts-facts.md section 6 and, for corrections after the first release,
section 9). Each fix says what to change, where, the target endpoint, and how to confirm it: the
verification step of kit/verify.py (kit/queries/verify_callers.sql on Lake and Athena) must show
no global call from the caller for a week after the change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kit.regions import regional_endpoint
from kit.useragent import ClientTool

_FLAG = "AWS_STS_REGIONAL_ENDPOINTS=regional (shared config `sts_regional_endpoints = regional`)"
_NO_CHANGE = frozenset({"aws-service", "aws-console"})
_ALWAYS_REGIONAL = frozenset({"aws-sdk-rust", "aws-sdk-kotlin", "aws-sdk-swift"})
_WRAPS_SDK = frozenset({"aws-cdk", "github-actions", "vault", "pulumi"})
CONFIRM = ("Confirm: a week after the change, the verification step of the plan (kit/queries/verify_callers.sql "
           "on Lake or Athena, or `sts-kit plan` on the new trail files) shows no global call from this caller.")

LEGACY_GLOBAL_REGIONS = frozenset({
    "ap-northeast-1", "ap-south-1", "ap-southeast-1", "ap-southeast-2", "aws-global", "ca-central-1",
    "eu-central-1", "eu-north-1", "eu-west-1", "eu-west-2", "eu-west-3", "sa-east-1", "us-east-1", "us-east-2",
    "us-west-1", "us-west-2",
})
"""The 16 Regions that legacy mode sends to the global endpoint; every other Region uses its Regional
endpoint even in legacy mode (SDKs and Tools Reference Guide, "STS Regionalized endpoints";
aws/aws-sdk-go#2779; sts-facts.md section 9)."""

# (family, major version) -> first version that defaults to Regional; None = legacy (global) in every release.
# Sources: AWS Developer Tools Blog "Updating AWS SDK defaults - AWS STS service endpoint and Retry Strategy"
# (31 Jul 2025; boto/boto3#4583, aws/aws-cli#9634, PHP 3.351.12); Ruby: aws-sdk-core CHANGELOG 2020-03-20.
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
    ("aws-sdk-ruby", 3): (3, 92, 0),
}

# (family, major) -> (first version that reads the sts_regional_endpoints setting, source). Older ones must upgrade.
_SETTING_SINCE: dict[tuple[str, int], tuple[tuple[int, ...], str]] = {
    ("aws-sdk-java", 1): ((1, 11, 618), "1.11.618 (aws/aws-sdk-java#2023)"),
    ("aws-sdk-go", 1): ((1, 25, 18), "1.25.18 (the release that merged aws/aws-sdk-go#2779; exact number "
                                      "UNCONFIRMED)"),
    ("aws-sdk-ruby", 3): ((3, 71, 0), "aws-sdk-core 3.71.0 (aws-sdk-core CHANGELOG)"),
}

_REGION_NOTES: dict[tuple[str, int | None], str] = {
    ("aws-cli", 2): "AWS CLI v2 falls back to the global endpoint when no Region is configured.",
    ("aws-sdk-java", 2): "Java v2 AssumeRole and web-identity credentials use the global endpoint when no Region is configured.",
    ("aws-sdk-go-v2", 1): "aws-sdk-go-v2 requests fail when no Region is configured.",
    ("aws-sdk-js", 3): "JS v3 calls the us-east-1 Regional endpoint when no Region is configured.",
}


@dataclass(frozen=True)
class Entry:
    """One row of the fix table: action code, text template and where the facts come from."""

    action: str
    text: str
    source: str


_SET_REGION = Entry(
    "set-region",
    "Regional by default: set the Region (AWS_REGION={region}) and remove any explicit global endpoint "
    "(https://sts.amazonaws.com or Region aws-global).",
    "AWS Developer Tools Blog, 31 Jul 2025 (sts-facts.md section 9)",
)
_EXPLICIT_GLOBAL = Entry(
    "remove-global-config",
    "Legacy mode sends STS calls from {region} to the Regional endpoint (only 16 Regions go to the global "
    "endpoint), so this caller is configured for the global endpoint on purpose: find the Region us-east-1 or "
    "aws-global, or the endpoint URL https://sts.amazonaws.com, in its code, environment (AWS_REGION, "
    "AWS_DEFAULT_REGION, AWS_ENDPOINT_URL_STS) or shared config, and set the Region to {region} instead; "
    "the SDK switch alone changes nothing.",
    "SDKs and Tools Reference Guide, STS Regionalized endpoints; aws/aws-sdk-go#2779 (sts-facts.md section 9)",
)
_CLI_V2 = Entry(
    "set-region",
    "Regional by default: set the Region (AWS_REGION={region} or --region {region}) and remove any "
    "`--endpoint-url https://sts.amazonaws.com` or `--region aws-global`.",
    "AWS CLI v2 documentation (sts-facts.md section 6)",
)
_TERRAFORM_V2 = Entry(
    "set-region",
    'Set `sts_region = "{region}"` in the AWS provider block, or `endpoints {{ sts = "{endpoint}" }}`.',
    "Terraform AWS provider documentation (sts-facts.md section 6)",
)
_GITHUB_ACTIONS = Entry(
    "upgrade",
    "Set the `aws-region` input ({region}) of aws-actions/configure-aws-credentials and upgrade the action "
    "to its latest major version.",
    "aws-actions/configure-aws-credentials (sts-facts.md section 6)",
)
_CUSTOM = Entry("set-endpoint", "Configure an explicit STS endpoint in this client; its user agent names no known "
                                "AWS SDK.", "no fact: unknown client")
_UPGRADE_FOR_SETTING = Entry(
    "upgrade",
    "Upgrade to {since} or later: older releases cannot read the sts_regional_endpoints setting; then set "
    "{flag}, or move to the SDK's current major version.",
    "aws/aws-sdk-java#2023, aws/aws-sdk-go#2779, aws-sdk-core CHANGELOG (sts-facts.md section 9)",
)
_LEGACY: dict[str, Entry] = {
    "boto3": Entry("upgrade", "Upgrade boto3 to 1.40.0 or later, or set {flag}.", "boto/boto3#4583"),
    "botocore": Entry("upgrade", "Upgrade botocore to 1.40.0 or later (boto3 1.40.0+), or set {flag}.",
                      "boto/boto3#4583"),
    "aws-cli": Entry("upgrade", "Upgrade the AWS CLI to 1.42.0 or later (or to v2), or set {flag}.",
                     "aws/aws-cli#9634"),
    "aws-sdk-java": Entry("set-regional-flag", "Set {flag}, or migrate to the AWS SDK for Java 2.x.",
                          "sts-facts.md section 6; aws/aws-sdk-java#2023"),
    "aws-sdk-go": Entry(
        "set-regional-flag",
        "Set AWS_STS_REGIONAL_ENDPOINTS=regional (the shared-config `sts_regional_endpoints` setting is read "
        "only with AWS_SDK_LOAD_CONFIG=1), or migrate to aws-sdk-go-v2.",
        "sts-facts.md section 6; aws/aws-sdk-go#2779",
    ),
    "aws-sdk-js": Entry(
        "set-regional-flag",
        "Set AWS_STS_REGIONAL_ENDPOINTS=regional or the STS client option `stsRegionalEndpoints: 'regional'`, "
        "or move to the AWS SDK for JavaScript v3.",
        "sts-facts.md section 6",
    ),
    "aws-sdk-php": Entry("upgrade", "Upgrade aws/aws-sdk-php to 3.351.12 or later, or set {flag}.",
                         "AWS Developer Tools Blog, 31 Jul 2025"),
    "aws-sdk-dotnet": Entry(
        "upgrade",
        "Upgrade AWSSDK.Core to a release after 31 Jul 2025 (exact version floor UNCONFIRMED), or set {flag}.",
        "AWS Developer Tools Blog, 31 Jul 2025",
    ),
    "aws-powershell": Entry(
        "upgrade",
        "Upgrade AWS Tools for PowerShell to a release after 31 Jul 2025 (exact version floor UNCONFIRMED), "
        "or set {flag}.",
        "AWS Developer Tools Blog, 31 Jul 2025",
    ),
    "aws-sdk-ruby": Entry(
        "set-regional-flag",
        "Set {flag} (read from aws-sdk-core 3.71.0), or upgrade aws-sdk-core to 3.92.0 or later, "
        "which is Regional by default.",
        "aws-sdk-core CHANGELOG 2020-03-20 (sts-facts.md section 9)",
    ),
    "aws-sdk-cpp": Entry(
        "set-endpoint",
        "Set `endpointOverride` in the STS client's ClientConfiguration to the target endpoint; sources conflict "
        "on whether STSClient still defaults to the global endpoint.",
        "sts-facts.md section 6",
    ),
    "aws-cdk": Entry(
        "upgrade",
        "Upgrade the AWS CDK CLI to a release built on the AWS SDK for JavaScript v3 (user agent aws-sdk-js/3.x), "
        "or set AWS_STS_REGIONAL_ENDPOINTS=regional while it runs on JS v2.",
        "sts-facts.md section 6",
    ),
    "terraform": Entry(
        "upgrade-provider",
        'Upgrade the AWS provider to v5 or set `sts_region = "{region}"` in the provider block; for the S3 backend '
        "and other aws-sdk-go v1 callers also set AWS_STS_REGIONAL_ENDPOINTS=regional.",
        "Terraform AWS provider documentation (sts-facts.md sections 6 and 9)",
    ),
    "pulumi": Entry(
        "set-region",
        "Set the Pulumi AWS provider's `stsRegion` to {region} (`pulumi config set aws:stsRegion {region}`) or its "
        "`endpoints` sts entry to {endpoint}; providers built on aws-sdk-go v1 (pulumi-aws before v6) also need "
        "AWS_STS_REGIONAL_ENDPOINTS=regional in the environment of `pulumi up`.",
        "pulumi/pulumi-aws#2406 (sts-facts.md section 9)",
    ),
    "vault": Entry(
        "set-endpoint",
        "In HashiCorp Vault's AWS auth method set `sts_endpoint={endpoint}` and `sts_region={region}` "
        "(`vault write auth/aws/config/client ...`, or `use_sts_region_from_client=true`); for the AWS secrets "
        "engine set `sts_endpoint` and `sts_region` in aws/config/root.",
        "hashicorp/vault#28720 (sts-facts.md section 9)",
    ),
}
_HINTS: tuple[tuple[frozenset[str], frozenset[str], str], ...] = (
    # (SDK families, STS operations, hint): tools that send no user agent of their own, known by what they call.
    (frozenset(), frozenset({"AssumeRoleWithWebIdentity"}),
     'On EKS with IAM roles for service accounts, annotate the service account with '
     '`eks.amazonaws.com/sts-regional-endpoints: "true"` so the pod identity webhook injects '
     "AWS_STS_REGIONAL_ENDPOINTS=regional (aws/amazon-eks-pod-identity-webhook#110, aws/containers-roadmap#1599)."),
    (frozenset({"aws-sdk-go"}), frozenset({"AssumeRole"}),
     "If this is kube2iam (a node role assuming pod roles; it sends aws-sdk-go's user agent), start it with "
     "`--use-regional-sts-endpoint` and AWS_REGION set (jtblin/kube2iam#166, helm/charts#15092)."),
    (frozenset({"aws-sdk-go-v2"}), frozenset({"AssumeRole", "GetSessionToken", "GetFederationToken"}),
     "If this is aws-vault v7 (it sends aws-sdk-go-v2's user agent), remove `sts_regional_endpoints = legacy` "
     "from its profile: only that setting sends it to the global endpoint (99designs/aws-vault#662)."),
    (frozenset(), frozenset({"AssumeRoleWithSAML"}),
     "If this is saml2aws, set `region` for the account in ~/.saml2aws (or `--region`) and "
     "AWS_STS_REGIONAL_ENDPOINTS=regional (Versent/saml2aws#1313, #928)."),
)
"""Hints for tools with their own switch that CloudTrail cannot name (sts-facts.md section 9)."""
_TOOL_SWITCH = frozenset({"terraform", "pulumi", "vault", "github-actions"})
"""Tools whose own setting decides the endpoint, whatever the SDK inside does by default."""


@dataclass(frozen=True)
class Fix:
    """Recommended change: action code, concrete text, and a warning about running without a Region."""

    action: str
    fix: str
    region_note: str
    source: str
    """Where the facts behind this fix come from."""


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
    tool = _sdk_of(tool)
    if tool.tool in _ALWAYS_REGIONAL:
        return False
    key = (tool.tool, _major(tool.version))
    if key not in _REGIONAL_SINCE:
        return None
    floor = _REGIONAL_SINCE[key]
    return True if floor is None else _below(tool.version, floor)


def _sdk_of(tool: ClientTool) -> ClientTool:
    """The SDK a wrapping tool runs on (the tool itself when it is an SDK or shows none)."""
    if tool.tool in _WRAPS_SDK and tool.sdk != tool.tool:
        return ClientTool(tool.sdk, tool.sdk_version, tool.sdk, tool.sdk_version)
    return tool


def _needs_upgrade_for_setting(tool: ClientTool) -> str:
    """The first release that reads the setting when ``tool`` is older, else ''."""
    key = (tool.tool, _major(tool.version))
    if key in _SETTING_SINCE and version_tuple(tool.version) and _below(tool.version, _SETTING_SINCE[key][0]):
        return _SETTING_SINCE[key][1]
    return ""


def entry_for(tool: ClientTool, target_region: str | None) -> tuple[Entry, str]:
    """The fix table entry for ``tool`` and the version floor to quote ('' when none)."""
    if tool.tool == "terraform" and tool.sdk == "aws-sdk-go-v2":
        return _TERRAFORM_V2, ""
    if tool.tool in _TOOL_SWITCH:
        return (_GITHUB_ACTIONS if tool.tool == "github-actions" else _LEGACY[tool.tool]), ""
    sdk = _sdk_of(tool)
    legacy_default = defaults_to_global(tool) is True
    if legacy_default and target_region and target_region not in LEGACY_GLOBAL_REGIONS:
        return _EXPLICIT_GLOBAL, ""
    if tool.tool == "aws-cli" and _major(tool.version) == 2:
        return _CLI_V2, ""
    if defaults_to_global(tool) is False:
        return _SET_REGION, ""
    since = _needs_upgrade_for_setting(sdk) if legacy_default else ""
    if since:
        return _UPGRADE_FOR_SETTING, since
    return _LEGACY.get(tool.tool, _CUSTOM), ""


def fix_for(tool: ClientTool, target_region: str | None, operations: set[str] | frozenset[str] = frozenset()) -> Fix:
    """Fix that moves ``tool`` to the Regional endpoint of ``target_region`` (None = Region not yet known);
    ``operations`` are the STS operations it calls (they add hints for tools CloudTrail cannot name)."""
    if tool.tool in _NO_CHANGE:
        return Fix("none", "No change: an AWS service or the AWS console made this call on your behalf.", "",
                   "sts-facts.md section 9 (AWS acting for you)")
    region = target_region or "<region>"
    entry, since = entry_for(tool, target_region)
    text = entry.text.format(region=region, flag=_FLAG, endpoint=regional_endpoint(region), since=since)
    if not target_region or target_region in LEGACY_GLOBAL_REGIONS:  # elsewhere these tools call Regional
        text += "".join(f" {hint}" for families, calls, hint in _HINTS
                        if calls & set(operations) and (not families or _sdk_of(tool).tool in families))
    if target_region:
        target = f"Target endpoint: {regional_endpoint(target_region)}."
    else:
        target = "Determine the Region first: the target is the Regional endpoint of the Region where it runs."
    note = _REGION_NOTES.get((tool.tool, _major(tool.version)), "")
    return Fix(entry.action, f"{text} {target} {CONFIRM}", note, entry.source)
