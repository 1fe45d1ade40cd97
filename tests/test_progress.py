"""Progress where the analyst looks: a widget bar in JupyterLab, nothing on a pipe or in a headless run."""
from __future__ import annotations

import io

import nbformat
import papermill

from kit import progress
from kit.engines.local import progress_bar
from kit.params import validate


def _bar_in_a_kernel(tmp_path) -> list[str]:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(
        "import sys\nfrom kit.engines.local import progress_bar\nfrom kit.params import validate\n"
        "bar = progress_bar(validate({}), 10)\n"
        "print(sys.stderr.isatty(), type(bar).__module__, bar.disable)\nbar.close()")]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, tmp_path / "bar.ipynb")
    out = papermill.execute_notebook(str(tmp_path / "bar.ipynb"), str(tmp_path / "out.ipynb"), progress_bar=False)
    return "".join(output.get("text", "") for output in out.cells[0].outputs).split()


def test_jupyterlab_gets_a_bar_although_its_stderr_is_no_terminal(tmp_path, monkeypatch):
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "bar.ipynb"))  # what Jupyter server gives its kernels
    assert _bar_in_a_kernel(tmp_path) == ["False", "tqdm.notebook", "False"]


def test_headless_runs_keep_their_notebooks_free_of_bars(tmp_path, monkeypatch):
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    assert _bar_in_a_kernel(tmp_path)[-1] == "True"


def test_a_pipe_gets_no_bar_and_quiet_silences_every_bar(monkeypatch):
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert not progress.in_jupyter_session()
    assert progress_bar(validate({}), 10).disable
    assert progress.progress_bar(10, " files", "trail files", quiet=True).disable
