"""Completion reports: the per-task result CSV files and their manifest.json index.

``layout`` says where a job's report files are and what their rows hold (the AWS ``Report_CSV_20180820``
layout, also used, under the format name ``Report_CSV_V1``, for COS jobs); ``writer`` writes them to the job's
report bucket, ``reader`` reads them back; ``target`` checks at CreateJob that the job's role can write there.
"""
