"""What boto3, botocore and the AWS CLI need to talk to a batchops server: one event hook and one model overlay.

* s3control's endpoint rules put the account id in front of the host (``123456789012.127.0.0.1:8080``), which
  does not resolve: ``strip_account_from_host`` takes it off before each request is signed (the server accepts
  any ``Host``).
* botocore's s3control model does not know batchops's extensions (``S3DeleteObject``, ``BatchOpsNoOp``,
  ``BatchOpsFailureThreshold``, …) and refuses them before sending: ``DATA_PATH`` holds
  ``s3control/2018-08-20/service-2.sdk-extras.json``, which botocore's Loader merges ("merge" key) into the
  s3control model it loads when the directory is on its search path.

``boto3_hook`` (``batchops.boto3_hook``) puts both in place for boto3 and botocore; ``batchops.awscli_plugin``
does the same inside the AWS CLI. Nothing here imports boto3 or botocore until it is called, so importing
``batchops`` stays cheap.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

#: botocore's event for every s3control request, just before it is signed.
HOST_EVENT = "before-sign.s3-control"
#: The directory to add to botocore's data search path (it holds only the s3control overlay).
DATA_PATH = str(Path(__file__).with_name("botocore_data"))
_HOOK_ID = "batchops-strip-account-from-host"
_ACCOUNT_PREFIX = re.compile(r"^(https?://)\d{12}\.")


def strip_account_from_host(request: Any, **_: Any) -> None:
    """s3control's endpoint rules put the account id in front of the host name; a batchops server has none."""
    request.url = _ACCOUNT_PREFIX.sub(r"\1", request.url)


def boto3_hook(target: Any = None) -> Any:
    """Make ``target`` work with a batchops server, extensions included; returns ``target``.

    * ``boto3_hook()``: boto3's default session (what ``boto3.client(...)`` uses), created if need be.
    * ``boto3_hook(session)``: a ``boto3.Session`` or a ``botocore.session.Session``: every s3control client
      made from it afterwards gets the host hook and the model with batchops's extensions.
    * ``boto3_hook(client)``: an s3control client already made: only the host hook. Its model was loaded
      when it was made, so the extensions need the session form (call it before ``session.client(...)``).
    """
    if target is None:
        return boto3_hook(_default_session())
    if _is_client(target):
        target.meta.events.register(HOST_EVENT, strip_account_from_host, unique_id=_HOOK_ID)
        return target
    botocore_session = getattr(target, "_session", target)  # a boto3 Session wraps a botocore one
    if not hasattr(botocore_session, "get_component"):
        raise TypeError(
            "batchops.boto3_hook takes a boto3 Session, a botocore Session or an s3control client (or nothing: "
            f"boto3's default session), not {type(target).__name__}"
        )
    add_data_path(botocore_session.get_component("data_loader"))
    botocore_session.register(HOST_EVENT, strip_account_from_host, unique_id=_HOOK_ID)
    return target


def add_data_path(loader: Any) -> None:
    """Put the overlay on a botocore Loader's search path (last: it never hides botocore's or the user's data)."""
    if DATA_PATH not in loader.search_paths:
        loader.search_paths.append(DATA_PATH)
    # A model loaded before the overlay was in place is cached without it (botocore's instance_cache).
    cache = getattr(loader, "_cache", None)
    if isinstance(cache, dict):
        for key in [key for key in cache if "s3control" in repr(key)]:
            del cache[key]


def _default_session() -> Any:
    import boto3

    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    return boto3.DEFAULT_SESSION


def _is_client(target: object) -> bool:
    meta = getattr(target, "meta", None)
    return meta is not None and hasattr(meta, "service_model") and hasattr(meta, "events")
