"""The AWS CLI (v1) plugin: ``aws s3control …`` against a batchops server, batchops's extensions included.

Enable it once (it writes ``[plugins] batchops = batchops.awscli_plugin`` into ~/.aws/config)::

    aws configure set plugins.batchops batchops.awscli_plugin

The AWS CLI v1 imports plugins from its own Python, so batchops must be installed where ``aws`` is (the same
virtualenv or ``pip install``); no ``cli_legacy_plugin_path`` is needed (that setting is the AWS CLI v2's, whose
bundled Python cannot see site-packages). The plugin registers the host hook every batchops client needs
(``batchops.aws_hooks.strip_account_from_host``) and, once the CLI has made its botocore session, puts the
model overlay on the session's data path so ``--operation '{"S3DeleteObject":{}}'`` is accepted.
"""

from __future__ import annotations

from typing import Any

from batchops.aws_hooks import HOST_EVENT, add_data_path, strip_account_from_host


def awscli_initialize(cli: Any) -> None:
    """Called by the AWS CLI with its event emitter, before any command runs."""
    cli.register(HOST_EVENT, strip_account_from_host, unique_id="batchops-strip-account-from-host")
    cli.register("session-initialized", _add_overlay, unique_id="batchops-botocore-overlay")


def _add_overlay(session: Any, **_: Any) -> None:
    add_data_path(session.get_component("data_loader"))
