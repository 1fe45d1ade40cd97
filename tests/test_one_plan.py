"""One plan per run: ``sts-kit run`` queries the engine once, stores the rollup in the run folder
in a format that runs no code, and the four notebooks build the same plan from it; run.json says
which kit, commit and parameters made the run."""
from __future__ import annotations

import hashlib
import os
import json
from dataclasses import replace
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from aws_endpoints import SAMPLES, STORE_ID, WINDOW, aws_env, lake, lake_endpoint, lake_params  # noqa: F401 (fixtures)
from kit import rollupfile
from kit.engines import collect
from kit.errors import InputError
from kit.params import SCHEMA, validate
from kit.queries import render_all
from kit.campaign.finish import after_run
from kit.runner import run_notebooks, source_notebooks
from kit.version import git_commit, kit_version


@pytest.fixture(scope="module")
def samples_rollup():
    return collect(validate({}))


def test_the_rollup_file_round_trips_tables_dtypes_and_report(samples_rollup, tmp_path):
    params = validate({"out_dir": str(tmp_path)})
    rollupfile.save(samples_rollup, params, tmp_path)
    loaded = rollupfile.load(params)
    for name in ("sts_calls", "activity", "seconds"):
        pd.testing.assert_frame_equal(getattr(loaded, name), getattr(samples_rollup, name))
    assert loaded.report == samples_rollup.report


def test_a_stored_rollup_is_used_only_for_the_same_events(samples_rollup, tmp_path):
    rollupfile.save(samples_rollup, validate({"out_dir": str(tmp_path)}), tmp_path)
    assert rollupfile.load(validate({"out_dir": str(tmp_path), "quota": 1000})) is not None  # plan-only
    assert rollupfile.load(validate({"out_dir": str(tmp_path), "accounts": "222233334444"})) is None
    assert rollupfile.load(validate({"out_dir": str(tmp_path / "elsewhere")})) is None


def test_a_changed_rollup_file_is_refused_not_replaced_by_new_queries(samples_rollup, tmp_path):
    params = validate({"out_dir": str(tmp_path)})
    rollupfile.save(samples_rollup, params, tmp_path)
    data = bytearray((tmp_path / rollupfile.ROLLUP_FILE).read_bytes())
    data[len(data) // 2] ^= 1
    (tmp_path / rollupfile.ROLLUP_FILE).write_bytes(bytes(data))
    with pytest.raises(InputError, match="does not match the sha256"):
        rollupfile.load(params)


def test_a_well_formed_file_of_another_shape_is_refused(samples_rollup, tmp_path):
    params = validate({"out_dir": str(tmp_path)})
    manifest = rollupfile.save(samples_rollup, params, tmp_path)
    data = rollupfile.codec.pack({"format": 1, "tables": {}, "report": {}})
    (tmp_path / rollupfile.ROLLUP_FILE).write_bytes(data)
    manifest.update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    (tmp_path / rollupfile.ROLLUP_MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="not a usable rollup"):
        rollupfile.load(params)


def test_a_stored_rollup_with_times_outside_any_window_is_refused(samples_rollup):
    """The plan counts seconds from 2005 in 32 bits (``kit.codedseconds``): a stored time before that,
    or after 2100, which no window holds, makes the file unusable instead of a wrong count."""
    seconds = samples_rollup.seconds.copy()
    seconds.loc[0, "second"] = pd.Timestamp("1970-01-01T00:00:01Z")
    data = rollupfile.rollup_bytes(replace(samples_rollup, second_rows=seconds))
    with pytest.raises(ValueError, match="column second has times outside 2005 to 2100"):
        rollupfile.rollup_from_bytes(data)
    assert rollupfile.rollup_from_bytes(rollupfile.rollup_bytes(samples_rollup)).seconds.equals(samples_rollup.seconds)


@pytest.mark.parametrize("coded", [["coded", ["b", "a"], [0, 1]], ["coded", ["a", "b"], [0, 2]], ["coded", ["a"], [-1]],
                                   ["coded", ["a", 1], [0]], ["coded", ["a"], ["0"]], ["coded", ["a"], [[0]]]])
def test_a_coded_column_must_have_sorted_distinct_texts_and_codes_within_them(coded):
    with pytest.raises(ValueError, match="coded texts|codes outside"):
        rollupfile._series(coded, "account_id")
    assert rollupfile._series(["coded", ["a", "b"], [1, 0, 1]], "account_id").tolist() == ["b", "a", "b"]


def test_git_commit_is_none_outside_a_checkout(tmp_path):
    assert git_commit(tmp_path) is None
    assert kit_version() != "unknown"


def _plan_lines(notebook: Path) -> list[str]:
    """The line ``nb.plan(params)`` printed in an executed notebook."""
    document = nbformat.read(notebook, as_version=4)
    return [output.get("text", "").strip() for cell in document.cells if cell.cell_type == "code"
            and "nb.plan(params)" in cell.source for output in cell.get("outputs", []) if output.get("name") == "stdout"]


def test_a_lake_run_queries_once_and_every_notebook_shows_the_same_plan(lake, tmp_path):
    service, url = lake
    parameters = {"source": "lake", "event_data_store": STORE_ID, "aws_region": "us-east-1", "endpoint_url": url,
                  **WINDOW, "ip_ranges": str(SAMPLES / "ip-ranges.json"), "policies": str(SAMPLES / "policies")}
    result = run_notebooks(parameters, tmp_path / "runs")
    assert service.calls.count("StartQuery") == len(render_all(lake_params(url))) > 0
    lines = [line for notebook in result.notebooks for line in _plan_lines(notebook)]
    assert len(lines) == 4 and len(set(lines)) == 1, lines  # the four notebooks that show the plan
    assert lines[0].endswith("rollup from the run's rollup.msgpack")
    record = json.loads((result.run_dir / "run.json").read_text())
    assert record["kit_version"] == kit_version() and record["commit"] == git_commit()
    assert set(record["parameters"]) == {param.name for param in SCHEMA}
    assert record["parameters"]["quota"] == 600 and record["parameters"]["out_dir"] == str(result.run_dir)
    assert [step["status"] for step in record["notebooks"]] == ["done"] * len(source_notebooks())
    assert all(step["seconds"] > 0 for step in record["notebooks"])
    assert record["rollup"]["sha256"] == hashlib.sha256((result.run_dir / "rollup.msgpack").read_bytes()).hexdigest()
    queries = service.calls.count("StartQuery")
    after_run(result.run_dir, tmp_path / "runs", None, ())  # what `sts-kit run` does next: no new queries
    assert service.calls.count("StartQuery") == queries and (result.run_dir / "report.html").is_file()


def test_a_notebook_without_a_stored_rollup_computes_the_plan_itself(samples_rollup, tmp_path, capsys):
    import kit.notebook as nb

    params = validate({"out_dir": str(tmp_path)})
    computed = nb.plan(params)
    assert capsys.readouterr().out.strip().endswith("rollup from the samples engine")
    rollupfile.save(samples_rollup, params, tmp_path)
    reused = nb.plan(params)
    assert capsys.readouterr().out.strip().endswith("rollup from the run's rollup.msgpack")
    pd.testing.assert_frame_equal(reused.callers, computed.callers)
    assert reused.summary["callers_per_priority"] == computed.summary["callers_per_priority"]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="giving a file away needs root")
def test_a_rollup_of_another_user_is_refused(samples_rollup, tmp_path):
    params = validate({"out_dir": str(tmp_path)})
    rollupfile.save(samples_rollup, params, tmp_path)
    os.chown(tmp_path / rollupfile.ROLLUP_FILE, 65534, 65534)
    with pytest.raises(InputError, match="belongs to another user"):
        rollupfile.load(params)
