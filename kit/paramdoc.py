"""The parameter schema as analysts read it: the notebooks' ``parameters`` cell, ``sts-kit params``
and ``params.example.yaml`` are all generated here from ``kit.params.SCHEMA`` (one source of truth).

The ``parameters`` cell is written so papermill's introspection reads every name with a type and
help (``name = value  # type: T  help``): ``papermill --help-notebook`` lists them all and ``-p``
accepts them without a warning. Papermill gives up on a line holding a second ``=``, so help text
never contains one.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kit.params import SCHEMA, Param

REPO_ROOT = Path(__file__).resolve().parent.parent
"""Relative paths in notebook parameters resolve against this folder, never the working directory."""

NOTEBOOK_OUT_DIR = "out/notebooks"
"""Where the notebooks write their plan files by default (relative to ``REPO_ROOT``)."""

PATH_PARAMS = ("path", "out_dir", "ip_ranges", "policies")

TYPES = {"quota_overrides": "dict", "quota": "int", "risk_threshold": "float", "workers": "int", "cache": "bool",
         "quiet": "bool", "max_queries": "int"}
"""Papermill type of each parameter; the rest are strings (``None``: not set)."""

SECTIONS = (
    ("What to read", ("source", "path", "start", "end", "accounts", "ip_ranges")),
    ("The plan", ("quota", "quota_overrides", "risk_threshold", "policy_source", "policies", "out_dir")),
    ("Local engine (trail files): reading", ("workers", "cache", "quiet")),
    ("AWS engines: used only when source is lake, athena, security-lake or logs-insights",
     ("event_data_store", "owner_account_id", "database", "table", "workgroup", "output_location", "log_group",
      "max_queries", "aws_region", "aws_profile", "endpoint_url")),
)

_NOTEBOOK_DEFAULTS: dict[str, Any] = {"out_dir": NOTEBOOK_OUT_DIR}
_NOTEBOOK_HELP = {
    "quota_overrides": "raised quotas as {'ACCOUNT/REGION[/global]': RPS}, e.g. {'111122223333/eu-west-1': 1500}",
    "out_dir": "folder for plan.csv, quota.csv, summary.json, plan.md and reports/",
    "path": "local: folder of CloudTrail trail files (.json/.json.gz, any depth)",
    "ip_ranges": "AWS ip-ranges.json, to tell AWS from other source IPs (samples ship their own)",
    "policy_source": "none, offline or live: where SCPs and token settings come from (samples: offline)",
}


def type_name(param: Param) -> str:
    """The type papermill shows for ``param``."""
    return TYPES.get(param.name, "str")


def notebook_default(param: Param) -> Any:
    """The value a notebook's parameters cell starts with."""
    if param.name in _NOTEBOOK_DEFAULTS:
        return _NOTEBOOK_DEFAULTS[param.name]
    return str(param.default) if isinstance(param.default, Path) else param.default


def help_text(param: Param) -> str:
    """One line of help for the parameters cell (never holding '=': papermill cannot parse that line)."""
    return _NOTEBOOK_HELP.get(param.name, param.help)


def _literal(value: Any) -> str:
    """A Python literal for the parameters cell (double-quoted strings, as analysts expect)."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, tuple):
        return repr(list(value)) if value else "None"
    return repr(value)


def parameters_cell() -> str:
    """The source of every notebook's ``parameters`` cell."""
    by_name = {param.name: param for param in SCHEMA}
    width = max(len(f"{p.name} = {_literal(notebook_default(p))}") for p in SCHEMA) + 2
    lines = ["# Parameters: papermill and `sts-kit run` replace these values (`sts-kit params` explains each).",
             "# Relative paths are relative to the repository, wherever Jupyter or papermill was started."]
    for title, names in SECTIONS:
        lines.append(f"# -- {title}")
        for name in names:
            param = by_name[name]
            assignment = f"{name} = {_literal(notebook_default(param))}"
            lines.append(f"{assignment:<{width}}# type: {type_name(param)}  {help_text(param)}")
    return "\n".join(lines)


def listing() -> list[tuple[str, str, str, str]]:
    """(name, type, default, help) per parameter, in schema order: ``sts-kit params``."""
    return [(p.name, type_name(p), "" if p.default in (None, ()) else str(p.default), p.help) for p in SCHEMA]


def example_yaml() -> str:
    """``params.example.yaml``: every parameter with its default, commented, for ``sts-kit run -f``."""
    lines = ["# Parameters for `sts-kit run -f params.yaml` or `papermill -f params.yaml` (generated from",
             "# kit/params.py by kit/paramdoc.py; `sts-kit params` lists the same). Copy, keep the lines you",
             "# change, delete the rest. null means not set."]
    for title, names in SECTIONS:
        lines += ["", f"# {title}"]
        for name in names:
            param = next(p for p in SCHEMA if p.name == name)
            default = param.default
            value = "null" if default in (None, ()) else json.dumps(str(default) if isinstance(default, Path)
                                                                     else default)
            lines += [f"# {param.help} ({type_name(param)})", f"{name}: {value}"]
    return "\n".join(lines) + "\n"
