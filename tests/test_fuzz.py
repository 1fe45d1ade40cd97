"""Issue 10's fuzz test: random mutations of the samples' records (wrong types, missing fields,
truncated values, nested garbage, records that are not objects) through the local engine: no
traceback, and the untouched records counted exactly as in a clean run of them alone."""
from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

import pytest

from builders import write_trail
from kit.engines import local
from kit.params import SAMPLES_DIR, validate
from kit.rollup import Rollup
from kit.trailfiles import read_records
from rollups import counts

ACCOUNT_FILES = sorted((SAMPLES_DIR / "trail").glob("AWSLogs/*/111122223333/CloudTrail/*/2025/0[67]/*/*.json*"))
GARBAGE: list[Any] = [None, 0, -1, 1.5, True, "", "x", "=1+1", "../../x", [], [1, "a", None], {}, {"a": {"b": [None]}},
                      "9" * 300, "2025-07-01T25:00:00Z", "2025-07-01T10:00:00+02:00", {"clientProvidedHostHeader": 5}]


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path into the objects of ``value`` (depth first)."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.append((*prefix, key))
            found += paths(item, (*prefix, key))
    return found


def mutate(record: dict[str, Any], rng: random.Random) -> Any:
    """``record`` with one to three random damages, or something that is not a record at all."""
    if rng.random() < 0.05:
        return rng.choice([None, "record", 7, [record], [], ""])
    record = copy.deepcopy(record)
    for _ in range(rng.randint(1, 3)):
        where = rng.choice(paths(record) or [("eventTime",)])
        parent = record
        for key in where[:-1]:
            parent = parent[key] if isinstance(parent, dict) else {}
        if not isinstance(parent, dict):
            continue
        key, how = where[-1], rng.choice(["type", "drop", "truncate", "nest"])
        if how == "drop":
            parent.pop(key, None)
        elif how == "truncate" and isinstance(parent.get(key), str) and parent[key]:
            parent[key] = parent[key][:rng.randrange(len(parent[key]))]
        elif how == "nest":
            parent[key] = {"garbage": [rng.choice(GARBAGE), {"deeper": rng.choice(GARBAGE)}]}
        else:
            parent[key] = copy.deepcopy(rng.choice(GARBAGE))
    return record


def run(path: Path) -> Rollup:
    params = validate({"source": "local", "path": path, "start": "2025-03-01", "end": "2025-09-01",
                       "quiet": True, "cache": False, "workers": 1})
    return local.collect(params)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_damaged_records_leave_the_counts_of_the_others_unchanged(tmp_path, seed):
    rng = random.Random(seed)
    untouched, mixed, damaged = [], [], []
    for number, path in enumerate(ACCOUNT_FILES):
        for record in read_records(str(path)):
            # a twin's copies are judged together: both stay untouched so the two runs can be added
            if isinstance(record, dict) and not record.get("sharedEventID") and rng.random() < 0.3:
                bad = mutate(record, rng)
                mixed.append(bad)
                damaged.append(bad)
            else:
                mixed.append(record)
                untouched.append(record)
    assert len(damaged) > 300 and len(untouched) > 500
    clean = run(write_trail(tmp_path / "clean" / "a.json", untouched).parent)
    alone = run(write_trail(tmp_path / "damaged" / "a.json", damaged).parent)
    together = run(write_trail(tmp_path / "mixed" / "a.json", mixed).parent)
    assert counts(together) == counts(clean) + counts(alone)
    assert together.report.events_read == len(mixed)
