"""The one parameter schema: unknown names, malformed values and cross-parameter rules."""
import time
from datetime import datetime, timezone

import pytest

from kit.errors import ParameterError
from kit.params import PARAMS_BY_NAME, SAMPLE_WINDOW, load_parameters_file, validate

LOCAL = {"source": "local", "path": "/tmp", "start": "2025-07-01", "end": "2025-07-02"}


def test_defaults_point_at_the_samples():
    params = validate({})
    assert params.source == "samples"
    assert params.path.name == "trail" and params.ip_ranges.name == "ip-ranges.json"
    assert params.to_dict()["start"] == SAMPLE_WINDOW[0] and params.to_dict()["end"] == SAMPLE_WINDOW[1]


def test_misspelt_name_is_named_with_a_suggestion_and_the_valid_list():
    with pytest.raises(ParameterError) as caught:
        validate({"sourse": "samples"})
    message = str(caught.value)
    assert "'sourse'" in message and "did you mean 'source'" in message
    assert all(name in message for name in PARAMS_BY_NAME)


@pytest.mark.parametrize("change, name, fragment", [
    ({"start": "2025-13-01"}, "start", "not an ISO 8601"),
    ({"end": "2025-06-01"}, "end", "must be after start"),
    ({"accounts": "12345"}, "accounts", "12-digit"),
    ({"accounts": ["111122223333", "abc"]}, "accounts", "12-digit"),
    ({"quota": "many"}, "quota", "whole number"),
    ({"quota": 0}, "quota", "positive"),
    ({"risk_threshold": 1.5}, "risk_threshold", "between 0 and 1"),
    ({"source": "s3"}, "source", "samples, local, lake, athena"),
    ({"start": None}, "start", "required for source 'local'"),
    ({"path": None}, "path", "required for source 'local'"),
    ({"aws_region": "Europe"}, "aws_region", "Region code"),
    ({"event_data_store": "x' OR 1=1"}, "event_data_store", "event data store"),
])
def test_bad_values_say_what_to_fix(change, name, fragment):
    with pytest.raises(ParameterError) as caught:
        validate({**LOCAL, **change})
    assert caught.value.name == name and fragment in str(caught.value)


def test_values_are_converted():
    params = validate({**LOCAL, "accounts": "222233334444, 111122223333", "quota": "1200",
                       "start": "2025-07-01T12:00:00+02:00", "cache": "false"})
    assert params.accounts == ("111122223333", "222233334444")
    assert params.quota == 1200 and params.cache is False
    assert params.start == datetime(2025, 7, 1, 10, tzinfo=timezone.utc)


def test_lake_and_athena_need_their_settings():
    with pytest.raises(ParameterError, match="event_data_store"):
        validate({**LOCAL, "source": "lake"})
    with pytest.raises(ParameterError, match="database"):
        validate({**LOCAL, "source": "athena"})


def test_quota_overrides_are_parsed_and_checked():
    params = validate({**LOCAL, "quota_overrides": "111122223333/eu-west-1=1500, 222233334444/us-east-1=900"})
    assert params.quota_overrides == {("111122223333", "eu-west-1"): 1500, ("222233334444", "us-east-1"): 900}
    assert params.to_dict()["quota_overrides"] == {"111122223333/eu-west-1": 1500, "222233334444/us-east-1": 900}
    for bad, fragment in (("111122223333=5", "ACCOUNT/REGION"), ("111122223333/eu-west-1=-1", "positive"),
                          ("111122223333/eu-west-1=lots", "whole number")):
        with pytest.raises(ParameterError, match=fragment):
            validate({**LOCAL, "quota_overrides": bad})


def _yaml(tmp_path, text: str):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    return path


def test_a_parameters_file_with_plain_yaml_dates_is_accepted(tmp_path):
    loaded = load_parameters_file(_yaml(tmp_path, "source: local\npath: /tmp\nstart: 2025-07-01\n"
                                                  "end: 2025-07-02 12:00:00\nquota: 900\n"))
    params = validate(loaded)
    assert params.start == datetime(2025, 7, 1, tzinfo=timezone.utc)
    assert params.end == datetime(2025, 7, 2, 12, tzinfo=timezone.utc) and params.quota == 900


@pytest.mark.parametrize("text, fragment", [
    ("quota: [1, 2]", "'quota': expected a single value, got a list"),
    ("accounts: 5", "'accounts': expected comma-separated 12-digit account ids, got int"),
    ("accounts: {a: 1}", "'accounts': expected comma-separated 12-digit account ids, got dict"),
    ("source: {x: 1}", "'source': expected a single value, got a dict"),
    ("start: 5", "'start': expected an ISO 8601 date or time, got int"),
    ("path: 5", "'path': expected a path, got int"),
    ("quota: true", "'quota': expected a whole number"),
    ("risk_threshold: [0.5]", "'risk_threshold': expected a single value"),
])
def test_wrong_types_in_a_parameters_file_are_rejected_with_one_line(tmp_path, text, fragment):
    with pytest.raises(ParameterError) as caught:
        validate({**LOCAL, **load_parameters_file(_yaml(tmp_path, text))})
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("text, fragment", [
    ("- a\n- b\n", "must hold a mapping"),
    ("1: x\n", "must hold a mapping"),
    ("quota: [\n", "is not valid YAML"),
    ("a: &x 1\nb: *x\n", "line 2: YAML aliases"),
])
def test_unusable_parameters_files_are_named_with_one_line(tmp_path, text, fragment):
    with pytest.raises(ParameterError) as caught:
        load_parameters_file(_yaml(tmp_path, text))
    assert caught.value.name == "parameters_file" and fragment in str(caught.value)
    assert "\n" not in str(caught.value)


def test_an_alias_bomb_fails_fast(tmp_path):
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    lines += [f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]"
              for previous, name in zip("abcdefgh", "bcdefghi")]
    path = _yaml(tmp_path, "\n".join(lines) + "\n")
    assert path.stat().st_size <= 400
    began = time.perf_counter()
    with pytest.raises(ParameterError, match="aliases"):
        load_parameters_file(path)
    assert time.perf_counter() - began < 1


def test_a_huge_parameters_file_is_refused_unread(tmp_path):
    path = _yaml(tmp_path, "quota: 600\n" + "#" * 2_000_000)
    with pytest.raises(ParameterError, match="over 1,000,000 bytes"):
        load_parameters_file(path)


@pytest.mark.parametrize("name, value", [("end", "9999-12-31"), ("start", "1999-01-01"),
                                         ("end", "9999-12-31T23:59:59-05:00")])
def test_the_window_lies_where_cloudtrail_can_hold_events(name, value):
    with pytest.raises(ParameterError, match="lies outside 2005-01-01 to 2100-01-01"):
        validate({**LOCAL, name: value})
