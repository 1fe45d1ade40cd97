"""The policies and token setting that apply to one account, however they were found."""
from __future__ import annotations

from dataclasses import dataclass, field

from kit.policy.document import Policy
from kit.policy.evaluate import Layer

TOKEN_VERSIONS = {"1": "v1Token", "2": "v2Token", "v1token": "v1Token", "v2token": "v2Token"}


def token_version(value: object) -> str | None:
    """``v1Token``/``v2Token`` from the API's 1/2, the setting's name, or None when unknown."""
    return TOKEN_VERSIONS.get(str(value).strip().lower()) if value is not None else None


@dataclass(frozen=True)
class AccountPolicies:
    """SCPs per level of the account's path (root first, account last), optional identity
    policies per principal ARN and VPC endpoint policies, the token version, or why not checked."""

    account_id: str
    path: tuple[str, ...] = ()
    scps: dict[str, tuple[Policy, ...]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    identity: dict[str, tuple[Policy, ...]] = field(default_factory=dict)
    vpc_endpoint: tuple[Policy, ...] = ()
    token_version: str | None = None
    token_problem: str = ""
    identity_problem: str = ""  # identity policies could not be read; SCPs still checked
    problem: str = ""  # non-empty: the policies could not be read; the account is "not checked"

    def layers(self, principal_arn: str) -> tuple[Layer, ...]:
        """The layers a call by ``principal_arn`` must pass; SCP levels without policies restrict nothing."""
        out = [Layer(f"SCPs on {self.names.get(target, target)}", self.scps[target])
               for target in self.path if self.scps.get(target)]
        if self.identity.get(principal_arn):
            out.append(Layer(f"identity policies of {principal_arn}", self.identity[principal_arn]))
        if self.vpc_endpoint:
            out.append(Layer("VPC endpoint policies", self.vpc_endpoint))
        return tuple(out)
