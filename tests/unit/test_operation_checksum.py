"""S3ComputeObjectChecksum: parsing as boto3 sends it, refusals, streamed CRC values and the result message."""

from __future__ import annotations

import base64
import json
import zlib

import pytest

from batchops.operations.checksum import ComputeObjectChecksum, new_digest, result_message
from tests.support.operation_xml import parse, refusal

# --- S3ComputeObjectChecksum ----------------------------------------------------------------------


def test_checksum_parses_boto3_xml_and_defaults_to_full_object() -> None:
    xml = "<S3ComputeObjectChecksum><ChecksumAlgorithm>SHA256</ChecksumAlgorithm></S3ComputeObjectChecksum>"
    assert parse(ComputeObjectChecksum(), xml) == {"ChecksumAlgorithm": "SHA256", "ChecksumType": "FULL_OBJECT"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("", "ChecksumAlgorithm"),
        ("<ChecksumAlgorithm>XXHASH64</ChecksumAlgorithm>", "XXHASH64 is not supported by batchops"),
        ("<ChecksumAlgorithm>CRC16</ChecksumAlgorithm>", "CRC16"),
        ("<ChecksumAlgorithm>CRC64NVME</ChecksumAlgorithm><ChecksumType>COMPOSITE</ChecksumType>", "FULL_OBJECT"),
        ("<ChecksumAlgorithm>MD5</ChecksumAlgorithm><ChecksumType>PARTS</ChecksumType>", "PARTS"),
    ],
)
def test_checksum_refusals(body: str, expected: str) -> None:
    assert expected in refusal(ComputeObjectChecksum(), f"<S3ComputeObjectChecksum>{body}</S3ComputeObjectChecksum>")


@pytest.mark.parametrize(
    ("algorithm", "expected_hex"),
    [  # the "123456789" check values of each CRC's catalogue entry
        ("CRC32", "CBF43926"),
        ("CRC32C", "E3069283"),
        ("CRC64NVME", "AE8B14860A799888"),
    ],
)
def test_crc_check_values_streamed_in_pieces(algorithm: str, expected_hex: str) -> None:
    digest = new_digest(algorithm)
    for piece in (b"1234", b"", b"56789"):
        digest.update(piece)
    assert digest.digest().hex().upper() == expected_hex


def test_result_message_is_the_json_aws_writes() -> None:
    digest = zlib.crc32(b"abc").to_bytes(4, "big")
    message = json.loads(result_message(digest, '"etag1"', "CRC32", "FULL_OBJECT"))
    assert list(message) == ["checksum_base64", "ETag", "checksumAlgorithm", "checksumType", "checksum_hex"]
    assert message["checksum_base64"] == base64.b64encode(digest).decode()
    assert message["ETag"] == "etag1"
    assert message["checksum_hex"] == digest.hex().upper()
    composite = json.loads(result_message((digest, 3), "e-3", "CRC32", "COMPOSITE"))
    assert composite["checksum_base64"].endswith("-3")
