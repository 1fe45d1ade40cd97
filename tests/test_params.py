"""The one parameter schema: unknown names, malformed values and cross-parameter rules."""
from datetime import datetime, timezone

import pytest

from kit.errors import ParameterError
from kit.params import PARAMS_BY_NAME, SAMPLE_WINDOW, validate

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
