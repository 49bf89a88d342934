"""The webhook outbox in SQL: rows written with each status move (``jobs.add_delivery``), claimed and recorded by
the notifier, and the attempts DescribeJob and the console show."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from batchops.domain.status import JobStatus
from batchops.domain.webhook import AttemptResult, DeliveryAttempt, PendingDelivery
from batchops.store import codec, rules
from batchops.store.schema import webhook_attempts, webhook_deliveries
from batchops.store.sql.database import Repository

_pending = and_(webhook_deliveries.c.delivered_at.is_(None), webhook_deliveries.c.gave_up_at.is_(None))


class SqlWebhooks(Repository):
    async def due_deliveries(self, now: float, limit: int) -> list[PendingDelivery]:
        """Each job's oldest pending event, when its next attempt is due (a later one waits: events in order)."""
        earlier = webhook_deliveries.alias("earlier")
        older_pending = (
            select(earlier.c.id)
            .where(
                earlier.c.job_id == webhook_deliveries.c.job_id,
                earlier.c.id < webhook_deliveries.c.id,
                earlier.c.delivered_at.is_(None),
                earlier.c.gave_up_at.is_(None),
            )
            .exists()
        )
        query = (
            select(webhook_deliveries)
            .where(_pending, webhook_deliveries.c.next_attempt_at <= now, ~older_pending)
            .order_by(webhook_deliveries.c.next_attempt_at, webhook_deliveries.c.id)
            .limit(limit)
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [PendingDelivery.of(row) for row in rows]

    async def claim_delivery(self, delivery: PendingDelivery, until: float) -> bool:
        """Take ``delivery`` until ``until`` (its next attempt pushed there): False if another sender took it."""
        async with self._db.write() as conn:
            result = await conn.execute(
                update(webhook_deliveries)
                .where(
                    webhook_deliveries.c.id == delivery.id,
                    webhook_deliveries.c.next_attempt_at == delivery.next_attempt_at,
                    _pending,
                )
                .values(next_attempt_at=until)
            )
        return bool(result.rowcount)

    async def record_attempt(
        self, delivery: PendingDelivery, result: AttemptResult, next_attempt_at: float | None
    ) -> None:
        """Note one POST of ``delivery``; ``next_attempt_at`` None after a failure: given up on."""
        now = self._db.clock()
        attempt = delivery.attempts + 1
        values: dict[str, Any] = {
            "attempts": attempt,
            "last_http_status": result.http_status,
            "last_error": result.error,
        }
        if result.delivered:
            values["delivered_at"] = now
        elif next_attempt_at is None:
            values["gave_up_at"] = now
        else:
            values["next_attempt_at"] = next_attempt_at
        async with self._db.write() as conn:
            this = webhook_deliveries.c.id == delivery.id
            await conn.execute(update(webhook_deliveries).where(this).values(**values))
            await conn.execute(insert(webhook_attempts).values(**rules.attempt_values(delivery, attempt, result, now)))

    async def drop_deliveries(self, delivery_ids: Sequence[int]) -> None:
        """Forget events nobody listens for (neither their job nor its account has a webhook), in one write."""
        if not delivery_ids:
            return
        async with self._db.write() as conn:
            await conn.execute(delete(webhook_deliveries).where(webhook_deliveries.c.id.in_(list(delivery_ids))))

    async def delivery_attempts(self, job_id: str, limit: int) -> list[DeliveryAttempt]:
        """The job's most recent ``limit`` delivery attempts, oldest first."""
        query = (
            select(webhook_attempts)
            .where(webhook_attempts.c.job_id == job_id)
            .order_by(webhook_attempts.c.id.desc())
            .limit(limit)
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [_attempt(row) for row in reversed(rows)]

    async def pending_deliveries(self, job_id: str) -> int:
        query = select(func.count()).where(webhook_deliveries.c.job_id == job_id, _pending)
        async with self._db.read() as conn:
            return int((await conn.execute(query)).scalar_one())


async def add_delivery(
    conn: AsyncConnection, row: Any, source: JobStatus | None, target: JobStatus, reason: str | None, now: float
) -> None:
    """The outbox row for a status move, in the move's own transaction (``conn``)."""
    await conn.execute(insert(webhook_deliveries).values(**rules.delivery_values(row, source, target, reason, now)))



def _attempt(row: Any) -> DeliveryAttempt:
    at = codec.to_datetime(row.at)
    assert at is not None
    return DeliveryAttempt(
        delivery_id=row.delivery_id,
        event=row.event,
        status=row.status,
        attempt=row.attempt,
        at=at,
        http_status=row.http_status,
        error=row.error,
        delivered=bool(row.delivered),
    )
