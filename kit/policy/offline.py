"""Offline policies: a folder of exported policy JSON files and a mapping of where each applies.

``mapping.yaml`` (or ``mapping.json``) in the folder::

    names: {r-a1b2: Root, ou-a1b2-identity: identity}       # optional, for findings
    management_account: "111111111111"                       # optional: SCPs never apply to it
    targets:                                                 # root, OU or account id -> SCP files
      r-a1b2: [scp-full-aws-access.json]
    accounts:
      "444455556666": {path: [r-a1b2, ou-a1b2-identity], token_version: v2Token}
    identity: {"arn:aws:iam::444455556666:role/sso-broker": [role-policy.json]}   # optional
    vpc_endpoints: {"444455556666": [vpce-sts.json]}                             # optional

An account's SCP levels are its path plus the account itself. A malformed policy or mapping
entry marks the accounts it touches "not checked", never "no risk".
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

import yaml

from kit.errors import PolicyError
from kit.events import account_of_arn
from kit.policy.account import AccountPolicies, token_version
from kit.policy.document import Policy, load_policy_file, shape_of

MAPPING_NAMES = ("mapping.yaml", "mapping.yml", "mapping.json")


def read_mapping(folder: Path) -> tuple[Path, dict[str, Any]]:
    """The mapping file of ``folder`` and its content; ``PolicyError`` when missing or malformed."""
    found = next((folder / name for name in MAPPING_NAMES if (folder / name).is_file()), None)
    if found is None:
        raise PolicyError(f"mapping in {folder}", f"no {' or '.join(MAPPING_NAMES)} found; "
                                                  "add one that maps root/OU/account ids to policy files")
    try:
        text = found.read_text(encoding="utf-8")
        data = json.loads(text) if found.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as error:
        raise PolicyError(f"mapping {found}", f"cannot be read: {error}") from None
    except RecursionError:
        raise PolicyError(f"mapping {found}", "is nested too deeply to be a mapping") from None
    if not isinstance(data, dict) or not isinstance(data.get("accounts"), dict):
        raise PolicyError(f"mapping {found}", "needs an 'accounts' section: account id -> {path: [root, OUs...]}")
    for section in ("accounts", "targets", "names", "identity", "vpc_endpoints"):
        if not isinstance(data.get(section) or {}, dict):
            raise PolicyError(f"mapping {found}", f"'{section}' must be a mapping of ids to values")
        data[section] = {str(key): value for key, value in (data.get(section) or {}).items()}
    return found, data


def _ids(value: Any, where: str) -> tuple[str, ...]:
    """A list of ids or file names (text or numbers); anything else is a mapping error, never expanded."""
    if not isinstance(value, list) or not all(isinstance(item, (str, int)) and not isinstance(item, bool)
                                              for item in value):
        raise PolicyError(f"mapping entry {where}", f"must be a list of ids or file names, got {shape_of(value)}"
                          + (" holding other values" if isinstance(value, list) else ""))
    return tuple(str(item) for item in value)


class _Files:
    """Policy files of one folder, parsed once each."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.cache: dict[tuple[str, str], Policy] = {}

    def load(self, names: Any, kind: str, where: str) -> tuple[Policy, ...]:
        files = _ids(names, where)
        for name in files:
            if (name, kind) not in self.cache:
                path = self.folder / name
                if not path.resolve().is_relative_to(self.folder.resolve()):
                    raise PolicyError(f"mapping entry {where}", f"{name!r} is outside the policies folder")
                self.cache[(name, kind)] = load_policy_file(path, kind)
        return tuple(self.cache[(name, kind)] for name in files)


def _account(account: str, entry: Any, data: dict[str, Any], files: _Files) -> AccountPolicies:
    if not isinstance(entry, dict):
        raise PolicyError(f"mapping entry for {account}", "must be {path: [root id, OU ids...], token_version: ...}")
    path = _ids(entry.get("path", []), f"{account} path") + (account,)
    targets = data["targets"]
    exempt = account == str(data.get("management_account", ""))
    scps = {target: files.load(targets[target], "scp", target)
            for target in path if target in targets and not exempt}
    identity = {arn: files.load(names, "identity", arn) for arn, names in data["identity"].items()
                if account_of_arn(arn) == account}
    vpce = files.load(data["vpc_endpoints"].get(account, []), "vpc-endpoint", account)
    version = entry.get("token_version")
    names = {key: str(value) for key, value in data["names"].items() if isinstance(value, (str, int))}
    known = token_version(version) if isinstance(version, (str, int)) else None
    shown = repr(version[:40]) if isinstance(version, str) else shape_of(version)
    return AccountPolicies(account, path, scps, names, identity, vpce, known,
                           "" if version is None or known else f"unknown token_version {shown}")


def load_offline(folder: Path, accounts: Iterable[str]) -> dict[str, AccountPolicies]:
    """Policies of each account; accounts the mapping lacks or cannot serve get a ``problem``."""
    try:
        mapping, data = read_mapping(folder)
    except PolicyError as error:
        return {account: AccountPolicies(account, problem=str(error)) for account in accounts}
    files = _Files(folder)
    out = {}
    for account in accounts:
        entry = data["accounts"].get(account)
        if entry is None:
            out[account] = AccountPolicies(account, problem=f"account not in {mapping.name}")
            continue
        try:
            out[account] = _account(account, entry, data, files)
        except PolicyError as error:
            out[account] = AccountPolicies(account, problem=str(error))
    return out
