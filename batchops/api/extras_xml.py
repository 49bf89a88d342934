"""The extension elements a DescribeJob answer ends with, the same on both wires (unmodified clients skip them):
retry links, the chain's steps (``BatchOpsThen``, ``BatchOpsChain``) and webhook delivery attempts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from xml.etree.ElementTree import Element

from batchops.api import chain_xml, jobxml
from batchops.api.s3control_retry import add_links
from batchops.domain.extras import JobExtras
from batchops.domain.job import Job


def add_extras(descriptor: Element, job: Job, extras: JobExtras, render_time: Callable[[datetime], str]) -> None:
    add_links(descriptor, extras.links)
    chain_xml.add_then(descriptor, job.spec.then)
    chain_xml.add_chain(descriptor, extras.chain)
    jobxml.add_deliveries(descriptor, extras.deliveries, render_time)
