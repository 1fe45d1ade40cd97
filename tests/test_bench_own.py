"""``python -m bench.run --path TRAIL``: the benchmark table for trail files of your own, messy ones
included (plain and gzipped files, a truncated file), printed and never written into RESULTS.md; and
``bench.allocator``'s and ``bench.memory``'s tables, and ``bench.timeline``'s peaks."""
from __future__ import annotations

import gzip
import random
import re
import subprocess
import sys
from pathlib import Path

from bench import allocator, generate, run, timeline
from builders import repeated, role_session, sts, user, write_trail
from kit.events import principal_of
from kit.judgedfields import record_of

A = "111122223333"


def test_own_trail_is_measured_whole_and_results_are_left_alone(tmp_path, monkeypatch, capsys):
    trail = tmp_path / "AWSLogs"
    app = role_session(A, "app")
    write_trail(trail / "a.json.gz", repeated(sts(app, "2023-07-10T12:20:00Z"), 30))
    write_trail(trail / "b.json", repeated(sts(app, "2024-01-02T08:00:00Z", endpoint_type="global",
                                               serving="eu-west-1"), 12))
    (trail / "c.json.gz").write_bytes(gzip.compress(b'{"Records": []}' * 50)[:40])  # truncated
    results = tmp_path / "RESULTS.md"
    monkeypatch.setattr(run, "RESULTS", results)

    assert run.main(["--path", str(trail), "--runs", "1", "--workers", "1"]) == 0

    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("| 42 |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[1] == "3"  # files: the truncated one is read by the kit (and skipped), counted by the floor
    assert cells[3] != "—" and cells[13] == "yes"  # the notebook ran and counted what the kit counted
    assert 0 < float(cells[10]) <= float(cells[9])  # PSS counts a page shared by n processes 1/n in each
    assert not results.exists()


def test_the_allocator_bench_prints_each_setting_once(capsys):
    assert allocator.main(["--path", str(Path(__file__).resolve().parent.parent / "data" / "samples" / "trail"),
                           "--batches", "1", "--runs", "1"]) == 0
    rows = [line.strip("|").split("|") for line in capsys.readouterr().out.splitlines()[2:]]
    assert [row[0].strip() for row in rows] == list(allocator.SETTINGS)
    assert all(float(seconds) > 0 and float(peak) > 0 for _, seconds, peak in rows)


def test_a_generated_org_can_give_each_sts_call_an_address_of_its_own():
    """``bench.generate --address-per-call``: an STS call from an IPv4 address gets another of the same /16;
    other events, service names and IPv6 addresses are left as they are."""
    addresses = random.Random(1)
    call = sts(role_session(A, "pod"), "2025-07-01T10:00:00Z", ip="10.20.30.40")
    moved = [generate.own_address(call, addresses)["sourceIPAddress"] for _ in range(50)]
    assert all(address.startswith("10.20.") and address.count(".") == 3 for address in moved)
    assert len(set(moved)) > 40 and call["sourceIPAddress"] == "10.20.30.40"  # the event given is not changed
    for kept in (sts(role_session(A, "svc"), "2025-07-01T10:00:00Z", ip="eks.amazonaws.com"),
                 sts(role_session(A, "v6"), "2025-07-01T10:00:00Z", ip="2600:1f18::1"),
                 {**call, "eventSource": "s3.amazonaws.com"}):
        assert generate.own_address(kept, addresses) is kept


def test_a_generated_org_can_spread_each_role_over_a_fleet_of_roles_and_agent_builds():
    """``bench.generate --fleet N``: a role session's event is made by one of N roles of its role's name,
    the same one in its session ARN and its issuer (the principal the kit reads); an STS call's agent gets
    one of a few builds; other identities and the event given are left as they are."""
    members = random.Random(2)
    call = sts(role_session(A, "app"), "2025-07-01T10:00:00Z")
    activity = {**sts(role_session(A, "app"), "2025-07-01T10:00:00Z"), "eventSource": "s3.amazonaws.com"}
    made = [generate.fleet_member(call, members, 20) for _ in range(200)]
    principals = {principal_of(record_of(event).userIdentity, None)[0] for event in made}
    assert principals == {f"arn:aws:iam::{A}:role/app-{member}" for member in range(20)}
    for event in made:
        identity = event["userIdentity"]
        role = identity["sessionContext"]["sessionIssuer"]["userName"]
        assert identity["arn"] == f"arn:aws:sts::{A}:assumed-role/{role}/s"
    assert {event["userAgent"][len(call["userAgent"]):] for event in made} == \
        {f" md/build#{build}" for build in range(generate.AGENT_BUILDS)}
    assert generate.fleet_member(activity, members, 20)["userAgent"] == activity["userAgent"]
    assert call["userIdentity"] == role_session(A, "app")  # the event given is not changed
    kept = sts(user(A, "alice"), "2025-07-01T10:00:00Z")
    assert generate.fleet_member(kept, members, 20) is kept


def test_the_memory_bench_names_the_plan_steps_of_a_trail_read_without_workers():
    """The plan's modules are imported once the read is done when there are no workers (or too many
    files for the warm-up): their steps are still measured, each in its own row (a peak, or "—" for a
    step over before the next sample, with its time)."""
    samples = Path(__file__).resolve().parent.parent / "data" / "samples" / "trail"
    done = subprocess.run([sys.executable, "-m", "bench.memory", "--path", str(samples), "--start", "2025-03-01",
                           "--end", "2025-09-01"], capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 0, done.stderr
    rows = {line.split("|")[1].strip(): line.split("|")[2].strip() for line in done.stdout.splitlines()
            if line.startswith("| ") and not line.startswith("| stage")}
    for stage in ("aggregate", "sts_calls_frame", "take_second_rows", "home_regions", "build_callers", "quota_table"):
        assert stage in rows, (stage, done.stdout)


def test_the_timeline_tells_the_read_with_its_workers_from_what_comes_after(capsys):
    samples = Path(__file__).resolve().parent.parent / "data" / "samples" / "trail"
    assert timeline.main(["--path", str(samples), "--start", "2025-03-01", "--end", "2025-09-01", "--workers", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    read = next(line for line in lines if line.startswith("read (until"))
    assert re.search(r"\(parent \d+, workers \d+, \d+\)$", read), read  # the parent, then each of the two workers
    assert lines[-1].startswith("after the read: peak ")
