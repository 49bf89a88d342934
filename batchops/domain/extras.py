"""What DescribeJob and the console show of a job beyond its own record: its retry links, the chain it belongs to,
and its latest webhook delivery attempts (each read from its own table, gathered once by ``JobService.extras``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from batchops.domain.chain import ChainView
from batchops.domain.retry import RetryLinks
from batchops.domain.webhook import DeliveryAttempt


@dataclass(frozen=True)
class JobExtras:
    links: RetryLinks = field(default_factory=RetryLinks)
    chain: ChainView | None = None
    deliveries: tuple[DeliveryAttempt, ...] = ()
