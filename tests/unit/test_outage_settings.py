"""store_outage_max_seconds: how long a job holds for an unreachable store before it fails."""

from __future__ import annotations

import pytest

from batchops.errors import ConfigError
from batchops.settings import load_settings


def test_the_bound_defaults_to_an_hour_and_comes_from_the_environment() -> None:
    assert load_settings(environ={}).store_outage_max_seconds == 3600.0
    environ = {"BATCHOPS_STORE_OUTAGE_MAX_SECONDS": "90.5"}
    assert load_settings(environ=environ).store_outage_max_seconds == 90.5
    assert load_settings({"store_outage_max_seconds": 5}, environ).store_outage_max_seconds == 5.0


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "an hour"])
def test_a_bound_that_is_not_a_positive_number_of_seconds_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match="store_outage_max_seconds must be a"):
        load_settings(environ={"BATCHOPS_STORE_OUTAGE_MAX_SECONDS": value})
