"""batchops: COS / S3 Batch Operations for any S3-compatible object store."""

__version__ = "0.1.0"
