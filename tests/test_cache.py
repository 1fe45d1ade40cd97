"""The cache: a data-only format that round-trips every aggregator attribute, entries checked
before use, and a folder used only when it is the user's own and private."""
from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from builders import activity, role_session, sts, user
from kit.engines import cache, codec, local
from kit.events import Aggregator
from kit.params import SAMPLES_DIR, validate
from kit.rollup import Rollup
from kit.trailfiles import read_records

A, B = "111122223333", "444455556666"
WINDOW = ("2025-03-01T00:00:00Z", "2025-09-01T00:00:00Z")


def same(left: Any, right: Any) -> bool:
    """Equal values of the very same types, all the way down (a list is not a tuple, 1 is not True)."""
    if type(left) is not type(right):
        return False
    if isinstance(left, np.ndarray):
        return left.dtype == right.dtype and left.shape == right.shape and np.array_equal(left, right)
    if isinstance(left, dict):
        return (len(left) == len(right) and all(same(a, b) for a, b in zip(left, right))
                and all(same(left[key], right[key]) for key in left))
    if isinstance(left, (list, tuple)):
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right))
    if isinstance(left, (set, frozenset)):
        return sorted(map(repr, left)) == sorted(map(repr, right))
    return left == right or (left != left and right != right)


def filled() -> Aggregator:
    """An aggregator of one sample file plus hand-made records of every kind it counts."""
    aggregator = Aggregator(*WINDOW)
    aggregator.add(read_records(str(next(SAMPLES_DIR.glob("trail/**/*.json.gz")))))
    aggregator.add([sts(user(A, "alice"), "2025-07-01T10:00:00Z"),
                    sts(role_session(B, "deploy"), "2025-07-01T10:00:01Z", host="sts.eu-west-1.amazonaws.com"),
                    activity(user(A, "alice"), "2025-07-01T10:00:02Z", "eu-west-1"),
                    sts(user(A, "late"), "2026-01-01T00:00:00Z"), "not an object", {"eventTime": 5},
                    {**sts(user(A, "burst"), "2025-07-01T10:00:03Z", error="ThrottlingException"),
                     "errorMessage": "Rate exceeded"},
                    {**activity({**user(A, "alice"), "accessKeyId": "ASIAUSED"}, "2025-07-01T10:00:04Z", "ap-east-1"),
                     "eventID": "use-1", "sharedEventID": "shared-1", "errorCode": "InvalidClientTokenId"}])
    return aggregator


def round_trip(aggregator: Aggregator) -> Aggregator:
    data = cache.encode_entry("k", (aggregator, 3, {"x.json": "not JSON"}))
    restored, files_read, invalid = cache.decode_entry("k", data)
    assert (files_read, invalid) == (3, {"x.json": "not JSON"})
    return restored


def test_every_attribute_of_a_filled_aggregator_round_trips():
    aggregator = filled()
    assert aggregator.per_second and aggregator.activity and aggregator.skipped
    assert aggregator.breakage.calls and aggregator.breakage.uses
    restored = round_trip(aggregator)
    restored_state = codec.state_of(restored)
    for name, value in codec.state_of(aggregator).items():
        assert same(value, restored_state[name]), name
    assert restored.names == {}, "__getstate__ is respected: the interning table is not stored"


def test_new_attributes_of_the_covered_types_need_no_codec_change(monkeypatch: pytest.MonkeyPatch):
    aggregator = filled()
    extra = {
        "hashes": np.array([2 ** 64 - 1, 0, 12345], dtype=np.uint64),
        "key_index": np.arange(12, dtype=np.int32).reshape(3, 4),
        "by_id": {(A, "evt-1", 3): [1, 2.5, None, True], (B, "evt-2", 4): [0, -1.0, "x", False]},
        "seen": {"a", "b"}, "frozen": frozenset({(1, 2), (3, 4)}), "pair": ("x", 1, None),
        "nested": [{"k": (1, [2, {3}])}, []], "huge": 2 ** 80, "blob": b"\x00\xff", "scalar": np.int64(7),
        "empty": {}, "nan": float("nan"),
    }
    vars(aggregator).update(extra)
    monkeypatch.setattr(Aggregator, "STATE", Aggregator.STATE + tuple(extra))
    restored = round_trip_raw(aggregator)
    for name, value in extra.items():
        assert same(value, getattr(restored, name)), name


def round_trip_raw(aggregator: Aggregator) -> Aggregator:
    """Through the codec only (decode_entry also checks the attribute names against this kit's)."""
    return codec.restore(Aggregator, codec.unpack(codec.pack(codec.state_of(aggregator))))


@pytest.mark.parametrize("value", [object(), {"k": Path("/tmp")}, [1, lambda: 1], np.array([object()])])
def test_a_value_of_an_unknown_type_is_an_error_not_dropped(value, monkeypatch: pytest.MonkeyPatch):
    aggregator = Aggregator(*WINDOW)
    aggregator.mystery = value
    monkeypatch.setattr(Aggregator, "STATE", Aggregator.STATE + ("mystery",))
    with pytest.raises(TypeError, match="cannot encode"):
        cache.encode_entry("k", (aggregator, 0, {}))


def test_the_decoder_builds_only_plain_values():
    for bad in ([b"not a tree"], ["a", "O", [1], b"\x00" * 8], ["zz", 1], ["d", [1, 2], [3]], ["s", [["l", []]]]):
        with pytest.raises((ValueError, TypeError)):
            codec.decode(bad)


def run(path: Path, **extra) -> Rollup:
    params = validate({"source": "local", "path": path, "start": "2025-03-01", "end": "2025-09-01",
                       "quiet": True, "workers": 1, **extra})
    return local.collect(params)


@pytest.fixture
def trail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(local, "BATCH_BYTES", 200_000)
    account = next((SAMPLES_DIR / "trail").glob(f"AWSLogs/*/{A}"))
    shutil.copytree(account, tmp_path / "trail" / account.name)
    return tmp_path / "trail"


def test_corrupt_truncated_foreign_and_planted_entries_are_ignored_named_and_replaced(trail, tmp_path):
    first = run(trail)
    batches = first.report.engine_stats["batches"]
    entries = sorted(cache.cache_dir().glob(f"*{cache.ENTRY_SUFFIX}"))
    assert len(entries) == batches >= 6
    planted = tmp_path / "ran"
    damage = [
        lambda data: data[:len(data) // 2],                                       # truncated
        lambda data: data[:-1] + bytes([data[-1] ^ 1]),                           # one bit flipped
        lambda data: pickle.dumps(_Planted(str(planted))),                        # a planted pickle
        lambda data: entries[0].read_bytes(),                                     # another batch's entry
        lambda data: data.replace(b'"format":%d' % cache.FORMAT, b'"format":99', 1),  # another format
        lambda data: b"",                                                         # empty
    ]
    original = entries[0].read_bytes()
    for entry, harm in zip(entries[1:], damage[1:]):
        entry.write_bytes(harm(entry.read_bytes()))
    entries[0].write_bytes(damage[0](original))
    again = run(trail)
    assert not planted.exists(), "no code ran"
    assert again.report.engine_stats["cached_batches"] == batches - len(damage)
    assert again.report.engine_stats["cache_entries_rejected"] == len(damage)
    note = next(note for note in again.report.notes if "could not be used" in note)
    for reason in ("truncated", "digest mismatch", "not a cache entry", "stored under another key", "another format"):
        assert reason in note
    assert again.sts_calls.equals(first.sts_calls) and again.seconds.equals(first.seconds)
    assert run(trail).report.engine_stats["cached_batches"] == batches, "damaged entries were rewritten"


class _Planted:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_an_entry_that_is_a_symlink_is_not_followed(trail, tmp_path):
    run(trail)
    entry = sorted(cache.cache_dir().glob(f"*{cache.ENTRY_SUFFIX}"))[0]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_bytes(entry.read_bytes())
    entry.unlink()
    entry.symlink_to(elsewhere)
    again = run(trail)
    assert again.report.engine_stats["cache_entries_rejected"] == 1


def test_a_folder_others_can_write_is_refused_with_one_line_and_the_run_goes_on(trail, capsys):
    folder = cache.cache_dir()
    folder.chmod(0o777)
    result = run(trail)
    assert result.report.engine_stats["cached_batches"] == 0 and not list(folder.iterdir())
    assert any(note.startswith("cache not used:") and "chmod go-w" in note for note in result.report.notes)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "can be written by others" in lines[0]


def test_a_folder_of_another_user_is_refused(trail, monkeypatch, capsys):
    monkeypatch.setattr(cache.os, "getuid", lambda: os.geteuid() + 1)
    result = run(trail)
    assert result.report.engine_stats["cached_batches"] == 0
    assert "belongs to another user" in capsys.readouterr().err


def test_a_missing_folder_is_created_private(tmp_path, monkeypatch):
    monkeypatch.setenv("STS_KIT_CACHE_DIR", str(tmp_path / "new" / "cache"))
    assert cache.refusal() is None
    assert (tmp_path / "new" / "cache").stat().st_mode & 0o777 == 0o700
