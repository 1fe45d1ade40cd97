"""Evidence of breakage in the plan (kit.breakage): whatever engine found the signals, a caller gains
their codes and counts, live breakage makes it P1 and says what it was, and a signal of a caller
the plan does not list is kept in signals.csv."""
from __future__ import annotations

import json
from dataclasses import replace

import pandas as pd
import pytest

from kit import readnotes
from kit.engines import collect
from kit.params import validate
from kit.plan import make_plan
from kit.report import write_outputs
from kit.rollup import SIGNAL_COLUMNS, frame

REPORT_LAMBDA = "arn:aws:iam::222233334444:role/report-lambda"
NODE_AGENT = "aws-sdk-nodejs/2.1400.0 linux/v18.16.0 exec-env/AWS_Lambda_nodejs18.x promise"
LEDGER = "arn:aws:iam::111122223333:role/payments-ledger"
JAVA_AGENT = ("aws-sdk-java/2.25.11 Linux/5.10 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS Java/17.0.10 "
              "vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy")


def _signals(rows: list[tuple]) -> pd.DataFrame:
    return frame([list(column) for column in zip(*rows)], SIGNAL_COLUMNS)


@pytest.fixture(scope="module")
def rollup():
    return collect(validate({}))


def _plan(rollup, rows):
    return make_plan(validate({}), replace(rollup, signals=_signals(rows)))


def test_live_breakage_makes_a_p3_caller_p1_and_says_what_it_was(rollup):
    before = make_plan(validate({}), rollup).callers.set_index("principal_arn").loc[REPORT_LAMBDA]
    assert before.priority == "P3"  # runs in us-east-1 (the samples)
    plan = _plan(rollup, [
        ("222233334444", REPORT_LAMBDA, NODE_AGENT, "sts-throttled", "global", "us-east-1", 400, 0,
         "2025-08-12T03:00:00Z", "2025-08-12T03:00:03Z", "b-2"),
        ("222233334444", REPORT_LAMBDA, NODE_AGENT, "sts-throttled", "global", "us-east-1", 20, 0,
         "2025-08-13T03:00:00Z", "2025-08-13T03:00:00Z", "a-1"),
    ])
    caller = plan.callers.set_index("principal_arn").loc[REPORT_LAMBDA]
    assert caller.priority == "P1"
    assert caller.priority_reason.startswith("live breakage: 420 calls failing (sts-throttled); otherwise P3: ")
    assert caller.breakage_events == 420
    assert "sts-throttled" in caller.risks.split(";")
    assert caller.breakage == ("sts-throttled: 420 events in us-east-1 (2025-08-12 to 2025-08-13; e.g. event a-1)")
    assert plan.callers.priority.is_monotonic_increasing  # P1 rows still come first
    assert plan.summary["signals"] == {"sts-throttled": {"events": 420, "sessions": 0, "callers_in_plan": 1,
                                                         "callers_not_in_plan": 0}}


def test_sessions_used_in_an_opt_in_region_are_a_risk_not_live_breakage(rollup):
    plan = _plan(rollup, [("222233334444", REPORT_LAMBDA, NODE_AGENT, "token-v1-in-use", "global", "ap-east-1",
                           9, 4, "2025-05-01T00:00:00Z", "2025-06-01T00:00:00Z", "")])
    caller = plan.callers.set_index("principal_arn").loc[REPORT_LAMBDA]
    assert caller.priority == "P3" and caller.breakage_events == 0
    assert caller.risks.split(";")[-1] == "token-v1-in-use"
    assert caller.breakage == "token-v1-in-use: 9 events in ap-east-1 (4 sessions; 2025-05-01 to 2025-06-01)"


def test_a_signal_of_a_caller_outside_the_plan_is_kept_and_counted(rollup, tmp_path):
    plan = _plan(rollup, [("111122223333", LEDGER, JAVA_AGENT, "region-disabled", "regional", "ap-southeast-3",
                           3, 0, "2025-07-01T10:00:00Z", "2025-07-02T10:00:00Z", "e-9")])
    assert LEDGER not in set(plan.callers.principal_arn)  # a Regional caller
    row = plan.signals.iloc[0]
    assert (row.signal, row.caller_tool, row.in_plan, row.events) == ("region-disabled", "aws-sdk-java", False, 3)
    assert plan.summary["signals"]["region-disabled"]["callers_not_in_plan"] == 1
    write_outputs(plan, tmp_path)
    csv = pd.read_csv(tmp_path / "signals.csv", dtype=str)
    assert csv.loc[0, "example_event_id"] == "e-9" and csv.loc[0, "in_plan"] == "False"
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert "signals.csv" in summary["files"]
    assert "Evidence of breakage" in (tmp_path / "plan.md").read_text()


def test_no_signal_no_change(rollup, tmp_path):
    plan = make_plan(validate({}), replace(rollup, signals=_signals([])))
    assert plan.signals.empty and plan.summary["signals"] == {}
    assert (plan.callers.breakage == "").all() and (plan.callers.breakage_events == 0).all()
    write_outputs(plan, tmp_path)
    assert (tmp_path / "signals.csv").read_text().startswith("account_id,principal_arn,caller_tool,signal,")
    assert "Evidence of breakage" not in (tmp_path / "plan.md").read_text()


def test_the_live_breakage_note_comes_first():
    notes = readnotes.reading_notes({"signals": {"token-v1-in-use": {"events": 5}, "token-rejected": {"events": 7},
                                                 "scp-deny": {"events": 2}}, "notes": ["cache not used: x"]})
    assert notes[0].startswith("live breakage in CloudTrail: 7 token-rejected, 2 scp-deny events")
    assert "token-v1-in-use" not in notes[0]


def test_fail_on_breakage_counts_only_live_breakage():
    from kit.campaign.failon import findings, parse_fail_on

    kinds = parse_fail_on("breakage", has_previous=False)
    only_use = {"signals": {"token-v1-in-use": {"events": 9}}}
    assert findings(kinds, only_use, None) is None
    live = {"signals": {"token-v1-in-use": {"events": 9}, "scp-deny": {"events": 3}, "sts-throttled": {"events": 1200}}}
    assert findings(kinds, live, None) == "found 1,203 events of live breakage (--fail-on breakage)"
