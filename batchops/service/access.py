"""How an edge reaches the service: one frozen object on each app's state, read through one typed accessor."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import HTTPConnection

from batchops.service.jobs import JobService
from batchops.settings import Settings


@dataclass(frozen=True)
class Services:
    """What routes and views may use; set once when the API and console apps are built."""

    jobs: JobService
    settings: Settings


def services(request: HTTPConnection) -> Services:
    """The services of the app serving ``request`` (the API app or the console mounted in it)."""
    found = request.app.state.services
    if not isinstance(found, Services):
        raise TypeError(f"app.state.services is {type(found).__name__}, not Services: build the app with create_app")
    return found
