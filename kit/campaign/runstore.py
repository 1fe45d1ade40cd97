"""Runs folders on S3 (``--runs s3://bucket/prefix``, ``--compare s3://bucket/prefix/run``) through boto3.

A run is made in a local staging folder, as any run, then uploaded to ``prefix/<run>/`` with its
summary.json last (a reader that finds summary.json finds the whole set); history.csv is read
from ``prefix/history.csv`` before and written back after. The previous complete run is
downloaded (only the files its manifest names, with names checked) so it is compared exactly as a
local one. The endpoint, Region and credentials come from boto3's usual settings
(``AWS_ENDPOINT_URL_S3`` for a local S3).
"""
from __future__ import annotations

import contextlib
import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from kit.errors import InputError, OutputError
from kit.outputs import MANIFEST

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_PART = re.compile(r"^[A-Za-z0-9_.=-]+$")
_SET_NAME = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)?$")
HISTORY = "history.csv"


@dataclass(frozen=True)
class S3Location:
    """``s3://bucket/prefix`` (prefix without slashes at either end; may be empty)."""

    bucket: str
    prefix: str

    def key(self, *parts: str) -> str:
        return "/".join(part for part in (self.prefix, *parts) if part)

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")


def s3_location(value: Any, what: str = "--runs") -> S3Location | None:
    """The S3 location ``value`` names (argparse's Path turns ``s3://`` into ``s3:/``), else None."""
    text = str(value)
    if not text.startswith("s3:/"):
        return None
    bucket, _, prefix = text[4:].lstrip("/").partition("/")
    parts = [part for part in prefix.split("/") if part]
    if not _BUCKET.match(bucket) or any(not _PART.match(part) or part in (".", "..") for part in parts):
        raise InputError(f"{what} {text}: not an s3://bucket/prefix location (letters, digits, . _ = - in prefixes)")
    return S3Location(bucket, "/".join(parts))


class S3Runs:
    """The runs folder at ``location``."""

    def __init__(self, location: S3Location, client: Any = None) -> None:
        import boto3

        self.location = location
        self.client = client or boto3.client("s3")

    def run_names(self) -> list[str]:
        """The run folders under the prefix, oldest first."""
        names = []
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.location.bucket, Prefix=self.location.key("") + ("/" if self.location.prefix else ""),
            Delimiter="/")
        for page in pages:
            for common in page.get("CommonPrefixes", []):
                name = common["Prefix"].rstrip("/").rsplit("/", 1)[-1]
                if _PART.match(name) and name not in (".", ".."):
                    names.append(name)
        return sorted(names)

    def _get(self, key: str) -> bytes | None:
        try:
            return self.client.get_object(Bucket=self.location.bucket, Key=key)["Body"].read()
        except self.client.exceptions.NoSuchKey:
            return None

    def download_set(self, key_prefix: str, folder: Path) -> Path:
        """The manifest of ``key_prefix`` and the files it names into ``folder`` (names checked)."""
        manifest = self._get(f"{key_prefix}/{MANIFEST}".lstrip("/"))
        folder.mkdir(parents=True, exist_ok=True)
        if manifest is None:
            return folder
        (folder / MANIFEST).write_bytes(manifest)
        try:
            names = list(json.loads(manifest).get("files", {}))
        except (ValueError, AttributeError):
            return folder  # verify_set will say it is incomplete
        for name in names:
            if not isinstance(name, str) or not _SET_NAME.match(name) or ".." in name.split("/"):
                raise InputError(f"{key_prefix}/{MANIFEST} names a file {name!r} that sts-kit never writes")
            data = self._get(f"{key_prefix}/{name}".lstrip("/"))
            if data is not None:
                (folder / name).parent.mkdir(parents=True, exist_ok=True)
                (folder / name).write_bytes(data)
        return folder

    def download_history(self, root: Path) -> None:
        data = self._get(self.location.key(HISTORY))
        if data is not None:
            (root / HISTORY).write_bytes(data)

    def upload_run(self, run_dir: Path) -> str:
        """Every file of ``run_dir`` under ``prefix/<run>/``, summary.json last; its s3:// address."""
        files = sorted(path for path in run_dir.rglob("*") if path.is_file() and not path.name.startswith("."))
        for path in sorted(files, key=lambda path: path.name == MANIFEST):
            self.client.upload_file(str(path), self.location.bucket,
                                    self.location.key(run_dir.name, path.relative_to(run_dir).as_posix()))
        return f"s3://{self.location.bucket}/{self.location.key(run_dir.name)}"

    def upload_history(self, root: Path) -> None:
        if (root / HISTORY).exists():
            self.client.upload_file(str(root / HISTORY), self.location.bucket, self.location.key(HISTORY))


@contextlib.contextmanager
def s3_errors(location: Any) -> Iterator[None]:
    """S3 failures as one line naming the location (exit 2)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as error:
        detail = error.response.get("Error", {})
        raise OutputError(f"{location}: {detail.get('Code', 'error')}: {detail.get('Message', error)}") from None
    except BotoCoreError as error:
        raise OutputError(f"{location}: {error}") from None


def download_previous(location: S3Location, into: Path) -> Path:
    """The set at ``location`` (a run's folder on S3) in ``into``, to be read by read_previous."""
    with s3_errors(location):
        return S3Runs(location).download_set(location.prefix, into)


@contextlib.contextmanager
def staged_runs(location: S3Location) -> Iterator[tuple[Path, S3Runs]]:
    """A local staging runs folder holding history.csv and the latest complete run from
    ``location``; on leaving, the runs made in it and history.csv are uploaded (also after a
    failing notebook: partial runs are kept, their run.json says where they stopped)."""
    from kit.campaign.history import is_complete_run

    with tempfile.TemporaryDirectory(prefix="sts-kit-runs-") as staging:
        root = Path(staging) / "runs"
        root.mkdir()
        with s3_errors(location):
            store = S3Runs(location)
            store.download_history(root)
            downloaded = set()
            for name in reversed(store.run_names()):
                folder = store.download_set(store.location.key(name), root / name)
                downloaded.add(name)
                if is_complete_run(folder):
                    break
        try:
            yield root, store
        finally:
            with s3_errors(location):
                for run_dir in sorted(path for path in root.iterdir() if path.is_dir() and path.name not in downloaded):
                    store.upload_run(run_dir)
                store.upload_history(root)
