"""Bad input is refused with a message naming the field (issue 10 items 5, 11, 13), offline.

Integers on the wire are ASCII ``-?[0-9]+`` and nothing else; text fields hold text, never elements;
nesting is bounded before any recursive walk; a report prefix is one the report writer can write.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batchops.api import cos_xml, s3control_xml
from batchops.domain.job import FailureThreshold
from batchops.domain.task import TaskStatus
from batchops.errors import MalformedXML, ValidationError
from batchops.reports.layout import LONGEST_SUFFIX, job_folder, result_file_key
from batchops.reports.writer import MAX_KEY_BYTES, check_prefix
from batchops.wire_numbers import MAX_DIGITS, parse_decimal, parse_int
from batchops.xmlutil import MAX_DEPTH, non_xml_char, parse_xml
from tests.support.wire_bodies import cos_body, cos_tag_value, nested, s3control_body, tag_value

THRESHOLD = FailureThreshold()
LOOSE_INTEGERS = [" 7 ", "7 ", "\t7", "1_0", "+5", "٣", "²", "\uff17", "0x10", "1e3", "", "-", "--1", "9" * 21]
LOOSE_INTEGERS += ["9" * 5000]


def s3control(body: bytes) -> object:
    return s3control_xml.parse_create_job(body, default_threshold=THRESHOLD)


def cos(body: bytes) -> object:
    return cos_xml.parse_create_job(body, default_threshold=THRESHOLD)


def refused(parse: object, body: bytes) -> ValidationError:
    assert callable(parse)
    with pytest.raises(ValidationError) as caught:
        parse(body)
    return caught.value


# --- item 13: one strict integer parser ---------------------------------------------------------


@pytest.mark.parametrize("value", LOOSE_INTEGERS)
def test_loose_integers_are_refused_naming_the_field(value: str) -> None:
    with pytest.raises(ValidationError, match="priority must be an integer from 0 to 10") as caught:
        parse_int(value, "priority", 0, 10)
    assert caught.value.field == "priority"
    assert len(str(caught.value)) < 300  # a 5,000-digit value is not echoed back whole


@given(st.text(max_size=30))
@settings(max_examples=300)
def test_an_integer_is_accepted_exactly_when_it_is_ascii_digits(value: str) -> None:
    strict = re.fullmatch(rf"-?[0-9]{{1,{MAX_DIGITS}}}", value, re.ASCII) is not None
    try:
        number = parse_int(value, "n", -(10**30), 10**30)
    except ValidationError:
        assert not strict
    else:
        assert strict and number == int(value)


@pytest.mark.parametrize("parse", [s3control, cos], ids=["s3control", "cos"])
@pytest.mark.parametrize("value", [" 7 ", "1_0", "+5", "٣", "9" * 5000])
def test_createjob_priority_is_read_strictly_in_both_dialects(parse: object, value: str) -> None:
    body = (s3control_body if parse is s3control else cos_body)(Priority=f"<Priority>{value}</Priority>")
    error = refused(parse, body)
    assert error.field == "Priority" and "Priority must be an integer" in str(error)


@pytest.mark.parametrize("value", ["1_0", "٣", "nan", "inf", "1e1", " 5", "+5", "5."])
def test_threshold_percent_is_a_plain_decimal(value: str) -> None:
    threshold = f"<BatchOpsFailureThreshold><Percent>{value}</Percent></BatchOpsFailureThreshold>"
    error = refused(s3control, s3control_body(BatchOpsFailureThreshold=threshold))
    assert "BatchOpsFailureThreshold.Percent must be a number from 0 to 100" in str(error)
    assert parse_decimal("12.5", "p", 0, 100) == 12.5


# --- item 11: element content in a text field, and nesting -------------------------------------


@pytest.mark.parametrize(
    ("parse", "operation"), [(s3control, tag_value), (cos, cos_tag_value)], ids=["s3control", "cos"]
)
@pytest.mark.parametrize("depth", [1, 950, 980])
def test_elements_inside_a_tag_value_are_refused_in_both_dialects(parse: object, operation: object, depth: int) -> None:
    assert callable(operation)
    make = s3control_body if parse is s3control else cos_body
    error = refused(parse, make(Operation=operation(nested(depth))))
    assert "must be text" in str(error) or f"more than {MAX_DEPTH} deep" in str(error)


def test_a_text_field_holding_an_element_names_the_field() -> None:
    error = refused(s3control, s3control_body(Description="<Description>a<b>c</b>d</Description>"))
    assert error.field == "Description" and "Description must be text, but it contains the element <b>" in str(error)
    error = refused(cos, cos_body(Priority="<Priority><n>7</n></Priority>"))
    assert error.field == "Priority"


@given(st.integers(min_value=1, max_value=3 * MAX_DEPTH))
@settings(max_examples=40)
def test_nesting_is_bounded_while_parsing(depth: int) -> None:
    body = nested(depth).encode()
    if depth <= MAX_DEPTH:
        assert parse_xml(body).tag == "a"
    else:
        with pytest.raises(MalformedXML, match=f"more than {MAX_DEPTH} deep"):
            parse_xml(body)


def test_a_body_nested_far_past_the_stack_is_refused_not_a_recursion_error() -> None:
    with pytest.raises(MalformedXML, match="deep"):
        parse_xml(nested(200_000).encode())


# --- item 5: report prefixes the writer cannot write --------------------------------------------


@pytest.mark.parametrize("parse", [s3control, cos], ids=["s3control", "cos"])
@pytest.mark.parametrize("prefix", ["x/../y", "./.", "../../x", ".", "..", "a/.", "a\\..\\b", "reports/./"])
def test_dot_segments_in_the_report_prefix_are_refused_in_both_dialects(parse: object, prefix: str) -> None:
    make = s3control_body if parse is s3control else cos_body
    report = make().decode().split("<Report>", 1)[1].split("</Report>", 1)[0]
    bent = "<Report>" + re.sub(r"<Prefix>[^<]*</Prefix>", lambda _: f"<Prefix>{prefix}</Prefix>", report) + "</Report>"
    error = refused(parse, make(Report=bent))
    assert error.field == "Report.Prefix" and "path segment" in str(error)


def test_a_prefix_too_long_for_s3_keys_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"Report\.Prefix is 1200 bytes"):
        check_prefix("é" * 600)


SEGMENT = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="/\\"), max_size=6)


@given(st.lists(st.one_of(SEGMENT, st.sampled_from([".", "..", ""])), min_size=1, max_size=6))
@settings(max_examples=200)
def test_every_accepted_prefix_gives_writable_report_keys(segments: list[str]) -> None:
    prefix = "/".join(segments)
    try:
        check_prefix(prefix)
    except ValidationError:
        assert {".", ".."} & set(prefix.rstrip("/").split("/")) or non_xml_char(prefix)
        return
    key = result_file_key(job_folder(prefix, "0" * 36), "0" * 36, TaskStatus.SUCCEEDED, 0)
    assert not {".", ".."} & set(key.split("/"))
    assert len(key.encode()) <= MAX_KEY_BYTES
    assert len(key.encode()) - len(prefix.rstrip("/").encode()) <= LONGEST_SUFFIX


# --- error answers stay well-formed whatever they quote ------------------------------------------


@given(st.text(st.characters(blacklist_categories=()), max_size=20))
@settings(max_examples=200)
def test_error_answers_are_well_formed_whatever_path_or_message_they_quote(text: str) -> None:
    cos_answer = parse_xml(cos_xml.render_error("InvalidRequest", f"bad {text}", "ID", f"/jobs/{text}"))
    s3_answer = parse_xml(s3control_xml.render_error("BadRequestException", f"bad {text}", "ID"))
    assert cos_answer.findtext("Code") == "InvalidRequest" and cos_answer.findtext("Resource")
    assert s3_answer.findtext("Error/Message", "").startswith("bad")
