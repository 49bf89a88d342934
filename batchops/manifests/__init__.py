"""Reading manifests: the list of objects a job acts on.

Every source implements ``batchops.manifests.source.ManifestSource`` (rows with resumable positions);
``open_source`` below is the one place that picks a source for a job:

* ``csv``: ``S3BatchOperations_CSV_20180820`` / ``COSBatchOperations_CSV_V1`` (a CSV of Bucket,Key[,VersionId]);
  ``rows`` splits and parses its lines and holds the key encoding completion reports use too;
  ``chunks`` stores a chunk's rows for the runner.
* ``inventory`` (+ ``columnar`` for Parquet/ORC): ``S3InventoryReport_CSV_20161130`` /
  ``COSInventoryReport_CSV_V1`` (an inventory's manifest.json and its data files).
* ``generator``: ``S3JobManifestGenerator`` (a filtered bucket listing); ``output`` saves it.
"""

from __future__ import annotations

from batchops.domain.job import JobSpec
from batchops.errors import ManifestError
from batchops.manifests.csv import CsvSource
from batchops.manifests.generator import GeneratorSource
from batchops.manifests.inventory import InventorySource
from batchops.manifests.source import ManifestSource
from batchops.s3.types import S3Client

CSV_FORMATS = ("S3BatchOperations_CSV_20180820", "COSBatchOperations_CSV_V1")
INVENTORY_FORMATS = ("S3InventoryReport_CSV_20161130", "COSInventoryReport_CSV_V1")


def open_source(spec: JobSpec, s3: S3Client) -> ManifestSource:
    """The ``ManifestSource`` for a job: its generator, or its manifest by format."""
    if spec.generator is not None:
        return GeneratorSource(s3, spec.generator)
    if spec.manifest is None:
        raise ManifestError("InvalidManifest", "the job has neither a Manifest nor a ManifestGenerator")
    if spec.manifest.format in CSV_FORMATS:
        return CsvSource(s3, spec.manifest)
    if spec.manifest.format in INVENTORY_FORMATS:
        return InventorySource(s3, spec.manifest)
    raise ManifestError("InvalidManifest", f"manifest format {spec.manifest.format!r} cannot be read")
