"""S3 bucket names and ARNs: one set of rules for CreateJob, operations, manifests and reports.

Only the plain form ``arn:<partition>:s3:::<bucket>[/<key>]`` is accepted: region and account are
set only in access point and Outposts ARNs, which a plain S3-compatible store does not have.

Tencent COS names the same things with ``qcs`` strings, accepted everywhere an ARN is:
``qcs::cos:<region>:[uid/<appid>]:<bucket-appid>[/<key>]``. The bucket on the store is the
``<bucket-appid>`` string as given (e.g. ``sourcebucket-1250000000``); region and appid are not used.
"""

from __future__ import annotations

import functools
import re

from batchops.errors import ValidationError

BUCKET_RULE = (
    "bucket names are 3-63 characters of lowercase letters, digits, dots and hyphens, "
    "starting and ending with a letter or digit"
)

_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]")
_OBJECT_ARN = re.compile(r"arn:[a-z0-9\-]+:s3:::([^/:]+)/(.+)", re.DOTALL)
_BUCKET_ARN = re.compile(r"arn:[a-z0-9\-]+:s3:::([^/:]+)")
_QCS_OBJECT = re.compile(r"qcs::cos:[a-z0-9\-]*:(?:uid/\d+)?:([^/:]+)/(.+)", re.DOTALL)
_QCS_BUCKET = re.compile(r"qcs::cos:[a-z0-9\-]*:(?:uid/\d+)?:([^/:]+)")
QCS_FORMS = "qcs::cos:<region>:[uid/<appid>]:<bucket-appid>"


@functools.lru_cache(maxsize=256)  # a manifest names few buckets, over and over
def is_bucket_name(name: str) -> bool:
    return _BUCKET_NAME.fullmatch(name) is not None


def parse_object_arn(arn: str, field: str = "ObjectArn") -> tuple[str, str]:
    """``arn:<partition>:s3:::<bucket>/<key>`` (or the COS ``qcs::cos:…:<bucket-appid>/<key>``) → (bucket, key);
    the key is taken as-is (not URL-decoded)."""
    match = _OBJECT_ARN.fullmatch(arn) or _QCS_OBJECT.fullmatch(arn)
    if match is None:
        raise ValidationError(
            f"{field} {arn!r} is not an object ARN; expected arn:<partition>:s3:::<bucket>/<key>, "
            "e.g. arn:aws:s3:::my-bucket/manifests/manifest.csv, or on COS "
            f"{QCS_FORMS}/<key> (access point and Outposts ARNs are not supported)",
            field=field,
        )
    return _check_bucket(match.group(1), field), match.group(2)


def parse_bucket_arn(arn: str, field: str = "Bucket") -> str:
    """``arn:<partition>:s3:::<bucket>`` (or COS ``qcs::cos:<region>:[uid/<appid>]:<bucket-appid>``) → the bucket."""
    match = _BUCKET_ARN.fullmatch(arn) or _QCS_BUCKET.fullmatch(arn)
    if match is None:
        names_object = _OBJECT_ARN.fullmatch(arn) or _QCS_OBJECT.fullmatch(arn)
        hint = " (that ARN names an object; drop the '/…' part)" if names_object else ""
        raise ValidationError(
            f"{field} must be a bucket ARN such as arn:aws:s3:::my-bucket, not {arn!r}{hint} (on COS: {QCS_FORMS})",
            field=field,
        )
    return _check_bucket(match.group(1), field)


def _check_bucket(bucket: str, field: str) -> str:
    if not is_bucket_name(bucket):
        raise ValidationError(f"{field} names bucket {bucket!r}, which is not valid; {BUCKET_RULE}", field=field)
    return bucket


def job_arn(account_id: str, job_id: str, region: str) -> str:
    """A job's ARN, as DescribeJob and the console show it."""
    return f"arn:aws:s3:{region}:{account_id}:job/{job_id}"
