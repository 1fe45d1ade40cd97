"""A deterministic CloudTrail of a fictional organization, for tests, notebooks and benchmarks.

Run ``python -m kit.synth --out data/samples``. The organization ``o-a1b2c3d4e5`` has four
accounts and nineteen STS callers (C1..C14, C16..C20; C15 appears in ``kit.synthstates``) that cover
the cases the kit must tell apart: global callers served locally after the 2025 rollout, callers
still served in us-east-1 (opt-in Region, outside AWS on a home ISP, a developer laptop or Azure,
custom DNS, unknown Region), instance credentials (``aws:ec2-instance``) on an EC2 us-east-1
address, a legacy-default SDK configured for the global endpoint in ap-northeast-2, Regional
callers, cross-account twins, AWS services, per-second bursts for the quota check, legacy events
without tlsDetails and malformed files. C16..C20 carry the evidence of breakage of
``kit.signals``: global-endpoint sessions used in opt-in ap-east-1 and refused there (with a
redelivered file), a throttled burst, an SCP deny, RegionDisabledException and
SignatureDoesNotMatch; each draws from its own random generator, so C1..C14 are as before.
Public addresses are real: AWS ones are in ip-ranges.json (and in the bundled address database),
Azure's in Azure's published ranges, the ISP ones in no cloud's ranges.
Facts behind the behaviour: ../shared/reference/sts-facts.md §1, §2, §4, §7, §8, §9.

Output (``OUT``): ``trail/AWSLogs/<org>/<account>/CloudTrail/<region>/YYYY/MM/DD/*.json.gz``,
``ip-ranges.json`` (a sample subset of AWS's file) and ``manifest.json`` (what was written).
The same seed gives byte-identical files. Event builders (``sts_event``, ``activity_event``,
``service_sts_event``) and ``TrailWriter`` are reusable for bigger synthetic trails
(``write_org(..., events_target=...)``).
"""
from __future__ import annotations

import argparse
import gzip
import ipaddress
import json
import random
import shutil
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

from kit.regions import GLOBAL_ENDPOINT_REGION, is_opt_in

Event = dict[str, Any]

SAMPLE_START = "2025-03-01T00:00:00Z"
SAMPLE_END = "2025-09-01T00:00:00Z"
ORG_ID = "o-a1b2c3d4e5"
ACCOUNTS = {
    "111122223333": "payments",
    "222233334444": "data-platform",
    "333344445555": "ci-tools",
    "444455556666": "identity",
}
REQUEST_DETAILS_FROM = date(2025, 4, 1)
"""First day STS events carry ``additionalEventData.RequestDetails``."""
FIRST_ROLLOUT = {"eu-north-1": date(2025, 4, 1)}
DEFAULT_ROLLOUT = date(2025, 4, 15)
"""Day the global endpoint starts serving calls locally in the other Regions enabled by default."""
GLOBAL_HOST = "sts.amazonaws.com"
MAX_EVENTS_PER_FILE = 1000
BASELINE_DAILY_EVENTS = 13_830
"""About how many events besides the bursts ``write_org`` writes at scale 1 (sets the ``events_target`` scale;
C16..C20 added 1,420)."""

TLS13 = ("TLSv1.3", "TLS_AES_128_GCM_SHA256")
TLS12 = ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256")
AWS_PREFIXES = (("3.80.0.0/12", "us-east-1"), ("18.162.0.0/16", "ap-east-1"))
"""The AWS public networks some callers use; the only entries of the sample ip-ranges.json."""

_ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_TOKEN_CHARS = _ALNUM + "+/"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# --- the organization ----------------------------------------------------------------------

@dataclass(frozen=True)
class Activity:
    """Non-STS calls a caller makes each active day: ``per_day`` calls of ``names`` on ``resource``
    (owned by account ``owner`` when it is another account's: the call is then logged in both)."""

    source: str
    names: tuple[str, ...]
    region: str
    per_day: tuple[int, int]
    resource: str
    owner: str | None = None


@dataclass(frozen=True)
class Failure:
    """A caller's ``operations`` on the days ``first`` to ``last`` (inclusive; None: every later day)
    all fail with ``code`` and ``message`` (``{arn}``: the calling identity, ``{target}``: the role
    asked for, ``{account}``: the caller's account, ``{home}``: its Region). ``logs_request``: the
    event keeps its requestParameters (an authorization failure; not a request STS could not read)."""

    first: date
    last: date | None
    operations: tuple[str, ...]
    code: str
    message: str
    logs_request: bool = True

    def applies(self, operation: str, day: date) -> bool:
        return operation in self.operations and self.first <= day and (self.last is None or day <= self.last)


@dataclass(frozen=True)
class SessionUses:
    """What a caller does with each session its AssumeRole calls hand out: calls signed with the issued
    key (``responseElements.credentials.accessKeyId``, then ``userIdentity.accessKeyId``) a few seconds
    to half an hour later. ``activity``: calls per session (``per_day`` read per session);
    ``occasional``: calls a share ``occasional_share`` of the sessions also make. From
    ``rejected_from`` the account's global endpoint issues version 1 tokens: every use in an opt-in
    Region is refused (the error of ``REJECTED_BY_SOURCE``) and retried ``retries`` times."""

    activity: tuple[Activity, ...]
    rejected_from: date
    occasional: tuple[Activity, ...] = ()
    occasional_share: float = 0.0
    retries: int = 2


REJECTED_BY_SOURCE = {
    "sqs.amazonaws.com": ("InvalidClientTokenId", "The security token included in the request is invalid."),
    "kinesis.amazonaws.com": ("UnrecognizedClientException", "The security token included in the request is invalid."),
}
"""How a service answers a call signed with a session token it does not accept (a version 1 token
of the global endpoint in an opt-in Region)."""


@dataclass(frozen=True)
class Caller:
    """One STS caller: who it is, where it runs, how it calls STS and what else it does."""

    id: str
    arn: str
    user_agent: str
    network: str
    region: str | None
    operations: tuple[str, ...]
    target_role: str | None = None
    endpoint: str = "global"
    amazon_dns: bool = True
    session_format: str = "i-0{hex}"
    activity: tuple[Activity, ...] = ()
    calls_per_day: tuple[int, int] = (4, 8)
    active_share: float = 0.8
    days: tuple[date, ...] | None = None
    hours: tuple[int, int] = (7, 19)
    error_rate: float = 0.0
    global_host_alias: bool = False
    web_identity: tuple[str, str] | None = None
    event_version: str = "1.08"
    tls: tuple[str, str] = TLS13
    since: date | None = None
    failures: tuple[Failure, ...] = ()
    session_uses: SessionUses | None = None

    @property
    def account(self) -> str:
        """The account the principal belongs to."""
        return self.arn.split(":")[4]


_EKS_OIDC = ("arn:aws:iam::222233334444:oidc-provider/oidc.eks.eu-central-1.amazonaws.com/id/"
             "EXAMPLED539D4633E53DE1B7")

CALLERS = (
    Caller("C1", "arn:aws:iam::111122223333:role/payments-api",
           "Boto3/1.26.36 Python/3.10.6 Linux/5.15.0-1026-aws Botocore/1.29.36", "10.1.0.0/16", "eu-west-1",
           ("AssumeRole", "GetCallerIdentity"), "arn:aws:iam::111122223333:role/payments-reader",
           error_rate=0.03,
           activity=(Activity("dynamodb.amazonaws.com", ("GetItem", "PutItem"), "eu-west-1", (1, 3),
                              "payments-sessions"),)),
    Caller("C2", "arn:aws:iam::111122223333:role/payments-ledger",
           "aws-sdk-java/2.25.11 Linux/5.10 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS Java/17.0.10 "
           "vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy", "10.1.0.0/16", "eu-west-1",
           ("AssumeRole", "GetCallerIdentity"), "arn:aws:iam::111122223333:role/ledger-writer",
           endpoint="regional",
           activity=(Activity("dynamodb.amazonaws.com", ("GetItem", "PutItem"), "eu-west-1", (1, 3),
                              "payments-ledger"),
                     Activity("cloudformation.amazonaws.com", ("DescribeStacks",), "eu-west-1", (0, 1),
                              "payments-ledger-stack"))),
    Caller("C3", "arn:aws:iam::111122223333:role/settlement-batch",
           "aws-sdk-go/1.44.298 (go1.20.5; linux; amd64)", "10.2.0.0/16", "eu-north-1",
           ("AssumeRole",), "arn:aws:iam::111122223333:role/settlement-writer",
           session_format="aws-go-sdk-{epoch}", global_host_alias=True,
           activity=(Activity("s3.amazonaws.com", ("GetObject", "PutObject"), "eu-north-1", (1, 3),
                              "settlement-files-111122223333"),)),
    Caller("C4", "arn:aws:iam::222233334444:role/hk-ingest",
           "aws-sdk-java/1.12.261 Linux/5.10.184 OpenJDK_64-Bit_Server_VM/11.0.19+7-LTS java/11.0.19 "
           "vendor/Amazon.com_Inc.", "18.162.0.0/16", "ap-east-1",
           ("AssumeRole", "GetCallerIdentity"), "arn:aws:iam::222233334444:role/hk-archive-writer", tls=TLS12,
           activity=(Activity("kinesis.amazonaws.com", ("PutRecord",), "ap-east-1", (1, 3), "hk-trades"),)),
    Caller("C5", "arn:aws:iam::222233334444:role/report-lambda",
           "aws-sdk-nodejs/2.1400.0 linux/v18.16.0 exec-env/AWS_Lambda_nodejs18.x promise", "3.80.0.0/12",
           "us-east-1", ("GetCallerIdentity", "AssumeRole"), "arn:aws:iam::222233334444:role/report-reader",
           session_format="report-lambda",
           activity=(Activity("s3.amazonaws.com", ("GetObject",), "us-east-1", (1, 3), "reports-222233334444"),)),
    Caller("C6", "arn:aws:iam::222233334444:role/eks-etl",
           "Boto3/1.34.10 md/Botocore#1.34.10 ua/2.0 os/linux#5.10.0 md/arch#x86_64 lang/python#3.11.6 "
           "md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.10", "10.3.0.0/16", "eu-central-1",
           ("AssumeRoleWithWebIdentity",), session_format="botocore-session-{epoch}",
           web_identity=(_EKS_OIDC, "system:serviceaccount:etl:runner"),
           activity=(Activity("s3.amazonaws.com", ("GetObject", "PutObject"), "eu-central-1", (1, 3),
                              "etl-staging-222233334444"),)),
    Caller("C7", "arn:aws:iam::333344445555:role/github-deploy",
           "APN/1.0 HashiCorp/1.0 Terraform/1.5.7 (+https://www.terraform.io) terraform-provider-aws/4.67.0 "
           "(+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go/1.44.261 (go1.20.4; linux; amd64)",
           "20.55.12.0/24", None, ("GetCallerIdentity", "AssumeRole"),
           "arn:aws:iam::444455556666:role/deploy-target", amazon_dns=False, session_format="GitHubActions",
           activity=(Activity("iam.amazonaws.com", ("GetRole", "ListRoles"), "us-east-1", (2, 4), "deploy-target"),
                     Activity("s3.amazonaws.com", ("GetObject", "PutObject"), "eu-west-1", (1, 3),
                              "ci-artifacts-333344445555"))),
    Caller("C8", "arn:aws:iam::333344445555:user/alice",
           "aws-cli/1.29.62 Python/3.11.4 Darwin/22.6.0 botocore/1.31.62", "86.12.143.27/32", None,
           ("GetCallerIdentity", "GetSessionToken"), amazon_dns=False, active_share=1 / 3),
    Caller("C9", "arn:aws:iam::444455556666:role/sso-broker",
           "aws-sdk-go-v2/1.21.0 os/linux lang/go#1.21.1 md/GOOS#linux md/GOARCH#amd64 api/sts#1.23.0",
           "10.20.0.0/16", "us-west-2", ("AssumeRole", "GetCallerIdentity"),
           "arn:aws:iam::444455556666:role/sso-readonly", amazon_dns=False,
           activity=(Activity("lambda.amazonaws.com", ("GetFunction20150331v2",), "us-west-2", (1, 2),
                              "sso-token-refresh"),
                     Activity("dynamodb.amazonaws.com", ("GetItem",), "us-west-2", (1, 3), "sso-sessions"))),
    Caller("C10", "arn:aws:iam::222233334444:role/nightly-export",
           "aws-sdk-php/3.300.1 OS/Linux/5.15 lang/php/8.2.10 GuzzleHttp/7", "10.9.0.0/16", None,
           ("AssumeRole",), "arn:aws:iam::222233334444:role/export-writer", tls=TLS12,
           calls_per_day=(1, 1), active_share=1.0, hours=(2, 3)),
    Caller("C11", "arn:aws:iam::111122223333:user/legacy-batch",
           "aws-sdk-java/1.11.800 Linux/4.14 OpenJDK_64-Bit_Server_VM/25.252-b09 java/1.8.0_252", "10.1.9.9/32",
           None, ("GetCallerIdentity",), calls_per_day=(1, 1), event_version="1.05",
           days=tuple(date(2025, 3, day) for day in (4, 7, 12, 18, 21, 27))),
)
CALLERS += (
    Caller("C12", "arn:aws:iam::333344445555:role/developer",
           "aws-cli/2.13.25 Python/3.11.5 Darwin/23.0.0 exe/x86_64 prompt/off command/sts.assume-role",
           "92.40.181.64/28", "eu-west-1", ("AssumeRole",), "arn:aws:iam::333344445555:role/deploy-readonly",
           amazon_dns=False, session_format="dev-laptop-{epoch}", active_share=0.5, calls_per_day=(1, 4),
           activity=(Activity("s3.amazonaws.com", ("GetObject",), "eu-west-1", (1, 2), "ci-artifacts-333344445555"),)),
    Caller("C13", "arn:aws:iam::222233334444:role/aws:ec2-instance",
           "Boto3/1.28.57 md/Botocore#1.31.57 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.9.16 "
           "md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.31.57", "3.80.0.0/12", None, ("GetCallerIdentity",),
           session_format="i-0a1b2c3d4e5f60718", calls_per_day=(1, 3), active_share=0.7),
    Caller("C14", "arn:aws:iam::111122223333:role/seoul-billing",
           "aws-sdk-ruby3/3.80.0 ruby/2.7.1 x86_64-linux aws-sdk-sts/1.3.0", "10.40.0.0/16", "ap-northeast-2",
           ("AssumeRole",), "arn:aws:iam::111122223333:role/billing-reader", amazon_dns=False,
           session_format="seoul-billing-{epoch}",
           activity=(Activity("dynamodb.amazonaws.com", ("GetItem",), "ap-northeast-2", (1, 3), "billing-ledger"),)),
)
"""C12 assumes roles from a developer laptop on a home ISP address; C13 is an EC2 instance calling with
its instance credentials (one stable session per instance); C14 runs in ap-northeast-2, outside the 16
legacy Regions, so its legacy-default Ruby SDK calls the global endpoint only because it is configured to."""

# Evidence of breakage (issue 15; the rules are kit/signals.py). C15 is the caller kit.synthstates adds
# in the later states, so these are C16..C20. Each runs in hours no other caller of its account uses,
# so the files of C1..C14 stay as they were; each global caller here is P1 by where it runs, so its
# priority is the same with or without the evidence (and in the later states, which keep them).
_DENIED_BY_SCP = ("User: {arn} is not authorized to perform: sts:AssumeRole on resource: {target} "
                  "with an explicit deny in a service control policy")
_REGION_DISABLED = ("STS is not activated in this region for account:{account}. Your account administrator "
                    "can activate STS in this region using the IAM Console.")
CALLERS += (
    # token-v1-in-use and token-rejected: a settlement feed on ECS in Hong Kong (opt-in ap-east-1). The
    # Kotlin SDK's StsAssumeRoleCredentialsProvider has no Region configured, so it calls the global
    # endpoint (served in us-east-1). Each session of role/hk-feed-publisher it gets is used in
    # ap-east-1 (SQS, Kinesis, and a queue of the payments account: logged in both accounts with one
    # sharedEventID), now and then in eu-central-1, a Region enabled by default (a DR queue: v1 tokens
    # work there, never counted; data-platform's SCPs allow eu-*, us-east-1 and ap-east-1).
    # data-platform issued version 2 tokens until an account baseline reset GlobalEndpointTokenVersion
    # to v1Token on 2025-08-11 (data/samples/policies/mapping.yaml says v1Token): from then every use
    # in ap-east-1 is refused and retried twice. One hour of refused uses is delivered twice (same
    # eventIDs: see write_redelivered).
    Caller("C16", "arn:aws:iam::222233334444:role/hk-settlement-feed",
           "aws-sdk-kotlin/1.0.41 ua/2.0 api/sts#1.0.41 os/linux#5.10.201 lang/kotlin#1.9.21 md/javaVersion#17.0.9 "
           "md/jvmName#OpenJDK_64-Bit_Server_VM md/jvmVersion#17.0.9+8-LTS exec-env/AWS_ECS_FARGATE",
           "18.162.0.0/16", "ap-east-1", ("AssumeRole",), "arn:aws:iam::222233334444:role/hk-feed-publisher",
           session_format="ecs-task-{hex}", calls_per_day=(1, 2), active_share=0.9, hours=(5, 6),
           since=date(2025, 7, 1),
           activity=(Activity("s3.amazonaws.com", ("GetObject",), "ap-east-1", (1, 2),
                              "hk-settlement-files-222233334444"),),
           session_uses=SessionUses(
               activity=(Activity("sqs.amazonaws.com", ("SendMessage",), "ap-east-1", (1, 3), "hk-settlement-feed"),
                         Activity("kinesis.amazonaws.com", ("PutRecord",), "ap-east-1", (0, 1), "hk-settlement-audit"),
                         Activity("sqs.amazonaws.com", ("SendMessage",), "ap-east-1", (0, 1), "hk-settlement-inbox",
                                  owner="111122223333")),
               occasional=(Activity("sqs.amazonaws.com", ("SendMessage",), "eu-central-1", (1, 1),
                                    "hk-settlement-feed-dr"),),
               occasional_share=0.1, rejected_from=date(2025, 8, 11))),
    # sts-throttled: a load-test harness in the company's data centre (a public address in no cloud's
    # ranges: served in us-east-1) assumes a role for every virtual user. Nightly runs are small; on
    # 2025-08-12 a test ramps to 705 calls in one second (THROTTLED_BURSTS): what passes the 600/s of
    # ci-tools' global bucket in us-east-1 is answered ThrottlingException "Rate exceeded". Its calls
    # go to API Gateway, which CloudTrail does not log: no workload Region.
    Caller("C17", "arn:aws:iam::333344445555:user/perf-harness",
           "Boto3/1.26.90 Python/3.9.16 Linux/4.18.0-477.10.1.el8_8.x86_64 Botocore/1.29.90", "81.2.69.128/28",
           None, ("AssumeRole",), "arn:aws:iam::333344445555:role/perf-sut-client", amazon_dns=False,
           calls_per_day=(1, 4), active_share=0.6, hours=(3, 4)),
    # scp-deny: a GDPR export job in eu-west-2 behind custom DNS (its global calls are served in
    # us-east-1), deployed 2025-08-18. Its legacy-default boto3 calls the global endpoint, which
    # reports aws:RequestedRegion us-east-1, and the payments OU's SCP "GdprRolesStayInEu"
    # (data/samples/policies/scp-payments-gdpr-eu-only.json) denies gdpr-* roles outside eu-*: every
    # AssumeRole is denied; GetCallerIdentity (no policy can deny it) passes. sts.eu-west-2 would pass.
    Caller("C18", "arn:aws:iam::111122223333:role/gdpr-export",
           "Boto3/1.28.62 md/Botocore#1.31.62 ua/2.0 os/linux#5.10.198-187.748.amzn2.x86_64 md/arch#x86_64 "
           "lang/python#3.11.6 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.31.62", "10.70.0.0/16",
           "eu-west-2", ("GetCallerIdentity", "AssumeRole"), "arn:aws:iam::111122223333:role/eu-customer-data-reader",
           amazon_dns=False, calls_per_day=(2, 4), hours=(20, 22), since=date(2025, 8, 18),
           failures=(Failure(date(2025, 8, 18), None, ("AssumeRole",), "AccessDenied", _DENIED_BY_SCP),),
           activity=(Activity("s3.amazonaws.com", ("GetObject", "PutObject"), "eu-west-2", (1, 2),
                              "gdpr-exports-111122223333"),)),
    # region-disabled: Terraform on GitHub's runners (Azure) bootstrapping a Zurich stack with Regional
    # STS in opt-in eu-central-2, which ci-tools never enabled: two days of RegionDisabledException.
    # A Regional-only caller: its signal is listed, it is not in the plan.
    Caller("C19", "arn:aws:iam::333344445555:role/zurich-bootstrap",
           "APN/1.0 HashiCorp/1.0 Terraform/1.9.5 (+https://www.terraform.io) terraform-provider-aws/5.64.0 "
           "(+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.30.4 ua/2.0 os/linux "
           "lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/sts#1.30.5", "20.55.12.0/24", "eu-central-2",
           ("GetCallerIdentity", "AssumeRole"), "arn:aws:iam::333344445555:role/zurich-admin", endpoint="regional",
           amazon_dns=False, session_format="GitHubActions", calls_per_day=(2, 3), hours=(19, 20),
           days=(date(2025, 6, 3), date(2025, 6, 4)),
           failures=(Failure(date(2025, 6, 3), None, ("GetCallerIdentity", "AssumeRole"), "RegionDisabledException",
                             _REGION_DISABLED),)),
    # signature-region: a PHP dashboard builder at a hosting provider (outside AWS) with an IAM user's
    # keys. On 2025-07-08 a release set the STS client's endpoint to https://sts.amazonaws.com while
    # its Region stayed eu-central-1, so the SDK scoped the signature to eu-central-1 and STS answered
    # SignatureDoesNotMatch until the release was rolled back four days later.
    Caller("C20", "arn:aws:iam::222233334444:user/dashboard-builder",
           "aws-sdk-php/3.281.6 OS/Linux/6.1.0-13-amd64 lang/php/8.1.27 GuzzleHttp/7", "88.198.54.0/28",
           "eu-central-1", ("GetCallerIdentity", "AssumeRole"), "arn:aws:iam::222233334444:role/dashboard-reader",
           amazon_dns=False, calls_per_day=(1, 3), active_share=0.7, hours=(21, 23),
           failures=(Failure(date(2025, 7, 8), date(2025, 7, 11), ("GetCallerIdentity", "AssumeRole"),
                             "SignatureDoesNotMatch", "Credential should be scoped to a valid region, not '{home}'. ",
                             logs_request=False),),
           activity=(Activity("s3.amazonaws.com", ("GetObject",), "eu-central-1", (1, 2), "dashboards-222233334444"),)),
)
CALLER_BY_ID = {caller.id: caller for caller in CALLERS}

SERVICE_ROLES = {
    "111122223333": (("lambda.amazonaws.com", "eu-west-1", "payments-webhook", "C1"),
                     ("ecs-tasks.amazonaws.com", "eu-north-1", "settlement-task", "C3")),
    "222233334444": (("lambda.amazonaws.com", "us-east-1", "report-lambda", "C5"),
                     ("ecs-tasks.amazonaws.com", "eu-central-1", "etl-task", "C6")),
    "333344445555": (("ecs-tasks.amazonaws.com", "eu-west-1", "runner-task", "C7"),),
    "444455556666": (("lambda.amazonaws.com", "us-west-2", "sso-broker-exec", "C9"),),
}
"""Per account: (service, Region, role, caller) of the AssumeRole calls AWS services make for it,
in the hour that caller's workload runs."""


@dataclass(frozen=True)
class Burst:
    """``rates`` (caller id, calls per second) during ``seconds`` seconds from ``start``."""

    start: str
    seconds: int
    rates: tuple[tuple[str, int], ...]


BURSTS = (
    Burst("2025-07-15T14:00:00Z", 5, (("C2", 400), ("C1", 250))),
    Burst("2025-07-20T09:00:00Z", 3, (("C1", 320), ("C2", 50))),
)


@dataclass(frozen=True)
class ThrottledBurst:
    """One caller's STS calls second by second from ``start`` (``calls``, half AssumeRole): in each
    second the calls past ``quota`` are answered ``error`` (sts-throttled)."""

    caller_id: str
    start: str
    calls: tuple[int, ...]
    quota: int = 600
    error: tuple[str, str] = ("ThrottlingException", "Rate exceeded")

    @property
    def throttled(self) -> int:
        return sum(max(0, calls - self.quota) for calls in self.calls)


THROTTLED_BURSTS = (ThrottledBurst("C17", "2025-08-12T03:00:00Z", (160, 672, 705, 118)),)
"""The load test of C17: 1,655 calls in 4 s in ci-tools' global bucket (us-east-1), 177 throttled."""


def _parse_time(value: str) -> datetime:
    """``2025-03-01T00:00:00Z`` as an aware datetime."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


BURST_EVENTS = (sum(rate * burst.seconds for burst in BURSTS for _, rate in burst.rates)
                + sum(sum(burst.calls) for burst in THROTTLED_BURSTS))
_BURST_SECONDS = frozenset([_parse_time(burst.start) + timedelta(seconds=offset)
                            for burst in BURSTS for offset in range(burst.seconds)]
                           + [_parse_time(burst.start) + timedelta(seconds=offset)
                              for burst in THROTTLED_BURSTS for offset in range(len(burst.calls))])


# --- small value makers --------------------------------------------------------------------

def timestamp(when: datetime) -> str:
    """CloudTrail's eventTime format."""
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def uuid_like(rng: random.Random) -> str:
    """A random UUID-shaped id (eventID, requestID)."""
    digits = f"{rng.getrandbits(128):032x}"
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def random_key(rng: random.Random, prefix: str, length: int = 16) -> str:
    """An AWS-style key id such as ``ASIA`` + 16 characters."""
    return prefix + "".join(rng.choices(_ID_CHARS, k=length))


@lru_cache(maxsize=None)
def stable_id(prefix: str, key: str) -> str:
    """A fixed unique id (AROA..., AIDA..., AKIA...) for a role or user ARN."""
    return random_key(random.Random(f"{prefix}:{key}"), prefix, 17 if prefix in ("AROA", "AIDA") else 16)


def _name(arn: str) -> str:
    """Last path element of an IAM ARN (role or user name)."""
    return arn.rsplit("/", 1)[-1]


def _expiration(when: datetime) -> str:
    """The credentials expiration format of CloudTrail (``Jul 10, 2023, 12:31:14 PM``)."""
    hour = when.hour % 12 or 12
    half = "AM" if when.hour < 12 else "PM"
    return f"{_MONTHS[when.month - 1]} {when.day}, {when.year}, {hour}:{when:%M:%S} {half}"


def credentials(rng: random.Random, when: datetime, seconds: int = 3600) -> dict[str, str]:
    """Temporary credentials as logged (session token shortened to keep samples small)."""
    token = "IQoJb3JpZ2luX2Vj" + "".join(rng.choices(_TOKEN_CHARS, k=32))
    return {"accessKeyId": random_key(rng, "ASIA"), "sessionToken": token,
            "expiration": _expiration(when + timedelta(seconds=seconds))}


@lru_cache(maxsize=None)
def caller_ips(caller_id: str, network: str) -> tuple[str, ...]:
    """The few fixed addresses a caller calls from, inside ``network``."""
    net = ipaddress.ip_network(network)
    if net.num_addresses <= 2:
        return (str(net.network_address),)
    rng = random.Random(f"ips:{caller_id}")
    return tuple(str(net.network_address + rng.randrange(1, net.num_addresses - 1)) for _ in range(3))


def tls_details(host: str, tls: tuple[str, str] = TLS13) -> dict[str, str]:
    """The tlsDetails block of an event sent to ``host``."""
    return {"tlsVersion": tls[0], "cipherSuite": tls[1], "clientProvidedHostHeader": host}


# --- identities ----------------------------------------------------------------------------

def role_session_identity(role_arn: str, session: str, access_key: str, created: str) -> dict[str, Any]:
    """userIdentity of an assumed-role session of ``role_arn``."""
    account, role, role_id = role_arn.split(":")[4], _name(role_arn), stable_id("AROA", role_arn)
    return {"type": "AssumedRole", "principalId": f"{role_id}:{session}",
            "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}", "accountId": account,
            "accessKeyId": access_key,
            "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": role_id, "arn": role_arn,
                                                 "accountId": account, "userName": role},
                               "webIdFederationData": {},
                               "attributes": {"creationDate": created, "mfaAuthenticated": "false"}}}


def iam_user_identity(user_arn: str) -> dict[str, Any]:
    """userIdentity of an IAM user calling with a long-term access key."""
    return {"type": "IAMUser", "principalId": stable_id("AIDA", user_arn), "arn": user_arn,
            "accountId": user_arn.split(":")[4], "accessKeyId": stable_id("AKIA", user_arn),
            "userName": _name(user_arn)}


def web_identity(provider: str, subject: str) -> dict[str, Any]:
    """userIdentity of an AssumeRoleWithWebIdentity caller (no account, no ARN)."""
    return {"type": "WebIdentityUser", "principalId": f"{provider}:{subject}", "userName": subject,
            "identityProvider": provider}


def service_identity(service: str) -> dict[str, Any]:
    """userIdentity of an AWS service acting for the account."""
    return {"type": "AWSService", "invokedBy": service}


@dataclass(frozen=True)
class Session:
    """A caller's credentials for one day: its STS identity and the identity of its other calls."""

    name: str
    identity: dict[str, Any]
    activity_identity: dict[str, Any]


def open_session(caller: Caller, day: date, seed: int) -> Session:
    """The session a caller uses all ``day`` (stable per caller, day and seed)."""
    rng = random.Random(f"{seed}:{caller.id}:{day}:session")
    created = datetime(day.year, day.month, day.day, tzinfo=timezone.utc) + timedelta(seconds=rng.randrange(3600))
    name = caller.session_format.format(hex=f"{rng.getrandbits(64):016x}", epoch=int(created.timestamp()))
    if ":user/" in caller.arn:
        identity = iam_user_identity(caller.arn)
        return Session(name, identity, identity)
    role_session = role_session_identity(caller.arn, name, random_key(rng, "ASIA"), timestamp(created))
    if caller.web_identity:
        return Session(name, web_identity(*caller.web_identity), role_session)
    return Session(name, role_session, role_session)


# --- event builders ------------------------------------------------------------------------

def request_details(day: date, serving_region: str, endpoint_type: str) -> dict[str, str] | None:
    """``additionalEventData.RequestDetails`` as logged on ``day`` (None before the change)."""
    if day < REQUEST_DETAILS_FROM:
        return None
    return {"awsServingRegion": serving_region, "endpointType": endpoint_type}


def sts_event(*, identity: dict[str, Any], when: datetime, event_name: str, aws_region: str, source_ip: str,
              user_agent: str, recipient: str, rng: random.Random, request_parameters: dict | None = None,
              response_elements: dict | None = None, resources: list | None = None,
              details: dict[str, str] | None = None, additional: dict[str, Any] | None = None,
              host: str | None = None, tls: tuple[str, str] = TLS13, error: tuple[str, str] | None = None,
              shared_event_id: str | None = None, event_version: str = "1.08") -> Event:
    """One STS event. Versions before 1.08 lack managementEvent, eventCategory and tlsDetails;
    ``host=None`` also leaves tlsDetails out (calls made by AWS services)."""
    event: Event = {"eventVersion": event_version, "userIdentity": identity, "eventTime": timestamp(when),
                    "eventSource": "sts.amazonaws.com", "eventName": event_name, "awsRegion": aws_region,
                    "sourceIPAddress": source_ip, "userAgent": user_agent}
    if error:
        event["errorCode"], event["errorMessage"] = error
    event["requestParameters"] = request_parameters
    event["responseElements"] = response_elements
    extra = {**(additional or {}), **({"RequestDetails": details} if details else {})}
    if extra:
        event["additionalEventData"] = extra
    event["requestID"] = uuid_like(rng)
    event["eventID"] = uuid_like(rng)
    event["readOnly"] = True
    if resources:
        event["resources"] = resources
    event["eventType"] = "AwsApiCall"
    modern = event_version >= "1.08"
    if modern:
        event["managementEvent"] = True
    event["recipientAccountId"] = recipient
    if shared_event_id:
        event["sharedEventID"] = shared_event_id
    if modern:
        event["eventCategory"] = "Management"
        if host:
            event["tlsDetails"] = tls_details(host, tls)
    return event


def cross_account_twin(event: Event, recipient: str, event_id: str) -> Event:
    """The copy of a cross-account call logged in the other account's trail."""
    twin = dict(event)
    twin["eventID"] = event_id
    twin["recipientAccountId"] = recipient
    return twin


def activity_event(*, identity: dict[str, Any], when: datetime, event_source: str, event_name: str,
                   aws_region: str, source_ip: str, user_agent: str, recipient: str, rng: random.Random,
                   request_parameters: dict | None, resources: list | None = None, read_only: bool = True,
                   data_event: bool = False, additional: dict[str, Any] | None = None,
                   host: str | None = None, error: tuple[str, str] | None = None,
                   shared_event_id: str | None = None) -> Event:
    """One non-STS call (management or data event); ``error``: (errorCode, errorMessage) of a failed one."""
    event: Event = {"eventVersion": "1.08", "userIdentity": identity, "eventTime": timestamp(when),
                    "eventSource": event_source, "eventName": event_name, "awsRegion": aws_region,
                    "sourceIPAddress": source_ip, "userAgent": user_agent}
    if error:
        event["errorCode"], event["errorMessage"] = error
    event["requestParameters"] = request_parameters
    event["responseElements"] = None
    if additional:
        event["additionalEventData"] = additional
    s3 = event_source == "s3.amazonaws.com"
    event["requestID"] = "".join(rng.choices(_ID_CHARS, k=16)) if s3 else uuid_like(rng)
    event["eventID"] = uuid_like(rng)
    event["readOnly"] = read_only
    if resources:
        event["resources"] = resources
    event["eventType"] = "AwsApiCall"
    event["managementEvent"] = not data_event
    event["recipientAccountId"] = recipient
    if shared_event_id:
        event["sharedEventID"] = shared_event_id
    event["eventCategory"] = "Data" if data_event else "Management"
    event["tlsDetails"] = tls_details(host or f"{event_source.split('.')[0]}.{aws_region}.amazonaws.com")
    return event


def service_sts_event(*, service: str, when: datetime, account: str, region: str, role_name: str,
                      rng: random.Random) -> Event:
    """AssumeRole made by an AWS service (Lambda, ECS tasks) for ``account`` in ``region``."""
    role_arn = f"arn:aws:iam::{account}:role/{role_name}"
    session = role_name if service.startswith("lambda.") else f"{rng.getrandbits(128):032x}"
    return sts_event(
        identity=service_identity(service), when=when, event_name="AssumeRole", aws_region=region,
        source_ip=service, user_agent=service, recipient=account, rng=rng,
        request_parameters={"roleArn": role_arn, "roleSessionName": session},
        response_elements=_assumed(role_arn, session, rng, when),
        resources=[_role_resource(role_arn)], details=request_details(when.date(), region, "regional"))


def _role_resource(role_arn: str) -> dict[str, str]:
    return {"accountId": role_arn.split(":")[4], "type": "AWS::IAM::Role", "ARN": role_arn}


def _assumed(role_arn: str, session: str, rng: random.Random, when: datetime) -> dict[str, Any]:
    """responseElements of a successful AssumeRole* call."""
    account, role = role_arn.split(":")[4], _name(role_arn)
    return {"credentials": credentials(rng, when),
            "assumedRoleUser": {"assumedRoleId": f"{stable_id('AROA', role_arn)}:{session}",
                                "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}"}}


# --- caller behaviour ----------------------------------------------------------------------

def rollout_day(region: str) -> date:
    """Day the global endpoint starts serving calls from ``region`` locally."""
    return FIRST_ROLLOUT.get(region, DEFAULT_ROLLOUT)


def global_serving_region(caller: Caller, day: date) -> str:
    """Where a global-endpoint call of ``caller`` is served on ``day``."""
    region = caller.region
    if region and caller.amazon_dns and not is_opt_in(region) and day >= rollout_day(region):
        return region
    return GLOBAL_ENDPOINT_REGION


def _sts_host(caller: Caller, serving: str, index: int) -> str | None:
    """Host header of a caller's call (None for event versions without tlsDetails)."""
    if caller.event_version < "1.08":
        return None
    if caller.endpoint == "regional":
        return f"sts.{caller.region}.amazonaws.com"
    if caller.global_host_alias and serving != GLOBAL_ENDPOINT_REGION and index % 2:
        return f"sts-global.{serving}.amazonaws.com"
    return GLOBAL_HOST


def _operation_fields(caller: Caller, session: Session, operation: str, when: datetime,
                      rng: random.Random) -> dict[str, Any]:
    """requestParameters, responseElements, resources and extra additionalEventData of a call."""
    if operation == "GetCallerIdentity":
        return {}
    if operation == "GetSessionToken":
        return {"request_parameters": {"durationSeconds": 43200},
                "response_elements": {"credentials": credentials(rng, when, 43200)}}
    if operation == "AssumeRoleWithWebIdentity":
        provider, subject = caller.web_identity or ("", "")
        response = {**_assumed(caller.arn, session.name, rng, when), "subjectFromWebIdentityToken": subject,
                    "provider": provider, "audience": "sts.amazonaws.com"}
        return {"request_parameters": {"roleArn": caller.arn, "roleSessionName": session.name},
                "response_elements": response, "resources": [_role_resource(caller.arn)],
                "additional": {"identityProviderConnectionVerificationMethod": "IAMTrustStore"}}
    target = caller.target_role or ""
    name = f"{_name(caller.arn)}-{int(when.timestamp())}"
    return {"request_parameters": {"roleArn": target, "roleSessionName": name, "durationSeconds": 3600},
            "response_elements": _assumed(target, name, rng, when), "resources": [_role_resource(target)]}


def _scripted_failure(caller: Caller, session: Session, operation: str, when: datetime
                      ) -> tuple[tuple[str, str], dict[str, Any]] | None:
    """(errorCode, errorMessage) and requestParameters of a call a ``Failure`` of the caller covers."""
    failure = next((f for f in caller.failures if f.applies(operation, when.date())), None)
    if failure is None:
        return None
    message = failure.message.format(arn=session.identity.get("arn", ""), target=caller.target_role or "",
                                     account=caller.account, home=caller.region or "")
    request: dict[str, Any] = {}
    if failure.logs_request and operation == "AssumeRole":
        request = {"request_parameters": {"roleArn": caller.target_role or "",
                                          "roleSessionName": f"{_name(caller.arn)}-{int(when.timestamp())}",
                                          "durationSeconds": 3600}}
    return (failure.code, message), request


def caller_sts_events(caller: Caller, session: Session, when: datetime, operation: str, rng: random.Random,
                      *, index: int = 0, may_fail: bool = True, error: tuple[str, str] | None = None) -> list[Event]:
    """The event(s) of one STS call: two for a successful cross-account AssumeRole. ``error``: the
    call fails with it (errorCode, errorMessage), as do the calls a ``Failure`` of the caller covers."""
    regional = caller.endpoint == "regional"
    serving = (caller.region or GLOBAL_ENDPOINT_REGION) if regional else global_serving_region(caller, when.date())
    fields: dict[str, Any] = {}
    scripted = (error, {}) if error else _scripted_failure(caller, session, operation, when)
    failed = bool(scripted) or (may_fail and operation == "AssumeRole" and rng.random() < caller.error_rate)
    if scripted:
        fields["error"], request = scripted
        fields.update(request)
    elif failed:
        fields["error"] = ("AccessDenied", f"User: {session.identity['arn']} is not authorized to perform: "
                                           f"sts:AssumeRole on resource: {caller.target_role}")
    else:
        fields.update(_operation_fields(caller, session, operation, when, rng))
    target_account = (caller.target_role or caller.arn).split(":")[4]
    cross_account = operation == "AssumeRole" and not failed and target_account != caller.account
    if cross_account:
        fields["shared_event_id"] = uuid_like(rng)
    event = sts_event(
        identity=session.identity, when=when, event_name=operation,
        aws_region=serving if regional else GLOBAL_ENDPOINT_REGION,
        source_ip=rng.choice(caller_ips(caller.id, caller.network)), user_agent=caller.user_agent,
        recipient=caller.account, rng=rng,
        details=request_details(when.date(), serving, "regional" if regional else "global"),
        host=_sts_host(caller, serving, index), tls=caller.tls, event_version=caller.event_version, **fields)
    if cross_account:
        return [event, cross_account_twin(event, target_account, uuid_like(rng))]
    return [event]


def _activity_fields(activity: Activity, name: str, account: str, rng: random.Random) -> dict[str, Any]:
    """Service-specific parts of an activity event."""
    region, resource = activity.region, activity.resource
    service = activity.source.split(".")[0]
    if service == "s3":
        key = f"{rng.choice(('in', 'out', 'tmp'))}/{rng.getrandbits(32):08x}.json"
        host = f"{resource}.s3.{region}.amazonaws.com"
        return {"request_parameters": {"bucketName": resource, "Host": host, "key": key},
                "resources": [{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{resource}/{key}"},
                              {"accountId": account, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{resource}"}],
                "read_only": name == "GetObject", "data_event": True, "host": host,
                "additional": {"SignatureVersion": "SigV4", "CipherSuite": TLS13[1],
                               "bytesTransferredIn": 0 if name == "GetObject" else rng.randint(200, 9000),
                               "AuthenticationMethod": "AuthHeader"}}
    if service == "dynamodb":
        return {"request_parameters": {"tableName": resource, "key": {"pk": "HIDDEN_DUE_TO_SECURITY_REASONS"}},
                "resources": [{"accountId": account, "type": "AWS::DynamoDB::Table",
                               "ARN": f"arn:aws:dynamodb:{region}:{account}:table/{resource}"}],
                "read_only": name == "GetItem", "data_event": True}
    if service == "kinesis":
        return {"request_parameters": {"streamName": resource, "partitionKey": f"{rng.getrandbits(24):06x}"},
                "resources": [{"accountId": account, "type": "AWS::Kinesis::Stream",
                               "ARN": f"arn:aws:kinesis:{region}:{account}:stream/{resource}"}],
                "read_only": False, "data_event": True}
    if service == "iam":
        return {"request_parameters": {"roleName": resource} if name == "GetRole" else None,
                "host": "iam.amazonaws.com"}
    if service == "sqs":
        owner = activity.owner or account
        return {"request_parameters": {"queueUrl": f"https://sqs.{region}.amazonaws.com/{owner}/{resource}",
                                       "messageBody": "HIDDEN_DUE_TO_SECURITY_REASONS"},
                "resources": [{"accountId": owner, "type": "AWS::SQS::Queue",
                               "ARN": f"arn:aws:sqs:{region}:{owner}:{resource}"}],
                "read_only": False, "data_event": True}
    key = {"cloudformation": "stackName", "lambda": "functionName"}[service]
    return {"request_parameters": {key: resource}}


def caller_activity_event(caller: Caller, session: Session, activity: Activity, when: datetime,
                          rng: random.Random) -> Event:
    """One non-STS call of ``caller`` (same principal and network as its STS calls)."""
    name = rng.choice(activity.names)
    return activity_event(identity=session.activity_identity, when=when, event_source=activity.source,
                          event_name=name, aws_region=activity.region,
                          source_ip=rng.choice(caller_ips(caller.id, caller.network)),
                          user_agent=caller.user_agent, recipient=caller.account, rng=rng,
                          **_activity_fields(activity, name, caller.account, rng))


def issued_session_events(caller: Caller, issuing: Event, rng: random.Random) -> list[Event]:
    """The calls ``caller`` makes with the session its STS event ``issuing`` handed out (``caller.session_uses``):
    each signed with the issued access key; in an opt-in Region from ``rejected_from`` refused and
    retried; a call on another account's resource logged in both accounts with one sharedEventID."""
    uses = caller.session_uses
    response = issuing.get("responseElements") or {}
    if uses is None or "errorCode" in issuing or "credentials" not in response:
        return []
    session_arn = response["assumedRoleUser"]["arn"]
    identity = role_session_identity(caller.target_role or "", session_arn.rsplit("/", 1)[-1],
                                     response["credentials"]["accessKeyId"], issuing["eventTime"])
    issued = _parse_time(issuing["eventTime"])
    plan = [(activity, rng.randint(*activity.per_day)) for activity in uses.activity]
    if rng.random() < uses.occasional_share:
        plan += [(activity, rng.randint(*activity.per_day)) for activity in uses.occasional]
    events: list[Event] = []
    for activity, count in plan:
        for _ in range(count):
            when = issued + timedelta(seconds=rng.randint(5, 1800))
            rejected = is_opt_in(activity.region) and when.date() >= uses.rejected_from
            name = rng.choice(activity.names)
            for _attempt in range(1 + uses.retries if rejected else 1):
                cross = None if rejected or activity.owner in (None, caller.account) else activity.owner
                event = activity_event(identity=identity, when=when, event_source=activity.source, event_name=name,
                                       aws_region=activity.region,
                                       source_ip=rng.choice(caller_ips(caller.id, caller.network)),
                                       user_agent=caller.user_agent, recipient=caller.account, rng=rng,
                                       error=REJECTED_BY_SOURCE[activity.source] if rejected else None,
                                       shared_event_id=uuid_like(rng) if cross else None,
                                       **_activity_fields(activity, name, caller.account, rng))
                events.append(event)
                if cross:
                    events.append(cross_account_twin(event, cross, uuid_like(rng)))
                when += timedelta(seconds=rng.randint(1, 3))
    return events


# --- days ----------------------------------------------------------------------------------

def _scaled(count: int, scale: float) -> int:
    return count if scale == 1.0 else round(count * scale)


def _day_times(day: date, hour: int, count: int, rng: random.Random) -> list[datetime]:
    """``count`` sorted random seconds of ``day`` within ``hour`` (never a burst second)."""
    start = datetime(day.year, day.month, day.day, hour, tzinfo=timezone.utc)
    times: list[datetime] = []
    while len(times) < count:
        when = start + timedelta(seconds=rng.randrange(3600))
        if when not in _BURST_SECONDS:
            times.append(when)
    return sorted(times)


def work_hour(caller: Caller, day: date, seed: int) -> int:
    """The hour of ``day`` the caller's workload runs: its calls and activity fall in it."""
    return random.Random(f"{seed}:{caller.id}:{day}:hour").randrange(*caller.hours)


def caller_day_events(caller: Caller, day: date, seed: int, scale: float = 1.0) -> list[Event]:
    """Everything ``caller`` logs on ``day``: its STS calls and its activity."""
    rng = random.Random(f"{seed}:{caller.id}:{day}")
    if caller.since and day < caller.since:
        return []
    active = day in caller.days if caller.days is not None else rng.random() < caller.active_share
    if not active:
        return []
    session = open_session(caller, day, seed)
    hour = work_hour(caller, day, seed)
    events: list[Event] = []
    calls = _day_times(day, hour, _scaled(rng.randint(*caller.calls_per_day), scale), rng)
    uses_rng = random.Random(f"{seed}:{caller.id}:{day}:uses")
    for index, when in enumerate(calls):
        sts = caller_sts_events(caller, session, when, rng.choice(caller.operations), rng, index=index)
        events += sts
        if caller.session_uses:
            events += issued_session_events(caller, sts[0], uses_rng)
    for activity in caller.activity:
        for when in _day_times(day, hour, _scaled(rng.randint(*activity.per_day), scale), rng):
            events.append(caller_activity_event(caller, session, activity, when, rng))
    return events


def service_day_events(account: str, day: date, seed: int, scale: float = 1.0) -> list[Event]:
    """The AssumeRole calls AWS services make for ``account`` on ``day``."""
    rng = random.Random(f"{seed}:services:{account}:{day}")
    events = []
    service, region, role, caller_id = rng.choice(SERVICE_ROLES[account])
    hour = work_hour(CALLER_BY_ID[caller_id], day, seed)
    for when in _day_times(day, hour, _scaled(rng.randint(1, 3), scale), rng):
        events.append(service_sts_event(service=service, when=when, account=account, region=region,
                                        role_name=role, rng=rng))
    return events


def burst_events(burst: Burst, seed: int) -> list[tuple[str, Event]]:
    """(caller id, event) of every call of a burst, exactly ``rate`` per caller and second."""
    start = _parse_time(burst.start)
    rng = random.Random(f"{seed}:burst:{burst.start}")
    pairs = []
    for caller_id, rate in burst.rates:
        caller = CALLER_BY_ID[caller_id]
        session = open_session(caller, start.date(), seed)
        for offset in range(burst.seconds):
            when = start + timedelta(seconds=offset)
            for _ in range(rate):
                operation = "AssumeRole" if rng.random() < 0.25 else "GetCallerIdentity"
                pairs += [(caller_id, event)
                          for event in caller_sts_events(caller, session, when, operation, rng, may_fail=False)]
    return pairs


def throttled_burst_events(burst: ThrottledBurst, seed: int) -> list[tuple[str, Event]]:
    """(caller id, event) of every call of a throttled burst; past the quota a call is throttled."""
    start = _parse_time(burst.start)
    rng = random.Random(f"{seed}:throttled:{burst.start}")
    caller = CALLER_BY_ID[burst.caller_id]
    session = open_session(caller, start.date(), seed)
    pairs = []
    for offset, calls in enumerate(burst.calls):
        when = start + timedelta(seconds=offset)
        throttled = set(rng.sample(range(calls), max(0, calls - burst.quota)))
        for index in range(calls):
            operation = "AssumeRole" if rng.random() < 0.5 else "GetCallerIdentity"
            error = burst.error if index in throttled else None
            pairs += [(caller.id, event) for event in
                      caller_sts_events(caller, session, when, operation, rng, may_fail=False, error=error)]
    return pairs


def sample_days() -> Iterator[date]:
    """Every day of the sample window."""
    day, end = _parse_time(SAMPLE_START).date(), _parse_time(SAMPLE_END).date()
    while day < end:
        yield day
        day += timedelta(days=1)


def day_events(day: date, seed: int, scale: float = 1.0) -> list[tuple[str, Event]]:
    """(caller id or 'AWSService', event) of everything logged on ``day``, in time order."""
    pairs = [(caller.id, event) for caller in CALLERS
             for event in caller_day_events(caller, day, seed, scale)]
    pairs += [("AWSService", event) for account in ACCOUNTS
              for event in service_day_events(account, day, seed, scale)]
    pairs += [pair for burst in BURSTS if _parse_time(burst.start).date() == day
              for pair in burst_events(burst, seed)]
    pairs += [pair for burst in THROTTLED_BURSTS if _parse_time(burst.start).date() == day
              for pair in throttled_burst_events(burst, seed)]
    pairs.sort(key=lambda pair: pair[1]["eventTime"])
    return pairs


# --- writing -------------------------------------------------------------------------------

def write_json_gz(path: Path, document: Any, *, make_folder: bool = True) -> Path:
    """Write ``document`` as compact JSON in a reproducible gzip (no name, mtime 0)."""
    if make_folder:
        path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        gz.write(json.dumps(document, separators=(",", ":")).encode())
    return path


def log_file_path(root: Path, account: str, region: str, delivered: datetime, suffix: str,
                  extension: str = ".json.gz") -> Path:
    """Where CloudTrail delivers a log file of an organization trail."""
    return root / (f"AWSLogs/{ORG_ID}/{account}/CloudTrail/{region}/{delivered:%Y/%m/%d}/"
                   f"{account}_CloudTrail_{region}_{delivered:%Y%m%dT%H%MZ}_{suffix}{extension}")


def file_suffix(rng: random.Random) -> str:
    """The 16 random letters and digits that end a log file name."""
    return "".join(rng.choices(_ALNUM, k=16))


class TrailWriter:
    """Writes events as gzip log files in the S3 layout, one file per account, Region and hour.

    Feed events in time order: an event of a later hour writes the buffers of earlier hours, and a
    buffer reaching ``max_events`` is written at once (that hour then has several files), so
    memory stays bounded. The delivery time in the file name is the next 5-minute mark after the
    last event.
    """

    def __init__(self, root: Path, *, seed: int, max_events: int = MAX_EVENTS_PER_FILE) -> None:
        self.root = Path(root)
        self.seed = seed
        self.max_events = max_events
        self.files = 0
        self.events_by_account: Counter[str] = Counter()
        self._buffers: dict[tuple[str, str, str], list[Event]] = {}
        self._parts: Counter[tuple[str, str, str]] = Counter()
        self._folders: set[Path] = set()
        self._hour = ""

    def add(self, event: Event) -> None:
        """Buffer one event, writing whatever is complete."""
        hour = event["eventTime"][:13]
        if hour > self._hour:
            self._write_before(hour)
            self._hour = hour
        key = (event["recipientAccountId"], event["awsRegion"], hour)
        buffer = self._buffers.setdefault(key, [])
        buffer.append(event)
        if len(buffer) >= self.max_events:
            self._write(key, self._buffers.pop(key))

    def close(self) -> None:
        """Write every buffer left."""
        self._write_before("~")

    def __enter__(self) -> TrailWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _write_before(self, hour: str) -> None:
        for key in sorted(key for key in self._buffers if key[2] < hour):
            self._write(key, self._buffers.pop(key))

    def _write(self, key: tuple[str, str, str], events: list[Event]) -> None:
        account, region, hour = key
        part = self._parts[key]
        self._parts[key] += 1
        last = _parse_time(events[-1]["eventTime"])
        delivered = last.replace(second=0) + timedelta(minutes=5 - last.minute % 5)
        suffix = file_suffix(random.Random(f"{self.seed}:{account}:{region}:{hour}:{part}"))
        path = log_file_path(self.root, account, region, delivered, suffix)
        if path.parent not in self._folders:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._folders.add(path.parent)
        write_json_gz(path, {"Records": events}, make_folder=False)
        self.files += 1
        self.events_by_account[account] += len(events)


def ip_ranges() -> dict[str, Any]:
    """AWS's ip-ranges.json format holding only the AWS networks the sample callers use."""
    return {"_comment": "Sample subset of https://ip-ranges.amazonaws.com/ip-ranges.json: only the AWS "
                        "public networks kit.synth uses.",
            "syncToken": "1740787200", "createDate": "2025-03-01-00-00-00",
            "prefixes": [{"ip_prefix": prefix, "region": region, "service": service,
                          "network_border_group": region}
                         for prefix, region in AWS_PREFIXES for service in ("AMAZON", "EC2")],
            "ipv6_prefixes": []}


def _write_json(path: Path, document: Any) -> None:
    path.write_text(json.dumps(document, indent=2) + "\n")


def write_org(out_dir: str | Path, *, seed: int = 2025, events_target: int | None = None) -> dict[str, Any]:
    """Write the organization's trail and ip-ranges.json into ``out_dir``; return what was written.

    ``events_target`` scales the daily calls of every caller (bursts stay as they are), so the
    trail holds about that many events. An existing ``out_dir/trail`` is replaced.
    """
    out = Path(out_dir)
    trail = out / "trail"
    if trail.exists():
        shutil.rmtree(trail)
    scale = 1.0 if events_target is None else max(0, events_target - BURST_EVENTS) / BASELINE_DAILY_EVENTS
    by_caller: Counter[str] = Counter()
    with TrailWriter(trail, seed=seed) as writer:
        for day in sample_days():
            for caller_id, event in day_events(day, seed, scale):
                writer.add(event)
                by_caller[caller_id] += 1
    _write_json(out / "ip-ranges.json", ip_ranges())
    return {"generator": "kit.synth", "seed": seed, "window": [SAMPLE_START, SAMPLE_END],
            "organization": ORG_ID, "accounts": ACCOUNTS, "log_files": writer.files,
            "events_written": sum(by_caller.values()),
            "events_by_account": dict(sorted(writer.events_by_account.items())),
            "events_by_caller": {key: by_caller[key] for key in [*CALLER_BY_ID, "AWSService"]}}


# --- broken and non-log files --------------------------------------------------------------

def _log_files(trail: Path, account: str, region: str, month: str) -> list[Path]:
    folder = trail / "AWSLogs" / ORG_ID / account / "CloudTrail" / region / month
    return sorted(folder.rglob("*.json.gz"))


def _truncated_copy(trail: Path, rng: random.Random) -> Path:
    """A log file of a real hour re-delivered cut to half its bytes."""
    source = _log_files(trail, "111122223333", "eu-west-1", "2025/05")[0]
    data = source.read_bytes()
    target = source.with_name(f"{source.name.rsplit('_', 1)[0]}_{file_suffix(rng)}.json.gz")
    target.write_bytes(data[:len(data) // 2])
    return target


def _mixed_records(trail: Path, seed: int, rng: random.Random) -> tuple[Path, tuple[str, Event]]:
    """A log file with one valid event, one record that is not an object and one without eventTime."""
    caller = CALLER_BY_ID["C5"]
    day = date(2025, 6, 10)
    session = open_session(caller, day, seed)
    start = datetime(2025, 6, 10, 4, 12, 9, tzinfo=timezone.utc)
    valid = caller_sts_events(caller, session, start, "GetCallerIdentity", rng)[0]
    timeless = caller_sts_events(caller, session, start + timedelta(seconds=30), "GetCallerIdentity", rng)[0]
    del timeless["eventTime"]
    path = log_file_path(trail, caller.account, "us-east-1", start.replace(minute=15, second=0), file_suffix(rng))
    write_json_gz(path, {"Records": [valid, "not-an-event", timeless]})
    return path, (caller.id, valid)


def write_malformed(trail: Path, seed: int) -> tuple[list[Path], tuple[str, Event]]:
    """Broken files among the logs; returns their paths and (caller id, event) of the one valid event."""
    rng = random.Random(f"{seed}:malformed")
    not_json = log_file_path(trail, "333344445555", "eu-west-1", datetime(2025, 6, 2, 12, 5), file_suffix(rng),
                             ".json")
    not_json.parent.mkdir(parents=True, exist_ok=True)
    not_json.write_text("<Error><Code>SlowDown</Code></Error>\n")
    no_records = write_json_gz(log_file_path(trail, "444455556666", "us-west-2", datetime(2025, 7, 1, 8, 10),
                                             file_suffix(rng)), {"logFiles": []})
    mixed, valid = _mixed_records(trail, seed, rng)
    return [_truncated_copy(trail, rng), not_json, no_records, mixed], valid


def write_digest(trail: Path, account: str = "444455556666") -> Path:
    """A CloudTrail digest file (not a log file: readers must ignore it)."""
    folder = trail / "AWSLogs" / ORG_ID / account / "CloudTrail-Digest" / "us-east-1" / "2025" / "05" / "01"
    name = f"{account}_CloudTrail-Digest_us-east-1_org-trail_us-east-1_20250501T000000Z.json.gz"
    return write_json_gz(folder / name, {"awsAccountId": account, "digestStartTime": "2025-04-30T23:00:00Z",
                                         "digestEndTime": "2025-05-01T00:00:00Z", "logFiles": []})


def write_redelivered(trail: Path, seed: int) -> tuple[Path, list[Event]]:
    """CloudTrail delivering a log file twice: a copy, under another name, of the first file of C16's
    refused uses in ap-east-1 (every record again with the same eventID); its path and records."""
    rng = random.Random(f"{seed}:redelivered")
    uses = CALLER_BY_ID["C16"].session_uses
    assert uses is not None
    month = f"{uses.rejected_from:%Y/%m}"
    for source in _log_files(trail, "222233334444", "ap-east-1", month):
        records = json.loads(gzip.decompress(source.read_bytes()))["Records"]
        if any(record.get("errorCode") for record in records):
            target = source.with_name(f"{source.name.rsplit('_', 1)[0]}_{file_suffix(rng)}.json.gz")
            target.write_bytes(source.read_bytes())
            return target, records
    raise ValueError(f"no refused use of C16 in {month}")


def write_samples(out_dir: str | Path, seed: int = 2025) -> dict[str, Any]:
    """The sample data set: the org trail plus malformed and digest files, and ``manifest.json``.

    Manifest counts are the valid events a tolerant reader finds (including the one valid event
    inside the partly broken file); ``log_files`` counts the well-formed log files.
    """
    out = Path(out_dir)
    manifest = write_org(out, seed=seed)
    trail = out / "trail"
    malformed, (caller_id, valid) = write_malformed(trail, seed)
    digest = write_digest(trail)
    redelivered, again = write_redelivered(trail, seed)
    manifest["events_written"] += 1 + len(again)
    manifest["events_by_account"][valid["recipientAccountId"]] += 1
    manifest["events_by_account"]["222233334444"] += len(again)
    manifest["events_by_caller"][caller_id] += 1
    manifest["events_by_caller"]["C16"] += len(again)
    manifest["log_files"] += 1
    manifest["malformed_files"] = [path.relative_to(out).as_posix() for path in malformed]
    manifest["digest_files"] = [digest.relative_to(out).as_posix()]
    manifest["redelivered_files"] = [redelivered.relative_to(out).as_posix()]
    manifest["bursts"] = [{"start": burst.start, "seconds": burst.seconds, "calls_per_second": dict(burst.rates)}
                          for burst in BURSTS]
    manifest["throttled_bursts"] = [{"caller": burst.caller_id, "start": burst.start, "calls_per_second":
                                     list(burst.calls), "quota": burst.quota, "throttled": burst.throttled,
                                     "error": list(burst.error)} for burst in THROTTLED_BURSTS]
    manifest["breakage"] = {"token-v1-in-use": ["C16"], "token-rejected": ["C16"], "sts-throttled": ["C17"],
                            "scp-deny": ["C18"], "region-disabled": ["C19"], "signature-region": ["C20"]}
    _write_json(out / "manifest.json", manifest)
    return manifest


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m kit.synth --out DIR [--seed N] [--events-target N]``."""
    parser = argparse.ArgumentParser(prog="python -m kit.synth", description="Write the synthetic sample trail.")
    parser.add_argument("--out", type=Path, required=True, help="output folder (its trail/ is replaced)")
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--events-target", type=int,
                        help="scale the org to about this many events (no malformed files, no manifest.json)")
    args = parser.parse_args(argv)
    if args.events_target:
        manifest = write_org(args.out, seed=args.seed, events_target=args.events_target)
    else:
        manifest = write_samples(args.out, seed=args.seed)
    print(f"{args.out}: {manifest['log_files']} log files, {manifest['events_written']} events")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
