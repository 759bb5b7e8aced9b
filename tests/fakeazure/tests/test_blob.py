"""The fake's Blob REST surface through azure-storage-blob (the workspace storage accounts)."""

from __future__ import annotations

import base64

import pytest
from azure.core.exceptions import (ClientAuthenticationError, HttpResponseError, ResourceExistsError,
                                   ResourceNotFoundError)
from azure.storage.blob import BlobServiceClient


def _url(account: str) -> str:
    return f"https://{account}.blob.core.windows.net"


def test_account_key_round_trip(cloud, ws):
    svc = BlobServiceClient(_url(ws.storage_account), credential=cloud.account_key(ws.storage_account))
    container = svc.get_container_client("input")
    assert not container.exists()
    container.create_container(metadata={"purpose": "tests"})
    with pytest.raises(ResourceExistsError):
        container.create_container()
    container.upload_blob("day1/a.csv", b"1,2\n", metadata={"rows": "1"})
    container.upload_blob("day1/b.csv", b"3,4\n")
    container.upload_blob("top.txt", b"x")
    with pytest.raises(ResourceExistsError):
        container.upload_blob("top.txt", b"y")  # overwrite=False sends If-None-Match: *
    assert [b.name for b in container.list_blobs(name_starts_with="day1/")] == ["day1/a.csv", "day1/b.csv"]
    assert [b.name for b in container.walk_blobs(delimiter="/")] == ["day1/", "top.txt"]
    props = container.get_blob_client("day1/a.csv").get_blob_properties()
    assert props.size == 4 and props.metadata == {"rows": "1"}
    assert container.download_blob("day1/a.csv").readall() == b"1,2\n"
    assert container.get_container_properties().metadata == {"purpose": "tests"}
    container.delete_blob("top.txt")
    with pytest.raises(ResourceNotFoundError):
        container.download_blob("top.txt").readall()
    assert "input" in [c.name for c in svc.list_containers()]
    assert cloud.get_blob(ws.storage_account, "input", "day1/b.csv") == b"3,4\n"


def test_large_upload_uses_blocks_and_ranged_download(cloud, ws):
    svc = BlobServiceClient(_url(ws.storage_account), credential=cloud.account_key(ws.storage_account),
                            max_single_put_size=1024, max_block_size=1024, max_single_get_size=1024,
                            max_chunk_get_size=1024)
    data = bytes(range(256)) * 20  # 5 KiB
    blob = svc.get_blob_client("big", "data.bin")
    svc.create_container("big")
    blob.upload_blob(data)
    assert cloud.calls_matching("PUT", "/big/data.bin") and any(
        c.query.get("comp") == "blocklist" for c in cloud.calls_matching("PUT", "/big/data.bin"))
    assert blob.download_blob().readall() == data
    assert blob.download_blob(offset=1000, length=100).readall() == data[1000:1100]


def test_wrong_key_is_refused(cloud, ws):
    wrong = base64.b64encode(b"not the key" * 6).decode()
    svc = BlobServiceClient(_url(ws.storage_account), credential=wrong)
    with pytest.raises(ClientAuthenticationError, match="AuthenticationFailed"):
        svc.get_container_client("azureml").exists()


def test_bearer_token_and_missing_data_role(cloud, cred, ws):
    svc = BlobServiceClient(_url(ws.storage_account), credential=cred)
    svc.create_container("by-token")
    svc.get_blob_client("by-token", "a.txt").upload_blob(b"hi")
    cloud.blob_rbac_denied.add(ws.storage_account)
    with pytest.raises(HttpResponseError, match="AuthorizationPermissionMismatch"):
        svc.get_blob_client("by-token", "a.txt").download_blob().readall()


def test_unknown_account_does_not_resolve(cloud, ws):
    svc = BlobServiceClient(_url("nosuchaccount123"), credential=cloud.account_key(ws.storage_account),
                            retry_total=0)
    with pytest.raises(Exception, match="nosuchaccount123"):
        svc.get_container_client("x").exists()
