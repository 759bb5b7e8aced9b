"""The azure target's provisioning against the fake cloud: the real SDKs, nothing stood in for.

Fresh provision, no-op re-run (no write on the wire, one read per resource), plan, drift, errors
explained, interrupted and resumed long-running operations, endpoint names taken elsewhere.
"""

from __future__ import annotations

import collections
import threading
import time

import pytest

from engine import events as ev
from engine import run
from tests.azure_support import SUB, provision, reload, target, write_profile, writes

pytestmark = pytest.mark.filterwarnings("ignore::Warning:marshmallow.*", "ignore::Warning:azure.*")

ALL_STEPS = ("resource_group", "workspace", "containers", "upload", "compute", "datastores", "assets",
             "endpoint", "deployment", "schedule")
HOURLY = '\n[schedule]\nfrequency = "hour"\ninterval = 2\n'


def test_fresh_provision_creates_everything_tagged(cloud, tmp_path):
    profile = reload(write_profile(tmp_path / "p", HOURLY))
    summary, sink = provision(profile, cloud)
    assert summary.outcome == "succeeded", sink.finished()
    assert set(sink.outcomes().values()) == {"created"}, sink.outcomes()

    profile = reload(profile.path)  # its first run wrote the profile's id into its file
    tags = {"created-by": "amlbatch", "amlbatch-profile": profile.name, "amlbatch-profile-id": profile.id}
    assert cloud.resource_groups  # made with the profile's region and our tags
    group = cloud.resource(f"/subscriptions/{SUB}/resourceGroups/{profile.workspace.resource_group}")
    assert group["location"] == "westeurope" and group["tags"] == tags
    ws = cloud.workspace(profile.workspace.name, profile.workspace.resource_group)
    assert ws.json["tags"]["amlbatch-profile"] == profile.name

    compute = ws.computes["cpu-cluster"]
    props = compute["properties"]["properties"]
    assert props["vmSize"].lower() == "standard_ds3_v2"
    assert props["scaleSettings"]["maxNodeCount"] == 2 and props["scaleSettings"]["minNodeCount"] == 0
    assert compute["identity"]["type"].lower() == "systemassigned"
    assert compute["tags"] == tags

    for name, container in (("amlbatch_input", "amlbatch-input"), ("amlbatch_output", "amlbatch-output")):
        store = ws.datastores[name]["properties"]
        assert store["containerName"] == container
        assert store["credentials"]["credentialsType"] == "None"  # identity-based

    account = ws.storage_account
    blobs = cloud.list_blobs(account, "amlbatch-input", "data/")
    assert blobs == ["data/part-0.csv", "data/part-1.csv", "data/part-2.csv"]
    assert cloud.blob_metadata(account, "amlbatch-input", "data/part-0.csv")["md5"]

    endpoint = ws.endpoints[profile.endpoint_name]
    assert endpoint["properties"]["defaults"]["deploymentName"] == "default"
    deployment = ws.deployments[profile.endpoint_name]["default"]["properties"]
    assert deployment["miniBatchSize"] == 10 and deployment["outputFileName"] == "predictions.csv"
    assert deployment["retrySettings"]["maxRetries"] == 3
    assert deployment["environmentVariables"] == {"AMLBATCH_OUTPUT_ACTION": "append_row"}
    assert "/models/amlbatch-model/versions/" in deployment["model"]["assetId"]
    model_version = deployment["model"]["assetId"].rsplit("/", 1)[-1]
    assert model_version.isdigit()  # Azure ML takes only positive integers as model versions

    schedule = cloud.resource(f"{ws.id}/schedules/amlbatch-schedule")
    trigger = schedule["properties"]["trigger"]
    assert (trigger["frequency"].lower(), trigger["interval"]) == ("hour", 2)


def test_rerun_changes_nothing_and_reads_each_resource_once(cloud, tmp_path):
    profile = reload(write_profile(tmp_path / "p", HOURLY))
    assert provision(profile, cloud)[0].outcome == "succeeded"
    cloud.reset_calls()
    summary, sink = provision(profile, cloud)
    assert summary.outcome == "succeeded"
    assert set(sink.outcomes().values()) == {"exists"}, sink.outcomes()
    assert writes(cloud) == []
    reads = collections.Counter((c.host, c.path.lower(), str(c.query.get("comp", "")))
                                for c in cloud.calls if c.method in ("GET", "HEAD") and "login." not in c.host)
    assert [r for r, n in reads.items() if n > 1] == []
    # rg, ws, compute, endpoint, deployment, 2 containers, 1 listing, 2 assets (environment, model: the code
    # comes with the deployment), 2 datastores, schedule, the storage account (its blob endpoint), permissions
    # on the group; the access step's: your permissions on the storage account, the cluster's role assignments
    assert len(reads) <= 17


def test_plan_of_a_fresh_profile_writes_nothing(cloud, profile_path):
    sink_events = []
    summary = run.plan(reload(profile_path), sink_events.append, target=target(reload(profile_path), cloud))
    assert summary.outcome == "changes"
    planned = {e.step: e.plan for e in sink_events if isinstance(e, ev.StepFinished)}
    assert planned["resource_group"] == "create" and planned["deployment"] == "create"
    assert writes(cloud) == []


def test_changed_data_file_is_the_only_upload(cloud, tmp_path):
    path = write_profile(tmp_path / "p")
    provision(reload(path), cloud)
    (tmp_path / "p" / "data" / "part-1.csv").write_text("id,value\n9,9\n")
    cloud.reset_calls()
    summary, sink = provision(reload(path), cloud)
    assert sink.outcomes()["upload"] == "created"
    assert "1 of 3 files" in sink.finished()["upload"].detail or "uploaded 1 file (" in sink.finished()["upload"].detail
    puts = [c.path for c in writes(cloud)]
    assert puts == ["/amlbatch-input/data/part-1.csv"]


def test_drift_max_nodes_is_updated_in_place(cloud, profile_path):
    provision(reload(profile_path), cloud)
    summary, sink = provision(reload(profile_path, "compute.max_nodes=5"), cloud)
    assert summary.outcome == "succeeded"
    assert sink.outcomes()["compute"] == "updated"
    assert "max_nodes 2 -> 5" in sink.finished()["compute"].detail
    ws = cloud.workspace("amlbatch-ws", "amlbatch-rg")
    assert ws.computes["cpu-cluster"]["properties"]["properties"]["scaleSettings"]["maxNodeCount"] == 5


def test_drift_vm_size_fails_with_what_to_do(cloud, profile_path):
    provision(reload(profile_path), cloud)
    cloud.reset_calls()
    summary, sink = provision(reload(profile_path, "compute.vm_size=Standard_DS4_v2"), cloud)
    assert summary.outcome == "failed"
    error = sink.finished()["compute"].error
    assert "compute.vm_size" in error and "Standard_DS4_v2" in error and "cannot change in place" in error
    assert sink.outcomes()["deployment"] == "skipped"
    assert not [c for c in writes(cloud) if "/computes/" in c.path]


def test_deployment_setting_drift_updates_deployment(cloud, profile_path):
    provision(reload(profile_path), cloud)
    summary, sink = provision(reload(profile_path, "endpoint.mini_batch_size=25"), cloud)
    assert sink.outcomes()["deployment"] == "updated"
    assert "mini_batch_size 10 -> 25" in sink.finished()["deployment"].detail
    ws = cloud.workspace("amlbatch-ws", "amlbatch-rg")
    assert ws.deployments[reload(profile_path).endpoint_name]["default"]["properties"]["miniBatchSize"] == 25


def test_changed_scorer_registers_new_versions_only_for_what_changed(cloud, tmp_path):
    path = write_profile(tmp_path / "p")
    provision(reload(path), cloud)
    (tmp_path / "p" / "scorer" / "score.py").write_text("def init():\n    pass\n\n\ndef run(b):\n    return b[:1]\n")
    cloud.reset_calls()
    summary, sink = provision(reload(path), cloud)
    assert sink.outcomes()["assets"] == "exists"  # the environment and model did not change
    assert sink.outcomes()["deployment"] == "updated"
    assert "code amlbatch-model-code:" in sink.finished()["deployment"].detail
    assert not [c for c in writes(cloud) if "/models/" in c.path or "/environments/" in c.path]
    # the new code went in through the deployment's CodeConfiguration: one new code version
    assert [c for c in writes(cloud) if "/codes/" in c.path and c.method == "PUT"]


def test_endpoint_name_taken_elsewhere_offers_a_free_name(cloud, profile_path):
    profile = reload(profile_path)
    cloud.taken_endpoint_names.add(profile.endpoint_name)
    summary, sink = provision(profile, cloud)
    error = sink.finished()["endpoint"].error
    assert f"'{profile.endpoint_name}' is already taken" in error and "endpoint.name = " in error
    free = error.split('endpoint.name = "', 1)[1].split('"', 1)[0]
    assert free != profile.endpoint_name
    summary, sink = provision(reload(profile_path, f"endpoint.name={free}"), cloud)
    assert summary.outcome == "succeeded"


ERRORS = [
    ("AuthorizationFailed", 403, "/computes/", "Contributor role"),
    ("RequestDisallowedByPolicy", 403, "/computes/", "Azure Policy"),
    ("MissingSubscriptionRegistration", 409, "/resourcegroups/",
     "az provider register --namespace Microsoft.MachineLearningServices"),
    ("QuotaExceeded", 400, "/computes/", "quota"),
]


@pytest.mark.parametrize("code,status,path,advice", ERRORS, ids=[e[0] for e in ERRORS])
def test_azure_errors_become_a_sentence_with_what_to_do(cloud, profile_path, code, status, path, advice):
    messages = {"MissingSubscriptionRegistration": "The subscription is not registered to use namespace "
                                                    "'Microsoft.MachineLearningServices'.",
                "RequestDisallowedByPolicy": "Resource 'cpu-cluster' was disallowed by policy. Policy "
                                             "identifiers: 'allowed-vm-skus'.",
                "QuotaExceeded": "Operation could not be completed as it results in exceeding approved "
                                 "standardDSv2Family Cores quota."}
    cloud.inject_failure("PUT", path, status=status, code=code, times=None,
                         message=messages.get(code, f"The client does not have authorization ({code})."))
    summary, sink = provision(reload(profile_path), cloud)
    failed = [e for e in sink.finished().values() if e.outcome == "failed"]
    assert len(failed) == 1
    error = failed[0].error
    assert error.startswith("could not ") and advice in error, error
    assert "Traceback" not in error


def test_soft_deleted_workspace_holding_the_name_is_explained(cloud, profile_path):
    profile = reload(profile_path)
    cloud.add_resource_group("amlbatch-rg", "westeurope")
    cloud.add_workspace("amlbatch-ws", "amlbatch-rg", "westeurope")
    from azure.ai.ml import MLClient

    MLClient(cloud.credential(), SUB, "amlbatch-rg").workspaces.begin_delete(
        "amlbatch-ws", delete_dependent_resources=False).result()
    summary, sink = provision(profile, cloud)
    error = sink.finished()["workspace"].error
    assert "soft-deleted" in error and "--purge" in error


def test_cancel_while_waiting_for_an_lro_then_resume(cloud, profile_path):
    """Ctrl+C while the compute cluster is being created: the step stops waiting (the operation keeps
    going in Azure), the run ends canceled; the next run waits for that cluster, creates nothing twice."""
    profile = reload(profile_path)
    cloud.lro_polls = 10_000  # LROs do not finish until complete_operations()
    cancel = run.CancelToken()
    sink_holder = {}

    def first() -> None:
        sink_holder["result"] = provision(profile, cloud, cancel=cancel)

    thread = threading.Thread(target=first)
    thread.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not cloud.calls_matching("PUT", "/computes/cpu-cluster"):
        time.sleep(0.01)
    time.sleep(0.1)
    cancel.cancel()
    thread.join(30)
    summary, sink = sink_holder["result"]
    assert summary.outcome == "canceled"
    assert sink.outcomes()["compute"] == "canceled"
    assert any("keeps going in Azure" in m for m in sink.logs("compute", "warning"))
    ws = cloud.workspace("amlbatch-ws", "amlbatch-rg")
    assert ws.computes["cpu-cluster"]["properties"]["provisioningState"].lower() in ("creating", "updating")

    # the next run finds the cluster still creating and waits for it instead of creating another
    cloud.reset_calls()
    resumed = {}
    second = threading.Thread(target=lambda: resumed.setdefault("r", provision(profile, cloud)))
    second.start()
    time.sleep(0.5)
    cloud.lro_polls = 0
    cloud.complete_operations()
    second.join(60)
    summary, sink = resumed["r"]
    assert summary.outcome == "succeeded", sink.finished()
    assert not cloud.calls_matching("PUT", "/computes/cpu-cluster")
    assert len(cloud.workspace("amlbatch-ws", "amlbatch-rg").computes) == 1


def test_pollers_stop_calling_azure_after_cancel(cloud, profile_path):
    profile = reload(profile_path)
    cloud.lro_polls = 10_000
    cancel = run.CancelToken()
    thread = threading.Thread(target=lambda: provision(profile, cloud, cancel=cancel))
    thread.start()
    while not cloud.calls_matching("PUT", "/computes/cpu-cluster"):
        time.sleep(0.01)
    cancel.cancel()
    thread.join(30)
    time.sleep(0.2)
    before = len(cloud.calls)
    time.sleep(0.3)
    assert len(cloud.calls) == before  # no poller thread keeps polling


def test_workspace_creation_left_running_by_an_earlier_run_is_waited_for(cloud, profile_path):
    """A run stopped while the workspace's template deployment ran: the next run finds that deployment
    still running and waits for it instead of starting a second one."""
    profile = reload(profile_path)
    cloud.add_resource_group("amlbatch-rg", "westeurope")
    name = "amlbatch-ws-4242"
    dep_id = f"/subscriptions/{SUB}/resourceGroups/amlbatch-rg/providers/Microsoft.Resources/deployments/{name}"
    record = {"id": dep_id, "name": name, "type": "Microsoft.Resources/deployments",
              "properties": {"provisioningState": "Running", "mode": "Incremental"}}
    cloud.deployments[(SUB.lower(), "amlbatch-rg", name)] = {"json": record, "operations": []}

    def finish_later() -> None:
        time.sleep(0.3)
        cloud.add_workspace("amlbatch-ws", "amlbatch-rg", "westeurope")
        record["properties"]["provisioningState"] = "Succeeded"

    threading.Thread(target=finish_later).start()
    summary, sink = provision(profile, cloud)
    assert summary.outcome == "succeeded", sink.finished()
    assert "still being created by an earlier run" in sink.finished()["workspace"].detail or \
        sink.outcomes()["workspace"] == "created"
    assert not cloud.calls_matching("PUT", "/providers/Microsoft.Resources/deployments/")
    assert [e for e in sink.of(ev.StepProgress) if e.step == "workspace" and e.unit == "s"]


def test_a_failed_sign_in_stops_the_run_before_any_step_with_the_fix(cloud, profile_path, monkeypatch):
    from engine.cloud import SignInError
    from engine.targets.azure.target import AzureTarget

    monkeypatch.setenv("AZURE_TENANT_ID", cloud.default_tenant)
    monkeypatch.setenv("AZURE_CLIENT_ID", "11111111-0000-4000-8000-0000000000c9")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "wrong")
    cloud.service_principals = {"11111111-0000-4000-8000-0000000000c9": "right"}
    profile = reload(profile_path, "account.auth=environment")
    events = []
    with pytest.raises(SignInError, match=r"sign-in \(environment\) failed.*AZURE_CLIENT_SECRET"):
        run.provision(profile, events.append, target=AzureTarget(profile, events.append, run.CancelToken()))
    assert not [e for e in events if isinstance(e, (ev.StepStarted, ev.StepFinished))]


def test_quota_too_small_for_the_cluster_says_what_to_do(cloud, profile_path):
    cloud.quota[(None, "standardDSv2Family")] = 4
    summary, sink = provision(reload(profile_path, "compute.min_nodes=2"), cloud)
    error = sink.finished()["compute"].error
    assert "not enough quota" in error and "Standard DSv2 Family" in error and "compute.vm_size" in error
    assert sink.outcomes()["deployment"] == "skipped"
    summary, sink = provision(reload(profile_path, "compute.min_nodes=0"), cloud)
    assert summary.outcome == "succeeded"
