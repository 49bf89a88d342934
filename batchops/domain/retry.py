"""A job's retry links (``batchops job retry``): the job whose failed tasks it runs again, and its own retries."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RetryLinks:
    """The job it retries (or None) and its retries, oldest first."""

    retry_of: str | None = None
    retries: tuple[str, ...] = ()
