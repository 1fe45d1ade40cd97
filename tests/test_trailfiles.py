"""Reading trail trees: layouts, invalid files, digests and the date pruning."""
import gzip
from datetime import datetime, timezone

import pytest

from builders import sts, user, write_trail
from kit.errors import InputError
from kit.params import validate
from kit.plan import make_plan
from kit.trailfiles import InvalidTrailFile, delivery_date, discover, read_records

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


def test_digests_other_files_and_dates_outside_the_window_are_passed_over(tmp_path):
    write_trail(tmp_path / f"AWSLogs/{A}/CloudTrail-Digest/us-east-1/2025/07/01/d.json.gz", [])
    (tmp_path / "notes.txt").write_text("x")
    write_trail(tmp_path / f"AWSLogs/{A}/CloudTrail/us-east-1/2025/06/20/old.json.gz", GOOD)
    write_trail(tmp_path / f"AWSLogs/{A}/CloudTrail/us-east-1/2025/07/02/late.json.gz", GOOD)
    found = discover(tmp_path, *window())
    assert [f.path.rsplit("/", 1)[1] for f in found.files] == ["late.json.gz"]
    assert (found.ignored, found.outside_window) == (2, 1)


def test_delivery_date_reads_the_s3_layout_only():
    assert delivery_date(f"/x/AWSLogs/{A}/CloudTrail/eu-west-1/2025/07/31/f.json.gz").isoformat() == "2025-07-31"
    assert delivery_date("/x/2025/07/31/f.json.gz") is None


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
