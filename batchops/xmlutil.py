"""Safe XML parsing and small helpers shared by every wire dialect and operation parser.

Requests are parsed with defusedxml (no DTDs, no entities) and namespaces are dropped, so
parsers match on local names only, whatever namespace (or none) the client used.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections import Counter
from collections.abc import Collection, Iterable
from xml.etree.ElementTree import Element, SubElement, tostring

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from batchops.errors import MalformedXML, ValidationError
from batchops.wire_numbers import parse_int

#: Deepest element nesting a request may have. CreateJob needs 7 (a generator's filter lists); the bound
#: stops a deeply nested body before any recursive walk (serialising it) runs out of stack.
MAX_DEPTH = 32


def parse_xml(body: bytes, expected_root: str | None = None) -> Element:
    try:
        root = _parse_bounded(body)
    except ValidationError:
        raise
    except DefusedXmlException as exc:
        raise MalformedXML("the request body uses a DTD or XML entities, which are not accepted") from exc
    except Exception as exc:  # ParseError and friends: any unparsable body
        raise MalformedXML(f"the request body is not well-formed XML: {exc}") from exc
    _strip_namespaces(root)
    if expected_root is not None and root.tag != expected_root:
        raise MalformedXML(f"the request body's root element must be <{expected_root}>, not <{root.tag}>")
    return root


def _parse_bounded(body: bytes) -> Element:
    """Parse ``body`` while counting depth, so nesting past MAX_DEPTH is refused as it is read."""
    depth = 0
    root: Element | None = None
    for event, element in SafeET.iterparse(io.BytesIO(body), events=("start", "end"), forbid_dtd=True):
        if event == "end":
            depth -= 1
            continue
        root = element if root is None else root
        depth += 1
        if depth > MAX_DEPTH:
            raise MalformedXML(
                f"the request body nests elements more than {MAX_DEPTH} deep (inside <{_local(element.tag)}>); "
                "no request field needs that: check the XML's structure"
            )
    assert root is not None  # iterparse raises ParseError on a body without a root element
    return root


def _local(tag: str) -> str:
    return tag.split("}", 1)[-1]


def _strip_namespaces(root: Element) -> None:
    for el in root.iter():
        if isinstance(el.tag, str) and "}" in el.tag:
            el.tag = el.tag.split("}", 1)[1]


def text(parent: Element, path: str, *, required: bool = False, where: str = "") -> str | None:
    """The stripped text of ``parent/path``; None (or ValidationError if required) when absent."""
    raw = raw_text(parent, path, where=where)
    if raw is None or raw.strip() == "":
        if required:
            raise ValidationError(f"{_name(where, path)} is required", field=_name(where, path))
        return raw if raw is None else ""
    return raw.strip()


def raw_text(parent: Element, path: str, *, where: str = "") -> str | None:
    """The text of ``parent/path`` as sent (None when absent); refused if it holds elements."""
    el = parent.find(path)
    return None if el is None else own_text(el, _name(where, path))


def own_text(el: Element, name: str) -> str:
    """The text of a field that holds text only: child elements are refused, never silently dropped."""
    if len(el):
        raise ValidationError(
            f"{name} must be text, but it contains the element <{el[0].tag}>; put the value in as text "
            "(escape < as &lt; and & as &amp;)",
            field=name,
        )
    return el.text or ""


def req_text(parent: Element, path: str, where: str = "") -> str:
    value = text(parent, path, required=True, where=where)
    assert value is not None
    return value


def boolean(parent: Element, path: str, *, default: bool | None = None, where: str = "") -> bool | None:
    value = text(parent, path)
    if value in (None, ""):
        return default
    lowered = value.lower()
    if lowered not in ("true", "false"):
        raise ValidationError(f"{_name(where, path)} must be true or false, not {value!r}", field=path)
    return lowered == "true"


def integer(parent: Element, path: str, *, lo: int, hi: int, required: bool = False, where: str = "") -> int | None:
    """``parent/path`` as an integer, read as sent: `` 7 `` is refused like ``+7`` (batchops.wire_numbers)."""
    value = raw_text(parent, path, where=where)
    if value is None or value.strip() == "":
        if required:
            raise ValidationError(f"{_name(where, path)} is required", field=path)
        return None
    return parse_int(value, _name(where, path), lo, hi)


def one_of(value: str | None, allowed: Iterable[str], name: str) -> str | None:
    allowed = tuple(allowed)
    if value is not None and value not in allowed:
        raise ValidationError(f"{name} must be one of {', '.join(allowed)}, not {value!r}", field=name)
    return value


def check_length(value: str | None, name: str, lo: int, hi: int) -> str | None:
    if value is not None and not lo <= len(value) <= hi:
        raise ValidationError(f"{name} must be {lo} to {hi} characters long, not {len(value)}", field=name)
    return value


def members(parent: Element, path: str) -> list[Element]:
    """The children of a wrapped list (``<Fields><member>…</member></Fields>``); any child tag is accepted."""
    wrapper = parent.find(path)
    return [] if wrapper is None else list(wrapper)


def member_texts(parent: Element, path: str, name: str) -> list[str]:
    """The texts of a wrapped list of strings (``<Fields><member>Key</member>…``), as sent."""
    return [own_text(member, f"{name} member") for member in members(parent, path)]


def tag_set(parent: Element, path: str, where: str = "") -> list[dict[str, str]]:
    """An S3 tag list: ``<path><member><Key/><Value/></member>…</path>`` → [{"Key":…, "Value":…}]."""
    tags = []
    for el in members(parent, path):
        key = req_text(el, "Key", where=f"{_name(where, path)} tag")
        check_length(key, f"{_name(where, path)} tag Key", 1, 128)
        value = text(el, "Value", where=f"{_name(where, path)} tag") or ""
        check_length(value, f"{_name(where, path)} tag Value", 0, 256)
        tags.append({"Key": key, "Value": value})
        _check_tag_characters(tags[-1], _name(where, path))
    keys = [t["Key"] for t in tags]
    if len(set(keys)) != len(keys):
        raise ValidationError(f"{_name(where, path)} has duplicate tag keys; each key may appear once", field=path)
    return tags


#: Besides letters, digits and spaces, the only characters S3 allows in tag keys and values.
TAG_PUNCTUATION = "_.:/=+-@"


def _check_tag_characters(tag: dict[str, str], name: str) -> None:
    for part in ("Key", "Value"):
        # AWS's pattern [\p{L}\p{Z}\p{N}_.:/=+\-@]*, which `re` cannot express.
        bad = sorted({c for c in tag[part] if c not in TAG_PUNCTUATION and unicodedata.category(c)[0] not in "LZN"})
        if bad:
            raise ValidationError(
                f"{name} tag {part} {tag[part]!r} has {''.join(bad)!r}; S3 tags allow letters, digits, "
                f"spaces and {TAG_PUNCTUATION} only",
                field=name,
            )


def string_map(parent: Element, path: str) -> dict[str, str]:
    """A botocore map: ``<path><entry><key/><value/></entry>…</path>``; COS ``<member><Key/><Value/>`` too."""
    result: dict[str, str] = {}
    for el in members(parent, path):
        key = text(el, "key") or text(el, "Key")
        if not key:
            raise ValidationError(f"every entry of {path} needs a key", field=path)
        result[key] = text(el, "value") or text(el, "Value") or ""
    return result


def check_children(element: Element, allowed: Collection[str], where: str, unsupported: Iterable[str] = ()) -> None:
    """Refuse child elements outside ``allowed`` (typos) or in ``unsupported``, and repeated ones,
    so no field of a request is silently ignored."""
    tags = [child.tag for child in element]
    not_supported = set(unsupported)
    refused = [tag for tag in tags if tag in not_supported]
    if refused:
        raise ValidationError(
            f"{where}.{refused[0]} is not supported by batchops; remove it", field=f"{where}.{refused[0]}"
        )
    unknown = sorted({tag for tag in tags if tag not in allowed})
    if unknown:
        listed = allowed if isinstance(allowed, list | tuple) else sorted(allowed)
        expected = ", ".join(listed) if listed else "no child elements"
        raise ValidationError(
            f"{where} has unknown element(s) {', '.join(unknown)}; it accepts {expected} (check the spelling)",
            field=f"{where}.{unknown[0]}",
        )
    repeated = sorted(tag for tag, count in Counter(tags).items() if count > 1)
    if repeated:
        raise ValidationError(f"{where}.{repeated[0]} appears more than once; give it once", field=where)


def to_string(el: Element) -> str:
    return tostring(el, encoding="unicode")


#: What XML 1.0 cannot carry at all (not even as &#…;): C0 controls but tab/LF/CR, surrogates, U+FFFE/U+FFFF.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(value: str) -> str:
    """``value`` with each character XML cannot carry written as its Python escape (``\\x1f``), so an
    answer that quotes a request's path or text stays well-formed."""
    return _NOT_XML.sub(lambda match: repr(match.group())[1:-1], value)


def non_xml_char(value: str) -> str | None:
    """The first character of ``value`` that XML cannot carry, if any."""
    found = _NOT_XML.search(value)
    return found.group() if found else None


def check_xml_chars(value: str | None, name: str) -> str | None:
    """Refuse text that will be answered in XML but holds a character XML cannot carry (e.g. U+0001)."""
    bad = None if value is None else non_xml_char(value)
    if bad is not None:
        raise ValidationError(f"{name} has the character {bad!r}, which XML cannot carry; remove it", field=name)
    return value


def add(parent: Element, tag: str, value: object | None = None) -> Element:
    """Append ``<tag>value</tag>``; booleans as lowercase ``true``/``false``; None leaves it empty."""
    child = SubElement(parent, tag)
    if isinstance(value, bool):
        child.text = "true" if value else "false"
    elif value is not None:
        child.text = str(value)
    return child


def _name(where: str, path: str) -> str:
    return f"{where}.{path}" if where else path
