"""The fake's Microsoft.Authorization through the real azure-mgmt-authorization and azure-storage-blob:
role assignments (create, get, list at a scope, delete), effective permissions that follow them, and
the 403s Azure answers without a role (ARM AuthorizationFailed, blob AuthorizationPermissionMismatch)."""

from __future__ import annotations

import uuid

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.authorization.models import RoleAssignmentCreateParameters
from azure.storage.blob import BlobServiceClient

from .conftest import SUB

BLOB_CONTRIBUTOR = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/" \
                   "ba92f5b4-2d11-453d-a403-e96b0029c9fe"


@pytest.fixture
def auth(cred):
    with AuthorizationManagementClient(cred, SUB) as client:
        yield client


def my_oid(cred):
    import base64
    import json

    payload = cred.get_token("https://management.azure.com/.default").token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["oid"]


def storage(cloud, ws):
    return cloud.storage_scope(ws.storage_account)


def test_role_assignments_round_trip(cloud, auth, ws):
    scope, name, principal = storage(cloud, ws), str(uuid.uuid4()), str(uuid.uuid4())
    made = auth.role_assignments.create(scope, name, RoleAssignmentCreateParameters(
        role_definition_id=BLOB_CONTRIBUTOR, principal_id=principal, principal_type="ServicePrincipal",
        description="for a test"))
    assert made.name == name and made.scope == scope and made.description == "for a test"
    assert auth.role_assignments.get(scope, name).principal_id == principal
    listed = list(auth.role_assignments.list_for_scope(scope, filter=f"principalId eq '{principal}'"))
    assert [a.name for a in listed] == [name]
    group = scope.split("/providers/")[0]  # listed at the group: "below" counts, atScope() does not
    assert [a.name for a in auth.role_assignments.list_for_scope(group)] == [name]
    assert list(auth.role_assignments.list_for_scope(group, filter="atScope()")) == []
    with pytest.raises(HttpResponseError, match="RoleAssignmentExists"):  # same grant, another name
        auth.role_assignments.create(scope, str(uuid.uuid4()), RoleAssignmentCreateParameters(
            role_definition_id=BLOB_CONTRIBUTOR, principal_id=principal, principal_type="ServicePrincipal"))
    auth.role_assignments.delete(scope, name)
    with pytest.raises(ResourceNotFoundError):
        auth.role_assignments.get(scope, name)


def test_blob_data_follows_role_assignments(cloud, cred, auth, ws):
    svc = BlobServiceClient(f"https://{ws.storage_account}.blob.core.windows.net", credential=cred)
    cloud.without_blob_data_role()
    with pytest.raises(HttpResponseError, match="AuthorizationPermissionMismatch"):
        svc.create_container("data")
    perms = list(auth.permissions.list_for_resource("rg1", "Microsoft.Storage", "", "storageAccounts",
                                                    ws.storage_account))
    assert not any(p.data_actions for p in perms)
    auth.role_assignments.create(storage(cloud, ws), str(uuid.uuid4()), RoleAssignmentCreateParameters(
        role_definition_id=BLOB_CONTRIBUTOR, principal_id=my_oid(cred), principal_type="ServicePrincipal"))
    svc.create_container("data")  # the role applies at once in the fake
    perms = list(auth.permissions.list_for_resource("rg1", "Microsoft.Storage", "", "storageAccounts",
                                                    ws.storage_account))
    assert any("Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write" in p.data_actions
               for p in perms)


def test_arm_writes_without_the_action_get_authorization_failed(cloud, auth, ws):
    cloud.without_role_assignment_rights()
    with pytest.raises(HttpResponseError, match="AuthorizationFailed") as refused:
        auth.role_assignments.create(storage(cloud, ws), str(uuid.uuid4()), RoleAssignmentCreateParameters(
            role_definition_id=BLOB_CONTRIBUTOR, principal_id=str(uuid.uuid4()), principal_type="User"))
    assert refused.value.status_code == 403
    assert "Microsoft.Authorization/roleAssignments/write" in str(refused.value)
    assert not cloud.role_assignments
