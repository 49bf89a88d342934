"""The whole server app in-process: ``batchops.server.build_app`` behind ``httpx.ASGITransport``, and requests
signed as the real clients sign them (S3 Control: botocore's SigV4 signer, as boto3; COS: the COS SDK's).

The transport never sends the ASGI lifespan events, so the app's engine is built but never started: no job runs,
a job stays where the API or the test puts it.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote, urlencode
from xml.etree.ElementTree import Element, fromstring

import httpx
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from batchops.server import build_app
from batchops.settings import Settings
from batchops.store.base import Store
from batchops.tenancy import Account
from tests.support.cos_signing import cos_headers

HOST = "testserver"
BASE_URL = f"http://{HOST}"
REGION = "us-east-1"
#: ``account_header=`` default: send the signer's own account id.
SIGNER = "signer"

Params = Mapping[str, str | list[str]]


def asgi_client(settings: Settings, store: Store) -> httpx.AsyncClient:
    """A client of the server app on ``store``, its engine not started (no lifespan)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=build_app(settings, store)), base_url=BASE_URL)


def url_of(path: str, params: Params | None = None) -> str:
    """The URL as sent and as signed: the query percent-encoded as both signers canonicalise it."""
    query = urlencode(params or {}, doseq=True, quote_via=quote, safe="-_.~")
    return f"{BASE_URL}{path}" + (f"?{query}" if query else "")


def sigv4_signed(
    method: str, url: str, body: bytes, headers: Mapping[str, str], access_key: str, secret_key: str
) -> dict[str, str]:
    """``headers`` plus what botocore's S3 SigV4 signer adds (x-amz-date, x-amz-content-sha256, Authorization)."""
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    S3SigV4Auth(Credentials(access_key, secret_key), "s3", REGION).add_auth(request)
    return dict(request.headers.items())


async def s3control_call(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    signer: Account,
    *,
    params: Params | None = None,
    body: bytes = b"",
    account_header: str | None = SIGNER,
    secret_key: str | None = None,
) -> httpx.Response:
    """One S3 Control request signed by ``signer``'s keys (``secret_key``: sign with another secret).

    ``account_header`` is the x-amz-account-id sent: the signer's id by default, None to leave it out.
    """
    assert signer.access_key_id and signer.secret_access_key
    headers = {}
    if account_header is not None:
        headers["x-amz-account-id"] = signer.id if account_header == SIGNER else account_header
    url = url_of(path, params)
    signed = sigv4_signed(method, url, body, headers, signer.access_key_id, secret_key or signer.secret_access_key)
    return await client.request(method, url, content=body, headers=signed)


async def cos_call(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    signer: Account,
    *,
    params: Mapping[str, str] | None = None,
    body: bytes = b"",
    appid: str | None = SIGNER,
    secret_key: str | None = None,
) -> httpx.Response:
    """One COS request signed by the COS SDK with ``signer``'s keys; ``appid`` is the x-cos-appid sent (None:
    none), the signer's APPID by default."""
    assert signer.access_key_id and signer.secret_access_key
    headers = {"Host": HOST, "Content-Type": "application/xml"}
    if appid is not None:
        headers["x-cos-appid"] = signer.cos_appid if appid == SIGNER else appid
    secret = secret_key or signer.secret_access_key
    signed = cos_headers(method, path, params or {}, headers, signer.access_key_id, secret, url=BASE_URL + "/")
    return await client.request(method, url_of(path, params), content=body, headers=signed)


def xml_of(reply: httpx.Response) -> Element:
    """The answer's XML with namespaces dropped (S3 Control's is namespaced, COS's is not), so both read alike."""
    root = fromstring(reply.content)
    for element in root.iter():
        element.tag = element.tag.rpartition("}")[2]
    return root
