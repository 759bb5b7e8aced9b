"""The local target's access step: the same checklist as on Azure - the cluster's identity holds
Storage Blob Data Contributor on the workspace's storage account - kept as a record that this
profile owns, made once and removed by tear-down."""

from __future__ import annotations

from engine import paths, run
from engine.fileio import read_json
from engine.ownership import TAG_ID
from engine.profile import load
from tests.engine.test_engine import GUEST_SETS, GUEST_TABLES, provision
from tests.support import Collector


def assignment_files():
    return sorted(paths.local_cloud_dir().rglob("roleAssignments/*.json"))


def test_the_clusters_role_is_recorded_once_owned_and_removed(make_profile) -> None:
    profile = load(str(make_profile()))
    plan = Collector()
    run.plan(profile, plan)
    assert plan.finished()["access"].plan == "create"
    assert "Storage Blob Data Contributor for cluster 'cpu-cluster'" in plan.finished()["access"].detail

    first = provision(profile)
    assert first.outcomes()["access"] == "created"
    [record] = assignment_files()
    found = read_json(record)
    assert found["role"] == "Storage Blob Data Contributor" and found["principal"] == "cluster 'cpu-cluster'"
    assert found["tags"][TAG_ID] == profile.id

    assert provision(profile).outcomes()["access"] == "exists"

    gone = Collector()
    run.teardown(profile, gone)
    assert gone.outcomes()["access"] == "deleted" and assignment_files() == []


def test_another_profiles_assignment_stays(make_profile) -> None:
    owner = load(str(make_profile(name="owner")))
    provision(owner)
    guest = load(str(make_profile(name="guest", extra=GUEST_TABLES)), GUEST_SETS)  # its own cluster
    assert provision(guest).outcomes()["access"] == "created"
    assert len(assignment_files()) == 2
    gone = Collector()
    run.teardown(guest, gone)
    assert gone.outcomes()["access"] == "deleted"
    [left] = assignment_files()
    assert read_json(left)["tags"][TAG_ID] == owner.id


def test_teardown_also_removes_the_assignment_of_an_earlier_cluster_name(make_profile) -> None:
    path = str(make_profile())
    provision(load(path))
    renamed = load(path, ["compute.name=other-cluster"])
    assert provision(renamed).outcomes()["access"] == "created"
    assert len(assignment_files()) == 2
    gone = Collector()
    run.teardown(renamed, gone)
    assert "cluster 'cpu-cluster'" in gone.finished()["access"].detail and assignment_files() == []
