"""Permission preflight (issue 11, part 2, first half): plan warns, per step and before anything
changes, of each permission the signed-in identity lacks on the resource group, with the built-in
role that grants it and the `az role assignment create` line for an administrator."""

from __future__ import annotations

import pytest

from engine import run
from engine.targets.azure import _access
from tests.azure_support import provision, reload, target
from tests.support import Collector

pytestmark = pytest.mark.filterwarnings("ignore::Warning:marshmallow.*", "ignore::Warning:azure.*")

CONTRIBUTOR = [{"actions": ["*"], "notActions": ["Microsoft.Authorization/*/Write",
                                                 "Microsoft.Authorization/*/Delete"],
                "dataActions": [], "notDataActions": []}]
READER = [{"actions": ["*/read"], "notActions": [], "dataActions": [], "notDataActions": []}]


def plan(profile_path, cloud):
    sink = Collector()
    profile = reload(profile_path)
    run.plan(profile, sink, None, target=target(profile, cloud))
    return sink


def warnings(sink, step):
    return [m for m in sink.logs(step, "warning") if "you lack" in m]


def test_an_identity_with_every_right_gets_no_warning(cloud, profile_path):
    provision(reload(profile_path), cloud)
    sink = plan(profile_path, cloud)
    assert not any(warnings(sink, s) for s in _access.NEEDS)


def test_a_contributor_without_a_blob_data_role_is_told_before_the_upload(cloud, profile_path):
    provision(reload(profile_path), cloud)
    cloud.caller_permissions = CONTRIBUTOR  # no blob data role, and may not assign one
    sink = plan(profile_path, cloud)
    access = sink.finished()["access"]  # the upload waits for the data roles: the ask is made there
    assert access.outcome == "failed" and "Storage Blob Data Contributor" in access.error
    assert "az role assignment create" in access.error and sink.finished()["upload"].outcome == "skipped"
    assert not warnings(sink, "compute") and not warnings(sink, "workspace")


def test_a_reader_is_told_every_step_it_cannot_do(cloud, profile_path):
    provision(reload(profile_path), cloud)
    cloud.caller_permissions = READER
    sink = plan(profile_path, cloud)
    assert "Contributor" in warnings(sink, "workspace")[0]
    assert "AzureML Data Scientist" in warnings(sink, "assets")[0]
    assert "may not assign roles" in sink.finished()["access"].error  # what follows it is not checked


def test_rbac_matching_follows_azure():
    need = _access.Need("Microsoft.MachineLearningServices/workspaces/computes/write", "x")
    assert _access.allowed([{"actions": ["Microsoft.MachineLearningServices/*"]}], need)
    assert not _access.allowed([{"actions": ["*"], "notActions": ["Microsoft.MachineLearningServices/*/write"]}],
                               need)
    data = _access.Need("Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write", "x", data=True)
    assert not _access.allowed([{"actions": ["*"]}], data)  # "*" actions grant no data action
    assert _access.allowed([{"dataActions": ["Microsoft.Storage/storageAccounts/blobServices/containers/blobs/*"]}],
                           data)
