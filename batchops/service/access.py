"""How an edge reaches the service: one frozen object on the app's state, read through one typed accessor."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.requests import HTTPConnection

from batchops.service.jobs import JobService
from batchops.service.sessions import ConsoleSessions
from batchops.settings import Settings
from batchops.store.base import Store


@dataclass(frozen=True)
class Services:
    """What routes and views may use; built once, by the composition root (batchops.server)."""

    jobs: JobService
    sessions: ConsoleSessions
    settings: Settings
    #: Only for /healthz: whether the job store can write (``write_fault``).
    store: Store
    #: Only for /healthz: whether this server supervises ("leader") or stands by ("standby").
    role: Callable[[], str] = field(default=lambda: "leader")


def services(request: HTTPConnection) -> Services:
    """The services of the API app serving ``request``."""
    found = request.app.state.services
    if not isinstance(found, Services):
        raise TypeError(f"app.state.services is {type(found).__name__}, not Services: build the app with create_app")
    return found
