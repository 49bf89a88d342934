"""Text inside the XML bodies batchops sends to a store (DeleteObjects keys, tag sets, ACLs…).

A parser applies XML end-of-line normalisation: a literal ``\\r`` (or ``\\r\\n``) in the document reaches
the store as ``\\n``, so the key ``a\\rb`` would name the object ``a\\nb``. Only a character reference
survives, hence ``\\r`` is written ``&#13;``. Characters outside XML 1.0's ``Char`` production (most
C0 controls, U+FFFE, U+FFFF, lone surrogates) cannot be carried at all, not even as references: a
request holding one is malformed as a whole, so callers send such a key in the URL path instead.

``xml_text`` serves the bodies batchops builds itself (batchops.s3.fast); ``escape_carriage_returns``
is the same rule for the bodies botocore serialises (ElementTree leaves ``\\r`` as it is, and botocore
fixes only DeleteObjects and PutBucketLifecycleConfiguration).
"""

from __future__ import annotations

import re
from typing import Any
from xml.sax.saxutils import escape

from botocore.model import OperationModel

#: Characters XML 1.0 cannot carry: everything outside #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] |
#: [#x10000-#x10FFFF].
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_CARRIAGE_RETURN = {"\r": "&#13;"}


def xml_text(text: str) -> str:
    """``text`` as XML character data that parses back to exactly ``text`` (if ``xml_can_carry(text)``)."""
    return escape(text, _CARRIAGE_RETURN)


def xml_can_carry(text: str) -> bool:
    """Whether an XML 1.0 document can hold ``text`` at all."""
    return _NOT_XML_CHAR.search(text) is None


def escape_carriage_returns(params: dict[str, Any], model: OperationModel, **_: Any) -> None:
    """botocore ``before-call`` handler: ``\\r`` → ``&#13;`` in an XML request body.

    Runs before botocore computes Content-MD5 and checksums, and ElementTree writes no ``\\r`` of its own,
    so every ``\\r`` byte in the body is one of the caller's, inside character data.
    """
    body = params.get("body")
    if isinstance(body, bytes) and b"\r" in body and sends_xml(model):
        params["body"] = body.replace(b"\r", b"&#13;")


def sends_xml(model: OperationModel) -> bool:
    """Whether the operation's request body is an XML document (not an object's bytes)."""
    shape = model.input_shape
    if shape is None:
        return False
    payload = shape.serialization.get("payload")
    if payload is not None:
        return bool(shape.members[payload].type_name == "structure")
    return any("location" not in member.serialization for member in shape.members.values())


def escape_in_botocore(client: Any) -> None:
    """Have an (aio)botocore S3 client encode ``\\r`` in every XML body it sends."""
    client.meta.events.register("before-call.s3", escape_carriage_returns, unique_id="batchops-xml-cr")
