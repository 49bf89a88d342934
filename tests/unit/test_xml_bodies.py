"""The XML bodies batchops sends carry every key and tag exactly: the bytes on the wire, lean and botocore paths."""

from __future__ import annotations

import base64
import hashlib
import zlib
from contextlib import AsyncExitStack
from typing import Any
from xml.etree.ElementTree import ParseError, fromstring

import pytest
from hypothesis import given

from batchops.s3.client import StoreCredentials, open_client
from batchops.s3.fast import FastS3
from batchops.s3.lean import Answer, LeanSession
from batchops.s3.xmlbody import xml_can_carry, xml_text
from tests.support.strategies import hostile_text

NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


class RecordingLean(LeanSession):
    """The lean session up to the socket: records each request's body and answers 200."""

    def __init__(self) -> None:
        super().__init__("http://127.0.0.1:9", "us-east-1", "key", "secret")
        self.bodies: list[bytes] = []

    async def send(self, operation: str, method: str, path: str, *args: Any, **kwargs: Any) -> Answer:
        self.bodies.append(kwargs.get("body", b""))
        return Answer(200, {}, b"", 1)


def lean_client() -> tuple[FastS3, RecordingLean]:
    lean = RecordingLean()
    return FastS3(client=None, lean=lean), lean


# --- the lean path ------------------------------------------------------------------------------


async def test_delete_objects_sends_a_carriage_return_as_a_character_reference() -> None:
    s3, lean = lean_client()
    await s3.delete_objects(Bucket="b", Delete={"Objects": [{"Key": "crlf\rkey"}], "Quiet": False})
    assert lean.bodies == [
        f"<Delete {NS}><Object><Key>crlf&#13;key</Key></Object><Quiet>false</Quiet></Delete>".encode()
    ]


async def test_put_object_tagging_sends_a_carriage_return_as_a_character_reference() -> None:
    s3, lean = lean_client()
    await s3.put_object_tagging(Bucket="b", Key="k", Tagging={"TagSet": [{"Key": "a\rb", "Value": "<&\r\n>"}]})
    assert lean.bodies == [
        f"<Tagging {NS}><TagSet><Tag><Key>a&#13;b</Key><Value>&lt;&amp;&#13;\n&gt;</Value></Tag>"
        "</TagSet></Tagging>".encode()
    ]


@given(key=hostile_text, version=hostile_text, value=hostile_text)
async def test_every_text_xml_can_carry_parses_back_exactly(key: str, version: str, value: str) -> None:
    s3, lean = lean_client()
    for text in (key, version, value):  # the predicate agrees with the parser the store's would be
        if not xml_can_carry(text):
            with pytest.raises(ParseError):
                fromstring(f"<a>{xml_text(text)}</a>".encode())
    if not all(map(xml_can_carry, (key, version, value))):
        return
    await s3.delete_objects(Bucket="b", Delete={"Objects": [{"Key": key, "VersionId": version}], "Quiet": False})
    await s3.put_object_tagging(Bucket="b", Key="k", Tagging={"TagSet": [{"Key": key, "Value": value}]})
    delete, tagging = (fromstring(body) for body in lean.bodies)
    assert [e.text for e in delete.iter() if e.tag.endswith(("Key", "VersionId"))] == [key, version]
    assert [e.text for e in tagging.iter() if e.tag.endswith(("Key", "Value"))] == [key, value]


def test_xml_1_0_characters_are_told_apart_at_their_bounds() -> None:
    carried = ["\t", "\n", "\r", " ", "\ud7ff", "\ue000", "\ufffd", "\U00010000", "\U0010ffff"]
    not_carried = ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1f", "\ud800", "\udfff", "\ufffe", "\uffff"]
    assert [xml_can_carry(f"a{c}b") for c in carried] == [True] * len(carried)
    assert [xml_can_carry(f"a{c}b") for c in not_carried] == [False] * len(not_carried)


def test_xml_text_escapes_only_what_it_must() -> None:
    assert xml_text("a&b<c>d\re\nf\tg\"h'i") == "a&amp;b&lt;c&gt;d&#13;e\nf\tg\"h'i"


# --- the botocore path --------------------------------------------------------------------------


class Sent(Exception):
    """Stops a botocore call at the socket, with the request it was about to send."""

    def __init__(self, request: Any) -> None:
        super().__init__("sent")
        self.request = request


def stop_at_send(request: Any, **_: Any) -> None:
    raise Sent(request)


async def botocore_request(method: str, **kwargs: Any) -> Any:
    """The request ``open_client(kind="botocore")`` sends for one call, as it would go on the wire."""
    async with AsyncExitStack() as stack:
        creds = StoreCredentials("http://127.0.0.1:9", "us-east-1", "key", "secret")
        client = await open_client(stack, creds, kind="botocore", max_attempts=1)
        client.meta.events.register("before-send.s3", stop_at_send)
        with pytest.raises(Sent) as sent:
            await getattr(client, method)(**kwargs)
        return sent.value.request


@pytest.mark.parametrize(
    ("method", "kwargs", "expected"),
    [
        (
            "put_object_tagging",
            {"Bucket": "b", "Key": "k", "Tagging": {"TagSet": [{"Key": "t", "Value": "a\rb"}]}},
            b"<Value>a&#13;b</Value>",
        ),
        (
            "put_object_acl",
            {
                "Bucket": "b",
                "Key": "k",
                "AccessControlPolicy": {"Owner": {"ID": "id\r1"}, "Grants": []},
            },
            b"<ID>id&#13;1</ID>",
        ),
        (
            "restore_object",
            {"Bucket": "b", "Key": "k", "RestoreRequest": {"Days": 1, "Description": "x\ry"}},
            b"<Description>x&#13;y</Description>",
        ),
    ],
)
async def test_botocore_bodies_send_a_carriage_return_as_a_character_reference(
    method: str, kwargs: dict[str, Any], expected: bytes
) -> None:
    request = await botocore_request(method, **kwargs)
    assert expected in request.body and b"\r" not in request.body
    # the checksum and the signed payload hash were computed after the escape, over these very bytes
    if method != "restore_object":  # the two calls whose model requires a checksum
        crc32 = base64.b64encode(zlib.crc32(request.body).to_bytes(4, "big"))
        assert request.headers["x-amz-checksum-crc32"] == crc32
    assert request.headers["x-amz-content-sha256"] == hashlib.sha256(request.body).hexdigest().encode()


async def test_botocore_delete_objects_keeps_its_own_escape() -> None:
    request = await botocore_request("delete_objects", Bucket="b", Delete={"Objects": [{"Key": "crlf\rkey"}]})
    assert b"<Key>crlf&#xD;key</Key>" in request.body


async def test_an_object_body_is_never_touched() -> None:
    request = await botocore_request("put_object", Bucket="b", Key="k", Body=b"line\r\n")
    assert request.body.getvalue() == b"line\r\n"
