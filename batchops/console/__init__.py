"""The web console at ``/console/``: jobs list, job detail, actions and a create-job form."""

from batchops.console.app import create_console

__all__ = ["create_console"]
