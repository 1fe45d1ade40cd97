"""Classify a CloudTrail ``userAgent`` string into a client tool and its embedded AWS SDK."""

from __future__ import annotations

import re
from dataclasses import dataclass

_CONSOLE_HOSTS = ("console.", "signin.")
_SERVICE_HOST = re.compile(r"^[a-z0-9.-]+\.amazonaws\.com$")
_ID_SUFFIX = re.compile(r"_[0-9a-f][0-9a-f-]{7,}$")  # _<uuid> or _<hex> run id
_MAX_TOOL_LEN = 40

# SDK family -> product tokens that identify it, in order of version preference.
_SDKS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("aws-sdk-go-v2", ("aws-sdk-go-v2",)),
    ("aws-sdk-go", ("aws-sdk-go",)),
    ("aws-sdk-java", ("aws-sdk-java",)),
    ("aws-sdk-js", ("aws-sdk-js", "aws-sdk-nodejs")),
    # aws-sdk-dotnet-core carries the AWSSDK.Core version, which decides STS defaults.
    ("aws-sdk-dotnet", ("aws-sdk-dotnet-core", "aws-sdk-dotnet-coreclr", "aws-sdk-dotnet-45", "aws-sdk-dotnet-35")),
    ("aws-sdk-php", ("aws-sdk-php",)),
    ("aws-sdk-ruby", ("aws-sdk-ruby3", "aws-sdk-ruby2", "aws-sdk-ruby")),
    ("aws-sdk-rust", ("aws-sdk-rust",)),
    ("aws-sdk-cpp", ("aws-sdk-cpp",)),
    ("aws-sdk-kotlin", ("aws-sdk-kotlin",)),
    ("aws-sdk-swift", ("aws-sdk-swift",)),
    ("botocore", ("botocore",)),
)


_TOOLS_WITH_OWN_SWITCH = (
    ("pulumi-aws", "pulumi"),  # APN/1.0 Pulumi/1.0 Pulumi-Aws/<v> ... (pulumi/pulumi-aws#1604); before Terraform
    ("vault", "vault"),  # Vault/<v> (+https://www.vaultproject.io/; go<v>) (hashicorp/vault sdk/helper/useragent)
)
"""(product token, tool) of Go tools with their own STS endpoint setting that name themselves in the user
agent. kube2iam and aws-vault send their SDK's user agent unchanged (their source sets none), so
kit/fixes.py recognizes them by the operations they call instead."""


@dataclass(frozen=True)
class ClientTool:
    """The tool that made a call, and the AWS SDK it runs on (same as ``tool`` if it is an SDK)."""

    tool: str
    version: str
    sdk: str
    sdk_version: str


def _products(user_agent: str) -> dict[str, str]:
    """Map lowercased product name to version for ``name/ver`` tokens and ``md/name#ver`` metadata."""
    products: dict[str, str] = {}
    for token in user_agent.split():
        name, sep, rest = token.partition("/")
        if not sep:
            continue
        if name.lower() == "md":
            name, sep, rest = rest.replace("#", "/", 1).partition("/")
        products.setdefault(name.lower(), rest)
    return products


def _sdk(products: dict[str, str], families: tuple[str, ...]) -> tuple[str, str] | None:
    """First SDK among ``families`` present in ``products``, as (family, version)."""
    for family, names in _SDKS:
        if family in families:
            for name in names:
                if name in products:
                    return family, products[name]
    return None


def _wrapper(tool: str, version: str, products: dict[str, str], families: tuple[str, ...]) -> ClientTool:
    """A tool that embeds one of ``families``; falls back to the tool itself when none is visible."""
    sdk, sdk_version = _sdk(products, families) or (tool, version)
    return ClientTool(tool, version, sdk, sdk_version)


def _unrecognised(user_agent: str) -> ClientTool:
    """Name an unknown client after its first product token, without a trailing run id."""
    name, _, version = user_agent.split()[0].partition("/")
    tool = _ID_SUFFIX.sub("", name.lower())[:_MAX_TOOL_LEN]
    return ClientTool(tool, version, tool, version)


def parse_user_agent(user_agent: str | None) -> ClientTool:
    """Parse a CloudTrail ``userAgent`` into a ClientTool; empty or missing gives ``unknown``."""
    ua = (user_agent or "").strip()
    if not ua:
        return ClientTool("unknown", "", "unknown", "")
    lower = ua.lower()
    if lower == "aws internal" or _SERVICE_HOST.match(lower):
        tool = "aws-console" if lower.startswith(_CONSOLE_HOSTS) else "aws-service"
        return ClientTool(tool, "", tool, "")

    p = _products(ua)
    for token, tool in _TOOLS_WITH_OWN_SWITCH:
        if token in p:
            return _wrapper(tool, p[token], p, ("aws-sdk-go-v2", "aws-sdk-go"))
    if "terraform-provider-aws" in p or "terraform" in p:
        version = p.get("terraform-provider-aws") or p.get("terraform", "")
        return _wrapper("terraform", version, p, ("aws-sdk-go-v2", "aws-sdk-go"))
    if "aws-cdk" in p:
        return _wrapper("aws-cdk", p["aws-cdk"], p, ("aws-sdk-js",))
    if "configure-aws-credentials-for-github-actions" in lower:
        return _wrapper("github-actions", "", p, ("aws-sdk-js",))
    if "aws-cli" in p:
        version = p["aws-cli"]
        if version.startswith("1."):
            return _wrapper("aws-cli", version, p, ("botocore",))
        return ClientTool("aws-cli", version, "aws-cli", version)
    if "boto3" in p:
        return ClientTool("boto3", p["boto3"], "boto3", p["boto3"])
    powershell = next((name for name in p if name.startswith("awspowershell")), None)
    if powershell:
        return _wrapper("aws-powershell", p[powershell], p, ("aws-sdk-dotnet",))

    found = _sdk(p, tuple(family for family, _ in _SDKS))
    if found:
        return ClientTool(found[0], found[1], found[0], found[1])
    return _unrecognised(ua)
