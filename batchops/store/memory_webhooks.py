"""The webhook outbox in memory (``MemoryStore``'s part): the same rules as ``sql/webhooks.py``."""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from batchops.domain.status import JobStatus
from batchops.domain.webhook import AttemptResult, DeliveryAttempt, PendingDelivery
from batchops.store import codec, rules
from batchops.store.memory_work import MemoryBase


class MemoryWebhooks(MemoryBase):
    #: Outbox rows by id (``webhook_deliveries`` columns) and attempt rows in the order made.
    deliveries: dict[int, SimpleNamespace]
    attempts: list[dict[str, Any]]

    def add_delivery(
        self, row: Any, source: JobStatus | None, target: JobStatus, reason: str | None, now: float
    ) -> None:
        """Called inside the move's write, as the SQL store does in its transaction."""
        delivery_id = len(self.deliveries) + 1
        values = rules.delivery_values(row, source, target, reason, now)
        self.deliveries[delivery_id] = SimpleNamespace(
            id=delivery_id, last_http_status=None, last_error=None, delivered_at=None, gave_up_at=None, **values
        )

    def _pending_rows(self) -> list[SimpleNamespace]:
        return [r for r in self.deliveries.values() if r.delivered_at is None and r.gave_up_at is None]

    async def due_deliveries(self, now: float, limit: int) -> list[PendingDelivery]:
        oldest: dict[str, SimpleNamespace] = {}
        for row in sorted(self._pending_rows(), key=lambda r: r.id):
            oldest.setdefault(row.job_id, row)
        due = sorted((r for r in oldest.values() if r.next_attempt_at <= now), key=lambda r: (r.next_attempt_at, r.id))
        return [PendingDelivery.of(r) for r in due[:limit]]

    async def claim_delivery(self, delivery: PendingDelivery, until: float) -> bool:
        async with self._write():
            row = self.deliveries.get(delivery.id)
            if row is None or row.delivered_at is not None or row.gave_up_at is not None:
                return False  # delivered, given up on, or dropped meanwhile
            if row.next_attempt_at != delivery.next_attempt_at:
                return False  # another sender took it
            row.next_attempt_at = until
        return True

    async def record_attempt(
        self, delivery: PendingDelivery, result: AttemptResult, next_attempt_at: float | None
    ) -> None:
        now = self._clock()
        async with self._write():
            row = self.deliveries[delivery.id]
            row.attempts = delivery.attempts + 1
            row.last_http_status, row.last_error = result.http_status, result.error
            if result.delivered:
                row.delivered_at = now
            elif next_attempt_at is None:
                row.gave_up_at = now
            else:
                row.next_attempt_at = next_attempt_at
            self.attempts.append(rules.attempt_values(delivery, row.attempts, result, now))

    async def drop_deliveries(self, delivery_ids: Sequence[int]) -> None:
        async with self._write():
            for delivery_id in delivery_ids:
                self.deliveries.pop(delivery_id, None)

    async def delivery_attempts(self, job_id: str, limit: int) -> list[DeliveryAttempt]:
        mine = [a for a in self.attempts if a["job_id"] == job_id][-limit:]
        return [_attempt(a) for a in mine]

    async def pending_deliveries(self, job_id: str) -> int:
        return sum(r.job_id == job_id for r in self._pending_rows())

    def purge_deliveries(self, job_ids: set[str]) -> None:
        self.deliveries = {i: r for i, r in self.deliveries.items() if r.job_id not in job_ids}
        self.attempts = [a for a in self.attempts if a["job_id"] not in job_ids]



def _attempt(values: dict[str, Any]) -> DeliveryAttempt:
    at = codec.to_datetime(values["at"])
    assert at is not None
    fields = {k: v for k, v in values.items() if k not in ("job_id", "at")}
    return DeliveryAttempt(at=at, **fields)
