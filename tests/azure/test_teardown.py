"""Tear-down on Azure deletes only what carries this profile's tags, newest first."""

from __future__ import annotations

import pytest

from tests.azure_support import provision, reload, teardown, write_profile, writes

pytestmark = pytest.mark.filterwarnings("ignore::Warning:marshmallow.*", "ignore::Warning:azure.*")
HOURLY = '\n[schedule]\nfrequency = "day"\n'


def test_plan_lists_what_would_be_deleted_and_deletes_nothing(cloud, tmp_path):
    profile = reload(write_profile(tmp_path / "p", HOURLY))
    provision(profile, cloud)
    cloud.reset_calls()
    summary, sink = teardown(profile, cloud, plan_only=True)
    assert summary.counts.get("would_delete") == 1  # the resource group takes everything with it
    assert "resource group 'amlbatch-rg' and everything in it" in sink.finished()["resource_group"].detail
    assert "goes with the resource group" in sink.finished()["compute"].detail
    assert writes(cloud) == []


def test_own_resource_group_goes_and_purge_frees_the_workspace_name(cloud, tmp_path):
    profile = reload(write_profile(tmp_path / "p", HOURLY))
    provision(profile, cloud)
    summary, sink = teardown(profile, cloud, purge=True)
    assert summary.outcome == "succeeded", sink.finished()
    assert sink.outcomes()["resource_group"] == "deleted"
    assert sink.outcomes()["workspace"] == "deleted"  # purged first: deleting the group would only soft-delete it
    assert not cloud.resource_groups
    assert not cloud.soft_deleted_workspaces
    # the name is free: provisioning again works
    summary, sink = provision(profile, cloud)
    assert summary.outcome == "succeeded", sink.finished()


def test_without_purge_the_workspace_is_soft_deleted_with_the_group(cloud, profile_path):
    profile = reload(profile_path)
    provision(profile, cloud)
    summary, sink = teardown(profile, cloud)
    assert sink.outcomes()["workspace"] == "skipped" and "--purge" in sink.finished()["workspace"].detail
    assert cloud.soft_deleted_workspaces
    summary, sink = provision(profile, cloud)
    assert "soft-deleted" in sink.finished()["workspace"].error


def test_foreign_resource_group_survives_and_our_resources_in_it_go(cloud, tmp_path):
    cloud.add_resource_group("amlbatch-rg", "westeurope")
    # something of somebody else's in the group must survive too
    cloud.add_workspace("their-ws", "amlbatch-rg", "westeurope")
    profile = reload(write_profile(tmp_path / "p", HOURLY))
    summary, sink = provision(profile, cloud)
    assert sink.outcomes()["resource_group"] == "exists"
    cloud.reset_calls()

    summary, sink = teardown(profile, cloud, purge=True)
    assert summary.outcome == "succeeded", {k: (e.outcome, e.error) for k, e in sink.finished().items()}
    outcomes = sink.outcomes()
    assert outcomes["resource_group"] == "skipped" and "not created by this profile" in \
        sink.finished()["resource_group"].detail
    for step in ("schedule", "endpoint", "compute", "workspace"):
        assert outcomes[step] == "deleted", (step, sink.finished()[step])
    assert outcomes["deployment"] == "skipped"  # goes with its endpoint
    assert [rg for _, rg in cloud.resource_groups] == ["amlbatch-rg"]
    assert [ws.json["name"] for ws in cloud.workspaces.values()] == ["their-ws"]
    deletes = [c.path.lower() for c in cloud.calls if c.method == "DELETE"]
    assert not any("their-ws" in d for d in deletes)
    at = {key: next(i for i, d in enumerate(deletes) if key in d)
          for key in ("/schedules/", "/batchendpoints/", "/computes/")}
    at["workspace"] = next(i for i, d in enumerate(deletes) if d.endswith("/workspaces/amlbatch-ws"))
    # the schedule first, the workspace last; endpoint and cluster (independent steps) in between
    assert at["/schedules/"] < min(at["/batchendpoints/"], at["/computes/"])
    assert max(at["/batchendpoints/"], at["/computes/"]) < at["workspace"]

    # a second tear-down finds everything gone: not an error
    summary, sink = teardown(profile, cloud)
    assert summary.outcome == "succeeded"
    assert "deleted" not in sink.outcomes().values()


def test_existing_workspace_not_ours_keeps_everything_but_our_resources(cloud, tmp_path):
    cloud.add_resource_group("shared-rg", "westeurope")
    cloud.add_workspace("shared-ws", "shared-rg", "westeurope")
    path = write_profile(tmp_path / "p", '\n[workspace]\nresource_group = "shared-rg"\nname = "shared-ws"\n')
    profile = reload(path)
    summary, sink = provision(profile, cloud)
    assert summary.outcome == "succeeded", sink.finished()
    ws = cloud.workspace("shared-ws", "shared-rg")
    account = ws.storage_account

    summary, sink = teardown(profile, cloud)
    assert summary.outcome == "succeeded", {k: (e.outcome, e.error) for k, e in sink.finished().items()}
    outcomes = sink.outcomes()
    assert outcomes["workspace"] == "skipped" and outcomes["resource_group"] == "skipped"
    for step in ("compute", "endpoint", "datastores", "containers", "assets"):
        assert outcomes[step] == "deleted", (step, sink.finished()[step])
    ws = cloud.workspace("shared-ws", "shared-rg")
    assert ws is not None and not ws.computes and not ws.endpoints
    assert "amlbatch_input" not in ws.datastores and "workspaceblobstore" in ws.datastores
    assert "amlbatch-input" not in cloud.containers(account)
