"""Reading manifests: the list of objects a job acts on.

``batchops.manifests.csv`` streams a CSV manifest (``S3BatchOperations_CSV_20180820`` /
``COSBatchOperations_CSV_V1``) line by line from an S3 body and turns each line into an
``ObjectRef`` or a ``RowError`` for that row alone; it also holds the ARN helpers and the key
encoding used by completion reports.
"""
