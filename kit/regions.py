"""AWS Regions and services facts the classification rules depend on.

Sources: ../shared/reference/sts-facts.md §8 (Regions enabled by default vs opt-in) and §1.
"""
from __future__ import annotations

import re

GLOBAL_ENDPOINT_REGION = "us-east-1"
"""Where the global endpoint served every call before 2025, and still serves opt-in and off-AWS callers."""

DEFAULT_REGIONS = frozenset({
    "us-east-1", "us-east-2", "us-west-1", "us-west-2",
    "ap-south-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
    "ap-southeast-1", "ap-southeast-2", "ca-central-1",
    "eu-central-1", "eu-west-1", "eu-west-2", "eu-west-3", "eu-north-1", "sa-east-1",
})
"""Regions launched before 20 March 2019: enabled by default, global calls served locally since 2025."""

OPT_IN_REGIONS = frozenset({
    "af-south-1", "ap-east-1", "ap-east-2", "ap-south-2", "ap-southeast-3", "ap-southeast-4",
    "ap-southeast-5", "ap-southeast-6", "ap-southeast-7", "ca-west-1", "eu-south-1", "eu-south-2",
    "eu-central-2", "il-central-1", "me-south-1", "me-central-1", "mx-central-1",
})
"""Regions that must be enabled per account; the global endpoint still serves them in us-east-1."""

GLOBAL_SERVICE_SOURCES = frozenset({
    "iam.amazonaws.com", "sts.amazonaws.com", "cloudfront.amazonaws.com",
    "organizations.amazonaws.com", "route53.amazonaws.com", "route53domains.amazonaws.com",
    "globalaccelerator.amazonaws.com", "support.amazonaws.com", "health.amazonaws.com",
    "signin.amazonaws.com", "account.amazonaws.com", "billingconsole.amazonaws.com",
    "ce.amazonaws.com", "waf.amazonaws.com", "shield.amazonaws.com", "sso.amazonaws.com",
    "access-analyzer.amazonaws.com", "trustedadvisor.amazonaws.com", "notifications.amazonaws.com",
})
"""Event sources whose events say us-east-1 whatever Region the caller runs in."""

REGION_CODE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
"""The shape of a Region code (the SQL and Logs Insights queries render its pattern)."""


def is_region_code(value: str) -> bool:
    """True when ``value`` is shaped like an AWS Region code (``eu-west-1``, ``us-gov-west-1``)."""
    return bool(REGION_CODE.match(value))


def is_opt_in(region: str) -> bool:
    """True for Regions that are not enabled by default (unknown new Regions count as opt-in)."""
    return bool(region) and region not in DEFAULT_REGIONS and is_region_code(region)


def regional_endpoint(region: str) -> str:
    """The Regional STS endpoint URL of ``region`` ('' when the Region is unknown; China uses .com.cn)."""
    if not region:
        return ""
    suffix = ".amazonaws.com.cn" if region.startswith("cn-") else ".amazonaws.com"
    return f"https://sts.{region}{suffix}"
