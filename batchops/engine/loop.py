"""The engine's repeating steps: each runs every few seconds, and one that fails is logged and tried again after
waits that grow (``Backoff``), so a fault costs a bounded number of attempts a minute and the engine goes on."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from batchops.engine.backoff import Backoff
from batchops.errors import StoreFull

log = logging.getLogger(__name__)

#: Failed steps and failed work on a job are retried after waits that double up to this.
STEP_RETRY_MOST_SECONDS = 30.0

Step = Callable[[], Awaitable[None]]
#: Waits before a failed step is tried again: the store's ``rest`` (shorter once a full disk has room again).
Rest = Callable[[float], Awaitable[None]]


class Wakeup:
    """A request for the next step now rather than at its time (an API call changed a job, some work ended)."""

    def __init__(self) -> None:
        self._asked = asyncio.Event()

    def __call__(self) -> None:
        self._asked.set()

    async def wait(self, most: float) -> None:
        """Until woken, or ``most`` seconds. Not ``asyncio.wait_for``: on Python 3.11 it returns normally when the
        wait ends as the task is cancelled, so a stopping engine's loop would go on and its stop never end."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(most):
                await self._asked.wait()
        self._asked.clear()


async def run_every(step: Step, every: float, rest: Rest, wakeup: Wakeup | None = None) -> None:
    """Run ``step`` every ``every`` seconds (sooner when ``wakeup`` is called) until cancelled."""
    retry = Backoff(every, STEP_RETRY_MOST_SECONDS)
    name = getattr(step, "__name__", repr(step))
    while True:
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a failed step is logged and retried, later each time; the engine goes on
            wait = retry.failed()
            log_failure(exc, "engine step %s failed (%d in a row; next in %.1fs)", name, retry.failures, wait)
            await rest(wait)
            continue
        retry.succeeded()
        if wakeup is not None:
            await wakeup.wait(every)
        else:
            await asyncio.sleep(every)


def log_failure(exc: BaseException, message: str, *args: Any) -> None:
    """A full disk is one line (it is expected, and says what to do); anything else keeps its traceback."""
    if isinstance(exc, StoreFull):
        log.warning(message + ": %s", *args, exc.cause, extra={"action": "disk_full"})
    else:
        log.error(message, *args, exc_info=exc, extra={"action": "engine_step_failed"})


def start_loop(step: Step, every: float, rest: Rest, name: str, wakeup: Wakeup | None = None) -> asyncio.Task[None]:
    """``run_every`` as a task of its own, named for the logs and for ``asyncio`` debugging."""
    return asyncio.create_task(run_every(step, every, rest, wakeup), name=name)


async def cancel_all(tasks: list[asyncio.Task[Any]]) -> None:
    """Cancel the tasks and wait until every one has ended."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
