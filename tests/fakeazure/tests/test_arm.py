"""AAD, subscriptions and resource groups through azure-identity and azure-mgmt-resource."""

from __future__ import annotations

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.resource.subscriptions import SubscriptionClient

from tests.fakeazure import FakeAzure

from .conftest import OTHER_SUB, OTHER_TENANT, SUB, SUB2, TENANT


def test_client_secret_credential_gets_a_token(cloud, cred):
    token = cred.get_token("https://management.azure.com/.default")
    assert token.token.count(".") == 2 and token.expires_on > 0
    assert cloud.tokens_issued[-1]["tenant"] == TENANT
    assert cloud.calls_matching("POST", "/oauth2/v2.0/token")


def test_subscriptions_are_those_of_the_token_tenant(cloud, cred):
    client = SubscriptionClient(cred)
    assert sorted(s.display_name for s in client.subscriptions.list()) == ["Dev", "Prod"]
    other = SubscriptionClient(cloud.credential(tenant_id=OTHER_TENANT))
    assert [s.subscription_id for s in other.subscriptions.list()] == [OTHER_SUB]
    locations = [loc.name for loc in client.subscriptions.list_locations(SUB)]
    assert "eastus" in locations and "westeurope" in locations
    assert {t.tenant_id for t in client.tenants.list()} == {TENANT, OTHER_TENANT}


def test_token_of_another_tenant_is_refused(cloud):
    client = ResourceManagementClient(cloud.credential(tenant_id=OTHER_TENANT), SUB)
    with pytest.raises(ClientAuthenticationError, match="InvalidAuthenticationTokenTenant"):
        client.resource_groups.get("rg1")
    with pytest.raises(ClientAuthenticationError):  # HEAD: same status, no body
        client.resource_groups.check_existence("rg1")


def test_wrong_client_secret_is_refused_and_never_recorded():
    with FakeAzure(service_principals={"app-1": "right-secret"}) as fake:
        assert fake.credential(client_id="app-1").get_token("https://management.azure.com/.default").token
        with pytest.raises(ClientAuthenticationError, match="AADSTS7000215"):
            fake.credential(client_id="app-1", client_secret="wrong-secret").get_token(
                "https://management.azure.com/.default")
        recorded = repr([(c.method, c.path, c.url, c.query) for c in fake.calls]) + repr(fake.tokens_issued)
        assert "secret" not in recorded


def test_resource_group_lifecycle(cloud, cred):
    client = ResourceManagementClient(cred, SUB)
    assert client.resource_groups.check_existence("rg-a") is False
    client.resource_groups.create_or_update("rg-a", {"location": "westeurope", "tags": {"owner": "me"}})
    assert client.resource_groups.check_existence("rg-a") is True
    group = client.resource_groups.get("rg-a")
    assert (group.location, group.tags) == ("westeurope", {"owner": "me"})
    heads = cloud.calls_matching("HEAD", "/resourcegroups/rg-a")
    assert [c.status for c in heads] == [404, 204]
    with pytest.raises(HttpResponseError, match="InvalidResourceGroupLocation"):
        client.resource_groups.create_or_update("rg-a", {"location": "eastus"})
    assert [g.name for g in client.resource_groups.list()] == ["rg-a"]
    client.resource_groups.begin_delete("rg-a").result()
    assert client.resource_groups.check_existence("rg-a") is False
    with pytest.raises(ResourceNotFoundError):
        client.resource_groups.get("rg-a")


def test_resource_groups_are_per_subscription_and_case_insensitive(cloud, cred):
    ResourceManagementClient(cred, SUB).resource_groups.create_or_update("Data-RG", {"location": "eastus"})
    assert ResourceManagementClient(cred, SUB).resource_groups.check_existence("data-rg") is True
    assert ResourceManagementClient(cred, SUB2).resource_groups.check_existence("Data-RG") is False


def test_deleting_a_group_deletes_what_it_holds(cloud, cred, ws):
    client = ResourceManagementClient(cred, SUB)
    names = {r.type for r in client.resources.list_by_resource_group("rg1")}
    assert {"Microsoft.Storage/storageAccounts", "Microsoft.MachineLearningServices/workspaces"} <= names
    client.resource_groups.begin_delete("rg1").result()
    assert cloud.resource(ws.id) is None
    assert ws.storage_account not in cloud.storage_accounts


def test_group_listing_carries_tags_and_the_tags_api_merges(cloud, cred, ws):
    """`resources.list_by_resource_group` lists top-level resources with their tags; Azure ML's child
    resources (clusters, endpoints) are read through Azure ML. The Tags API merges at any scope."""
    client = ResourceManagementClient(cred, SUB)
    listed = {r.id.lower(): r for r in client.resources.list_by_resource_group("rg1")}
    workspace = listed[ws.id.lower()]
    assert workspace.type == "Microsoft.MachineLearningServices/workspaces" and workspace.tags is not None
    assert not any("/computes/" in i or "/batchendpoints/" in i for i in listed)
    client.tags.begin_update_at_scope(ws.id, {"operation": "Merge", "properties": {"tags": {"a": "1"}}}).result()
    client.tags.begin_update_at_scope(ws.id, {"operation": "Merge", "properties": {"tags": {"b": "2"}}}).result()
    assert {"a": "1", "b": "2"}.items() <= client.tags.get_at_scope(ws.id).properties.tags.items()
    tags = {r.id.lower(): r.tags for r in client.resources.list_by_resource_group("rg1")}[ws.id.lower()]
    assert tags["a"] == "1" and tags["b"] == "2"
