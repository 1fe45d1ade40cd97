"""The notebooks headless: papermill runs with defaults and a second parameter set, bad parameters,
failures and the run folder. Tiny notebooks built here test the parameters mechanism alone."""
from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pandas as pd
import papermill
import pytest
import yaml
from papermill.exceptions import PapermillExecutionError

from aws_endpoints import SAMPLES, STORE_ID, WINDOW, aws_env, lake, lake_endpoint  # noqa: F401 (fixtures)
import kit.notebook as nb_helpers
from kit.cli import main
from kit.errors import ParameterError
from kit.paramdoc import REPO_ROOT
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
    folders = sorted(path for path in tmp_path.iterdir() if path.is_dir())  # history.csv sits beside them
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


# --- Parameters as papermill and a re-running analyst see them (issue 11) ---

def test_parameters_cells_and_the_example_file_are_generated_from_the_schema():
    from kit.paramdoc import example_yaml, parameters_cell

    for notebook in source_notebooks():
        cells = nbformat.read(notebook, as_version=4).cells
        parameters = next(cell for cell in cells if "parameters" in cell.metadata.get("tags", []))
        assert parameters.source == parameters_cell(), f"{notebook.name}: regenerate with kit.paramdoc"
    example = NOTEBOOKS_DIR.parent / "params.example.yaml"
    assert example.read_text() == example_yaml()
    assert list(yaml.safe_load(example.read_text())) != [] and set(yaml.safe_load(example.read_text())) == set(
        PARAMS_BY_NAME)


def test_papermill_infers_every_parameter_with_a_type_and_no_parse_warning():
    notebook = NOTEBOOKS_DIR / "01-find-the-callers.ipynb"
    shown = subprocess.run([sys.executable, "-m", "papermill", "--help-notebook", str(notebook)],
                           capture_output=True, text=True, check=True)
    text = shown.stdout + shown.stderr
    assert "Unable to parse" not in text and "Unknown type" not in text
    for name in PARAMS_BY_NAME:
        assert re.search(rf"^  {name}: (str|int|float|bool|dict) \(default ", text, re.M), name
    for notebook in source_notebooks():
        inferred = papermill.inspect_notebook(str(notebook))
        assert set(inferred) == set(PARAMS_BY_NAME), notebook.name  # so -p NAME never warns "unknown"


def test_no_help_line_holds_a_second_equals_sign():
    from kit.paramdoc import parameters_cell

    assert all(line.count("=") <= 1 for line in parameters_cell().splitlines())


def test_only_the_parameters_cells_names_are_validated():
    history = ["import os", 'source = "samples"\nquota = 600  # type: int  help', "# Parameters\nquota = 900\n",
               "params = nb.parameters(globals())"]
    assert nb_helpers.parameter_cell_names(history) == {"source", "quota"}
    after_a_run = history + ["bucket = plan.quota.iloc[0]", "written = []", *history[1:]]
    assert nb_helpers.parameter_cell_names(after_a_run) == {"source", "quota"}
    namespace = {"In": after_a_run, "source": "samples", "quota": 900, "bucket": object(), "written": [],
                 "step": "x", "principals": ["a"]}
    assert nb_helpers.parameters(namespace).quota == 900
    with pytest.raises(ParameterError, match="did you mean 'source'"):
        nb_helpers.parameters({"In": [*history[:-1], "sourse = 'x'", history[-1]], "sourse": "x"})


def test_papermill_account_ids_given_as_numbers_keep_their_leading_zero():
    params = nb_helpers.parameters({"In": ["accounts = 11122223333", "x"], "accounts": 11122223333})
    assert params.accounts == ("011122223333",)


def test_relative_paths_resolve_against_the_repository_not_the_working_directory(tmp_path):
    notebook = _tiny_notebook(tmp_path / "tiny.ipynb")
    document = nbformat.read(notebook, as_version=4)
    document.cells[0].source += '\nout_dir = "out/notebooks"'
    document.cells[1].source += "\nprint(params.out_dir)"
    nbformat.write(document, notebook)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = papermill.execute_notebook(str(notebook), str(tmp_path / "out.ipynb"), cwd=str(elsewhere),
                                     progress_bar=False)
    assert out.cells[-1].outputs[0].text.split() == ["600", str(REPO_ROOT / "out" / "notebooks")]


def test_editing_a_parameter_and_running_all_again_in_one_kernel_works(tmp_path):
    from nbclient import NotebookClient

    notebook = nbformat.read(_tiny_notebook(tmp_path / "tiny.ipynb"), as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell("bucket = 'eu-west-1'\nwritten = ['plan.csv']"))
    client = NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=True)
    with client.setup_kernel():
        for _ in range(2):
            for index, cell in enumerate(notebook.cells):
                client.execute_cell(cell, index)
            notebook.cells[0].source = notebook.cells[0].source.replace("quota = 600", "quota = 1000")
    outputs = [output for cell in notebook.cells for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    assert notebook.cells[1].outputs[-1].text.strip() == "1000"


def test_a_base_install_has_what_the_notebooks_use():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    base = {re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0].lower() for requirement in project["dependencies"]}
    styled = any(".style" in cell.source for notebook in source_notebooks()
                 for cell in nbformat.read(notebook, as_version=4).cells)
    assert not styled or "jinja2" in base  # pandas' Styler needs jinja2
    assert {"ipywidgets", "jupyterlab"} <= {re.split(r"[<>=]", r)[0] for r in project["optional-dependencies"]["lab"]}


def test_counts_read_from_lake_or_athena_show_as_integers():
    summary = {"files_read": 0, "files_ignored": 0, "files_invalid": 0, "events_read": 16771,
               "events_skipped": {"no host header": 12},
               "engine": {"engine": "lake", "bytes_scanned": 123_456_789, "price_assumed": "5 USD per TB",
                          "estimated_cost_usd": 0.000617}}
    html = nb_helpers.read_report(SimpleNamespace(summary=summary)).to_html()
    assert "<td>16771</td>" in html and "<td>12</td>" in html and "<td>123.5</td>" in html


def test_make_lab_allows_root_only_as_root():
    dry_run = subprocess.run(["make", "-n", "lab"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    launch = next(line for line in dry_run.stdout.splitlines() if "jupyter lab" in line)
    assert ("--allow-root" in launch) == (os.geteuid() == 0)


def test_committed_notebooks_carry_the_kernelspec_lab_writes():
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    for notebook in source_notebooks():
        kernelspec = nbformat.read(notebook, as_version=4).metadata.kernelspec
        assert dict(kernelspec) == {"display_name": spec.display_name, "language": spec.language,
                                    "name": "python3"}, notebook.name


def test_sts_kit_params_lists_every_parameter_with_type_and_default(capsys):
    assert main(["params"]) == 0
    lines = {line.split()[0]: line.split()[1:3] for line in capsys.readouterr().out.splitlines()}
    assert set(lines) == set(PARAMS_BY_NAME)
    assert lines["quota"] == ["int", "600"] and lines["risk_threshold"] == ["float", "0.8"]
    assert lines["accounts"][0] == "str" and lines["quota_overrides"][0] == "dict"
