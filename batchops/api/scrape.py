"""``/metrics``: batchops.metrics in Prometheus' text format, with the jobs by status read from the store at scrape
time. Served on the API's port (unauthenticated, as Prometheus scrapes expect), on a port of its own
(``metrics_port``: a listener bound to ``host`` that serves nothing else), or not at all (``metrics = "off"``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from batchops.domain.status import JobStatus
from batchops.metrics import CONTENT_TYPE, JobsByStatus, exposition
from batchops.service import JobService
from batchops.settings import Settings

log = logging.getLogger(__name__)

PATH = "/metrics"


def on_api_port(settings: Settings) -> bool:
    """Whether the API's own port answers ``/metrics``."""
    return settings.metrics == "on" and settings.metrics_port is None


def metrics_route(jobs: JobService) -> Route:
    async def scrape(_request: Request) -> Response:
        return Response(await scraped(jobs), media_type=CONTENT_TYPE)

    return Route(PATH, scrape, methods=["GET"])


async def scraped(jobs: JobService) -> bytes:
    """Every process's metrics and the job counts; while the store cannot be read, the rest without them."""
    try:
        counts = await jobs.counts_by_status()
    except Exception as exc:
        log.warning("/metrics: jobs by status left out, the job store did not answer: %s", exc)
        return exposition()
    return exposition(JobsByStatus({s.value: n for s, n in counts.items()}, [s.value for s in JobStatus]))


class _Listener(uvicorn.Server):
    """A second server in the API server's process: the API server handles SIGTERM and Ctrl-C, and stops it."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class MetricsListener:
    """``/metrics`` alone on ``settings.metrics_port``, for the API server's lifespan."""

    def __init__(self, settings: Settings, jobs: JobService) -> None:
        assert settings.metrics_port is not None
        app = Starlette(routes=[metrics_route(jobs)])
        # No logging config of its own: the API server's (text or JSON) already covers uvicorn's loggers.
        config = uvicorn.Config(
            app, host=settings.host, port=settings.metrics_port, access_log=False, log_config=None, lifespan="off"
        )
        self._server = _Listener(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve(), name="metrics-listener")
        while not self._server.started and not self._task.done():
            await asyncio.sleep(0.01)
        if self._task.done():  # it could not bind: the port is taken (uvicorn has said why)
            self._task.result()
        log.info("serving /metrics at http://%s:%d%s", self._server.config.host, self._server.config.port, PATH)

    async def stop(self) -> None:
        if self._task is not None:
            self._server.should_exit = True
            await self._task
