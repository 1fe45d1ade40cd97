"""``sts-kit run`` as a user meets it: unique run folders, a clean stderr, bad parameters files
that leave nothing behind, a locked run folder, and Ctrl-C that stops the kernel and says what
was kept."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kit.cli import main
from kit.outputs import verify_set
from kit.readnotes import TERMINAL_NOTES
from kit import runner
from kit.errors import NotebookFailed
from kit.runner import new_run_dir
from processes import HAS_PROC, alive, descendants

ROOT = Path(__file__).resolve().parent.parent


def _run_argv(runs: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "kit", "run", "--runs", str(runs), *extra]


def test_run_folders_started_in_the_same_second_are_distinct(tmp_path):
    folders = [new_run_dir(tmp_path) for _ in range(3)]
    assert len(set(folders)) == 3 and all(folder.is_dir() for folder in folders)


def test_two_concurrent_runs_both_succeed_with_a_clean_stderr(tmp_path):
    (tmp_path / "params.yaml").write_text("start: 2025-03-01\nend: 2025-09-01\naccounts: [222233334444]\n")
    runs = [subprocess.Popen(_run_argv(tmp_path / "runs", *extra), cwd=ROOT, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for extra in ([], ["-f", str(tmp_path / "params.yaml")])]
    results = [run.communicate(timeout=300) for run in runs]
    for run, (out, err) in zip(runs, results):
        assert run.returncode == 0 and err == "", err
        lines = out.splitlines()  # the summary line, a few notes, where the run went
        assert "callers of the global endpoint" in lines[0] and lines[-1].startswith("Ran 5 notebooks")
        assert len(lines) <= 2 + TERMINAL_NOTES + 1 and all(line.startswith("note: ") for line in lines[1:-1])
    folders = sorted(path for path in (tmp_path / "runs").iterdir() if path.is_dir())  # and history.csv
    assert len(folders) == 2 and all(verify_set(folder) == [] for folder in folders)
    reports = sorted(len(list((folder / "reports").glob("*.md"))) for folder in folders)
    assert reports == [1, 4]
    log = json.loads((folders[0] / "run.json").read_text())
    assert isinstance(log["log"], list)  # papermill's warnings are kept here, not on stderr


@pytest.mark.parametrize("text, fragment", [
    ("start: 2025-07-01\nquota: [1, 2]\n", "'quota': expected a single value"),
    ("a: &a [1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n", "aliases"),
    ("start: 2025-07-01\nend: 9999-12-31\n", "lies outside"),
])
def test_a_bad_parameters_file_is_one_line_exit_2_and_leaves_no_run_folder(tmp_path, text, fragment):
    (tmp_path / "params.yaml").write_text(text)
    done = subprocess.run(_run_argv(tmp_path / "runs", "-f", str(tmp_path / "params.yaml")), cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and fragment in done.stderr and done.stderr.count("\n") == 1
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())


def test_a_run_into_an_unusable_runs_folder_is_one_line_exit_2(tmp_path):
    (tmp_path / "runs").write_text("a file")
    done = subprocess.run(_run_argv(tmp_path / "runs"), cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--runs" in done.stderr and done.stderr.count("\n") == 1


@pytest.mark.skipif(not HAS_PROC, reason="needs /proc")
def test_ctrl_c_stops_the_kernel_and_says_what_was_kept(tmp_path, capsys):
    run = subprocess.Popen(_run_argv(tmp_path / "runs"), cwd=ROOT, text=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    kernels: set[int] = set()
    deadline = time.monotonic() + 120
    while not (kernels and list(tmp_path.glob("runs/*/01-*.ipynb"))) and run.poll() is None \
            and time.monotonic() < deadline:
        kernels = descendants(run.pid)
        time.sleep(0.05)
    assert kernels, "no kernel started"
    run_dir = next(tmp_path.glob("runs/*/"))
    assert main(["plan", "--out", str(run_dir)]) == 2  # the run folder is locked while the run lasts
    assert "is being written by another sts-kit" in capsys.readouterr().err
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 130 and err.count("\n") == 1
    assert err.startswith("sts-kit run: interrupted; kept ") and "notebooks done" in err
    time.sleep(0.5)
    assert not alive(kernels)
    record = json.loads(next(tmp_path.glob("runs/*/run.json")).read_text())
    assert record["notebooks"][-1]["status"] == "interrupted"


def _starting_kernels(monkeypatch, deaths: int) -> list[str]:
    """papermill.execute_notebook replaced: its kernel dies while starting ``deaths`` times, then the
    notebook runs (the copy is written); returns the calls' targets."""
    calls: list[str] = []

    def execute(source: str, target: str, **_: object) -> None:
        calls.append(target)
        if len(calls) <= deaths:
            raise RuntimeError(runner.DIED_STARTING)
        Path(target).write_text("{}")

    monkeypatch.setattr(runner.papermill, "execute_notebook", execute)
    return calls


def test_a_kernel_that_dies_while_starting_is_started_again(tmp_path, monkeypatch):
    calls = _starting_kernels(monkeypatch, deaths=runner.KERNEL_STARTS - 1)
    record: dict = {"notebooks": [], "log": []}
    runner._execute(tmp_path / "source.ipynb", tmp_path / "run.ipynb", {}, object, record, 1)
    assert len(calls) == runner.KERNEL_STARTS and (tmp_path / "run.ipynb").exists()
    assert record["notebooks"][0]["status"] == "done"
    assert len([line for line in record["log"] if runner.DIED_STARTING in line]) == runner.KERNEL_STARTS - 1


def test_a_kernel_that_never_starts_fails_the_notebook_with_a_clear_error(tmp_path, monkeypatch):
    calls = _starting_kernels(monkeypatch, deaths=runner.KERNEL_STARTS)
    record: dict = {"notebooks": []}
    with pytest.raises(NotebookFailed, match=f"kernel died while starting, {runner.KERNEL_STARTS} times"):
        runner._execute(tmp_path / "source.ipynb", tmp_path / "run.ipynb", {}, object, record, 1)
    assert len(calls) == runner.KERNEL_STARTS and record["notebooks"][0]["status"] == "failed"


def test_a_kernel_that_dies_while_running_a_cell_is_not_started_again(tmp_path, monkeypatch):
    calls: list[str] = []

    def execute(source: str, target: str, **_: object) -> None:
        calls.append(target)
        raise RuntimeError("Kernel died")  # nbclient's DeadKernelError: cells may have run

    monkeypatch.setattr(runner.papermill, "execute_notebook", execute)
    with pytest.raises(RuntimeError, match="Kernel died"):
        runner._execute(tmp_path / "source.ipynb", tmp_path / "run.ipynb", {}, object, {"notebooks": []}, 1)
    assert len(calls) == 1
