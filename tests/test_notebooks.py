"""The notebooks headless: papermill runs with defaults and a second parameter set, bad parameters,
failures and the run folder. Tiny notebooks built here test the parameters mechanism alone."""
from __future__ import annotations

import hashlib
from pathlib import Path

import nbformat
import pandas as pd
import papermill
import pytest
from papermill.exceptions import PapermillExecutionError

from aws_endpoints import SAMPLES, STORE_ID, WINDOW, aws_env, lake, lake_endpoint  # noqa: F401 (fixtures)
from kit.cli import main
from kit.params import PARAMS_BY_NAME
from kit.runner import NOTEBOOKS_DIR, source_notebooks

SECOND_SET = {"accounts": "222233334444,333344445555", "quota": "1000", "risk_threshold": "0.5"}


def _digest(paths):
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in paths}


def _run(tmp_path, *pairs):
    argv = ["run", "--runs", str(tmp_path)]
    for name, value in pairs:
        argv += ["-p", name, value]
    code = main(argv)
    folders = sorted(tmp_path.iterdir())
    return code, (folders[-1] if folders else None)


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    before = _digest(source_notebooks())
    code, run_dir = _run(tmp_path_factory.mktemp("runs"))
    assert _digest(source_notebooks()) == before, "source notebooks must never be modified"
    return code, run_dir


def test_run_writes_a_complete_run_folder(default_run):
    code, run_dir = default_run
    assert code == 0
    names = {path.name for path in run_dir.iterdir()}
    assert {nb.name for nb in source_notebooks()} <= names
    assert {"plan.csv", "quota.csv", "summary.json", "plan.md", "run.json", "reports"} <= names
    assert len(list((run_dir / "reports").glob("*.md"))) == 4
    executed = nbformat.read(run_dir / "04-migration-plan.ipynb", as_version=4)
    assert executed.metadata.papermill.parameters["out_dir"] == str(run_dir)
    assert all(cell.get("outputs") is not None for cell in executed.cells if cell.cell_type == "code")


def test_run_plan_matches_the_cli_plan(default_run, tmp_path):
    _, run_dir = default_run
    assert main(["plan", "--out", str(tmp_path)]) == 0
    ours, cli = (pd.read_csv(folder / "plan.csv") for folder in (run_dir, tmp_path))
    pd.testing.assert_frame_equal(ours, cli)


def test_second_parameter_set(tmp_path):
    code, run_dir = _run(tmp_path, *SECOND_SET.items())
    assert code == 0
    plan = pd.read_csv(run_dir / "plan.csv", dtype={"account_id": str})
    quota = pd.read_csv(run_dir / "quota.csv", dtype={"account_id": str})
    assert set(plan.account_id) == {"222233334444", "333344445555"}
    assert (quota.quota == 1000).all()
    assert sorted(p.stem for p in (run_dir / "reports").glob("*.md")) == ["222233334444", "333344445555"]


def test_misspelt_parameter_fails_before_any_kernel_with_the_valid_names(tmp_path, capsys):
    code, run_dir = _run(tmp_path, ("sourse", "samples"))
    err = capsys.readouterr().err
    assert code == 2 and run_dir is None
    assert "'sourse' (did you mean 'source'?)" in err and "valid parameters: source, path" in err


@pytest.mark.parametrize("name, value, fragment", [
    ("sourse", "samples", "did you mean 'source'"),
    ("start", "yesterday", "not an ISO 8601"),
    ("accounts", "12345", "12-digit"),
    ("end", "2025-01-01", "must be after start"),
])
def test_bad_parameters_fail_the_notebook_at_its_first_cell(tmp_path, name, value, fragment):
    notebook = NOTEBOOKS_DIR / "01-find-the-callers.ipynb"
    with pytest.raises(PapermillExecutionError) as caught:
        papermill.execute_notebook(str(notebook), str(tmp_path / "out.ipynb"), parameters={name: value},
                                   cwd=str(NOTEBOOKS_DIR), progress_bar=False)
    assert caught.value.ename == "ParameterError" and fragment in caught.value.evalue
    executed = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    code_cells = [cell for cell in executed.cells if cell.cell_type == "code"]
    tags = [cell.metadata.get("tags", []) for cell in code_cells[:3]]
    assert tags[0] == ["parameters"] and "injected-parameters" in tags[1]
    assert code_cells[2].outputs[-1].output_type == "error"  # the first cell after the parameters


def test_a_failing_notebook_exits_non_zero_names_it_and_keeps_what_was_written(tmp_path, capsys):
    broken = tmp_path / "broken-ranges.json"
    broken.write_text("{}")
    code, run_dir = _run(tmp_path / "runs", ("ip_ranges", str(broken)))
    err = capsys.readouterr().err
    assert code == 1
    assert "01-find-the-callers.ipynb failed at cell" in err and "InputError" in err
    assert (run_dir / "01-find-the-callers.ipynb").exists()
    assert '"status": "failed"' in (run_dir / "run.json").read_text()


def _tiny_notebook(path: Path) -> Path:
    """A two-cell notebook: a parameters cell and the kit's validation."""
    notebook = nbformat.v4.new_notebook()
    parameters = nbformat.v4.new_code_cell("source = 'samples'\nquota = 600")
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells = [parameters, nbformat.v4.new_code_cell(
        "import kit.notebook as nb\nparams = nb.parameters(globals())\nprint(params.quota)")]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)
    return path


@pytest.mark.parametrize("value, expected", [(900, "900"), ("1200", "1200")])
def test_parameters_cell_values_reach_the_schema(tmp_path, value, expected):
    out = papermill.execute_notebook(str(_tiny_notebook(tmp_path / "tiny.ipynb")), str(tmp_path / "out.ipynb"),
                                     parameters={"quota": value}, progress_bar=False)
    assert out.cells[-1].outputs[0].text.strip() == expected


def test_every_schema_parameter_is_in_each_notebooks_parameters_cell():
    for notebook in source_notebooks():
        cells = nbformat.read(notebook, as_version=4).cells
        parameters = next(cell for cell in cells if "parameters" in cell.metadata.get("tags", []))
        defined = {line.split("=")[0].strip() for line in parameters.source.splitlines()
                   if "=" in line and not line.startswith("#")}
        assert {"source", "path", "start", "end", "accounts", "out_dir"} <= defined <= set(PARAMS_BY_NAME), notebook


def test_notebooks_run_headless_against_the_local_lake_endpoint(lake, tmp_path):
    _, url = lake
    code, run_dir = _run(tmp_path / "runs", ("source", "lake"), ("event_data_store", STORE_ID),
                         ("endpoint_url", url), ("aws_region", "us-east-1"), *WINDOW.items(),
                         ("ip_ranges", str(SAMPLES / "ip-ranges.json")), ("policies", str(SAMPLES / "policies")))
    assert code == 0
    assert main(["plan", "--out", str(tmp_path / "samples")]) == 0
    assert (run_dir / "plan.csv").read_text() == (tmp_path / "samples" / "plan.csv").read_text()
    first = nbformat.read(run_dir / "01-find-the-callers.ipynb", as_version=4)
    shown = "".join(output.get("text", "") for cell in first.cells for output in cell.get("outputs", []))
    assert "FROM " + STORE_ID in shown  # the rendered SQL is shown before it runs
    assert "MB scanned" in str(first.cells)
