"""The rollup of a run, stored once in the run folder so that every notebook of ``sts-kit run``
builds its plan from it instead of querying the engine again (one set of queries per run).

Two files: ``rollup.msgpack`` holds the three tables and the read report in the cache's codec
(kit.engines.codec: plain values and numpy arrays, nothing that runs code when read), and
``rollup.json`` names it with its size and sha256 and the parameters that select the events.
A notebook uses the stored rollup only when its own event-selecting parameters are the same
(editing ``quota`` reuses it, editing ``start`` does not), both files belong to the user and the
rollup matches its sha256.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kit.engines import codec
from kit.errors import InputError
from kit.outputs import write_file
from kit.params import WINDOW_BOUNDS, Params
from kit.readreport import ReadReport
from kit.rollup import ACTIVITY_COLUMNS, SECOND_COLUMNS, SIGNAL_COLUMNS, STS_CALL_COLUMNS, THROTTLED_COLUMNS, Rollup

ROLLUP_FILE = "rollup.msgpack"
ROLLUP_MANIFEST = "rollup.json"
FORMAT = 2
PLAN_ONLY = frozenset({"out_dir", "ip_ranges", "quota", "quota_overrides", "risk_threshold", "policy_source",
                       "policies", "quiet", "workers", "cache", "max_queries"})
"""Parameters that change the plan or how events are read, never which events the rollup holds."""
_TEXT_DTYPES = ("object", "str", "string")
_TABLES = {"sts_calls": STS_CALL_COLUMNS, "activity": ACTIVITY_COLUMNS, "seconds": SECOND_COLUMNS,
           "signals": SIGNAL_COLUMNS, "throttled": THROTTLED_COLUMNS}


def selection(params: Params) -> dict[str, Any]:
    """The parameters that decide what the rollup holds (JSON-ready)."""
    return {name: value for name, value in params.to_dict().items() if name not in PLAN_ONLY}


def _column(series: pd.Series) -> list:
    """One column as plain values: times as [unit, int64 array], numbers as an array, texts as a list,
    categorical texts as their categories and a code per row."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return ["coded", [str(value) for value in series.cat.categories], series.cat.codes.to_numpy(dtype=np.int64)]
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return ["time", series.dtype.unit, series.to_numpy(dtype="datetime64[ns]").view("int64")]
    if pd.api.types.is_numeric_dtype(series.dtype):
        return ["number", series.to_numpy()]
    return ["text", [str(value) for value in series], str(series.dtype)]


def _series(encoded: Any, name: str) -> pd.Series:
    if not (isinstance(encoded, list) and len(encoded) in (2, 3) and encoded[0] in ("time", "number", "text", "coded")):
        raise ValueError(f"column {name} is malformed")
    if encoded[0] == "coded":
        return _coded_series(encoded, name)
    if encoded[0] == "time":
        values = pd.DatetimeIndex(np.asarray(encoded[2], dtype="int64").view("datetime64[ns]")).tz_localize("UTC")
        if len(values) and not (WINDOW_BOUNDS[0] <= values.min() and values.max() < WINDOW_BOUNDS[1]):
            raise ValueError(f"column {name} has times outside {WINDOW_BOUNDS[0]:%Y} to {WINDOW_BOUNDS[1]:%Y}")
        return pd.Series(values.as_unit(encoded[1]), name=name)
    if encoded[0] == "number":
        return pd.Series(np.asarray(encoded[1]), name=name)
    if len(encoded) != 3 or encoded[2] not in _TEXT_DTYPES or not all(isinstance(v, str) for v in encoded[1]):
        raise ValueError(f"column {name} is not a column of texts")
    return pd.Series(encoded[1], dtype=encoded[2], name=name)


def _coded_series(encoded: list, name: str) -> pd.Series:
    """A categorical column from its distinct sorted texts and a code per row."""
    if len(encoded) != 3 or not isinstance(encoded[1], list) or not all(isinstance(v, str) for v in encoded[1]):
        raise ValueError(f"column {name} is not a column of coded texts")
    categories, codes = encoded[1], np.asarray(encoded[2])
    if codes.dtype.kind not in "iu" or codes.ndim != 1 or (len(codes) and not 0 <= codes.min() <= codes.max() < len(categories)) \
            or categories != sorted(set(categories)):
        raise ValueError(f"column {name} has codes outside its sorted, distinct texts")
    return pd.Series(pd.Categorical.from_codes(codes, pd.Index(categories, dtype="str")), name=name)


def _table(encoded: Any, columns: tuple[str, ...], name: str) -> pd.DataFrame:
    if not isinstance(encoded, dict) or list(encoded) != list(columns):
        raise ValueError(f"table {name} does not have the rollup's columns")
    series = [_series(encoded[column], column) for column in columns]
    if len({len(values) for values in series}) > 1:
        raise ValueError(f"table {name} has columns of different lengths")
    table = pd.DataFrame(dict(zip(columns, series)), columns=list(columns))
    return table


def rollup_bytes(rollup: Rollup) -> bytes:
    """The rollup in the codec's msgpack form."""
    tables = {name: {column: _column(getattr(rollup, name)[column]) for column in columns}
              for name, columns in _TABLES.items()}
    return codec.pack({"format": FORMAT, "tables": tables, "report": dataclasses.asdict(rollup.report)})


def rollup_from_bytes(data: bytes) -> Rollup:
    """The rollup of ``rollup_bytes`` (``ValueError`` for anything else)."""
    content = codec.unpack(data)
    if not isinstance(content, dict) or content.get("format") != FORMAT:
        raise ValueError(f"not a rollup file of format {FORMAT}")
    tables, report = content.get("tables"), content.get("report")
    fields = {field.name for field in dataclasses.fields(ReadReport)}
    if not isinstance(tables, dict) or not isinstance(report, dict) or set(report) != fields:
        raise ValueError("the rollup file lacks its tables or its read report")
    read = {name: _table(tables.get(name), columns, name) for name, columns in _TABLES.items()}
    return Rollup(read.pop("sts_calls"), read.pop("activity"), read.pop("seconds"), ReadReport(**report), **read)


def save(rollup: Rollup, params: Params, folder: Path) -> dict[str, Any]:
    """Write ``rollup.msgpack`` then ``rollup.json`` into ``folder``; return the manifest."""
    data = rollup_bytes(rollup)
    manifest = {"file": ROLLUP_FILE, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                "format": FORMAT, "selection": selection(params)}
    write_file(Path(folder) / ROLLUP_FILE, data)
    write_file(Path(folder) / ROLLUP_MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
    return manifest


def _check_owner(path: Path) -> None:
    """``InputError`` when ``path`` belongs to another user (a rollup planted in a shared folder)."""
    if hasattr(os, "getuid") and path.stat().st_uid != os.getuid():
        raise InputError(f"{path} belongs to another user; the kit uses only rollup files you wrote")


def load(params: Params) -> Rollup | None:
    """The rollup stored in ``params.out_dir`` for the same event selection, or None when there is
    none or it was made for other parameters. A stored rollup that fails its sha256 or does not
    decode is an ``InputError`` (never silently replaced by new queries)."""
    folder = Path(params.out_dir)
    try:
        _check_owner(folder / ROLLUP_MANIFEST)
        manifest = json.loads((folder / ROLLUP_MANIFEST).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise InputError(f"{folder / ROLLUP_MANIFEST} cannot be read ({error}); delete it to query again") from None
    if not isinstance(manifest, dict) or manifest.get("selection") != selection(params):
        return None
    path = folder / ROLLUP_FILE
    try:
        _check_owner(path)
        data = path.read_bytes()
    except OSError as error:
        raise InputError(f"{path} cannot be read ({error.strerror}); delete {ROLLUP_MANIFEST} to query again") from None
    if len(data) != manifest.get("bytes") or hashlib.sha256(data).hexdigest() != manifest.get("sha256"):
        raise InputError(f"{path} does not match the sha256 in {ROLLUP_MANIFEST}; delete both to query again")
    try:
        return rollup_from_bytes(data)
    except (ValueError, TypeError) as error:
        raise InputError(f"{path} is not a usable rollup ({error}); delete both rollup files to query again") from None
