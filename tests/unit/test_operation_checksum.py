"""S3ComputeObjectChecksum: parsing as boto3 sends it, refusals, streamed CRC values, the result message,
and the operation contract."""

from __future__ import annotations

import base64
import hashlib
import json
import zlib

import pytest

from batchops.domain.task import ObjectRef
from batchops.operations.checksum import ComputeObjectChecksum, new_digest, result_message
from batchops.s3.recording import Call, FakeBody, RecordingS3
from tests.support.operation_contract import OperationContract, where
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


# --- the operation contract ----------------------------------------------------------------------

DATA = b"hello checksums"


class TestComputeObjectChecksumContract(OperationContract):
    operation = ComputeObjectChecksum()
    xml = "<S3ComputeObjectChecksum><ChecksumAlgorithm>SHA256</ChecksumAlgorithm></S3ComputeObjectChecksum>"
    refusals = [
        ("<S3ComputeObjectChecksum/>", "S3ComputeObjectChecksum.ChecksumAlgorithm"),
        (
            "<S3ComputeObjectChecksum><ChecksumAlgorithm>XXHASH3</ChecksumAlgorithm></S3ComputeObjectChecksum>",
            "S3ComputeObjectChecksum.ChecksumAlgorithm",
        ),
        (
            "<S3ComputeObjectChecksum><ChecksumAlgorithm>CRC64NVME</ChecksumAlgorithm>"
            "<ChecksumType>COMPOSITE</ChecksumType></S3ComputeObjectChecksum>",
            "ChecksumType FULL_OBJECT",
        ),
    ]

    def script(self, s3: RecordingS3, target: ObjectRef) -> None:
        s3.answer("get_object", {"Body": FakeBody(DATA), "ETag": '"abc"'})

    def expected_calls(self, target: ObjectRef) -> list[Call]:
        return [Call("get_object", where(target))]

    def expected_message(self, target: ObjectRef) -> str:
        return result_message(hashlib.sha256(DATA).digest(), '"abc"', "SHA256", "FULL_OBJECT")


class TestCompositeChecksumContract(TestComputeObjectChecksumContract):
    """A two-part upload: HEAD part 1 for the part count, then each part read pinned to the ETag."""

    xml = (
        "<S3ComputeObjectChecksum><ChecksumAlgorithm>CRC32</ChecksumAlgorithm>"
        "<ChecksumType>COMPOSITE</ChecksumType></S3ComputeObjectChecksum>"
    )

    def script(self, s3: RecordingS3, target: ObjectRef) -> None:
        s3.answer("head_object", {"ETag": '"abc-2"', "PartsCount": 2})
        s3.answer("get_object", {"Body": FakeBody(DATA[:5])})
        s3.answer("get_object", {"Body": FakeBody(DATA[5:])})

    def expected_calls(self, target: ObjectRef) -> list[Call]:
        return [
            Call("head_object", {"PartNumber": 1, **where(target)}),
            Call("get_object", {"PartNumber": 1, "IfMatch": '"abc-2"', **where(target)}),
            Call("get_object", {"PartNumber": 2, "IfMatch": '"abc-2"', **where(target)}),
        ]

    def expected_message(self, target: ObjectRef) -> str:
        parts = [zlib.crc32(DATA[:5]).to_bytes(4, "big"), zlib.crc32(DATA[5:]).to_bytes(4, "big")]
        combined = zlib.crc32(b"".join(parts)).to_bytes(4, "big")
        return result_message((combined, 2), '"abc-2"', "CRC32", "COMPOSITE")
