"""Tests for kit.fixes: default endpoint per tool version and the concrete migration fix."""

import dataclasses

import pytest

from kit import fixes
from kit.fixes import (CONFIRM, LEGACY_GLOBAL_REGIONS, Entry, Fix, defaults_to_global, entry_for, fix_for,
                       regional_endpoint, version_tuple)
from kit.useragent import ClientTool, parse_user_agent

TARGET = "https://sts.eu-west-1.amazonaws.com"


def sdk(name: str, version: str) -> ClientTool:
    """A plain SDK caller (tool and sdk are the same)."""
    return ClientTool(name, version, name, version)


CLI_V2 = sdk("aws-cli", "2.15.33")
JAVA_V2 = sdk("aws-sdk-java", "2.25.11")
GO_V2 = sdk("aws-sdk-go-v2", "1.21.0")
JS_V3 = sdk("aws-sdk-js", "3.540.0")
TF_V1 = ClientTool("terraform", "3.76.1", "aws-sdk-go", "1.44.157")
TF_V2 = ClientTool("terraform", "5.32.1", "aws-sdk-go-v2", "1.24.1")
TF_BACKEND = ClientTool("terraform", "1.5.7", "aws-sdk-go", "1.44.300")
CDK_JS2 = ClientTool("aws-cdk", "2.100.0", "aws-sdk-js", "2.1480.0")
CDK_JS3 = ClientTool("aws-cdk", "2.170.0", "aws-sdk-js", "3.700.0")
GHA_JS2 = ClientTool("github-actions", "", "aws-sdk-js", "2.1354.0")
GHA_BARE = sdk("github-actions", "")
POWERSHELL = ClientTool("aws-powershell", "4.1.90.0", "aws-sdk-dotnet", "3.7.100.14")

CALLERS = [
    sdk("boto3", "1.26.36"),
    sdk("boto3", "1.40.0"),
    sdk("botocore", "1.31.62"),
    ClientTool("aws-cli", "1.29.62", "botocore", "1.31.62"),
    CLI_V2,
    sdk("aws-sdk-java", "1.12.261"),
    JAVA_V2,
    sdk("aws-sdk-go", "1.44.298"),
    GO_V2,
    sdk("aws-sdk-js", "2.1400.0"),
    JS_V3,
    sdk("aws-sdk-php", "3.300.1"),
    sdk("aws-sdk-dotnet", "3.7.302.6"),
    sdk("aws-sdk-dotnet", "4.0.1.0"),
    POWERSHELL,
    sdk("aws-sdk-ruby", "3.190.0"),
    sdk("aws-sdk-rust", "1.1.4"),
    sdk("aws-sdk-cpp", "1.11.200"),
    sdk("aws-sdk-kotlin", "1.0.41"),
    sdk("aws-sdk-swift", "0.32.0"),
    TF_V1,
    TF_V2,
    TF_BACKEND,
    CDK_JS2,
    GHA_JS2,
    GHA_BARE,
    sdk("stratus-red-team", ""),
    sdk("unknown", ""),
]
SERVICES = [sdk("aws-service", ""), sdk("aws-console", "")]
REGION_NOTE_TOOLS = {CLI_V2, JAVA_V2, GO_V2, JS_V3}


@pytest.mark.parametrize(
    ("version", "expected"),
    [("3.351.12", (3, 351, 12)), ("1.40", (1, 40)), ("2.0rc1", (2, 0)), ("1.44.x", (1, 44)), ("1.0-beta.3", (1, 0)), ("", ()), ("v1", ())],
)
def test_version_tuple(version, expected):
    assert version_tuple(version) == expected


@pytest.mark.parametrize(
    ("tool", "expected"),
    [
        (sdk("boto3", "1.39.99"), True),
        (sdk("boto3", "1.40.0"), False),
        (sdk("boto3", "1.40"), False),
        (sdk("botocore", "1.39.99"), True),
        (sdk("botocore", "1.40.0"), False),
        (ClientTool("aws-cli", "1.41.99", "botocore", "1.39.99"), True),
        (ClientTool("aws-cli", "1.42.0", "botocore", "1.40.0"), False),
        (CLI_V2, False),
        (sdk("aws-sdk-php", "3.351.11"), True),
        (sdk("aws-sdk-php", "3.351.12"), False),
        (sdk("aws-sdk-java", "1.12.261"), True),
        (JAVA_V2, False),
        (sdk("aws-sdk-go", "1.44.298"), True),
        (GO_V2, False),
        (sdk("aws-sdk-js", "2.1400.0"), True),
        (JS_V3, False),
        (sdk("aws-sdk-dotnet", "3.7.302.6"), None),
        (sdk("aws-sdk-dotnet", "4.0.1.0"), False),
        (sdk("aws-sdk-ruby", "3.190.0"), False),
        (sdk("aws-sdk-ruby", "3.92.0"), False),
        (sdk("aws-sdk-ruby", "3.91.1"), True),
        (sdk("aws-sdk-rust", "1.1.4"), False),
        (sdk("aws-sdk-swift", "0.32.0"), False),
        (CDK_JS2, True),
        (CDK_JS3, False),
        (GHA_JS2, True),
        (GHA_BARE, None),
        (TF_V1, None),
        (sdk("boto3", ""), None),
        (sdk("stratus-red-team", ""), None),
    ],
)
def test_defaults_to_global(tool, expected):
    assert defaults_to_global(tool) is expected


@pytest.mark.parametrize(
    ("legacy", "regional", "floor"),
    [
        (sdk("boto3", "1.39.99"), sdk("boto3", "1.40.0"), "1.40.0"),
        (
            ClientTool("aws-cli", "1.41.9", "botocore", "1.39.9"),
            ClientTool("aws-cli", "1.42.0", "botocore", "1.40.0"),
            "1.42.0",
        ),
        (sdk("aws-sdk-php", "3.351.11"), sdk("aws-sdk-php", "3.351.12"), "3.351.12"),
    ],
)
def test_version_floor_switches_upgrade_to_set_region(legacy, regional, floor):
    old, new = fix_for(legacy, "eu-west-1"), fix_for(regional, "eu-west-1")
    assert (old.action, new.action) == ("upgrade", "set-region")
    assert floor in old.fix and "AWS_STS_REGIONAL_ENDPOINTS=regional" in old.fix


@pytest.mark.parametrize("tool", CALLERS, ids=lambda t: f"{t.tool}-{t.version}")
def test_fix_names_target_endpoint(tool):
    assert TARGET in fix_for(tool, "eu-west-1").fix


@pytest.mark.parametrize("tool", CALLERS, ids=lambda t: f"{t.tool}-{t.version}")
def test_fix_without_region_says_determine_region(tool):
    text = fix_for(tool, None).fix
    assert "Determine the Region first" in text
    assert "sts..amazonaws.com" not in text and "None" not in text


@pytest.mark.parametrize("tool", CALLERS + SERVICES, ids=lambda t: f"{t.tool}-{t.version}")
def test_region_note_only_for_tools_without_safe_region_fallback(tool):
    assert bool(fix_for(tool, "eu-west-1").region_note) is (tool in REGION_NOTE_TOOLS)


@pytest.mark.parametrize("tool", SERVICES, ids=lambda t: t.tool)
def test_aws_service_and_console_need_no_change(tool):
    fix = fix_for(tool, None)
    assert fix.action == "none" and "None" not in fix.fix


@pytest.mark.parametrize(
    ("tool", "action", "needles"),
    [
        (CLI_V2, "set-region", ("--region eu-west-1", "--endpoint-url https://sts.amazonaws.com", "aws-global")),
        (sdk("aws-sdk-java", "1.12.261"), "set-regional-flag", ("sts_regional_endpoints = regional", "Java 2.x")),
        (JAVA_V2, "set-region", ("AWS_REGION=eu-west-1",)),
        (sdk("aws-sdk-go", "1.44.298"), "set-regional-flag", ("AWS_SDK_LOAD_CONFIG=1", "aws-sdk-go-v2")),
        (GO_V2, "set-region", ("AWS_REGION=eu-west-1",)),
        (sdk("aws-sdk-js", "2.1400.0"), "set-regional-flag", ("stsRegionalEndpoints: 'regional'", "v3")),
        (sdk("aws-sdk-dotnet", "3.7.302.6"), "upgrade", ("AWSSDK.Core", "31 Jul 2025", "UNCONFIRMED")),
        (sdk("aws-sdk-dotnet", "4.0.1.0"), "set-region", ("AWS_REGION=eu-west-1",)),
        (POWERSHELL, "upgrade", ("PowerShell", "UNCONFIRMED", "AWS_STS_REGIONAL_ENDPOINTS=regional")),
        (sdk("aws-sdk-ruby", "3.190.0"), "set-region", ("https://sts.amazonaws.com",)),
        (sdk("aws-sdk-ruby", "2.11.632"), "set-regional-flag", ("sts_regional_endpoints = regional", "3.92.0")),
        (sdk("aws-sdk-kotlin", "1.0.41"), "set-region", ("AWS_REGION=eu-west-1",)),
        (sdk("aws-sdk-cpp", "1.11.200"), "set-endpoint", ("endpointOverride",)),
        (TF_V1, "upgrade-provider", ('sts_region = "eu-west-1"', "v5", "AWS_STS_REGIONAL_ENDPOINTS=regional")),
        (TF_BACKEND, "upgrade-provider", ("S3 backend",)),
        (TF_V2, "set-region", ('sts_region = "eu-west-1"', f'endpoints {{ sts = "{TARGET}" }}')),
        (CDK_JS2, "upgrade", ("CDK", "AWS_STS_REGIONAL_ENDPOINTS=regional")),
        (CDK_JS3, "set-region", ("AWS_REGION=eu-west-1",)),
        (GHA_JS2, "upgrade", ("`aws-region` input (eu-west-1)", "upgrade the action")),
        (sdk("stratus-red-team", ""), "set-endpoint", ("explicit STS endpoint",)),
    ],
    ids=lambda v: v.tool if isinstance(v, ClientTool) else None,
)
def test_fix_text_per_tool(tool, action, needles):
    fix = fix_for(tool, "eu-west-1")
    assert fix.action == action
    for needle in needles:
        assert needle in fix.fix


def test_fix_from_parsed_terraform_user_agent():
    ua = (
        "APN/1.0 HashiCorp/1.0 Terraform/1.1.2 (+https://www.terraform.io) terraform-provider-aws/3.76.1 "
        "aws-sdk-go/1.44.157 (go1.19.3; linux; amd64)"
    )
    assert fix_for(parse_user_agent(ua), "eu-west-1").action == "upgrade-provider"


@pytest.mark.parametrize(
    ("region", "url"),
    [("eu-west-1", TARGET), ("ap-east-1", "https://sts.ap-east-1.amazonaws.com"),
     ("cn-north-1", "https://sts.cn-north-1.amazonaws.com.cn")],
)
def test_regional_endpoint(region, url):
    assert regional_endpoint(region) == url


def test_fix_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        fix_for(JS_V3, "eu-west-1").action = "none"  # type: ignore[misc]
    assert isinstance(fix_for(JS_V3, None), Fix)


# --- the corrected table (sts-facts.md section 9) ------------------------------------------------------------------

# Real user agents of tools with their own switch, and where each was seen.
PULUMI_UA = ("APN/1.0 Pulumi/1.0 Pulumi-Aws/4.17.0-alpha.1629393364+0b9d696e.dirty (+https://www.pulumi.com) "
             "aws-sdk-go/1.40.20 (go1.16.4; darwin; amd64)")  # pulumi/pulumi-aws#1604
PULUMI_V2_UA = ("APN/1.0 Pulumi/1.0 Pulumi/1.0 Pulumi-Aws/0.11+compatible (+https://www.pulumi.com) "
                "aws-sdk-go-v2/1.16.16 os/macos lang/go/1.19.1 md/GOOS/darwin md/GOARCH/amd64 api/sts/1.16.4")
# ^ a GetCallerIdentity call quoted in pulumi/pulumi-aws#2190
VAULT_UA = "Vault/1.15.2 (+https://www.vaultproject.io/; go1.21.3)"
# ^ the format of hashicorp/vault sdk/helper/useragent ("Vault/0.10.4 (+https://www.vaultproject.io/; go1.10.1)")
TERRAFORM_UA = ("APN/1.0 HashiCorp/1.0 Terraform/1.0.5 (+https://www.terraform.io) terraform-provider-aws/3.56.0 "
                "(+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go/1.40.29 (go1.16; linux; amd64)")
# ^ a CloudTrail record quoted in crossplane-contrib/provider-jet-aws#180
# kube2iam (jtblin/kube2iam iam/iam.go) and aws-vault v7 (99designs/aws-vault vault/vault.go) set no user agent
# of their own: their calls carry their SDK's, so they are recognized by the operations they call.
KUBE2IAM_UA = "aws-sdk-go/1.44.100 (go1.19; linux; amd64)"
AWS_VAULT_UA = "aws-sdk-go-v2/1.24.0 os/macos lang/go#1.21.5 md/GOOS#darwin md/GOARCH#arm64 api/sts#1.26.6"


@pytest.mark.parametrize(("agent", "tool", "needles"), [
    (PULUMI_UA, "pulumi", ("aws:stsRegion eu-west-1", "AWS_STS_REGIONAL_ENDPOINTS=regional")),
    (PULUMI_V2_UA, "pulumi", ("stsRegion",)),
    (VAULT_UA, "vault", (f"sts_endpoint={TARGET}", "sts_region=eu-west-1", "auth/aws/config/client")),
    (TERRAFORM_UA, "terraform", ('sts_region = "eu-west-1"',)),
])
def test_tools_with_their_own_switch_get_that_switch(agent, tool, needles):
    parsed = parse_user_agent(agent)
    assert parsed.tool == tool and (parsed.sdk.startswith("aws-sdk-go") or parsed.sdk == tool)
    fix = fix_for(parsed, "eu-west-1")
    assert all(needle in fix.fix for needle in needles), fix.fix
    assert "legacy mode" not in fix.fix  # the tool's own setting decides, even from a non-legacy Region
    assert fix_for(parsed, "ap-northeast-2").action == fix.action


@pytest.mark.parametrize("region", ["ap-east-1", "ap-northeast-2", "ap-northeast-3", "me-central-1"])
@pytest.mark.parametrize("tool", [sdk("aws-sdk-java", "1.12.261"), sdk("aws-sdk-go", "1.44.298"),
                                  sdk("aws-sdk-js", "2.1400.0"), sdk("boto3", "1.26.36"),
                                  sdk("aws-sdk-php", "3.300.1"), sdk("aws-sdk-ruby", "3.80.0"),
                                  ClientTool("aws-cli", "1.29.62", "botocore", "1.31.62"), CDK_JS2],
                         ids=lambda t: t if isinstance(t, str) else t.tool)
def test_legacy_sdk_outside_the_16_regions_is_explicitly_configured(tool, region):
    fix = fix_for(tool, region)
    assert fix.action == "remove-global-config"
    assert f"set the Region to {region}" in fix.fix and "aws-global" in fix.fix
    assert "Upgrade" not in fix.fix and "AWS_STS_REGIONAL_ENDPOINTS=regional" not in fix.fix


def test_the_16_legacy_regions_are_those_of_the_reference_guide():
    assert len(LEGACY_GLOBAL_REGIONS) == 16
    assert {"ap-northeast-2", "ap-northeast-3", "ap-east-1", "ca-west-1"}.isdisjoint(LEGACY_GLOBAL_REGIONS)
    assert fix_for(sdk("aws-sdk-java", "1.12.261"), "eu-west-2").action == "set-regional-flag"


@pytest.mark.parametrize(("tool", "floor"), [
    (sdk("aws-sdk-java", "1.11.617"), "1.11.618"),
    (sdk("aws-sdk-go", "1.25.17"), "1.25.18"),
    (sdk("aws-sdk-ruby", "3.70.9"), "3.71.0"),
])
def test_sdks_that_cannot_read_the_setting_must_upgrade(tool, floor):
    old = fix_for(tool, "eu-west-1")
    assert old.action == "upgrade" and floor in old.fix and "cannot read" in old.fix
    assert tool.tool != "aws-sdk-go" or "UNCONFIRMED" in old.fix
    bumped = dataclasses.replace(tool, version=floor, sdk_version=floor)
    assert fix_for(bumped, "eu-west-1").action == "set-regional-flag"


def test_ruby_v3_is_legacy_before_3_92_and_regional_from_it():
    assert fix_for(sdk("aws-sdk-ruby", "3.91.0"), "eu-west-1").action == "set-regional-flag"
    assert fix_for(sdk("aws-sdk-ruby", "3.92.0"), "eu-west-1").action == "set-region"


@pytest.mark.parametrize(("agent", "operations", "needle"), [
    ("aws-sdk-nodejs/2.802.0 linux/v14.15.1 callback", {"AssumeRoleWithWebIdentity"},  # aws/amazon-eks-pod-identity-webhook#112
     'eks.amazonaws.com/sts-regional-endpoints: "true"'),
    (KUBE2IAM_UA, {"AssumeRole"}, "--use-regional-sts-endpoint"),
    (AWS_VAULT_UA, {"GetSessionToken", "AssumeRole"}, "sts_regional_endpoints = legacy"),
    ("aws-sdk-go/1.44.300 (go1.20.5; linux; amd64)", {"AssumeRoleWithSAML"}, "~/.saml2aws"),
])
def test_tools_without_their_own_user_agent_are_hinted_by_what_they_call(agent, operations, needle):
    tool = parse_user_agent(agent)
    assert needle in fix_for(tool, "eu-west-1", operations=operations).fix
    assert needle not in fix_for(tool, "eu-west-1", operations={"GetCallerIdentity"}).fix
    assert needle not in fix_for(tool, "ap-northeast-2", operations=operations).fix  # the configuration decides


ENTRIES = {name: value for name, value in vars(fixes).items() if isinstance(value, Entry)}
ENTRIES.update({f"_LEGACY[{tool}]": entry for tool, entry in fixes._LEGACY.items()})
REACHING = {  # a caller that reaches each entry of the table
    "_SET_REGION": (JAVA_V2, "eu-west-1"), "_EXPLICIT_GLOBAL": (sdk("boto3", "1.26.36"), "ap-northeast-2"),
    "_CLI_V2": (CLI_V2, "eu-west-1"), "_TERRAFORM_V2": (TF_V2, "eu-west-1"), "_GITHUB_ACTIONS": (GHA_JS2, "eu-west-1"),
    "_CUSTOM": (sdk("stratus-red-team", ""), "eu-west-1"),
    "_UPGRADE_FOR_SETTING": (sdk("aws-sdk-java", "1.11.100"), "eu-west-1"),
    **{f"_LEGACY[{tool}]": (version, "eu-west-1") for tool, version in {
        "boto3": sdk("boto3", "1.26.36"), "botocore": sdk("botocore", "1.31.62"),
        "aws-cli": ClientTool("aws-cli", "1.29.62", "botocore", "1.31.62"),
        "aws-sdk-java": sdk("aws-sdk-java", "1.12.261"), "aws-sdk-go": sdk("aws-sdk-go", "1.44.298"),
        "aws-sdk-js": sdk("aws-sdk-js", "2.1400.0"), "aws-sdk-php": sdk("aws-sdk-php", "3.300.1"),
        "aws-sdk-dotnet": sdk("aws-sdk-dotnet", "3.7.302.6"), "aws-powershell": POWERSHELL,
        "aws-sdk-ruby": sdk("aws-sdk-ruby", "3.80.0"), "aws-sdk-cpp": sdk("aws-sdk-cpp", "1.11.200"),
        "aws-cdk": CDK_JS2, "terraform": TF_V1, "pulumi": parse_user_agent(PULUMI_UA),
        "vault": parse_user_agent(VAULT_UA)}.items()},
}


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_every_entry_has_a_source_a_caller_and_a_confirmation(name):
    entry = ENTRIES[name]
    assert entry.source and entry.action
    tool, region = REACHING[name]
    assert entry_for(tool, region)[0] is entry
    fix = fix_for(tool, region)
    assert fix.source == entry.source and fix.fix.endswith(CONFIRM)
    assert "verify_callers.sql" in fix.fix and regional_endpoint(region) in fix.fix
