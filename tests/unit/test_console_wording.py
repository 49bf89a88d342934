"""The service's validation errors in the create form's words: every path the validation can name has a wording.

The paths are derived from the code twice: from the XML the form builds (every element of every operation's
request), and from the validation itself (every refusal it gives for bad values in every field of the form).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, fromstring

import pytest

from batchops.console import forms, wording
from batchops.console.forms import OPERATIONS, JobForm, build_request, validate
from batchops.domain.job import FailureThreshold
from batchops.errors import ValidationError

ARN = "arn:aws:s3:::manifests/m.csv"
TEMPLATE = Path(forms.__file__).parent / "templates" / "create.html"
#: The form's fields: the inputs of create.html, and the top of the form.
FORM_FIELDS = set(re.findall(r'name="(\w+)"', TEMPLATE.read_text())) | {wording.WHOLE_FORM}
#: Where an error is shown: a field with an error slot in create.html.
ERROR_SLOTS = set(re.findall(r'error\("(\w+)"\)', TEMPLATE.read_text()))
#: An API path or element name left in a message: ``Report.Bucket``, ``RoleArn``, ``TagSet``.
#: A value the user gave, quoted in a message: left as given.
QUOTED = re.compile(r"(?<!\w)'[^']*'(?!\w)")
API_WORD = re.compile(r"\b[A-Z][A-Za-z0-9]*\.[A-Z]\w*|\b(?:[A-Z][a-z0-9]+){2,}\b")


def filled(**changes: str) -> JobForm:
    """The form with every field filled (every operation's too), as a user who filled in everything would post it."""
    form = JobForm.blank("123456789012")
    form.values.update(
        {
            "description": "nightly",
            "report_bucket": "reports",
            "op_tags": "team=storage",
            "copy_target": "copies",
            "copy_prefix": "copied/",
            "retention_until": "2030-01-02",
            "remove_all_tags": "on",
        },
        **changes,
    )
    return form


def element_paths(element: Element, prefix: str = "") -> Iterator[str]:
    """The dotted path of every element below ``element``; a list's members count as the list itself, and an
    operation is named without its ``Operation`` wrapper, as the service names them."""
    for child in element:
        if child.tag == "member":
            continue
        path = child.tag if prefix in ("", "Operation.") else f"{prefix}{child.tag}"
        yield path
        yield from element_paths(child, f"{path}.")


def all_request_paths() -> set[str]:
    paths: set[str] = set()
    for operation in OPERATIONS:
        for report in ("on", ""):
            body = build_request(filled(operation=operation, report_enabled=report), ARN, '"etag"')
            paths.update(element_paths(fromstring(body.decode().replace(f' xmlns="{forms.NAMESPACE}"', ""))))
    return paths


def test_the_derived_paths_are_the_requests_elements() -> None:
    paths = all_request_paths()

    assert {"Priority", "Report.Bucket", "Manifest.Location.ObjectArn", "S3PutObjectTagging.TagSet"} <= paths
    assert "S3PutObjectRetention.Retention.RetainUntilDate" in paths and "Operation" in paths


@pytest.mark.parametrize("path", sorted(all_request_paths()))
def test_every_element_the_form_sends_has_a_wording_shown_next_to_a_form_field(path: str) -> None:
    assert path in wording.WORDINGS, f"{path}: add it to batchops.console.wording.WORDINGS"
    shown_at = wording.WORDINGS[path].field
    assert shown_at in FORM_FIELDS and shown_at in ERROR_SLOTS | {wording.WHOLE_FORM}


def test_every_wording_names_a_field_with_an_error_slot() -> None:
    for path, said in wording.WORDINGS.items():
        assert said.field in ERROR_SLOTS, f"{path} shows at {said.field}, which create.html has no error slot for"


#: Bad values for any field: empty, blank, far too long, not of the field's shape, hostile to its rules.
BAD_VALUES = [
    "",
    " ",
    "x" * 3000,
    "not valid :: at all",
    "Bad_Bucket",
    "-1",
    "99999999999",
    "a=1\na=1",
    "aws:k=v",
    "k=" + "v" * 300,
    "k" * 200 + "=v",
    "=v",
    "2030-13-45",
    "arn:aws:s3:::",
    "ON OFF",
]


def refusals(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ValidationError, JobForm]]:
    """Every refusal the API's validation gives for each bad value in each field, under each operation."""
    raised: list[ValidationError] = []
    parse = forms.parse_create_job

    def recording(*args: Any, **kwargs: Any) -> Any:
        try:
            return parse(*args, **kwargs)
        except ValidationError as exc:
            raised.append(exc)
            raise

    monkeypatch.setattr(forms, "parse_create_job", recording)
    names = sorted(FORM_FIELDS - {"csrf_token", "manifest_file", "manifest_source", wording.WHOLE_FORM})
    for operation in OPERATIONS:
        for name in names:
            for value in BAD_VALUES:
                form = filled(**{"operation": operation, name: value})
                validate(form, ARN if name != "manifest_arn" else f"arn:aws:s3:::{value}", "etag", FailureThreshold())
                if raised:
                    yield raised.pop(), form


def test_every_refusal_of_the_validation_is_in_the_forms_words(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: set[str] = set()
    for exc, form in refusals(monkeypatch):
        seen.add(str(exc.field))
        assert wording.wording_of(exc.field, str(exc)) is not None, f"no wording for {exc.field!r}: {exc}"
        [(field, message)] = form.errors.items()
        without_values = QUOTED.sub("", message)
        assert not API_WORD.search(without_values), f"{message!r} (from {exc.field!r}) names an API path"
        assert field in ERROR_SLOTS
    assert len(seen) >= 15  # the corpus reaches most of the validation, not a few paths over and over


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"report_bucket": ""}, "report_bucket", "Choose a report bucket, or switch the report off."),
        ({"operation": "S3PutObjectCopy", "copy_target": ""}, "copy_target", "Choose the bucket to copy the objects"),
        ({"priority": ""}, "priority", "Give a priority"),
        ({"role_arn": ""}, "role_arn", "Give the role the job acts as"),
        ({"priority": "high"}, "priority", "The priority must be an integer"),
        ({"role_arn": "nope"}, "role_arn", "The role ARN must be an IAM role ARN"),
        ({"report_prefix": "x" * 600}, "report_prefix", "The report prefix must be 1 to 512 characters long"),
        ({"op_tags": "k=" + "v" * 300}, "op_tags", "A tag's value must be 0 to 256 characters long"),
    ],
)
def test_a_refusal_reads_as_the_form_speaks(changes: dict[str, str], field: str, message: str) -> None:
    form = filled(**changes)

    assert validate(form, ARN, "etag", FailureThreshold()) is None

    assert list(form.errors) == [field]
    assert form.errors[field].startswith(message), form.errors[field]


def test_a_message_naming_no_known_path_goes_to_the_top_of_the_form_as_said() -> None:
    said = wording.translate(None, "too many jobs: wait for some to end")

    assert said == ("form", "Too many jobs: wait for some to end")


def test_a_path_inside_a_longer_name_is_not_renamed() -> None:
    assert wording.translate("Priority", "Priority must be an integer, not 'MyReport.Bucket'")[1] == (
        "The priority must be an integer, not 'MyReport.Bucket'"
    )


# --- an empty tag set --------------------------------------------------------------------------


def test_an_empty_tag_set_is_refused_until_the_removal_of_all_tags_is_confirmed() -> None:
    unconfirmed = filled(op_tags="", remove_all_tags="")
    confirmed = filled(op_tags="", remove_all_tags="on")

    assert validate(unconfirmed, ARN, "etag", FailureThreshold()) is None
    spec = validate(confirmed, ARN, "etag", FailureThreshold())

    assert unconfirmed.errors == {"op_tags": forms.EMPTY_TAGS_WARNING}
    assert unconfirmed.asks_to_remove_all_tags
    assert spec is not None and spec.operation.params == {"TagSet": []} and confirmed.errors == {}


def test_tags_given_or_another_operation_need_no_confirmation() -> None:
    tagged = filled(remove_all_tags="")
    deleting = filled(operation="S3DeleteObjectTagging", op_tags="", remove_all_tags="")

    assert validate(tagged, ARN, "etag", FailureThreshold()) is not None
    assert validate(deleting, ARN, "etag", FailureThreshold()) is not None
    assert not tagged.asks_to_remove_all_tags and not deleting.asks_to_remove_all_tags
