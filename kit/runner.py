"""``sts-kit run``: execute the notebooks headlessly with papermill into a run folder.

The engine runs once per run (one set of queries on Lake, Athena or Logs Insights): its rollup is
stored in the run folder (``rollup.msgpack``, named with its sha256 by ``rollup.json``) and every
notebook builds its plan from it. Each run gets ``runs/<UTC timestamp>[-NN]/`` (unique, locked
while it runs) holding one executed notebook per step (the immutable record of the run), the plan
files, per-account reports and ``run.json`` (kit version, git commit, every parameter with its
default filled in, each notebook's status and seconds, and the log lines of papermill and the
kernels, kept off the terminal). Source notebooks are never modified. Parameters are validated before the run folder
is created; Ctrl-C stops the kernels and says what was kept.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import IO, Any, Iterator

import papermill
from papermill.exceptions import PapermillExecutionError

from kit import rollupfile
from kit.engines import collect
from kit.errors import Interrupted, NotebookFailed, OutputError
from kit.outputs import check_out_dir, folder_lock, held_lock_env, write_file
from kit.params import validate
from kit.plan import usable
from kit.version import git_commit, kit_version

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"
_PATH_PARAMS = ("path", "ip_ranges", "policies")
KERNEL_STARTS = 3
"""Tries to start a notebook's kernel. Kernels that two runs start at the same moment can be given
the same free port (jupyter_client picks ports, then the kernel binds them): the loser dies before it
answers, no cell having run, and is started again."""
DIED_STARTING = "Kernel died before replying to kernel_info"
"""How nbclient says a kernel died while starting (a ``RuntimeError``, no class of its own)."""


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


def _plain(parameters: dict[str, Any]) -> dict[str, Any]:
    """Values papermill can write into a parameters cell: dates and times as ISO strings."""
    def plain(value: Any) -> Any:
        if isinstance(value, (date, datetime)):
            return value.isoformat()
        return str(value) if isinstance(value, Path) else value
    return {name: plain(value) for name, value in parameters.items()}


def new_run_dir(runs_root: Path) -> Path:
    """A new, empty ``runs_root/<UTC second>[-NN]/``: unique even for runs started in the same second."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    runs_root.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, 1000):
        candidate = runs_root / (stamp if attempt == 1 else f"{stamp}-{attempt:02d}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate.resolve()
    raise OutputError(f"--runs {runs_root}: 999 runs started in {stamp}; choose another folder")


def _kernel_manager(stderr: IO[bytes], started: list[Any]) -> type:
    """A kernel manager whose kernels write their own log (start-up and shutdown notices) to
    ``stderr`` instead of the terminal (what cells raise still comes back through papermill),
    and are listed in ``started`` so that none outlives the run."""
    from jupyter_client import AsyncKernelManager

    class RunKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw: Any) -> None:
            started.append(self)
            kw.setdefault("stderr", stderr)
            await super().start_kernel(**kw)

    return RunKernelManager


def _stop_kernels(managers: list[Any]) -> None:
    """Kill the kernels still running (after Ctrl-C papermill cannot shut them down), with the
    processes they started when the kernel leads its own process group (POSIX)."""
    for manager in managers:
        process = getattr(manager.provisioner, "process", None) if manager.provisioner else None
        if process is not None and process.poll() is None:
            with contextlib.suppress(OSError):
                if hasattr(os, "killpg") and os.getpgid(process.pid) == process.pid:
                    os.killpg(process.pid, signal.SIGKILL)
                else:
                    process.kill()
            with contextlib.suppress(Exception):
                process.wait(timeout=10)
        with contextlib.suppress(Exception):
            manager.cleanup_connection_file()


@contextlib.contextmanager
def _quiet_machinery(record: dict[str, Any]) -> Iterator[type]:
    """papermill's log lines and the kernels' own stderr go to ``record["log"]`` (run.json), not
    the terminal; errors still raise. Yields the kernel manager class to run notebooks with."""
    lines: list[str] = record.setdefault("log", [])

    class ToRecord(logging.Handler):
        def emit(self, entry: logging.LogRecord) -> None:
            lines.append(f"{entry.levelname}: {entry.getMessage()}")

    logger = logging.getLogger("papermill")
    handler, propagate = ToRecord(logging.WARNING), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    kernels: list[Any] = []
    with tempfile.TemporaryFile() as kernel_log:
        try:
            yield _kernel_manager(kernel_log, kernels)
        finally:
            _stop_kernels(kernels)
            logger.removeHandler(handler)
            logger.propagate = propagate
            kernel_log.seek(0)
            lines += [f"kernel: {line}" for line in kernel_log.read().decode(errors="replace").splitlines() if line]


def run_notebooks(parameters: dict[str, Any], runs_root: Path, notebooks: list[Path] | None = None) -> RunResult:
    """Compute the rollup once, store it in a new, locked run folder (kit.rollupfile), then execute
    every notebook with ``parameters`` there (each builds its plan from that rollup); raise
    ``NotebookFailed`` on the first failure, ``Interrupted`` (saying what was kept) on Ctrl-C.
    Parameters are validated, and the engine run, before the run folder is created."""
    began = time.perf_counter()
    validate({**parameters, "out_dir": str(runs_root)})
    parameters = _plain(_absolute(parameters))
    check_out_dir(runs_root, "--runs")
    selected = validate({**parameters, "out_dir": str(runs_root)})
    rollup = usable(collect(selected), selected)
    queried = time.perf_counter() - began
    run_dir = new_run_dir(runs_root)
    parameters["out_dir"] = str(run_dir)
    params = validate(parameters)
    notebooks = notebooks or source_notebooks()
    executed: list[Path] = []
    record: dict[str, Any] = {"started": run_dir.name, "kit_version": kit_version(), "commit": git_commit(),
                              "parameters": params.to_dict(), "notebooks": []}
    with folder_lock(run_dir, "run folder"):
        try:
            record["rollup"] = {**rollupfile.save(rollup, params, run_dir), "seconds": round(queried, 1)}
            with _quiet_machinery(record) as kernel_manager, _environ(held_lock_env(run_dir)):
                for notebook in notebooks:
                    executed.append(run_dir / notebook.name)
                    _execute(notebook, executed[-1], parameters, kernel_manager, record, len(notebooks))
        finally:
            record["seconds"] = round(time.perf_counter() - began, 1)
            write_file(run_dir / "run.json", (json.dumps(record, indent=2) + "\n").encode())
    return RunResult(run_dir, executed, time.perf_counter() - began)


def _execute(notebook: Path, target: Path, parameters: dict[str, Any], kernel_manager: type,
             record: dict[str, Any], total: int) -> None:
    """Run one notebook into ``target``, recording its step (status and seconds) in ``record``."""
    step: dict[str, Any] = {"notebook": notebook.name, "status": "running"}
    record["notebooks"].append(step)
    began = time.perf_counter()
    try:
        died = _execute_with_restarts(notebook, target, parameters, kernel_manager, record.setdefault("log", []))
        if died:
            step.update(status="failed", cell=0, error=died)
            raise NotebookFailed(target, 0, f"its kernel died while starting, {KERNEL_STARTS} times "
                                 "(run.json's log holds the kernel's own lines)")
    except PapermillExecutionError as error:
        step.update(status="failed", cell=error.exec_count, error=f"{error.ename}: {error.evalue}")
        raise NotebookFailed(target, error.exec_count, f"{error.ename}: {error.evalue}") from None
    except KeyboardInterrupt:
        step["status"] = "interrupted"
        done = len(record["notebooks"]) - 1
        raise Interrupted(f"kept {target.parent} ({done} of {total} notebooks done; run.json says where it "
                          "stopped)") from None
    finally:
        step["seconds"] = round(time.perf_counter() - began, 1)
    step["status"] = "done"


def _execute_with_restarts(notebook: Path, target: Path, parameters: dict[str, Any], kernel_manager: type,
                           log: list[str]) -> str | None:
    """papermill's run of ``notebook`` into ``target``, its kernel started again (noted in ``log``) when
    it dies while starting; None when the notebook ran, else the last start's error."""
    died = None
    for start in range(1, KERNEL_STARTS + 1):
        try:
            papermill.execute_notebook(str(notebook), str(target), parameters=parameters, cwd=str(notebook.parent),
                                       progress_bar=False, log_output=False, kernel_manager_class=kernel_manager)
            return None
        except RuntimeError as error:
            if not str(error).startswith(DIED_STARTING):
                raise
            died = str(error)
            log.append(f"kernel: {notebook.name}: {died} (start {start} of {KERNEL_STARTS})")
    return died


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    """``values`` in this process's environment (inherited by kernels) while the block runs."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def refresh_committed(notebooks: list[Path] | None = None) -> None:
    """Re-execute the source notebooks in place with their defaults (outputs for readers and nbval)."""
    import nbclient
    import nbformat

    for notebook in notebooks or source_notebooks():
        document = nbformat.read(notebook, as_version=4)
        nbclient.NotebookClient(document, timeout=600, kernel_name="python3",
                                resources={"metadata": {"path": str(notebook.parent)}}).execute()
        nbformat.write(document, notebook)
