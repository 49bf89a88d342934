"""The only package that talks to the S3 SDK (aiobotocore)."""
