"""Request authentication: AWS Signature V4 (S3 Control) and the COS q-sign signature, and the account lookup.

``authenticate_s3control`` and ``authenticate_cos`` (batchops.auth.accounts) take the request's signed
parts and the Settings and return the Account, or raise batchops.errors.AuthError.
"""

from batchops.auth.accounts import authenticate_cos, authenticate_s3control
from batchops.auth.request import SignedRequest

__all__ = ["SignedRequest", "authenticate_cos", "authenticate_s3control"]
