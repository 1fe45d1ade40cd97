"""Tests for kit.useragent: real CloudTrail user agents map to the right tool and embedded SDK."""

import dataclasses

import pytest

from kit.useragent import ClientTool, parse_user_agent

TF_V1 = (
    "APN/1.0 HashiCorp/1.0 Terraform/1.1.2 (+https://www.terraform.io) terraform-provider-aws/3.76.1 "
    "(+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go/1.44.157 (go1.19.3; linux; amd64) "
    "stratus-red-team_39f95f43-cd2f-4beb-b69e-be60b6fe1f57 HashiCorp-terraform-exec/0.17.3"
)
TF_V2 = (
    "APN/1.0 HashiCorp/1.0 Terraform/1.7.0 (+https://www.terraform.io) terraform-provider-aws/5.32.1 "
    "(+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.24.1 os/linux lang/go#1.21.5 "
    "md/GOOS#linux md/GOARCH#amd64 api/sts#1.26.7"
)

CASES = [
    # (user agent, tool, version, sdk, sdk_version)
    ("Boto3/1.26.36 Python/3.10.6 Linux/5.15.0-1026-aws Botocore/1.29.36", "boto3", "1.26.36", "boto3", "1.26.36"),
    (
        "Boto3/1.35.70 md/Botocore#1.35.70 ua/2.0 os/linux#5.10.0 md/arch#x86_64 lang/python#3.11.6 "
        "md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.35.70",
        "boto3", "1.35.70", "boto3", "1.35.70",
    ),
    ("Botocore/1.31.62 Python/3.11.4 Linux/5.15.0", "botocore", "1.31.62", "botocore", "1.31.62"),
    (
        "aws-cli/2.15.33 Python/3.11.8 Linux/5.10.210 exe/x86_64.amzn.2 prompt/off command/sts.assume-role",
        "aws-cli", "2.15.33", "aws-cli", "2.15.33",
    ),
    (
        "aws-cli/2.22.0 md/awscrt#0.23.0 ua/2.1 os/linux#5.10.0 md/arch#x86_64 lang/python#3.12.6 "
        "md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off md/command#sts.assume-role",
        "aws-cli", "2.22.0", "aws-cli", "2.22.0",
    ),
    (
        "aws-cli/2.1.0 Python/3.7.4 Linux/4.14.133-113.105.amzn2.x86_64 exe/x86_64.amzn.2 botocore/2.0.0dev4",
        "aws-cli", "2.1.0", "aws-cli", "2.1.0",
    ),
    ("aws-cli/1.29.62 Python/3.11.4 Darwin/22.6.0 botocore/1.31.62", "aws-cli", "1.29.62", "botocore", "1.31.62"),
    (
        "aws-cli/1.36.0 md/Botocore#1.35.70 ua/2.0 os/linux#5.10.0 lang/python#3.11.6 md/pyimpl#CPython",
        "aws-cli", "1.36.0", "botocore", "1.35.70",
    ),
    (
        "aws-sdk-java/1.12.261 Linux/5.10.184 OpenJDK_64-Bit_Server_VM/11.0.19+7-LTS java/11.0.19 "
        "vendor/Amazon.com_Inc.",
        "aws-sdk-java", "1.12.261", "aws-sdk-java", "1.12.261",
    ),
    (
        "aws-sdk-java/2.25.11 Linux/5.10 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS Java/17.0.10 "
        "vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy",
        "aws-sdk-java", "2.25.11", "aws-sdk-java", "2.25.11",
    ),
    (
        "aws-sdk-java/2.29.0 md/io#sync md/http#Apache ua/2.1 api/STS#2.29.0 os/Linux#5.10 lang/java#17.0.12",
        "aws-sdk-java", "2.29.0", "aws-sdk-java", "2.29.0",
    ),
    ("aws-sdk-go/1.44.298 (go1.20.5; linux; amd64)", "aws-sdk-go", "1.44.298", "aws-sdk-go", "1.44.298"),
    (
        "aws-sdk-go-v2/1.21.0 os/linux lang/go#1.21.1 md/GOOS#linux md/GOARCH#amd64 api/sts#1.23.0",
        "aws-sdk-go-v2", "1.21.0", "aws-sdk-go-v2", "1.21.0",
    ),
    (
        "aws-sdk-go-v2/1.17.0 os/linux lang/go/1.18.10 md/GOOS/linux md/GOARCH/amd64 api/sts/1.17.1",
        "aws-sdk-go-v2", "1.17.0", "aws-sdk-go-v2", "1.17.0",
    ),
    (
        "aws-sdk-nodejs/2.1400.0 linux/v18.16.0 exec-env/AWS_Lambda_nodejs18.x promise",
        "aws-sdk-js", "2.1400.0", "aws-sdk-js", "2.1400.0",
    ),
    ("aws-sdk-js/2.1400.0 promise", "aws-sdk-js", "2.1400.0", "aws-sdk-js", "2.1400.0"),
    (
        "aws-sdk-js/3.540.0 ua/2.0 os/linux#5.10 lang/js md/nodejs#20.11.1 api/sts#3.540.0",
        "aws-sdk-js", "3.540.0", "aws-sdk-js", "3.540.0",
    ),
    ("aws-sdk-php/3.300.1 OS/Linux/5.15 lang/php/8.2.10 GuzzleHttp/7", "aws-sdk-php", "3.300.1", "aws-sdk-php", "3.300.1"),
    (
        "aws-sdk-dotnet-coreclr/3.7.300.2 aws-sdk-dotnet-core/3.7.302.6 .NET_Core/6.0.25 OS/Linux_5.10 ClientAsync",
        "aws-sdk-dotnet", "3.7.302.6", "aws-sdk-dotnet", "3.7.302.6",
    ),
    (
        "aws-sdk-dotnet-45/3.3.101.0 aws-sdk-dotnet-core/3.3.104.1 .NET_Runtime/4.0 .NET_Framework/4.0 ClientSync",
        "aws-sdk-dotnet", "3.3.104.1", "aws-sdk-dotnet", "3.3.104.1",
    ),
    (
        "aws-sdk-dotnet-coreclr/4.0.1.0 ua/2.0 os/linux#5.10 lang/.NET_Core#8.0.1 api/STS#4.0.1.0",
        "aws-sdk-dotnet", "4.0.1.0", "aws-sdk-dotnet", "4.0.1.0",
    ),
    (
        "AWSPowerShell/4.1.14.0 .NET_Runtime/4.0 .NET_Framework/4.0 OS/Microsoft_Windows_NT_10.0 ClientSync",
        "aws-powershell", "4.1.14.0", "aws-powershell", "4.1.14.0",
    ),
    (
        "aws-sdk-dotnet-45/3.7.0.0 aws-sdk-dotnet-core/3.7.100.14 .NET_Runtime/4.0 AWSPowerShell/4.1.90.0",
        "aws-powershell", "4.1.90.0", "aws-sdk-dotnet", "3.7.100.14",
    ),
    (
        "aws-sdk-ruby3/3.190.0 ruby/3.2.2 x86_64-linux aws-sdk-sts/1.11.0",
        "aws-sdk-ruby", "3.190.0", "aws-sdk-ruby", "3.190.0",
    ),
    ("aws-sdk-ruby2/2.11.632 ruby/2.7.0 x86_64-linux", "aws-sdk-ruby", "2.11.632", "aws-sdk-ruby", "2.11.632"),
    ("aws-sdk-rust/1.1.4 os/linux lang/rust/1.75.0", "aws-sdk-rust", "1.1.4", "aws-sdk-rust", "1.1.4"),
    ("aws-sdk-cpp/1.11.200 Linux/5.10 x86_64 GCC/11.4.0", "aws-sdk-cpp", "1.11.200", "aws-sdk-cpp", "1.11.200"),
    (
        "aws-sdk-kotlin/1.0.41 ua/2.0 api/sts#1.0.41 os/linux#5.10 lang/kotlin#1.9.21",
        "aws-sdk-kotlin", "1.0.41", "aws-sdk-kotlin", "1.0.41",
    ),
    ("aws-sdk-swift/0.32.0 api/sts/0.32.0 os/linux lang/swift/5.9", "aws-sdk-swift", "0.32.0", "aws-sdk-swift", "0.32.0"),
    (TF_V1, "terraform", "3.76.1", "aws-sdk-go", "1.44.157"),
    (TF_V2, "terraform", "5.32.1", "aws-sdk-go-v2", "1.24.1"),
    (
        "APN/1.0 HashiCorp/1.0 Terraform/1.4.6 terraform-provider-aws/5.0.1 aws-sdk-go/1.44.270 "
        "aws-sdk-go-v2/1.18.0 os/linux lang/go/1.20.4",
        "terraform", "5.0.1", "aws-sdk-go-v2", "1.18.0",
    ),
    (
        "APN/1.0 HashiCorp/1.0 Terraform/1.5.7 (+https://www.terraform.io) aws-sdk-go/1.44.300 (go1.20.7; linux; amd64)",
        "terraform", "1.5.7", "aws-sdk-go", "1.44.300",
    ),
    (
        "aws-cdk/2.100.0 (+https://github.com/aws/aws-cdk) aws-sdk-nodejs/2.1480.0 linux/v18.18.0 promise",
        "aws-cdk", "2.100.0", "aws-sdk-js", "2.1480.0",
    ),
    (
        "aws-sdk-nodejs/2.1480.0 linux/v18.17.1 exec-env/AWS_ECS_FARGATE promise aws-cdk/2.99.1",
        "aws-cdk", "2.99.1", "aws-sdk-js", "2.1480.0",
    ),
    ("configure-aws-credentials-for-github-actions", "github-actions", "", "github-actions", ""),
    (
        "aws-sdk-nodejs/2.1354.0 linux/v16.20.0 exec-env/GitHubActions promise "
        "configure-aws-credentials-for-github-actions",
        "github-actions", "", "aws-sdk-js", "2.1354.0",
    ),
    (
        "aws-sdk-js/3.540.0 ua/2.0 os/linux#6.5 lang/js md/nodejs#20.11.1 api/sts#3.540.0 "
        "configure-aws-credentials-for-github-actions",
        "github-actions", "", "aws-sdk-js", "3.540.0",
    ),
    ("console.amazonaws.com", "aws-console", "", "aws-console", ""),
    ("signin.amazonaws.com", "aws-console", "", "aws-console", ""),
    ("rds.amazonaws.com", "aws-service", "", "aws-service", ""),
    ("AWS Internal", "aws-service", "", "aws-service", ""),
    ("stratus-red-team_7d2a6913-ded3-49c6-a31c-0cdeebcc259c", "stratus-red-team", "", "stratus-red-team", ""),
    ("ci-runner_0123456789abcdef", "ci-runner", "", "ci-runner", ""),
    ("My-Deploy-Tool/0.3.1 Python/3.11", "my-deploy-tool", "0.3.1", "my-deploy-tool", "0.3.1"),
    ("", "unknown", "", "unknown", ""),
    ("   ", "unknown", "", "unknown", ""),
    (None, "unknown", "", "unknown", ""),
]


@pytest.mark.parametrize(("user_agent", "tool", "version", "sdk", "sdk_version"), CASES)
def test_parse_user_agent(user_agent, tool, version, sdk, sdk_version):
    assert parse_user_agent(user_agent) == ClientTool(tool, version, sdk, sdk_version)


def test_unrecognised_tool_name_is_capped_at_40_chars():
    assert parse_user_agent("x" * 60 + "/1.0").tool == "x" * 40


def test_client_tool_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        parse_user_agent("aws-sdk-go/1.44.298").tool = "boto3"
