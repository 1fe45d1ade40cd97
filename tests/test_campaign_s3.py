"""Runs on S3 through boto3 against moto's S3 server on 127.0.0.1 (dummy credentials, no AWS)."""
from __future__ import annotations

import json

import boto3
import pandas as pd
import pytest

from kit.campaign.history import record_run
from kit.campaign.runstore import S3Location, S3Runs, s3_location, staged_runs
from kit.cli import main
from kit.errors import InputError
from local_aws import moto_on_loopback
from test_campaign import LATER

BUCKET = "campaign-runs"
FIRST = "20251001T000000Z"


@pytest.fixture(scope="module")
def s3():
    """A moto server on loopback; boto3 finds it through AWS_ENDPOINT_URL_S3."""
    with pytest.MonkeyPatch.context() as patch, moto_on_loopback(patch) as url:
        patch.setenv("AWS_ENDPOINT_URL_S3", url)
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture(scope="module")
def seeded(s3, tmp_path_factory):
    """s3://campaign-runs/team-a/ holding one complete run (the samples plan)."""
    run_dir = tmp_path_factory.mktemp("seed") / FIRST
    assert main(["plan", "--out", str(run_dir)]) == 0
    S3Runs(S3Location(BUCKET, "team-a")).upload_run(run_dir)
    return "s3://campaign-runs/team-a"


def _keys(s3, prefix):
    return sorted(item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []))


def test_locations_are_checked():
    assert s3_location("runs") is None
    assert s3_location("s3:/bucket-1/a/b") == S3Location("bucket-1", "a/b")  # what argparse's Path makes of s3://
    for bad in ("s3://Bad_Bucket/x", "s3://bucket-1/../x", "s3://bucket-1/a b"):
        with pytest.raises(InputError, match="not an s3://bucket/prefix location"):
            s3_location(bad)


def test_plan_compares_with_a_run_on_s3(seeded, tmp_path):
    assert main(["plan", *LATER, "--out", str(tmp_path), "--compare", f"{seeded}/{FIRST}", "--fail-on", "new"]) == 3
    changes = pd.read_csv(tmp_path / "changes.csv", dtype=str)
    assert {"new", "moved", "gone", "priority-up", "priority-down"} == set(changes.change)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["campaign"]["compared_with"] == f"{seeded}/{FIRST}"


def test_a_tampered_run_on_s3_is_refused(s3, seeded, tmp_path, capsys):
    key = f"team-a/{FIRST}/plan.csv"
    original = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    s3.put_object(Bucket=BUCKET, Key=key, Body=original + b"tampered\n")
    try:
        assert main(["plan", *LATER, "--out", str(tmp_path / "out"), "--compare", f"{seeded}/{FIRST}"]) == 2
    finally:
        s3.put_object(Bucket=BUCKET, Key=key, Body=original)
    err = capsys.readouterr().err
    assert "is not a complete set (plan.csv differs from summary.json)" in err and err.count("\n") == 1


def test_a_missing_bucket_is_one_line(s3, tmp_path, capsys):
    assert main(["plan", "--out", str(tmp_path), "--compare", "s3://no-such-bucket/x/run"]) == 2
    err = capsys.readouterr().err
    assert "s3://no-such-bucket/x/run: NoSuchBucket" in err and err.count("\n") == 1


def test_staged_runs_download_the_latest_and_upload_the_new_run(s3, seeded, tmp_path):
    with staged_runs(s3_location(seeded)) as (root, _):
        assert (root / FIRST / "plan.csv").exists()
        later = root / "20251101T000000Z"
        assert main(["plan", *LATER, "--out", str(later), "--compare", str(root / FIRST)]) == 0
        record_run(later, root)
    keys = _keys(s3, "team-a/")
    assert "team-a/20251101T000000Z/changes.csv" in keys and "team-a/20251101T000000Z/summary.json" in keys
    assert "team-a/history.csv" in keys
    history = pd.read_csv(s3.get_object(Bucket=BUCKET, Key="team-a/history.csv")["Body"], dtype=str)
    assert set(history.run) == {"20251101T000000Z"}
    for key in _keys(s3, "team-a/20251101T000000Z/"):
        s3.delete_object(Bucket=BUCKET, Key=key)
    s3.delete_object(Bucket=BUCKET, Key="team-a/history.csv")


def test_sts_kit_run_on_s3(s3, seeded, tmp_path, capsys):
    """The whole run (notebooks) staged locally, compared with the run already on S3, and uploaded."""
    assert main(["run", "--runs", f"{seeded}", "--fail-on", "new"]) == 0
    out = capsys.readouterr().out
    assert f"Uploaded the run and history.csv to {seeded}/" in out
    runs = S3Runs(S3Location(BUCKET, "team-a")).run_names()
    assert len(runs) == 2 and runs[0] == FIRST
    keys = _keys(s3, f"team-a/{runs[1]}/")
    assert {f"team-a/{runs[1]}/{name}" for name in ("changes.csv", "report.html", "run.json", "summary.json",
                                                   "05-progress.ipynb")} <= set(keys)
    changes = s3.get_object(Bucket=BUCKET, Key=f"team-a/{runs[1]}/changes.csv")["Body"].read().decode()
    assert changes.count("\n") == 1  # same window, same data: nothing changed
