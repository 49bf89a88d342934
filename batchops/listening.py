"""Is the port free? Asked before the server (or the demo) prints that it serves there."""

from __future__ import annotations

import errno
import socket

from batchops.errors import ConfigError

#: How far above a taken port to look for a free one to suggest.
_SUGGESTION_RANGE = 20


def port_taken(host: str, port: int) -> bool:
    """Another process listens on ``host:port`` (bound the way uvicorn binds: SO_REUSEADDR, so a closed
    connection's TIME_WAIT does not count)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        socket.create_server((host, port), family=family).close()
    except OSError as exc:
        return exc.errno == errno.EADDRINUSE  # any other refusal (no such address…) is the server's to report
    return False


def ensure_port_free(host: str, port: int, suggestion: str = "--port {port}") -> None:
    """ConfigError naming the taken port and a free one to use instead (``suggestion`` formatted with it)."""
    if not port_taken(host, port):
        return
    free = next((p for p in range(port + 1, port + 1 + _SUGGESTION_RANGE) if not port_taken(host, p)), None)
    advice = f"choose another with {suggestion.format(port=free)}" if free else "choose another with --port"
    raise ConfigError(f"port {port} on {host} is already in use (another batchops, or another program): {advice}")
