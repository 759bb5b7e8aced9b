"""account.cloud (issue 11, part 5): the sign-in authority, the Resource Manager endpoint and the
blob endpoint of every Azure cloud. The fake serves the public cloud only, so a sovereign cloud's
requests show up in what it could not match: which host each client called is the proof."""

from __future__ import annotations

import pytest

from engine import cloud as azcloud
from tests.azure_support import reload, target, write_profile

pytestmark = pytest.mark.filterwarnings("ignore::Warning:marshmallow.*", "ignore::Warning:azure.*")

HOSTS = {"AzureChinaCloud": ("login.chinacloudapi.cn", "management.chinacloudapi.cn"),
         "AzureUSGovernment": ("login.microsoftonline.us", "management.usgovcloudapi.net")}


def hosts(cloud) -> set[str]:
    """Every host the fake answered for (it serves the sovereign clouds' hosts too)."""
    return {c.host for c in cloud.calls}


@pytest.mark.parametrize("name", sorted(HOSTS))
def test_sign_in_uses_the_clouds_authority_and_management_scope(cloud, monkeypatch, name):
    monkeypatch.setenv("AZURE_TENANT_ID", cloud.default_tenant)
    monkeypatch.setenv("AZURE_CLIENT_ID", "11111111-0000-4000-8000-0000000000c1")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "s3cret")
    cloud.service_principals = {"11111111-0000-4000-8000-0000000000c1": "s3cret"}
    azcloud.sign_in("environment", cloud=name)  # verify: one management token, from the cloud's authority
    assert HOSTS[name][0] in hosts(cloud)


@pytest.mark.parametrize("name", sorted(HOSTS))
def test_a_whole_provision_runs_in_the_clouds_resource_manager(cloud, tmp_path, name):
    """Resource Manager and Azure ML (MLClient(cloud=...)) calls all go to the cloud's endpoint,
    with tokens for its audience (the fake refuses a public-cloud token there, as Azure does)."""
    from tests.azure_support import provision

    summary, sink = provision(reload(write_profile(tmp_path / "p"), f"account.cloud={name}"), cloud)
    assert summary.outcome == "succeeded", sink.finished()
    assert HOSTS[name][1] in hosts(cloud)
    assert not {h for h in hosts(cloud) if h.endswith((".azure.com", ".windows.net"))}, hosts(cloud)
    ws = cloud.workspace("amlbatch-ws", "amlbatch-rg")
    suffix = azcloud.endpoints(name).storage_suffix
    ours = [d for n, d in ws.datastores.items() if n.startswith("amlbatch")]
    assert len(ours) == 2 and all(d["properties"]["endpoint"] == suffix for d in ours)


def test_the_blob_endpoint_comes_from_the_storage_account():
    from engine.targets.azure._blob import blob_endpoint

    class Account:
        properties = {"primaryEndpoints": {"blob": "https://st1.blob.core.chinacloudapi.cn/"}}

    sid = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st1"
    assert blob_endpoint(lambda i: Account(), sid, "st1", "AzureChinaCloud") == \
        "https://st1.blob.core.chinacloudapi.cn/"

    def unreadable(i):
        raise PermissionError("403")

    assert blob_endpoint(unreadable, sid, "st1", "AzureUSGovernment") == "https://st1.blob.core.usgovcloudapi.net"


def test_a_provision_reads_the_blob_endpoint_off_the_account(cloud, tmp_path, monkeypatch):
    """Without a test override, the blob clients use the storage account's primaryEndpoints.blob."""
    from tests.azure_support import provision

    monkeypatch.delenv("AMLBATCH_TEST_BLOB_ENDPOINT", raising=False)
    path = write_profile(tmp_path / "p")
    summary, sink = provision(reload(path), cloud)
    assert summary.outcome == "succeeded", sink.finished()
    assert cloud.calls_matching("GET", "/providers/Microsoft.Storage/storageAccounts/")


def test_an_unknown_cloud_is_refused_by_the_profile(tmp_path):
    from engine.errors import AmlBatchError

    with pytest.raises(AmlBatchError, match="AzureChinaCloud"):
        reload(write_profile(tmp_path / "p"), "account.cloud=AzureGermanCloud")


def test_the_wizards_listings_ask_the_clouds_resource_manager(cloud, monkeypatch):
    monkeypatch.setenv("AZURE_TENANT_ID", cloud.default_tenant)
    monkeypatch.setenv("AZURE_CLIENT_ID", "11111111-0000-4000-8000-0000000000c1")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "s3cret")
    cloud.service_principals = {"11111111-0000-4000-8000-0000000000c1": "s3cret"}
    credential = azcloud.sign_in("environment", cloud="AzureChinaCloud")
    subs = azcloud.list_subscriptions(credential, cloud="AzureChinaCloud")
    assert subs and azcloud.list_regions(credential, subs[0].id, cloud="AzureChinaCloud")
    assert "management.chinacloudapi.cn" in hosts(cloud) and "management.azure.com" not in hosts(cloud)
