"""Workspaces through azure-ai-ml: the ARM template deployment, idempotent re-create, soft delete."""

from __future__ import annotations

import pytest
import requests
from azure.ai.ml import MLClient
from azure.ai.ml.entities import Workspace
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.resource.resources import ResourceManagementClient

from .conftest import SUB


@pytest.fixture
def rg_client(cloud, cred):
    client = ResourceManagementClient(cred, SUB)
    client.resource_groups.create_or_update("rg1", {"location": "eastus"})
    return client


@pytest.fixture
def ml_rg(cred, rg_client):
    return MLClient(cred, SUB, "rg1", show_progress=False)


def test_begin_create_deploys_the_template_and_get_returns_the_workspace(cloud, ml_rg):
    created = ml_rg.workspaces.begin_create(Workspace(name="ws-a", location="eastus", tags={"team": "x"})).result()
    ws = ml_rg.workspaces.get("ws-a")
    assert ws.name == created.name == "ws-a" and ws.location == "eastus"
    assert ws.tags["team"] == "x"
    assert ws.storage_account.startswith(f"/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.Storage/")
    assert cloud.resource(ws.storage_account)["kind"] == "StorageV2"
    assert cloud.resource(ws.key_vault) is not None and cloud.resource(ws.application_insights) is not None
    assert ws.discovery_url == "https://eastus.api.azureml.ms/discovery"
    assert ws.mlflow_tracking_uri.startswith("azureml://eastus.api.azureml.ms/mlflow/v1.0/subscriptions/")
    assert ws._workspace_id == cloud.workspace("ws-a").workspace_id
    assert cloud.calls_matching("PUT", "/providers/Microsoft.Resources/deployments/")
    assert not cloud.calls_matching("PUT", "/workspaces/ws-a")  # never a direct PUT of the workspace
    assert [w.name for w in ml_rg.workspaces.list()] == ["ws-a"]


def test_system_datastores_and_discovery(cloud, cred, ml_rg):
    ml_rg.workspaces.begin_create(Workspace(name="ws-a", location="eastus")).result()
    ml = MLClient(cred, SUB, "rg1", "ws-a")
    names = {d.name for d in ml.datastores.list()}
    assert {"workspaceblobstore", "workspaceworkingdirectory", "workspacefilestore",
            "workspaceartifactstore"} <= names
    default = ml.datastores.get_default()
    account = cloud.workspace("ws-a").storage_account
    assert default.name == "workspaceblobstore" and default.account_name == account
    assert default.container_name in cloud.containers(account)
    urls = requests.get("https://eastus.api.azureml.ms/discovery").json()
    assert urls["api"] == "https://eastus.api.azureml.ms" and "history" in urls and "catalog" in urls


def test_re_create_is_an_update_without_a_new_deployment(cloud, ml_rg):
    ml_rg.workspaces.begin_create(Workspace(name="ws-a", location="eastus", tags={"a": "1"})).result()
    cloud.reset_calls()
    ws = ml_rg.workspaces.begin_create(Workspace(name="ws-a", location="eastus", tags={"b": "2"})).result()
    assert not cloud.calls_matching("PUT")
    assert cloud.calls_matching("PATCH", "/workspaces/ws-a")
    assert ws.tags["a"] == "1" and ws.tags["b"] == "2"


def test_missing_workspace_is_resource_not_found(ml_rg):
    with pytest.raises(ResourceNotFoundError):
        ml_rg.workspaces.get("nope")


def test_deleted_workspace_is_soft_deleted_and_its_name_reserved(cloud, ml_rg):
    ml_rg.workspaces.begin_create(Workspace(name="ws-a", location="eastus")).result()
    ml_rg.workspaces.begin_delete("ws-a", delete_dependent_resources=False).result()
    with pytest.raises(ResourceNotFoundError):
        ml_rg.workspaces.get("ws-a")
    with pytest.raises(HttpResponseError, match="Soft-deleted workspace exists"):
        ml_rg.workspaces.begin_create(Workspace(name="ws-a", location="eastus")).result()
    assert cloud.purge_workspace("ws-a", "rg1")
    assert ml_rg.workspaces.begin_create(Workspace(name="ws-a", location="eastus")).result().name == "ws-a"


def test_permanent_delete_with_dependent_resources(cloud, ml_rg):
    ws = ml_rg.workspaces.begin_create(Workspace(name="ws-a", location="eastus")).result()
    account = ws.storage_account.rsplit("/", 1)[1]
    ml_rg.workspaces.begin_delete("ws-a", delete_dependent_resources=True, permanently_delete=True).result()
    assert cloud.resource(ws.storage_account) is None and account not in cloud.storage_accounts
    assert cloud.resource(ws.key_vault) is None
    assert ml_rg.workspaces.begin_create(Workspace(name="ws-a", location="eastus")).result().name == "ws-a"


def test_storage_account_names_are_global(cloud, rg_client):
    cloud.taken_storage_account_names.add("takenname123")
    arm_id = f"/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.Storage/storageAccounts/takenname123"
    with pytest.raises(HttpResponseError, match="StorageAccountAlreadyTaken"):
        rg_client.resources.begin_create_or_update_by_id(
            arm_id, {"location": "eastus", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}},
            api_version="2023-05-01").result()
    ok = arm_id.replace("takenname123", "freename123")
    rg_client.resources.begin_create_or_update_by_id(ok, {"location": "eastus"}, api_version="2023-05-01").result()
    assert cloud.account_key("freename123")
