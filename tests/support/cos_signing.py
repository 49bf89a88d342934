"""Sign raw requests the way the official COS Python SDK does (qcloud_cos.cos_auth.CosS3Auth).

Tests (and the COS dialect's tests) use it to send COS-signed requests without writing a signer:

    headers = cos_headers("POST", "/jobs", {}, {"x-cos-appid": "1250000000", "Host": host}, sid, skey)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests
from qcloud_cos import CosConfig
from qcloud_cos.cos_auth import CosS3Auth


def cos_headers(
    method: str,
    path: str,
    params: Mapping[str, Any],
    headers: Mapping[str, str],
    secret_id: str,
    secret_key: str,
    *,
    expire: int = 600,
    url: str = "http://127.0.0.1/",
) -> dict[str, str]:
    """``headers`` plus the ``Authorization`` CosS3Auth computes for ``method path?params``.

    ``path`` is the decoded path (as the SDK's object key); ``params`` are signed as the SDK signs its own
    (lowercased, percent-encoded); give ``Host`` in ``headers`` to sign the host the server will see.
    """
    config = CosConfig(Region="ap-guangzhou", SecretId=secret_id, SecretKey=secret_key)
    auth = CosS3Auth(config, key=path, params=dict(params), expire=expire)
    prepared = requests.Request(method, url, headers=dict(headers)).prepare()
    signed = auth(prepared)
    return {name: str(value) for name, value in signed.headers.items()}
