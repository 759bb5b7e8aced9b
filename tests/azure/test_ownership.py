"""A profile touches only what it made (issue 9), on the azure target over the fake: same names are
refused naming the owner, a shared resource group is kept, a copied profile is refused, no tear-down
under a running job, --adopt takes over. Tags and group listings are ARM's (tests/fakeazure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import identity, jobs, run
from engine.errors import JobsRunningError, ProfileError
from engine.ownership import TAG_ID
from tests.azure_support import provision, reload, target, teardown, write_profile, writes
from tests.support import Collector

pytestmark = pytest.mark.filterwarnings("ignore::Warning:marshmallow.*", "ignore::Warning:azure.*")
DAILY = '\n[schedule]\nfrequency = "day"\n'


def plan_is_clean(profile, cloud) -> None:
    sink = Collector()
    summary = run.plan(profile, sink, target=target(profile, cloud))
    found = {k: (e.plan, e.detail, e.error) for k, e in sink.finished().items()}
    assert summary.outcome == "succeeded" and not [k for k, (plan, _, _) in found.items()
                                                   if plan in ("create", "update", "delete")], found


GUEST_CLUSTER = '\n[compute]\nname = "guest-cluster"\n'
UPLOAD_ALONE = {"resource_group", "workspace", "compute", "access", "containers", "upload"}


def owned(tmp_path: Path, name: str, extra: str = "") -> object:
    """A saved azure profile with its id (as its first run would give it)."""
    profile = reload(write_profile(tmp_path / name, extra, name=name))
    identity.ensure(profile)
    return reload(profile.path)


def test_blobs_and_resources_carry_the_profile_id(cloud, tmp_path) -> None:
    first = owned(tmp_path, "first")
    summary, sink = provision(first, cloud)
    assert summary.outcome == "succeeded", sink.finished()
    ws = cloud.workspace("amlbatch-ws")
    assert ws.computes["cpu-cluster"]["tags"][TAG_ID] == first.id
    names = cloud.list_blobs(ws.storage_account, "amlbatch-input")
    assert names and all(cloud.blob_metadata(ws.storage_account, "amlbatch-input", n).get("amlbatchprofileid")
                         == first.id for n in names)


def test_same_names_are_refused_naming_the_owner_and_the_first_plan_stays_clean(cloud, tmp_path) -> None:
    first = owned(tmp_path, "first")
    provision(first, cloud)
    second = owned(tmp_path, "second")
    (second.scorer_dir / "score.py").write_text("def init():\n    pass\n\n\ndef run(b):\n    return b * 2\n")
    second = reload(second.path)
    cloud.reset_calls()
    summary, sink = provision(second, cloud)
    done = sink.finished()
    assert summary.outcome == "failed"
    for step in ("compute", "endpoint"):
        assert f"belongs to profile 'first' ({first.path})" in done[step].error and "--adopt" in done[step].error
    assert done["datastores"].outcome == "skipped"  # the data roles wait for a cluster of its own
    assert not any("/computes/" in c.path or "/batchEndpoints/" in c.path for c in writes(cloud))
    plan_is_clean(first, cloud)
    summary, sink = teardown(second, cloud)
    assert summary.outcome == "succeeded", sink.finished()
    plan_is_clean(first, cloud)


def test_a_shared_group_is_kept_with_the_other_profiles_workspace(cloud, tmp_path) -> None:
    owner = owned(tmp_path, "owner")
    provision(owner, cloud)
    guest = owned(tmp_path, "guest", '\n[workspace]\nname = "guest-ws"\n\n[endpoint]\nname = "guest-endpoint"\n')
    summary, sink = provision(guest, cloud)
    assert summary.outcome == "succeeded", sink.finished()

    cloud.reset_calls()
    summary, preview = teardown(owner, cloud, plan_only=True)
    assert writes(cloud) == []
    assert cloud.calls_matching("GET", "/resourceGroups/amlbatch-rg/resources")  # ARM's listing of the group
    group = preview.finished()["resource_group"].detail
    assert "kept resource group 'amlbatch-rg'" in group and "workspaces 'guest-ws' of profile 'guest'" in group
    assert preview.finished()["workspace"].plan == "delete"

    summary, sink = teardown(owner, cloud)
    assert summary.outcome == "succeeded", sink.finished()
    assert sink.outcomes()["resource_group"] == "skipped" and sink.outcomes()["workspace"] == "deleted"
    assert [rg for _, rg in cloud.resource_groups] == ["amlbatch-rg"]
    plan_is_clean(guest, cloud)


def test_the_preview_lists_what_the_group_holds(cloud, tmp_path) -> None:
    profile = owned(tmp_path, "solo")
    provision(profile, cloud)
    summary, sink = teardown(profile, cloud, plan_only=True)
    detail = sink.finished()["resource_group"].detail
    assert detail.startswith("resource group 'amlbatch-rg' and everything in it: ")
    for part in ("workspaces 'amlbatch-ws'", "storageAccounts '", "vaults '", "cluster 'cpu-cluster'",
                 f"endpoint '{profile.endpoint_name}'", "datastore 'amlbatch_input'", "container 'amlbatch-input'"):
        assert part in detail, (part, detail)


def test_a_workspace_holding_another_profiles_resources_is_kept(cloud, tmp_path) -> None:
    owner = owned(tmp_path, "owner")
    provision(owner, cloud)
    guest = owned(tmp_path, "guest", '\n[compute]\nname = "guest-cluster"\n\n[endpoint]\nname = "guest-endpoint"\n'
                                     '\n[storage]\ninput_datastore = "guest_input"\noutput_datastore = "guest_output"\n'
                                     'input_container = "guest-input"\noutput_container = "guest-output"\n')
    (guest.scorer_dir / "score.py").write_text("def init():\n    pass\n\n\ndef run(b):\n    return b * 3\n")
    (guest.scorer_dir / "model" / "weights.bin").write_bytes(b"guest")  # its own asset versions throughout
    env = guest.scorer_dir / "environment.yml"
    env.write_text(env.read_text() + "    - numpy\n")
    guest = reload(guest.path)
    summary, sink = provision(guest, cloud)  # into the owner's group and workspace, under its own names
    assert summary.outcome == "succeeded", {k: (e.outcome, e.error) for k, e in sink.finished().items()}

    summary, sink = teardown(owner, cloud, purge=True)
    assert summary.outcome == "succeeded", {k: (e.outcome, e.error) for k, e in sink.finished().items()}
    done = sink.finished()
    assert done["resource_group"].outcome == "skipped" and "cluster 'guest-cluster' of profile 'guest'" in \
        done["resource_group"].detail
    assert done["workspace"].outcome == "skipped" and "kept workspace 'amlbatch-ws'" in done["workspace"].detail
    for step in ("compute", "endpoint", "datastores", "containers"):
        assert done[step].outcome == "deleted", (step, done[step])
    ws = cloud.workspace("amlbatch-ws")
    assert list(ws.computes) == ["guest-cluster"] and list(ws.endpoints) == ["guest-endpoint"]
    plan_is_clean(guest, cloud)


def test_a_copied_profile_is_refused_until_it_has_its_own_id(cloud, tmp_path) -> None:
    original = owned(tmp_path, "original")
    provision(original, cloud)
    copy_path = tmp_path / "copy.toml"
    copy_path.write_text(original.path.read_text().replace('"data/', f'"{original.path.parent}/data/')
                         .replace('"scorer"', f'"{original.path.parent}/scorer"'))
    copy = reload(copy_path)
    with pytest.raises(ProfileError) as refused:
        teardown(copy, cloud)
    assert "--new-id" in str(refused.value) and str(original.path) in str(refused.value)
    assert cloud.workspace("amlbatch-ws") is not None
    identity.new_id(copy)
    summary, sink = teardown(reload(copy_path), cloud)
    assert summary.outcome == "succeeded" and "deleted" not in sink.outcomes().values()
    plan_is_clean(original, cloud)


def test_teardown_is_refused_under_a_running_job_unless_cancel_jobs(cloud, tmp_path) -> None:
    profile = owned(tmp_path, "busy")
    provision(profile, cloud)
    cloud.job_auto_advance = False  # the job stays queued until canceled
    job = jobs.submit(profile, Collector(), wait=False, target=target(profile, cloud))
    with pytest.raises(JobsRunningError) as refused:
        run.teardown(profile, Collector(), target=target(profile, cloud))
    assert job.job_id in str(refused.value) and "--cancel-jobs" in str(refused.value)
    assert cloud.resource_groups
    sink = Collector()
    summary = run.teardown(profile, sink, target=target(profile, cloud), cancel_jobs=True)
    assert summary.outcome == "succeeded", sink.finished()
    assert cloud.calls_matching("POST", f"/jobs/{job.job_id}/cancel")
    assert sink.outcomes()["resource_group"] == "deleted"


def test_adopt_takes_over_and_a_later_teardown_deletes_it(cloud, tmp_path) -> None:
    first = owned(tmp_path, "first", DAILY)
    provision(first, cloud)
    second = owned(tmp_path, "second", DAILY)  # the same names, and the same scorer: the same asset versions
    sink = Collector()
    summary = run.provision(second, sink, target=target(second, cloud), adopt=True)
    assert summary.outcome == "succeeded", {k: (e.outcome, e.error) for k, e in sink.finished().items()}
    assert "take over cluster 'cpu-cluster' from profile 'first'" in sink.finished()["compute"].detail
    ws = cloud.workspace("amlbatch-ws")
    assert ws.computes["cpu-cluster"]["tags"][TAG_ID] == second.id
    assert ws.endpoints[second.endpoint_name]["tags"][TAG_ID] == second.id
    assert ws.datastores["amlbatch_input"]["properties"]["tags"][TAG_ID] == second.id
    assert ws.schedules[second.schedule.name]["properties"]["tags"][TAG_ID] == second.id
    model = next(iter(ws.assets["models"]["amlbatch-model"]["versions"].values()))
    assert model["properties"]["tags"][TAG_ID] == second.id
    plan_is_clean(second, cloud)
    summary, sink = teardown(second, cloud)
    outcomes = sink.outcomes()
    assert [outcomes[s] for s in ("schedule", "compute", "endpoint", "datastores", "assets")] == ["deleted"] * 5, \
        sink.finished()
    assert "cpu-cluster" not in ws.computes and "amlbatch_input" not in ws.datastores


def test_a_container_holding_another_profiles_blobs_is_kept(cloud, tmp_path) -> None:
    owner = owned(tmp_path, "owner")
    provision(owner, cloud)
    guest = owned(tmp_path, "guest", GUEST_CLUSTER)
    guest = reload(guest.path, "data.prefix=guest")
    ws = cloud.workspace("amlbatch-ws")
    # the guest's upload (and what it needs) alone: its files land in the owner's input container, under
    # its prefix; its own cluster gets its data role
    sink = Collector()
    summary = run.provision(guest, sink, target=target(guest, cloud), only=UPLOAD_ALONE)
    assert sink.outcomes()["upload"] == "created", sink.finished()
    summary, sink = teardown(owner, cloud)
    done = sink.finished()
    assert summary.outcome == "succeeded", {k: (e.outcome, e.error) for k, e in done.items()}
    assert "3 blob(s) of profile 'guest'" in done["resource_group"].detail
    assert done["workspace"].outcome == "skipped" and done["containers"].outcome == "deleted"
    assert "kept container 'amlbatch-input'" in done["containers"].detail
    assert done["upload"].outcome == "deleted"
    left = cloud.list_blobs(ws.storage_account, "amlbatch-input")
    assert left and all(name.startswith("guest/") for name in left)


def test_headless_output_names_the_owner_and_what_was_kept(cloud, tmp_path, monkeypatch, capfd) -> None:
    from tests.azure.test_cli import CLIENT_ID, CLIENT_SECRET
    from tui.cli import main

    cloud.service_principals = {CLIENT_ID: CLIENT_SECRET}
    monkeypatch.setenv("AZURE_TENANT_ID", cloud.default_tenant)
    monkeypatch.setenv("AZURE_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", CLIENT_SECRET)
    first = str(write_profile(tmp_path / "first", name="first", auth="environment"))
    second = str(write_profile(tmp_path / "second", '\n[workspace]\nname = "second-ws"\n\n[endpoint]\n'
                                                    'name = "second-endpoint"\n', name="second", auth="environment"))
    assert main(["--profile", first, "--yes"]) == 0
    assert main(["--profile", second, "--yes"]) == 0
    third = str(write_profile(tmp_path / "third", name="third", auth="environment"))
    capfd.readouterr()
    assert main(["--profile", third, "--yes"]) == 1
    out = capfd.readouterr().out
    assert f"belongs to profile 'first' ({tmp_path / 'first' / 'first.toml'})" in out and "--adopt" in out
    assert main(["--profile", first, "--teardown", "--yes"]) == 0
    out = capfd.readouterr().out
    assert "kept resource group 'amlbatch-rg': it holds resources this profile did not make" in out
    assert "workspaces 'second-ws' of profile 'second'" in out
    assert main(["--profile", second, "--plan"]) == 0  # the second profile's plan is clean


def test_an_upload_never_overwrites_another_profiles_blobs(cloud, tmp_path) -> None:
    owner = owned(tmp_path, "owner")
    provision(owner, cloud)
    ws = cloud.workspace("amlbatch-ws")
    before = {n: cloud.blob_metadata(ws.storage_account, "amlbatch-input", n)
              for n in cloud.list_blobs(ws.storage_account, "amlbatch-input")}
    guest = owned(tmp_path, "guest", GUEST_CLUSTER)  # same container and prefix; one data file differs
    (guest.path.parent / "data" / "part-0.csv").write_text("id,value\n0,999\n")
    sink = Collector()
    run.provision(guest, sink, target=target(guest, cloud), only=UPLOAD_ALONE)
    upload = sink.finished()["upload"]
    assert upload.outcome == "failed"
    assert "blob 'data/part-0.csv' in container 'amlbatch-input' belongs to profile 'owner'" in upload.error
    assert "--adopt" in upload.error
    after = {n: cloud.blob_metadata(ws.storage_account, "amlbatch-input", n)
             for n in cloud.list_blobs(ws.storage_account, "amlbatch-input")}
    assert after == before
    plan_is_clean(owner, cloud)
