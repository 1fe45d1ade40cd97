"""After a plan is written: compare it with the previous run, add changes.csv and the HTML
reports to its set (rewritten whole by kit.outputs.write_set, manifest last), and say what
``--fail-on`` found."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kit.campaign.compare import Changes, Previous, compare
from kit.campaign.failon import findings
from kit.campaign.htmlreport import account_views, report_html
from kit.errors import OutputError
from kit.outputs import MANIFEST, csv_bytes, folder_lock, verify_set, write_set
from kit.plan import Plan
from kit.report import report_accounts


def campaign_files(plan: Plan, changes: Changes | None) -> dict[str, bytes]:
    """changes.csv (with a previous run), report.html and reports/<account>.html."""
    named, others = report_accounts(plan)  # a file is named after a 12-digit account id only
    views = account_views(plan, sorted(named + others), changes.table if changes else None)
    compared = changes is not None
    files = {"report.html": report_html(plan, views, compared, "STS global endpoint migration").encode()}
    files.update({f"reports/{account}.html": report_html(plan, {account: views[account]}, compared,
                                                         f"STS global endpoint migration: account {account}").encode()
                  for account in named})
    if changes is not None:
        files["changes.csv"] = csv_bytes(changes.table)
    return files


def extend_set(folder: Path, extra: dict[str, bytes], summary_update: dict[str, Any]) -> list[Path]:
    """Rewrite the complete set in ``folder`` with ``extra`` files and manifest entries added."""
    with folder_lock(folder) as folder:
        problems = verify_set(folder)
        if problems:
            raise OutputError(f"{folder}: {problems[0]}; the plan set must be complete before changes are added")
        manifest = json.loads((folder / MANIFEST).read_text())
        listed = manifest.pop("files")
        files = {name: (folder / name).read_bytes() for name in listed if name not in extra}
        return write_set(folder, {**files, **extra}, {**manifest, **summary_update})


def finish(plan: Plan, folder: Path, previous: Previous | None, fail_on: tuple[str, ...]) -> str | None:
    """Add the campaign files to the plan set in ``folder``; the ``--fail-on`` line, if any."""
    changes = compare(plan, previous) if previous is not None else None
    update = {"campaign": changes.campaign} if changes else {}
    extend_set(Path(folder), campaign_files(plan, changes), update)
    return findings(fail_on, plan.summary, changes.counts() if changes else None)


def after_run(run_dir: Path, runs_root: Path, previous: Previous | None, fail_on: tuple[str, ...]) -> str | None:
    """After ``sts-kit run`` finished every notebook: compare with ``previous`` (default: the
    previous complete run in ``runs_root``), add the campaign files to the run's set, append the
    run to history.csv; the ``--fail-on`` line, if any. The plan is rebuilt from the run's
    parameters (run.json) and the rollup the run stored (no second set of queries), because the
    moves are verified against the rollup."""
    from kit import rollupfile
    from kit.campaign.compare import read_previous
    from kit.campaign.history import previous_run, record_run
    from kit.params import validate
    from kit.plan import make_plan

    if previous is None:
        earlier = previous_run(runs_root, before=Path(run_dir).name)
        previous = read_previous(earlier, "previous run") if earlier else None
        if previous is not None:
            previous.folder = earlier.name  # the run's name: the same in the runs folder, local or on S3
    record = json.loads((Path(run_dir) / "run.json").read_text())
    params = validate(record["parameters"])
    plan = make_plan(params, rollupfile.load(params))
    found = finish(plan, Path(run_dir), previous, fail_on)
    record_run(Path(run_dir), Path(runs_root))
    return found
