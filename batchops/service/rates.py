"""A job's rate caps as users write them (query parameters, console fields, CLI options): one reading for all."""

from __future__ import annotations

from batchops.domain.job import MAX_REQUESTS_PER_SECOND_CAP, MAX_TASKS_IN_FLIGHT_CAP, RateCaps
from batchops.errors import ValidationError
from batchops.wire_numbers import parse_decimal, parse_int

#: The word that removes a cap (an empty value does too).
NO_CAP = "none"
REQUESTS_NAME = "maxRequestsPerSecond"
TASKS_NAME = "maxTasksInFlight"


def read_requests(value: str, name: str = REQUESTS_NAME) -> float | None:
    if value.strip().lower() in ("", NO_CAP):
        return None
    number = parse_decimal(value, name, 0, MAX_REQUESTS_PER_SECOND_CAP)
    if number <= 0:
        raise ValidationError(f"{name} must be above 0 (or {NO_CAP!r} for no cap), not {value!r}", field=name)
    return number


def read_tasks(value: str, name: str = TASKS_NAME) -> int | None:
    if value.strip().lower() in ("", NO_CAP):
        return None
    return parse_int(value, name, 1, MAX_TASKS_IN_FLIGHT_CAP)


def changed_caps(current: RateCaps, requests: str | None, tasks: str | None) -> RateCaps:
    """``current`` with each cap given replaced (None: left as it is; empty or ``none``: no cap)."""
    if requests is None and tasks is None:
        raise ValidationError(
            f"give {REQUESTS_NAME} and/or {TASKS_NAME} (a number, or {NO_CAP!r} to remove that cap)",
            field=REQUESTS_NAME,
        )
    return RateCaps(
        current.max_requests_per_second if requests is None else read_requests(requests),
        current.max_tasks_in_flight if tasks is None else read_tasks(tasks),
    )
