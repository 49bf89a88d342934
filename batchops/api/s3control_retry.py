"""Retry the failures on the S3 Control wire (a batchops extension, ``BatchOpsRetryJob`` in the botocore
overlay): ``POST /v20180820/jobs/{id}/batchops-retry`` with a small ``RetryJobRequest`` body (answered with
``RetryJobResult``, the new job's id: ``s3control_xml.render_retry``); and the links DescribeJob shows
(``BatchOpsRetryOf``, ``BatchOpsRetries``)."""

from __future__ import annotations

import uuid
from xml.etree.ElementTree import Element

from batchops import xmlutil
from batchops.api import jobxml
from batchops.domain.retry import RetryLinks
from batchops.service.retry import RetryRequest

REQUEST_ROOT = "RetryJobRequest"
RETRY_OF_ELEMENT = "BatchOpsRetryOf"
RETRIES_ELEMENT = "BatchOpsRetries"


def parse_retry(job_id: str, body: bytes) -> RetryRequest:
    """A RetryJobRequest body (an empty body retries every failed task, with a token of its own)."""
    if not body.strip():
        return RetryRequest(job_id, str(uuid.uuid4()))
    root = xmlutil.parse_xml(body, REQUEST_ROOT)
    xmlutil.check_children(root, {"ClientRequestToken", "ErrorCodes"}, REQUEST_ROOT)
    token = xmlutil.raw_text(root, "ClientRequestToken") or str(uuid.uuid4())
    codes = tuple(xmlutil.member_texts(root, "ErrorCodes", "ErrorCodes"))
    return RetryRequest(job_id, token, codes)


def add_links(job: Element, links: RetryLinks) -> None:
    """The job's retry links, last in its descriptor (unmodified clients skip elements they do not know)."""
    jobxml.add_optional(job, RETRY_OF_ELEMENT, links.retry_of)
    if links.retries:
        listing = xmlutil.add(job, RETRIES_ELEMENT)
        for retry_id in links.retries:
            xmlutil.add(listing, "JobId", retry_id)
