"""Progress where the analyst looks: a widget bar in a Jupyter kernel, nothing on a pipe."""
from __future__ import annotations

import io

import nbformat
import papermill

from kit import progress
from kit.engines.local import progress_bar
from kit.params import validate


def test_a_kernel_gets_a_bar_although_its_stderr_is_no_terminal(tmp_path):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(
        "import sys\nfrom kit.engines.local import progress_bar\nfrom kit.params import validate\n"
        "bar = progress_bar(validate({}), 10)\n"
        "print(sys.stderr.isatty(), type(bar).__module__, bar.disable)\nbar.close()")]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, tmp_path / "bar.ipynb")
    out = papermill.execute_notebook(str(tmp_path / "bar.ipynb"), str(tmp_path / "out.ipynb"), progress_bar=False)
    printed = "".join(output.get("text", "") for output in out.cells[0].outputs)
    assert printed.split() == ["False", "tqdm.notebook", "False"]


def test_a_pipe_gets_no_bar_and_quiet_silences_every_bar(monkeypatch):
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert not progress.in_jupyter_kernel()
    assert progress_bar(validate({}), 10).disable
    assert progress.progress_bar(10, " files", "trail files", quiet=True).disable
