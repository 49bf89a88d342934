"""COSPutObjectCopy: the operation contract, with its directives and key rewrite."""

from __future__ import annotations

from batchops.domain.task import ObjectRef
from batchops.operations.cos_copy import COSPutObjectCopy
from batchops.s3.recording import Call, RecordingS3
from tests.support.operation_contract import OperationContract, version, where

NAME = "COSPutObjectCopy"
TARGET = "<TargetResource>qcs::cos:ap-chengdu:uid/1250000000:dest-1250000000</TargetResource>"
OWNER = "qcs::cam::uin/100:uin/100"
READER = "qcs::cam::uin/1:uin/2"


def cos_copy_xml(body: str) -> str:
    return f"<{NAME}>{TARGET}{body}</{NAME}>"


class TestCOSCopyWithDirectivesContract(OperationContract):
    """Replaced metadata, Add tags (read from the source), Replaced grants (put after the copy), prefix replaced."""

    operation = COSPutObjectCopy()
    xml = cos_copy_xml(
        "<PrefixReplace>true</PrefixReplace><ResourcesPrefix>dir/</ResourcesPrefix>"
        "<TargetKeyPrefix>moved/</TargetKeyPrefix>"
        "<MetadataDirective>Replaced</MetadataDirective><NewObjectMetadata><ContentType>text/plain</ContentType>"
        "</NewObjectMetadata><TaggingDirective>Add</TaggingDirective><NewObjectTagging><COSTag><Key>t</Key>"
        "<Value>new</Value></COSTag></NewObjectTagging><AccessControlDirective>Replaced</AccessControlDirective>"
        f"<AccessControlGrants><COSGrant><Grantee><Identifier>{READER}</Identifier><TypeIdentifier>ID"
        "</TypeIdentifier></Grantee><Permission>READ</Permission></COSGrant></AccessControlGrants>"
        "<StorageClass>STANDARD_IA</StorageClass>"
    )
    refusals = [
        (f"<{NAME}/>", f"{NAME}.TargetResource"),
        (cos_copy_xml("<MetadataDirective>REPLACE</MetadataDirective>"), f"{NAME}.MetadataDirective"),
        (cos_copy_xml("<TaggingDirective>Replaced</TaggingDirective>"), f"{NAME}.NewObjectTagging"),
        (cos_copy_xml("<ResourcesPrefix>a</ResourcesPrefix>"), f"{NAME}.ResourcesPrefix"),
        (cos_copy_xml("<StorageClass>GLACIER</StorageClass>"), f"{NAME}.StorageClass"),
        (cos_copy_xml("<ModifiedSinceConstraint>later</ModifiedSinceConstraint>"), f"{NAME}.ModifiedSinceConstraint"),
    ]

    def script(self, s3: RecordingS3, target: ObjectRef) -> None:
        s3.answer("get_object_tagging", {"TagSet": [{"Key": "old", "Value": "o"}, {"Key": "t", "Value": "was"}]})
        s3.answer("copy_object", {"CopyObjectResult": {"ETag": '"c1"'}})
        s3.answer("get_object_acl", {"Owner": {"ID": OWNER}, "Grants": []})

    def expected_calls(self, target: ObjectRef) -> list[Call]:
        dest = {"Bucket": "dest-1250000000", "Key": "moved/key one.txt"}
        copy_arguments = {
            "StorageClass": "STANDARD_IA",
            "ContentType": "text/plain",
            "MetadataDirective": "REPLACE",
            "TaggingDirective": "REPLACE",
            "Tagging": "old=o&t=new",
        }
        source = {"Bucket": target.bucket, "Key": target.key, **version(target)}
        grants = [
            {"Grantee": {"Type": "CanonicalUser", "ID": OWNER}, "Permission": "FULL_CONTROL"},
            {"Grantee": {"Type": "CanonicalUser", "ID": READER}, "Permission": "READ"},
        ]
        return [
            Call("get_object_tagging", where(target)),
            Call("copy_object", {**dest, "CopySource": source, **copy_arguments}),
            Call("get_object_acl", dest),
            Call("put_object_acl", {**dest, "AccessControlPolicy": {"Owner": {"ID": OWNER}, "Grants": grants}}),
        ]

    def expected_message(self, target: ObjectRef) -> str:
        return 'copied, ETag "c1" to moved/key one.txt'


class TestCOSCopyWithDefaultsContract(TestCOSCopyWithDirectivesContract):
    """Every directive Copy (the default): one CopyObject, the target prefix put in front of the key."""

    xml = cos_copy_xml("<TargetKeyPrefix>backup/</TargetKeyPrefix>")

    def script(self, s3: RecordingS3, target: ObjectRef) -> None:
        s3.answer("copy_object", {"CopyObjectResult": {"ETag": '"c2"'}})

    def expected_calls(self, target: ObjectRef) -> list[Call]:
        source = {"Bucket": target.bucket, "Key": target.key, **version(target)}
        dest = {"Bucket": "dest-1250000000", "Key": f"backup/{target.key}"}
        return [Call("copy_object", {**dest, "CopySource": source})]

    def expected_message(self, target: ObjectRef) -> str:
        return f'copied, ETag "c2" to backup/{target.key}'
