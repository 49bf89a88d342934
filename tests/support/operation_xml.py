"""An operation's parse() on an XML string, as CreateJob calls it, and the message of a refusal."""

from __future__ import annotations

from typing import Any

import pytest

from batchops.errors import ValidationError
from batchops.operations.base import Operation
from batchops.xmlutil import parse_xml


def parse(operation: Operation, xml: str) -> dict[str, Any]:
    """The params as the job stores them (``Params.to_json``)."""
    return operation.encode(operation.parse(parse_xml(xml.encode())))


def refusal(operation: Operation, xml: str) -> str:
    with pytest.raises(ValidationError) as info:
        parse(operation, xml)
    return str(info.value)


def tags_xml(pairs: list[tuple[str, str]]) -> str:
    return "".join(f"<member><Key>{key}</Key><Value>{value}</Value></member>" for key, value in pairs)
