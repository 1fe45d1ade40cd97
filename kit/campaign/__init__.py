"""The migration campaign: repeated runs compared (changes.csv), ``--fail-on`` for schedulers,
the runs folder's history.csv, and the report an account owner reads (report.html)."""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterator


def cli_options(compare: str | None, fail_on: str | None,
                default_previous: bool = False) -> tuple[Any, tuple[str, ...]]:
    """``--compare`` and ``--fail-on`` checked before any work: the previous set and the kinds
    (``default_previous``: ``sts-kit run`` compares with the previous run in --runs by default)."""
    from kit.campaign.failon import parse_fail_on

    kinds = parse_fail_on(fail_on, default_previous or compare is not None)
    if not compare:
        return None, kinds  # nothing else imported: ``sts-kit plan`` forks its workers before pandas is loaded
    import tempfile

    from kit.campaign.compare import read_previous
    from kit.campaign.runstore import download_previous, s3_location

    location = s3_location(compare, "--compare")
    if location is None:
        return read_previous(Path(compare)), kinds
    with tempfile.TemporaryDirectory(prefix="sts-kit-compare-") as staging:
        previous = read_previous(download_previous(location, Path(staging) / "previous"))
    previous.folder = str(location)
    return previous, kinds


@contextlib.contextmanager
def runs_folder(runs: Any) -> Iterator[Path]:
    """The local runs folder of ``sts-kit run``: ``runs`` itself, or a staging copy of an
    ``s3://`` runs folder that is uploaded when the run ends (kit.campaign.runstore)."""
    from kit.campaign.runstore import s3_location, staged_runs

    location = s3_location(runs)
    if location is None:
        yield Path(runs)
        return
    with staged_runs(location) as (root, _):
        yield root
    print(f"Uploaded the run and history.csv to {location}/")


def cli_finish(plan: Any, folder: Path, previous: Any, fail_on: tuple[str, ...]) -> str | None:
    """After ``sts-kit plan`` wrote its set: the campaign files when comparing, and the --fail-on line."""
    from kit.campaign.failon import findings

    if previous is None:
        return findings(fail_on, plan.summary, None)
    from kit.campaign.finish import finish  # jinja2 and the report's modules: only when comparing

    return finish(plan, folder, previous, fail_on)


def run_finish(run_dir: Path, runs_root: Path, previous: Any, fail_on: tuple[str, ...]) -> str | None:
    """After ``sts-kit run``: changes.csv, report.html and history.csv (kit.campaign.finish.after_run)."""
    from kit.campaign.finish import after_run

    return after_run(Path(run_dir), Path(runs_root), previous, fail_on)
