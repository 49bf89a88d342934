"""The transition table: exactly the moves the seed and the reference define."""

from __future__ import annotations

import pytest

from batchops.domain.status import (
    CANCELLABLE,
    TERMINAL,
    TRANSITIONS,
    USER_REQUESTS,
    JobStatus,
    can_move,
    check_move,
    sources_of,
)
from batchops.errors import InvalidTransition

S = JobStatus

ALLOWED = {
    (S.NEW, S.PREPARING),
    (S.PREPARING, S.SUSPENDED),
    (S.PREPARING, S.READY),
    (S.PREPARING, S.FAILING),
    (S.SUSPENDED, S.READY),
    (S.READY, S.ACTIVE),
    (S.ACTIVE, S.COMPLETING),
    (S.COMPLETING, S.COMPLETE),
    (S.ACTIVE, S.PAUSING),
    (S.PAUSING, S.PAUSED),
    (S.PAUSED, S.ACTIVE),
    # pause and resume by hand
    (S.READY, S.PAUSED),
    (S.SUSPENDED, S.PAUSED),
    (S.PAUSED, S.READY),
    (S.ACTIVE, S.FAILING),
    (S.FAILING, S.FAILED),
    (S.CANCELLING, S.CANCELLED),
    (S.COMPLETING, S.FAILING),
    *((s, S.CANCELLING) for s in (S.NEW, S.PREPARING, S.SUSPENDED, S.READY, S.ACTIVE, S.PAUSING, S.PAUSED)),
}


def test_table_covers_all_thirteen_statuses() -> None:
    assert set(TRANSITIONS) == set(JobStatus)
    assert len(JobStatus) == 13


@pytest.mark.parametrize("source", list(JobStatus))
@pytest.mark.parametrize("target", list(JobStatus))
def test_exactly_the_allowed_moves(source: JobStatus, target: JobStatus) -> None:
    assert can_move(source, target) == ((source, target) in ALLOWED)
    if (source, target) not in ALLOWED:
        with pytest.raises(InvalidTransition, match=f"{source.value} cannot move to {target.value}"):
            check_move(source, target)


def test_terminal_statuses_have_no_way_out() -> None:
    assert {S.COMPLETE, S.CANCELLED, S.FAILED} == TERMINAL


def test_suspended_never_comes_back() -> None:
    assert sources_of(S.SUSPENDED) == {S.PREPARING}


def test_user_may_confirm_only_suspended_and_cancel_unfinished() -> None:
    assert {s for s, t in USER_REQUESTS[S.READY].items() if t is not s} == {S.SUSPENDED, S.PAUSED}
    moves = USER_REQUESTS[S.CANCELLED]
    assert set(moves.values()) == {S.CANCELLING} and set(moves) - {S.CANCELLING} == CANCELLABLE
    assert not CANCELLABLE & {S.COMPLETING, S.FAILING, S.CANCELLING, *TERMINAL}
