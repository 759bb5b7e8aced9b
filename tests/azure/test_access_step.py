"""The access step over the fake (issue 11, part 2): the role assignments the service needs on the
workspace's storage account - the cluster's managed identity always, the signed-in identity when it
has no blob data role - made once, owned, removed by tear-down; and, when the identity may not assign
roles, the plan and the run say what to ask an administrator for, before anything changes."""

from __future__ import annotations

import pytest

from engine import run
from engine.ownership import TAG_ID
from engine.targets.azure import _access
from tests.azure_support import provision, reload, target, teardown, write_profile, writes
from tests.support import Collector

pytestmark = pytest.mark.filterwarnings("ignore::Warning:marshmallow.*", "ignore::Warning:azure.*")

BLOB_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
DAILY = '\n[schedule]\nfrequency = "day"\n'


def plan(profile, cloud):
    sink = Collector()
    summary = run.plan(profile, sink, None, target=target(profile, cloud))
    return summary, sink


def provision_only(profile, cloud, steps):
    run.provision(profile, Collector(), target=target(profile, cloud), only=set(steps))


def assignments(cloud, principal=None):
    found = [a["properties"] for a in cloud.role_assignments.values()]
    return [a for a in found if principal is None or a["principalId"] == principal]


def cluster_principal(cloud, name="cpu-cluster"):
    return cloud.workspace("amlbatch-ws").computes[name]["identity"]["principalId"]


def storage_id(cloud):
    return cloud.storage_scope(cloud.workspace("amlbatch-ws").storage_account)


def my_oid(cloud):
    token = cloud.credential().get_token("https://management.azure.com/.default").token
    return _access.signed_in_principal(token)[0]


def test_the_clusters_identity_gets_its_data_role_once_and_owned(cloud, profile_path):
    profile = reload(profile_path)
    summary, sink = provision(profile, cloud)
    assert summary.outcome == "succeeded", sink.finished()
    made = assignments(cloud)
    assert len(made) == 1  # the signed-in identity has a data role already: nothing for it
    assert made[0]["principalId"] == cluster_principal(cloud) and made[0]["principalType"] == "ServicePrincipal"
    assert made[0]["roleDefinitionId"].endswith(BLOB_CONTRIBUTOR) and made[0]["scope"] == storage_id(cloud)
    assert _access.described(made[0]["description"])[TAG_ID] == profile.id
    assert "Storage Blob Data Contributor" in sink.finished()["access"].detail

    cloud.reset_calls()
    summary, sink = provision(reload(profile_path), cloud)
    assert sink.outcomes()["access"] == "exists" and writes(cloud) == []  # the re-run makes no write


def test_a_user_without_a_blob_data_role_who_may_assign_is_granted_one_and_uploads(cloud, profile_path):
    cloud.without_blob_data_role()  # an Owner: may assign roles, holds no data role
    profile = reload(profile_path)
    provision_only(profile, cloud, {"resource_group", "workspace", "compute"})
    summary, sink = plan(reload(profile_path), cloud)
    assert "; you (uploads and the jobs you submit)" in sink.finished()["access"].detail
    assert not sink.logs("upload", "warning")  # no "ask an administrator": the access step grants it

    summary, sink = provision(reload(profile_path), cloud)
    assert summary.outcome == "succeeded", {k: e.error for k, e in sink.finished().items() if e.error}
    mine = assignments(cloud, my_oid(cloud))
    assert len(mine) == 1 and mine[0]["roleDefinitionId"].endswith(BLOB_CONTRIBUTOR)
    assert _access.described(mine[0]["description"])["for"] == f"the signed-in identity {my_oid(cloud)}"
    assert len(assignments(cloud, cluster_principal(cloud))) == 1
    ws = cloud.workspace("amlbatch-ws")
    assert len(cloud.list_blobs(ws.storage_account, "amlbatch-input")) == 3  # with the role just granted


def test_a_user_who_may_not_assign_roles_is_told_what_to_ask_for_and_nothing_is_half_done(cloud, profile_path):
    cloud.without_blob_data_role()
    cloud.without_role_assignment_rights()  # a Contributor
    profile = reload(profile_path)
    provision_only(profile, cloud, {"resource_group", "workspace", "compute"})
    principal = cluster_principal(cloud)

    summary, sink = plan(reload(profile_path), cloud)
    access = sink.finished()["access"]
    assert summary.outcome == "failed" and access.outcome == "failed"
    for line in (_access.az_line(principal, "ServicePrincipal", "Storage Blob Data Contributor", storage_id(cloud)),
                 _access.az_line(my_oid(cloud), "ServicePrincipal", "Storage Blob Data Contributor",
                                 storage_id(cloud))):
        assert line in access.error
    assert "you may not assign roles" in access.error and "fail on data access" in access.error

    cloud.reset_calls()
    summary, sink = provision(reload(profile_path), cloud)
    assert summary.outcome == "failed" and sink.finished()["access"].error == access.error
    for waiting in ("containers", "upload", "datastores", "deployment"):
        assert sink.outcomes()[waiting] == "skipped"
    assert assignments(cloud) == [] and not cloud.calls_matching("PUT", "roleAssignments")
    assert not cloud.workspace("amlbatch-ws").datastores.get("amlbatch_input")  # nothing half-done


def test_a_first_provision_by_a_user_who_may_not_assign_stops_at_the_access_step(cloud, profile_path):
    cloud.without_blob_data_role()
    cloud.without_role_assignment_rights()
    summary, sink = plan(reload(profile_path), cloud)  # no group yet: its permissions cannot be read
    assert sink.finished()["access"].plan == "create"
    summary, sink = provision(reload(profile_path), cloud)
    access = sink.finished()["access"]
    assert summary.outcome == "failed" and "you may not assign roles" in access.error
    assert _access.az_line(cluster_principal(cloud), "ServicePrincipal", "Storage Blob Data Contributor",
                           storage_id(cloud)) in access.error
    assert not cloud.calls_matching("PUT", "roleAssignments") and sink.outcomes()["containers"] == "skipped"


def test_azure_refusing_the_assignment_is_a_truthful_failure(cloud, profile_path):
    cloud.inject_failure("PUT", "/roleAssignments/", status=403, times=None, code="AuthorizationFailed",
                         message="The client does not have authorization to perform action "
                                 "'Microsoft.Authorization/roleAssignments/write'.")
    summary, sink = provision(reload(profile_path), cloud)
    access = sink.finished()["access"]
    assert summary.outcome == "failed" and access.outcome == "failed"
    assert "Azure refused the role assignment (AuthorizationFailed)" in access.error
    assert _access.az_line(cluster_principal(cloud), "ServicePrincipal", "Storage Blob Data Contributor",
                           storage_id(cloud)) in access.error
    assert sink.outcomes()["upload"] == "skipped" and sink.outcomes()["deployment"] == "skipped"


def test_a_schedule_runner_without_the_role_is_reported(cloud, tmp_path):
    path = write_profile(tmp_path / "p", DAILY)
    summary, sink = provision(reload(path), cloud)
    assert summary.outcome == "succeeded", sink.finished()
    # the scheduled runs run on the cluster: someone removes its data role, and this user may not assign
    cloud.role_assignments.clear()
    cloud.without_role_assignment_rights()
    summary, sink = plan(reload(path), cloud)
    access = sink.finished()["access"]
    assert access.outcome == "failed" and "scheduled runs" in access.error
    assert _access.az_line(cluster_principal(cloud), "ServicePrincipal", "Storage Blob Data Contributor",
                           storage_id(cloud)) in access.error
    assert ", you (" not in access.error  # the user's own data role is in place
    assert sink.outcomes()["schedule"] == "skipped"
    # and Azure fires the schedule anyway: its run reads the input as the cluster, which storage refuses
    fired = cloud.job(cloud.fire_schedule("amlbatch-schedule"))
    for _ in range(5):
        cloud.advance_job(fired.name)
    assert fired.status == "Failed"
    assert "AuthorizationPermissionMismatch" in str(fired.error) and cluster_principal(cloud) in str(fired.error)


def test_a_cluster_without_an_identity_gets_one_and_its_role(cloud, profile_path):
    provision(reload(profile_path), cloud)
    compute = cloud.workspace("amlbatch-ws").computes["cpu-cluster"]
    del compute["identity"]  # made before clusters had one
    cloud.role_assignments.clear()
    summary, sink = provision(reload(profile_path), cloud)
    assert summary.outcome == "succeeded", sink.finished()
    assert sink.outcomes()["compute"] == "updated" and "managed identity" in sink.finished()["compute"].detail
    assert assignments(cloud, cluster_principal(cloud))


def test_blobs_without_data_access_fail_with_the_truth_and_no_account_key(cloud, profile_path):
    provision(reload(profile_path), cloud)
    account = cloud.workspace("amlbatch-ws").storage_account
    (profile_path.parent / "data" / "part-0.csv").write_text("id,value\n1,1\n")
    # storage refuses the upload itself (the permissions read says the identity may): the exact ask
    cloud.inject_failure("PUT", host_contains=".blob.", status=403, times=None, code="AuthorizationPermissionMismatch",
                         message="This request is not authorized to perform this operation using this permission.")
    cloud.reset_calls()
    summary, sink = provision(reload(profile_path), cloud)
    upload = sink.finished()["upload"]
    assert summary.outcome == "failed" and upload.outcome == "failed"
    assert "AuthorizationPermissionMismatch" in upload.error and "Storage Blob Data Contributor" in upload.error
    assert _access.az_line(my_oid(cloud), "ServicePrincipal", "Storage Blob Data Contributor",
                           storage_id(cloud)) in upload.error
    assert not cloud.calls_matching("POST", "listSecrets")  # no fall-back to the account key

    # storage refuses the identity altogether: the first step touching blobs says so
    cloud.clear_failures()
    cloud.blob_rbac_denied.add(account)
    summary, sink = provision(reload(profile_path), cloud)
    containers = sink.finished()["containers"]
    assert containers.outcome == "failed" and "'Storage Blob Data Contributor' role" in containers.error
    assert not cloud.calls_matching("POST", "listSecrets")


def test_teardown_removes_only_the_assignments_this_profile_made(cloud, profile_path):
    cloud.add_workspace("amlbatch-ws", "amlbatch-rg", "westeurope")  # a person's workspace: it stays
    profile = reload(profile_path)
    summary, sink = provision(profile, cloud)
    assert summary.outcome == "succeeded", sink.finished()
    someone = cloud.add_role_assignment(storage_id(cloud), "5b3c0000-0000-4000-8000-00000000abcd",
                                        "Storage Blob Data Reader", description="made by an administrator")
    ours = assignments(cloud, cluster_principal(cloud))
    assert len(ours) == 1

    summary, sink = teardown(reload(profile_path), cloud)
    assert summary.outcome == "succeeded", sink.finished()
    assert sink.outcomes()["access"] == "deleted" and "cluster 'cpu-cluster'" in sink.finished()["access"].detail
    assert [a["principalId"] for a in assignments(cloud)] == [someone["properties"]["principalId"]]
    summary, sink = teardown(reload(profile_path), cloud)
    assert sink.outcomes()["access"] == "skipped"


def test_the_group_takes_the_assignments_with_it(cloud, profile_path):
    provision(reload(profile_path), cloud)
    summary, sink = teardown(reload(profile_path), cloud)
    assert summary.outcome == "succeeded"
    assert sink.outcomes()["access"] == "skipped" and "resource group" in sink.finished()["access"].detail
    assert assignments(cloud) == []  # ARM removed them with what they were scoped to


def test_an_assignment_someone_else_made_above_the_account_counts(cloud, profile_path):
    provision(reload(profile_path), cloud)
    cloud.role_assignments.clear()
    group = storage_id(cloud).split("/providers/")[0]
    cloud.add_role_assignment(group, cluster_principal(cloud), "Storage Blob Data Owner")  # by an administrator
    cloud.reset_calls()
    summary, sink = provision(reload(profile_path), cloud)
    assert sink.outcomes()["access"] == "exists" and writes(cloud) == []
