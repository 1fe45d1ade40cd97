"""Reading trail trees: layouts, invalid files, digests and the date pruning."""
import gzip
import os
import socket
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from builders import sts, user, write_trail
from kit import spill, trailfiles
from kit.engines import local
from kit.errors import InputError
from kit.params import validate
from kit.plan import make_plan
from kit.trailfiles import InvalidTrailFile, TrailFile, delivery_date, discover, read_records

A = "111122223333"
GOOD = [sts(user(A, "alice"), "2025-07-01T10:00:00Z")]


def window(start="2025-07-01", end="2025-07-02"):
    return (datetime.fromisoformat(start).replace(tzinfo=timezone.utc),
            datetime.fromisoformat(end).replace(tzinfo=timezone.utc))


def test_org_and_account_layouts_and_flat_folders_are_all_found(tmp_path):
    org = write_trail(tmp_path / f"AWSLogs/o-abc/{A}/CloudTrail/us-east-1/2025/07/01/a.json.gz", GOOD)
    account = write_trail(tmp_path / f"AWSLogs/{A}/CloudTrail/us-east-1/2025/07/01/b.json", GOOD)
    flat = write_trail(tmp_path / "c.json.gz", GOOD)
    found = discover(tmp_path, *window())
    assert sorted(f.path for f in found.files) == sorted(map(str, (org, account, flat)))


def test_draining_gives_every_file_once_in_order_and_keeps_the_totals(tmp_path):
    for name in ("b.json", "a.json.gz", "sub/c.json"):
        write_trail(tmp_path / name, GOOD)
    files = discover(tmp_path, *window()).files
    listed, total = list(files), files.total_bytes
    assert list(files.drain()) == listed and [Path(f.path).name for f in listed] == ["a.json.gz", "b.json", "c.json"]
    assert len(files) == 3 and files.total_bytes == total
    with pytest.raises(IndexError, match="drained"):
        files[0]


def test_draining_gives_files_by_delivery_date_after_those_of_no_date(tmp_path):
    for folder in (f"AWSLogs/{A}/CloudTrail/us-east-1/2025/07/02", f"AWSLogs/{A}/CloudTrail/us-east-1/2025/07/01",
                   f"AWSLogs/o-1/{A}/CloudTrail/eu-west-1/2025/07/01", "copied"):
        for name in ("b.json", "a.json"):
            write_trail(tmp_path / folder / name, GOOD)
    files = discover(tmp_path, *window()).files
    found = [f.path for f in files]
    drained = [f.path for f in files.drain()]
    assert sorted(drained) == sorted(found)
    assert [path.split("/AWSLogs/")[-1].split("/copied/")[-1] for path in drained] == [
        "a.json", "b.json",  # then a day's files as found: the account's folder, then the organization's
        f"{A}/CloudTrail/us-east-1/2025/07/01/a.json", f"{A}/CloudTrail/us-east-1/2025/07/01/b.json",
        f"o-1/{A}/CloudTrail/eu-west-1/2025/07/01/a.json", f"o-1/{A}/CloudTrail/eu-west-1/2025/07/01/b.json",
        f"{A}/CloudTrail/us-east-1/2025/07/02/a.json", f"{A}/CloudTrail/us-east-1/2025/07/02/b.json"]


def test_digests_other_files_and_dates_outside_the_window_are_passed_over(tmp_path):
    write_trail(tmp_path / f"AWSLogs/{A}/CloudTrail-Digest/us-east-1/2025/07/01/d.json.gz", [])
    (tmp_path / "notes.txt").write_text("x")
    write_trail(tmp_path / f"AWSLogs/{A}/CloudTrail/us-east-1/2025/06/20/old.json.gz", GOOD)
    write_trail(tmp_path / f"AWSLogs/{A}/CloudTrail/us-east-1/2025/07/02/late.json.gz", GOOD)
    write_trail(tmp_path / f"AWSLogs/{A}/CloudTrail/us-east-1/2025/07/02/{A}_CloudTrail-Digest_x.json.gz", [])
    (tmp_path / f"AWSLogs/{A}/CloudTrail/us-east-1/2025/06/20/notes.txt").write_text("x")  # not a trail name first
    found = discover(tmp_path, *window())
    assert [f.path.rsplit("/", 1)[1] for f in found.files] == ["late.json.gz"]
    assert (found.ignored, found.outside_window) == (3, 1)  # the folder of 2025/06/20 is not listed


def test_dated_folders_outside_the_window_are_not_listed(tmp_path, monkeypatch):
    """A trail bucket holds years of day folders: those outside the window are counted, not listed."""
    days = tmp_path / f"AWSLogs/{A}/CloudTrail/us-east-1/2025"
    for day in ("06/20", "07/01", "08/15"):
        write_trail(days / day / "f.json.gz", GOOD)
    listed: list[str] = []
    scandir = os.scandir
    monkeypatch.setattr(trailfiles.os, "scandir", lambda path: listed.append(str(path)) or scandir(path))
    found = discover(tmp_path, *window())
    assert [f.path.split("/2025/")[1] for f in found.files] == ["07/01/f.json.gz"]
    assert found.outside_window == 2
    assert [path.split("/2025")[1] for path in listed if "/2025/" in path] == ["/06", "/07", "/07/01", "/08"]
    inside = discover(days / "06/20", *window())  # a dated folder given as the root: its date decides too
    assert (len(inside.files), inside.outside_window) == (0, 1)


def test_delivery_date_reads_the_s3_layout_only():
    assert delivery_date(f"/x/AWSLogs/{A}/CloudTrail/eu-west-1/2025/07/31/f.json.gz").isoformat() == "2025-07-31"
    assert delivery_date(f"/x/AWSLogs/{A}/CloudTrail-Insight/eu-west-1/2025/07/31/").isoformat() == "2025-07-31"
    assert delivery_date("/x/2025/07/31/f.json.gz") is None
    assert delivery_date(f"/x/AWSLogs/{A}/CloudTrail-Other/eu-west-1/2025/07/31/") is None


def test_digest_folders_outside_the_window_are_not_listed(tmp_path, monkeypatch):
    """A bucket holds a digest file an hour for every day of the trail's life: only the window's are listed."""
    for day in ("2023/01/05", "2025/07/01", "2025/09/30"):
        write_trail(tmp_path / f"AWSLogs/{A}/CloudTrail-Digest/us-east-1/{day}/d.json.gz", [])
    write_trail(tmp_path / f"AWSLogs/{A}/CloudTrail/us-east-1/2025/07/01/f.json.gz", GOOD)
    listed: list[str] = []
    scandir = os.scandir
    monkeypatch.setattr(trailfiles.os, "scandir", lambda path: listed.append(str(path)) or scandir(path))
    found = discover(tmp_path, *window())
    assert [Path(f.path).name for f in found.files] == ["f.json.gz"]
    assert (found.ignored, found.outside_window) == (1, 2)
    assert not [path for path in listed if path.endswith(("/2023/01/05", "/2025/09/30"))]


@pytest.mark.parametrize("name, content, reason", [
    ("cut.json.gz", gzip.compress(b'{"Records": []}' * 50)[:40], "not a complete gzip file"),
    ("text.json", b"this is not json", "not JSON"),
    ("other.json", b'{"logFiles": []}', 'no "Records" list'),
    ("list.json", b"[1, 2]", 'no "Records" list'),
    ("empty.json.gz", b"", "not JSON"),
])
def test_invalid_files_say_why(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InvalidTrailFile, match=reason):
        read_records(str(path))


def _params(tmp_path):
    return validate({"source": "local", "path": tmp_path, "start": "2025-07-01", "end": "2025-07-02",
                     "quiet": True})


def test_invalid_files_are_skipped_counted_and_named_and_the_rest_is_kept(tmp_path):
    write_trail(tmp_path / "good.json.gz", GOOD + ["not an object", {"eventSource": "sts.amazonaws.com"}])
    (tmp_path / "bad.json.gz").write_bytes(b"\x1f\x8b\x08garbage")
    plan = make_plan(_params(tmp_path))
    assert plan.summary["files_read"] == 1 and plan.summary["files_invalid"] == 1
    assert list(plan.summary["invalid_files"]) == [str(tmp_path / "bad.json.gz")]
    assert plan.summary["events_skipped"] == {"no eventTime": 1, "record is not a JSON object": 1}
    assert plan.callers.global_calls.tolist() == [1]


def test_nothing_readable_fails_with_the_reason(tmp_path):
    (tmp_path / "bad.json").write_text("nope")
    with pytest.raises(InputError, match="none of the 1 files .* not JSON"):
        make_plan(_params(tmp_path))


def test_an_empty_window_fails_and_says_so(tmp_path):
    write_trail(tmp_path / "f.json", [sts(user(A, "alice"), "2024-01-01T00:00:00Z")])
    with pytest.raises(InputError, match="no usable events .* outside the time window"):
        make_plan(_params(tmp_path))


# Odd folders: discovery never stops, follows linked folders once, and names what it cannot read.

def _dated_tree(root, undated=True):
    """Day folders of two accounts and Regions (one outside the window), an undated file, and odd entries
    inside day folders: a digest, a note, a dangling link, a FIFO, a file linked twice, a subfolder."""
    days = {day: root / f"AWSLogs/{account}/CloudTrail/{region}/2025/{day}"
            for day, account, region in (("07/01", A, "us-east-1"), ("07/02", A, "us-east-1"),
                                         ("06/30", "444455556666", "eu-west-1"), ("06/01", A, "us-east-1"))}
    days["07/01 again"] = root / f"AWSLogs/{A}/CloudTrail/us-west-2/2025/07/01"
    for day, folder in days.items():
        for name in ("b.json.gz", "a.json"):
            write_trail(folder / name, GOOD)
    write_trail(days["07/01"] / "sub" / "c.json", GOOD)  # before the other Region's day: as a whole walk finds it
    write_trail(days["07/02"] / f"{A}_CloudTrail-Digest_x.json.gz", [])
    (days["07/02"] / "notes.txt").write_text("x")
    (days["06/30"] / "dangling.json").symlink_to(root / "nowhere.json")
    os.mkfifo(days["07/01"] / "pipe.json.gz")
    (days["07/02"] / "same.json").symlink_to(days["07/02"] / "a.json")
    if undated:
        write_trail(root / "copied" / "z.json", GOOD)
    return root


@pytest.mark.parametrize("ahead", [0, 1, 10 ** 9])
def test_deferred_day_folders_drain_as_a_whole_walk_does(tmp_path, ahead):
    """Listing day folders only when the drain reaches them (what the engine does) gives the files, their
    order and what was passed over of a walk that lists everything first, whatever was listed ahead."""
    root = _dated_tree(tmp_path / "trail")
    whole = discover(root, *window())
    expected = [(f.path, f.size) for f in whole.files.drain()]
    deferred = discover(root, *window(), defer_dated=True)
    deferred.files.look_ahead(ahead)
    assert [(f.path, f.size) for f in deferred.files.drain()] == expected
    assert len(expected) == 10 and expected[0][0].endswith("/copied/z.json")
    assert (deferred.ignored, deferred.outside_window, deferred.unreadable) == \
        (whole.ignored, whole.outside_window, whole.unreadable) == (2, 1, deferred.unreadable)
    assert {Path(path).name for path in deferred.unreadable} == {"dangling.json", "pipe.json.gz"}
    assert (len(deferred.files), deferred.files.total_bytes) == (len(whole.files), whole.files.total_bytes)


def test_a_day_folder_is_listed_when_the_drain_reaches_it(tmp_path, monkeypatch):
    root = _dated_tree(tmp_path / "trail")
    listed: list[str] = []
    scandir = os.scandir
    monkeypatch.setattr(trailfiles.os, "scandir", lambda path: listed.append(str(path)) or scandir(path))
    found = discover(root, *window(), defer_dated=True)
    assert not [path for path in listed if delivery_date(path + "/")]
    assert found.files.expected() == 1  # the undated file; no day folder listed yet to estimate the others
    drained = found.files.drain()
    next(drained), next(drained)  # the undated file, then the first of the earliest day
    assert [path.split("/2025/")[1] for path in listed if delivery_date(path + "/")] == ["06/30"]
    assert found.files.expected() == 2 + 2 * 3  # two files so far, two per day folder for the three left
    estimate = found.files.expected_bytes()  # the bytes of 8 files of the mean size of the two
    assert len(list(drained)) == 8
    assert found.files.total_bytes / 2 < estimate < found.files.total_bytes * 2
    assert found.files.expected_bytes() == found.files.total_bytes  # every folder listed: no estimate left


def test_what_day_folders_pass_over_reaches_the_report(tmp_path, monkeypatch):
    """Day folders only: enough of them are listed before the read to know there are files, and whether
    they need the workers (here: more than a few bytes)."""
    monkeypatch.setattr(local, "IN_PROCESS_BYTES", 1000)
    params = validate({"source": "local", "path": _dated_tree(tmp_path / "trail", undated=False),
                       "start": "2025-07-01", "end": "2025-07-02", "quiet": True, "cache": False})
    report = local.collect(params).report
    assert report.files_read == 9 and report.files_ignored == 2
    assert {Path(path).name for path in report.invalid_files} == {"dangling.json", "pipe.json.gz"}
    assert report.engine_stats["workers"] == (os.cpu_count() or 1)


def test_day_folders_without_trail_files_fail_as_an_empty_tree_does(tmp_path):
    write_trail(tmp_path / f"AWSLogs/{A}/CloudTrail/us-east-1/2025/07/01/{A}_CloudTrail-Digest_x.json.gz", [])
    with pytest.raises(InputError, match="no .json or .json.gz trail files"):
        _collect(tmp_path)


def test_a_file_of_several_names_is_taken_once_under_the_first(tmp_path):
    """Symbolic links met before or after their target, hard links, among files of one name."""
    for index in range(50):
        write_trail(tmp_path / "a" / f"p{index:02d}.json", GOOD)
    write_trail(tmp_path / "a" / "z-real.json", GOOD)
    (tmp_path / "a" / "a-link.json").symlink_to(tmp_path / "a" / "z-real.json")  # met before its target
    os.link(tmp_path / "a" / "p07.json", tmp_path / "a" / "p07-again.json")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "to-p30.json").symlink_to(tmp_path / "a" / "p30.json")  # met after its target
    (tmp_path / "b" / "to-link.json").symlink_to(tmp_path / "a" / "a-link.json")
    found = discover(tmp_path, *window())
    taken = [os.path.relpath(f.path, tmp_path) for f in found.files]
    assert len(taken) == len({os.stat(tmp_path / path).st_ino for path in taken}) == 51
    assert "a/a-link.json" in taken and "a/p07-again.json" in taken and "a/p30.json" in taken


def _collect(path):
    params = validate({"source": "local", "path": path, "start": "2025-07-01", "end": "2025-07-02",
                       "quiet": True, "workers": 1, "cache": False})
    return local.collect(params)


def _odd_tree(root):
    """Three good files plus every kind of odd entry discovery must survive."""
    write_trail(root / "a" / "one.json.gz", GOOD)
    write_trail(root / "b" / "two.json", GOOD)
    outside = write_trail(root.parent / f"{root.name}-elsewhere" / "three.json.gz", GOOD)
    (root / "linked").symlink_to(outside.parent, target_is_directory=True)
    (root / "linked-again").symlink_to(outside.parent, target_is_directory=True)
    (root / "a" / "loop").symlink_to(root, target_is_directory=True)
    (root / "a" / "same-file.json.gz").symlink_to(root / "a" / "one.json.gz")
    (root / "dangling.json").symlink_to(root / "nowhere.json")
    (root / "self.json").symlink_to(root / "self.json")
    os.mkfifo(root / "pipe.json.gz")
    return root


def test_odd_entries_are_named_and_the_good_files_each_read_once(tmp_path):
    root = _odd_tree(tmp_path / "trail")
    found = discover(root, *window())
    real = sorted(os.path.realpath(f.path) for f in found.files)
    assert len(real) == len(set(real)) == 3
    assert set(found.unreadable) == {str(root / name) for name in ("dangling.json", "self.json", "pipe.json.gz")}
    assert "dangling" in found.unreadable[str(root / "dangling.json")]
    assert "loop" in found.unreadable[str(root / "self.json")]
    assert "FIFO" in found.unreadable[str(root / "pipe.json.gz")]


def test_odd_entries_change_no_count_of_the_good_records_and_reach_the_summary(tmp_path):
    clean = tmp_path / "clean"
    for index in range(3):
        write_trail(clean / f"f{index}.json.gz", GOOD)
    odd = _collect(_odd_tree(tmp_path / "trail"))
    assert odd.sts_calls.equals(_collect(clean).sts_calls)
    assert odd.report.files_read == 3
    assert {Path(path).name for path in odd.report.to_dict()["invalid_files"]} == \
        {"dangling.json", "self.json", "pipe.json.gz"}


def test_a_socket_with_a_trail_name_is_named_not_read(tmp_path):
    write_trail(tmp_path / "good.json", GOOD)
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(tmp_path / "s.json.gz"))
    except OSError:
        pytest.skip("no Unix socket at this path length")
    with server:
        found = discover(tmp_path, *window())
    assert [Path(f.path).name for f in found.files] == ["good.json"]
    assert "socket" in found.unreadable[str(tmp_path / "s.json.gz")]


def test_a_folder_that_cannot_be_listed_is_named_and_the_rest_read(tmp_path, monkeypatch):
    write_trail(tmp_path / "open" / "good.json", GOOD)
    write_trail(tmp_path / "locked" / "hidden.json", GOOD)
    real_scandir = os.scandir

    def scandir(path):
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(trailfiles.os, "scandir", scandir)
    result = _collect(tmp_path)
    assert result.report.files_read == 1
    assert result.report.invalid_files == {str(tmp_path / "locked"): "folder cannot be read (Permission denied)"}


def test_a_folder_with_no_permissions_does_not_stop_the_run(tmp_path):
    write_trail(tmp_path / "open" / "good.json", GOOD)
    locked = tmp_path / "locked"
    write_trail(locked / "hidden.json", GOOD)
    locked.chmod(0)
    try:
        result = _collect(tmp_path)
    finally:
        locked.chmod(0o700)
    if os.geteuid() != 0:  # root reads through chmod 000: only the no-crash part holds there
        assert str(locked) in result.report.invalid_files and result.report.files_read == 1


def test_a_file_that_vanishes_or_turns_into_a_fifo_after_listing_is_named(tmp_path):
    write_trail(tmp_path / "good.json", GOOD)
    gone = write_trail(tmp_path / "gone.json", GOOD)
    swapped = write_trail(tmp_path / "swapped.json.gz", GOOD)
    found = discover(tmp_path, *window())
    gone.unlink()
    swapped.unlink()
    os.mkfifo(swapped)
    params = validate({"source": "local", "path": tmp_path, "start": "2025-07-01", "end": "2025-07-02",
                       "quiet": True, "workers": 1, "cache": False})
    _, report = local.aggregate(found, params)
    assert report.files_read == 1
    assert "gone before it was read" in report.invalid_files[str(gone)]
    assert "FIFO" in report.invalid_files[str(swapped)]


def test_a_root_with_only_unreadable_entries_fails_with_one_line(tmp_path):
    (tmp_path / "dangling.json").symlink_to(tmp_path / "nowhere.json")
    with pytest.raises(InputError, match="no readable trail files .* dangling"):
        _collect(tmp_path)


def test_judged_fields_only_give_the_verdicts_of_whole_records():
    from kit.events import Aggregator
    from kit.params import SAMPLES_DIR

    window = ("2025-03-01T00:00:00Z", "2025-09-01T00:00:00Z")
    whole, partial = Aggregator(*window), Aggregator(*window)
    paths = sorted(str(path) for path in (SAMPLES_DIR / "trail").rglob("*.json.gz"))
    trimmed = 0
    for path in paths:
        try:
            records = read_records(path, judged_only=True)
        except InvalidTrailFile:  # the samples' broken files are broken either way
            with pytest.raises(InvalidTrailFile):
                read_records(path)
            continue
        trimmed += "eventVersion" not in str(records)  # else a file of an odd shape, read whole
        whole.add(read_records(path))
        partial.add(records)
    assert whole.events > 10_000 and len(paths) - 40 < trimmed < len(paths), trimmed
    whole.seal()
    partial.seal()
    mine, theirs = partial.state(), whole.state()
    mine.update({f"breakage.{name}": value for name, value in mine.pop("breakage").items()})
    theirs.update({f"breakage.{name}": value for name, value in theirs.pop("breakage").items()})
    assert partial.breakage.uses and partial.breakage.calls and len(partial.breakage.issued_hashes)
    for name, value in mine.items():
        assert (value == theirs[name]).all() if hasattr(value, "dtype") else value == theirs[name], name


@pytest.mark.parametrize("odd", [
    {"userIdentity": "AssumedRole"}, {"requestParameters": ["roleArn"]}, {"tlsDetails": 7},
    {"additionalEventData": {"RequestDetails": "global"}}, None,
])
def test_a_record_of_an_unexpected_shape_is_read_whole(tmp_path, odd):
    records = [sts(user(A, "u"), "2025-07-01T10:00:00Z", endpoint_type="global", serving="eu-west-1"),
               {**sts(user(A, "u"), "2025-07-01T10:00:01Z"), **odd} if odd else "not an object"]
    path = write_trail(tmp_path / "odd.json.gz", records)
    assert read_records(str(path), judged_only=True) == records


def test_discovered_files_read_back_as_found_however_they_are_asked_for(tmp_path):
    """kit.trailfiles.TrailFiles: each folder once, yet every path, size and time as the folder listing gave them."""
    for folder, name, body in [("a", "1.json", b"{}"), ("a", "2.json.gz", b"xyz"), ("a/b c", "3.json", b"{ }"),
                               ("d", "4.json", b"")]:
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        (tmp_path / folder / name).write_bytes(body)
    files = discover(tmp_path, datetime(2025, 1, 1, tzinfo=timezone.utc), datetime(2025, 2, 1, tzinfo=timezone.utc)).files
    expected = [TrailFile(str(tmp_path / folder / name), (tmp_path / folder / name).stat().st_size,
                          (tmp_path / folder / name).stat().st_mtime_ns)
                for folder, name in [("a", "1.json"), ("a", "2.json.gz"), ("a/b c", "3.json"), ("d", "4.json")]]
    assert list(files) == expected and len(files) == 4 and files.total_bytes == 8
    assert files[-1] == expected[-1] and files[1:3] == expected[1:3] and files[::-2] == expected[::-2]
    with pytest.raises(IndexError):
        files[4]


@pytest.mark.parametrize("text_bytes", [8, 1 << 16])
def test_file_names_the_system_gives_come_back_the_same_from_disk_or_memory(tmp_path, monkeypatch, text_bytes):
    """kit.trailfiles.TrailFiles keeps the names in kit.spill.SpilledTexts: on disk past ``TEXT_BYTES``."""
    monkeypatch.setattr(spill, "TEXT_BYTES", text_bytes)
    folder = tmp_path / f"AWSLogs/{A}/CloudTrail/us-east-1/2025/07/01"
    names = [b"\xff-not-utf8.json", "ünïcode.json".encode(), b"plain.json.gz"]
    for name in names:
        write_trail(Path(os.fsdecode(os.fsencode(folder) + b"/" + name)), GOOD)
    files = discover(tmp_path, *window()).files
    listed = list(files)
    assert sorted(os.fsencode(Path(f.path).name) for f in listed) == sorted(names)
    assert all(read_records(f.path) for f in files.drain())  # each path opens the file found


@pytest.mark.parametrize("told", [0, 1, -1, -(1 << 20) - 5, 1 << 21],
                         ids=["same size", "shrank a byte", "grew a byte", "grew past a read", "shrank 2 MiB"])
def test_a_file_is_read_whole_whatever_size_was_seen_before(tmp_path, told):
    """``kit.trailfiles._read_to_end`` reads on when the file is not the size its ``fstat`` gave (it grew or
    shrank since, or a read was cut short)."""
    content = np.random.default_rng(5).bytes(3 << 20)
    (tmp_path / "f.json").write_bytes(content)
    descriptor = os.open(tmp_path / "f.json", os.O_RDONLY)
    try:
        assert trailfiles._read_to_end(descriptor, max(len(content) + told, 0)) == content
    finally:
        os.close(descriptor)
