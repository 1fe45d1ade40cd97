"""``sts-kit run``: execute the notebooks headlessly with papermill into a run folder.

Each run gets ``runs/<UTC timestamp>/`` holding one executed notebook per step (the immutable
record of the run), the plan files, per-account reports and ``run.json``. Source notebooks are
never modified. Parameters are validated before any kernel starts.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import papermill
from papermill.exceptions import PapermillExecutionError

from kit.errors import NotebookFailed
from kit.params import validate

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"
_PATH_PARAMS = ("path", "ip_ranges", "policies")


@dataclass
class RunResult:
    """Where a run went and what it produced."""

    run_dir: Path
    notebooks: list[Path]
    seconds: float


def source_notebooks(directory: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The numbered notebooks, in reading order."""
    return sorted(directory.glob("[0-9][0-9]-*.ipynb"))


def _absolute(parameters: dict[str, Any]) -> dict[str, Any]:
    """Paths resolved against the caller's working directory (kernels run in notebooks/)."""
    return {name: str(Path(value).expanduser().resolve()) if name in _PATH_PARAMS and value else value
            for name, value in parameters.items()}


def run_notebooks(parameters: dict[str, Any], runs_root: Path, notebooks: list[Path] | None = None) -> RunResult:
    """Execute every notebook with ``parameters``; raise ``NotebookFailed`` on the first failure."""
    began = time.perf_counter()
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    run_dir = (runs_root / stamp).resolve()
    parameters = _absolute({**parameters, "out_dir": str(run_dir)})
    validate(parameters)
    run_dir.mkdir(parents=True, exist_ok=False)
    executed, record = [], {"started": stamp, "parameters": parameters, "notebooks": []}
    try:
        for notebook in notebooks or source_notebooks():
            target = run_dir / notebook.name
            executed.append(target)
            step = {"notebook": notebook.name, "status": "running"}
            record["notebooks"].append(step)
            try:
                papermill.execute_notebook(str(notebook), str(target), parameters=parameters,
                                           cwd=str(notebook.parent), progress_bar=False, log_output=False)
            except PapermillExecutionError as error:
                step.update(status="failed", cell=error.exec_count, error=f"{error.ename}: {error.evalue}")
                raise NotebookFailed(target, error.exec_count, f"{error.ename}: {error.evalue}") from None
            step["status"] = "done"
    finally:
        record["seconds"] = round(time.perf_counter() - began, 1)
        (run_dir / "run.json").write_text(json.dumps(record, indent=2) + "\n")
    return RunResult(run_dir, executed, time.perf_counter() - began)


def refresh_committed(notebooks: list[Path] | None = None) -> None:
    """Re-execute the source notebooks in place with their defaults (outputs for readers and nbval)."""
    import nbclient
    import nbformat

    for notebook in notebooks or source_notebooks():
        document = nbformat.read(notebook, as_version=4)
        nbclient.NotebookClient(document, timeout=600, kernel_name="python3",
                                resources={"metadata": {"path": str(notebook.parent)}}).execute()
        nbformat.write(document, notebook)
