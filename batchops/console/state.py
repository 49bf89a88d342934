"""What the console's views and sign-in use: one frozen object on the console app's state, one typed accessor."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import HTTPConnection
from starlette.templating import Jinja2Templates

from batchops.console.throttle import LoginThrottle
from batchops.service import Services


@dataclass(frozen=True)
class ConsoleState:
    """Set once when the console app is built (``create_console``)."""

    services: Services  # the same JobService, settings and job store as the API
    templates: Jinja2Templates
    login_throttle: LoginThrottle
    session_key: str  # signs the session cookies and keys the credentials fingerprint
    session_lifetime: float  # seconds


def console_state(request: HTTPConnection) -> ConsoleState:
    """The state of the console app serving ``request``."""
    found = request.app.state.console
    if not isinstance(found, ConsoleState):
        raise TypeError(f"app.state.console is {type(found).__name__}, not ConsoleState: use create_console")
    return found
