"""The file-permission stand-in: a denied key answers AccessDenied, other keys and operations work."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from scripts.localcloud.permissions import FilePermissions


def test_a_denied_key_refuses_only_the_denied_operations() -> None:
    from moto import mock_aws

    permissions = FilePermissions()
    permissions.install()
    try:
        with mock_aws():
            s3 = boto3.client("s3", region_name="us-east-1")
            s3.create_bucket(Bucket="volume")
            s3.put_object(Bucket="volume", Key="locked.jpg", Body=b"x")
            s3.put_object(Bucket="volume", Key="open.jpg", Body=b"y")
            permissions.deny("locked.jpg")
            with pytest.raises(ClientError) as denied:
                s3.get_object(Bucket="volume", Key="locked.jpg")
            assert denied.value.response["Error"]["Code"] == "AccessDenied"
            assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
            with pytest.raises(ClientError):
                s3.head_object(Bucket="volume", Key="locked.jpg")
            assert s3.get_object(Bucket="volume", Key="open.jpg")["Body"].read() == b"y"
            s3.put_object(Bucket="volume", Key="locked.jpg", Body=b"z")  # writes were not denied
            permissions.allow_all()
            assert s3.get_object(Bucket="volume", Key="locked.jpg")["Body"].read() == b"z"
            assert permissions.refusals == 2
    finally:
        permissions.uninstall()
    with pytest.raises(ValueError, match="cannot deny"):
        permissions.deny("k", operations=("DeleteObject",))
