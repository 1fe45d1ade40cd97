"""environment.yml (conda) and pyproject.toml must list the same dependencies."""
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CONDA_NAMES = {"python-duckdb": "duckdb", "msgpack-python": "msgpack"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower()


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"]}
    for extra in project["optional-dependencies"].values():
        wanted |= {_name(r) for r in extra}
    conda = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    listed = {CONDA_NAMES.get(_name(d), _name(d)) for d in conda if isinstance(d, str)} - {"python", "pip"}
    pip = next((d["pip"] for d in conda if isinstance(d, dict) and "pip" in d), [])
    listed |= {_name(d) for d in pip if not d.startswith("-")}  # packages conda-forge does not carry
    assert listed == wanted
