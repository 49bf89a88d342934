"""Field parsers the operation modules share: enums, timestamps, object tag sets.

Every parser names the offending field as ``<Operation>.<Path>`` and says how to fix it, because
these messages go straight back to the CreateJob caller.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from xml.etree.ElementTree import Element

from batchops.errors import ValidationError
from batchops.xmlutil import one_of, req_text, tag_set, text

#: S3 refuses more tags than this on one object.
MAX_OBJECT_TAGS = 10

_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})?")


def choice(parent: Element, path: str, allowed: Iterable[str], where: str, *, required: bool = False) -> str | None:
    """An enum-valued child: its text must be one of ``allowed``."""
    value = text(parent, path, required=required, where=where)
    return one_of(value, allowed, f"{where}.{path}")


def required_choice(parent: Element, path: str, allowed: Iterable[str], where: str) -> str:
    """A required enum-valued child."""
    value = req_text(parent, path, where)
    one_of(value, allowed, f"{where}.{path}")
    return value


def timestamp(parent: Element, path: str, where: str) -> str | None:
    """An ISO-8601 child, normalised to UTC (``2030-01-02T03:04:05Z``); kept a string so params stay JSON."""
    value = text(parent, path)
    if value is None:
        return None
    return parse_timestamp(value, f"{where}.{path}")


def parse_timestamp(value: str, name: str) -> str:
    moment = _iso_datetime(value)
    if moment is None:
        raise ValidationError(
            f"{name} must be an ISO-8601 timestamp such as 2030-01-02T03:04:05Z, not {value!r}", field=name
        )
    if moment.tzinfo is None:  # boto3 always sends Z; a hand-written zone-less time is taken as UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _iso_datetime(value: str) -> datetime | None:
    if not _TIMESTAMP.fullmatch(value):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:  # the right shape but no such date, e.g. month 13
        return None


def to_datetime(value: str) -> datetime:
    """The inverse of :func:`parse_timestamp`, for ``run``."""
    return datetime.fromisoformat(value)


@dataclass(frozen=True)
class Tag:
    """One object tag of a job's parameters."""

    key: str
    value: str

    def to_s3(self) -> dict[str, str]:
        return {"Key": self.key, "Value": self.value}

    @classmethod
    def from_s3(cls, tag: Mapping[str, str]) -> Tag:
        return cls(tag["Key"], tag["Value"])


def tags_from_s3(tags: Iterable[Mapping[str, str]]) -> tuple[Tag, ...]:
    return tuple(Tag.from_s3(tag) for tag in tags)


def tags_to_s3(tags: Iterable[Tag]) -> list[dict[str, str]]:
    """A tag set in the shape S3 calls (and the stored params) use: ``[{"Key": …, "Value": …}]``."""
    return [tag.to_s3() for tag in tags]


def object_tags(parent: Element, path: str, where: str) -> list[dict[str, str]]:
    """An S3 tag set for one object: at most 10 tags, unique keys, no reserved ``aws:`` keys."""
    tags = tag_set(parent, path, where=where)
    name = f"{where}.{path}"
    if len(tags) > MAX_OBJECT_TAGS:
        raise ValidationError(
            f"{name} has {len(tags)} tags but S3 allows at most {MAX_OBJECT_TAGS} per object; remove some",
            field=name,
        )
    for tag in tags:
        if tag["Key"].lower().startswith("aws:"):
            raise ValidationError(f"{name} tag key {tag['Key']!r} uses the reserved prefix aws:; rename it", field=name)
    return tags


def without_none(values: dict[str, Any]) -> dict[str, Any]:
    """Drop absent optional fields, so S3 calls only get what the job asked for."""
    return {key: value for key, value in values.items() if value is not None}
