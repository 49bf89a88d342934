"""The botocore data overlay (batchops/botocore_data) against the server's own parsers: botocore must know every
operation and element the S3 Control API accepts, so boto3 and the AWS CLI can send them; and every case of the
integration tests' extension list round-trips through botocore and the server.

The lists compared come from the server's code (the operation registry, the parsers' allowed-element sets, the
``BatchOps…`` names in its source), not from a copy, so a new extension the overlay lacks fails here.
"""

from __future__ import annotations

import ast
import contextlib
import json
import subprocess
import sys
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from xml.etree.ElementTree import Element

import botocore.parsers
import botocore.serialize
import botocore.session
import pytest
from botocore.hooks import HierarchicalEmitter
from botocore.model import ServiceModel, StructureShape

import batchops
from batchops import xmlutil
from batchops.api import chain_xml, jobxml, s3control_generator, s3control_retry, s3control_xml
from batchops.api.s3control_xml import render_describe_job
from batchops.aws_hooks import DATA_PATH, HOST_EVENT, boto3_hook, strip_account_from_host
from batchops.awscli_plugin import awscli_initialize
from batchops.operations.registry import OPERATIONS
from batchops.xmlutil import parse_xml
from tests.support.extensions import EXTENSIONS, Extension
from tests.support.s3control_bodies import REGION, create, job_params, make_job

ROOT = Path(batchops.__file__).parent
OVERLAY = Path(DATA_PATH) / "s3control" / "2018-08-20" / "service-2.sdk-extras.json"
#: Members only DescribeJob answers (no CreateJob case sends them): tests/unit/test_retry_wire.py round-trips them.
ANSWER_ONLY = {
    s3control_retry.RETRY_OF_ELEMENT,
    s3control_retry.RETRIES_ELEMENT,
    chain_xml.CHAIN_ELEMENT,
    jobxml.DELIVERIES_ELEMENT,
}


@pytest.fixture(scope="module")
def stock() -> ServiceModel:
    return botocore.session.Session().get_service_model("s3control")


@pytest.fixture(scope="module")
def model() -> ServiceModel:
    return boto3_hook(botocore.session.Session()).get_service_model("s3control")  # type: ignore[no-any-return]


def members(model: ServiceModel, shape: str) -> set[str]:
    found = model.shape_for(shape)
    assert isinstance(found, StructureShape), f"{shape} is not a structure in the s3control model"
    return set(found.members)


def operation_shape(model: ServiceModel, name: str) -> str:
    job_operation = members(model, "JobOperation")
    assert name in job_operation, f"the s3control model (with the overlay) has no JobOperation member {name}"
    shape = model.shape_for("JobOperation")
    assert isinstance(shape, StructureShape)
    return str(shape.members[name].name)


# --- the server's lists ----------------------------------------------------------------------


class _Stop(Exception):
    """Ends a parse once the element set under test has been seen."""


def allowed_children(parse: Callable[[], object], module: ModuleType, where: str) -> set[str]:
    """The children the server's parser allows at ``where``: what it passes to ``check_children`` there."""
    seen: dict[str, set[str]] = {}
    original = xmlutil.check_children

    def spy(element: Element, allowed: Collection[str], at: str, unsupported: Any = ()) -> None:
        seen[at] = set(allowed)
        if at == where:
            raise _Stop
        original(element, allowed, at, unsupported)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(xmlutil, "check_children", spy)  # modules that call xmlutil.check_children
        if hasattr(module, "check_children"):
            patch.setattr(module, "check_children", spy)  # modules that imported the name
        with contextlib.suppress(_Stop):
            parse()
    assert where in seen, f"the parser never checked the children of {where}"
    return seen[where]


def operation_children(name: str) -> set[str]:
    operation = OPERATIONS[name]
    module = sys.modules[type(operation).parse.__module__]  # where parse is defined (COSDeleteObject inherits it)
    return allowed_children(lambda: operation.parse(Element(name)), module, name)


def batchops_names_in_source() -> set[str]:
    """Every ``BatchOps…`` element name in the strings of the request parsers' source."""
    names: set[str] = set()
    for path in [*(ROOT / "api").glob("*.py"), *(ROOT / "operations").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                names.update(_batchops_words(node.value))
    return names


def _batchops_words(text: str) -> Iterator[str]:
    for word in text.replace("<", " ").replace(">", " ").replace(".", " ").replace("/", " ").split():
        if word.startswith("BatchOps") and word[8:9].isupper() and word.isalpha():
            yield word


def all_member_names(model: ServiceModel) -> set[str]:
    names: set[str] = set()
    for shape_name in model.shape_names:
        shape = model.shape_for(shape_name)
        if isinstance(shape, StructureShape):
            names.update(shape.members)
    return names


# --- the overlay covers the server -----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_every_operation_the_server_accepts_is_in_the_model_with_its_elements(model: ServiceModel, name: str) -> None:
    shape = operation_shape(model, name)
    assert operation_children(name) <= members(model, shape), f"{name}: the model's {shape} lacks elements"


@pytest.mark.parametrize(
    ("shape", "allowed"),
    [
        ("CreateJobRequest", s3control_xml._CREATE_JOB_ELEMENTS),
        ("JobReport", s3control_xml._REPORT_ELEMENTS),
        ("JobManifestLocation", s3control_xml._LOCATION_ELEMENTS),
        ("S3JobManifestGenerator", s3control_generator._GENERATOR_ELEMENTS),
        ("S3ManifestOutputLocation", s3control_generator._OUTPUT_ELEMENTS),
        ("JobManifestGeneratorFilter", s3control_generator._FILTER_ELEMENTS),
    ],
)
def test_every_create_job_element_the_server_accepts_is_in_the_model(
    model: ServiceModel, shape: str, allowed: Collection[str]
) -> None:
    assert set(allowed) <= members(model, shape)


def test_the_failure_threshold_elements_are_in_the_model(model: ServiceModel) -> None:
    root = parse_xml(f"<CreateJobRequest><{jobxml.THRESHOLD_ELEMENT}/></CreateJobRequest>".encode())
    allowed = allowed_children(
        lambda: jobxml.parse_threshold(root, s3control_xml.FailureThreshold()), jobxml, jobxml.THRESHOLD_ELEMENT
    )
    shape = model.shape_for("CreateJobRequest")
    assert isinstance(shape, StructureShape)
    threshold = shape.members[jobxml.THRESHOLD_ELEMENT]
    assert isinstance(threshold, StructureShape)
    assert allowed == set(threshold.members)


def test_every_batchops_name_in_the_parsers_is_a_member_in_the_model(model: ServiceModel) -> None:
    names = batchops_names_in_source()
    assert {"BatchOpsNoOp", "BatchOpsFailureThreshold", "BatchOpsWaitForRestore"} <= names  # the scan works
    assert names - all_member_names(model) == set()


def test_without_the_overlay_botocore_lacks_the_extensions(stock: ServiceModel) -> None:
    assert "S3DeleteObject" not in members(stock, "JobOperation")
    assert "BatchOpsFailureThreshold" not in members(stock, "CreateJobRequest")


def test_the_overlay_is_the_one_botocore_finds_and_changes_only_what_botocore_lacks(stock: ServiceModel) -> None:
    session = boto3_hook(botocore.session.Session())
    loader = session.get_component("data_loader")
    _, found = loader.load_data_with_path("s3control/2018-08-20/service-2.sdk-extras")
    assert Path(found).parent.parent.parent == Path(DATA_PATH)  # botocore ships no s3control extras of its own
    overlay = json.loads(OVERLAY.read_text())["merge"]["shapes"]
    for shape, extra in overlay.items():
        if shape in stock.shape_names:  # extending one of botocore's shapes: new members only
            assert not set(extra["members"]) & members(stock, shape), f"the overlay replaces members of {shape}"
        else:
            assert shape.startswith("BatchOps"), f"new shape {shape} should be named BatchOps…"


# --- every integration case round-trips through botocore and the server ----------------------


def test_the_integration_cases_use_every_name_the_overlay_adds(stock: ServiceModel) -> None:
    overlay = json.loads(OVERLAY.read_text())["merge"]["shapes"]
    added = {name for shape, extra in overlay.items() if shape in stock.shape_names for name in extra["members"]}
    used = _keys(json.loads(json.dumps([(case.operation, case.create) for case in EXTENSIONS])))
    # DescribeJob answers these and no request sends them (tests/integration/test_pause_resume.py reads PausedBy)
    assert added - used - ANSWER_ONLY - {"BatchOpsPausedBy"} == set()


@pytest.mark.parametrize("case", EXTENSIONS, ids=lambda case: case.name)
def test_each_case_round_trips_and_describe_job_loses_nothing(model: ServiceModel, case: Extension) -> None:
    case = case.with_bucket("bucket")
    params = job_params(Operation=case.operation, **case.create)
    if "ManifestGenerator" in case.create:
        del params["Manifest"]
    serializer = botocore.serialize.create_serializer("rest-xml", include_validation=True)
    body = serializer.serialize_to_request(params, model.operation_model("CreateJob"))["body"]
    spec, _ = create(body)
    rendered = render_describe_job(make_job(spec=spec), region=REGION)

    parser = botocore.parsers.create_parser("rest-xml")
    output = model.operation_model("DescribeJob").output_shape
    job = parser.parse({"status_code": 200, "headers": {}, "body": rendered}, output)["Job"]

    assert job["Operation"] == case.operation
    for member in case.shown:
        assert job[member] == case.create[member]
    assert _unparsed(parse_xml(rendered).find("Job"), job, "Job") == []


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {key for item in value.values() for key in _keys(item)}
    if isinstance(value, list | tuple):
        return {key for item in value for key in _keys(item)}
    return set()


def _unparsed(element: Element | None, value: Any, path: str) -> list[str]:
    """The element paths of ``element`` botocore's parse (``value``) has nothing for."""
    assert element is not None
    children = list(element)
    if not children or all(child.tag == "entry" for child in children):  # a leaf, or a map: read whole
        return []
    if isinstance(value, list):
        return [miss for child, item in zip(children, value, strict=True) for miss in _unparsed(child, item, path)]
    missing: list[str] = []
    for child in children:
        if child.tag in value:
            missing += _unparsed(child, value[child.tag], f"{path}.{child.tag}")
        else:
            missing.append(f"{path}.{child.tag}")
    return missing


# --- the hook, the plugin, and their cost ----------------------------------------------------


class _Request:
    def __init__(self, url: str) -> None:
        self.url = url


def test_the_account_id_is_taken_off_the_host_only() -> None:
    request = _Request("http://123456789012.127.0.0.1:8080/v20180820/jobs?x=123456789012.a")
    strip_account_from_host(request)
    assert request.url == "http://127.0.0.1:8080/v20180820/jobs?x=123456789012.a"
    named = _Request("https://batch.example.com/v20180820/jobs")
    strip_account_from_host(named)
    assert named.url == "https://batch.example.com/v20180820/jobs"


def test_hooking_a_session_twice_adds_the_overlay_and_the_hook_once() -> None:
    session = botocore.session.Session()
    boto3_hook(boto3_hook(session))
    assert session.get_component("data_loader").search_paths.count(DATA_PATH) == 1
    request = _Request("http://123456789012.localhost:1/")
    session.get_component("event_emitter").emit(f"{HOST_EVENT}.ListJobs", request=request)
    assert request.url == "http://localhost:1/"


def test_anything_else_is_refused_with_what_the_hook_takes() -> None:
    with pytest.raises(TypeError, match="takes a boto3 Session, a botocore Session or an s3control client"):
        boto3_hook("http://127.0.0.1:8080")


def test_the_awscli_plugin_registers_the_hook_and_the_overlay() -> None:
    emitter = HierarchicalEmitter()
    awscli_initialize(emitter)
    session = botocore.session.Session()
    assert DATA_PATH not in session.get_component("data_loader").search_paths

    emitter.emit("session-initialized", session=session, parsed_args=None)
    request = _Request("http://123456789012.127.0.0.1:8080/v20180820/jobs")
    emitter.emit("before-sign.s3-control.ListJobs", request=request)

    assert DATA_PATH in session.get_component("data_loader").search_paths
    assert "S3DeleteObject" in members(session.get_service_model("s3control"), "JobOperation")
    assert request.url == "http://127.0.0.1:8080/v20180820/jobs"


def test_importing_batchops_or_its_plugin_does_not_load_botocore() -> None:
    code = "import sys, batchops, batchops.awscli_plugin; print(sorted(m for m in sys.modules if 'boto' in m))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
