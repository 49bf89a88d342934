"""Completion reports: the per-task result CSV files and their manifest.json index.

``batchops.reports.writer`` writes the AWS ``Report_CSV_20180820`` layout (also used, under the
format name ``Report_CSV_V1``, for COS jobs) to the job's report bucket.
"""
