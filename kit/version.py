"""Which kit made a run: the installed package's version and, in a git checkout, the commit."""
from __future__ import annotations

import subprocess
from importlib import metadata
from pathlib import Path

PACKAGE = "sts-endpoint-kit"
REPO_ROOT = Path(__file__).resolve().parent.parent


def kit_version() -> str:
    """The installed version of the package ('unknown' when run from a copy that is not installed)."""
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return "unknown"


def git_commit(root: Path = REPO_ROOT) -> str | None:
    """The commit checked out in ``root`` (with ``+dirty`` when files differ from it); None outside a
    git checkout or without git."""
    if not (root / ".git").exists():
        return None
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10, check=False)
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = head.stdout.strip()
    if head.returncode != 0 or not commit:
        return None
    return commit + ("+dirty" if dirty.returncode == 0 and dirty.stdout.strip() else "")
