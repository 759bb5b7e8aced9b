"""The schedule on the azure target: a JobSchedule whose pipeline job runs the deployment's scoring in a
parallel step (same code, model, environment, settings and cluster), fired by the fake as Azure does at an
occurrence; its runs are listed by --jobs and their results fetched by --results like an invoked run."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import scorer
from engine import jobs, run
from engine.errors import ProfileError
from engine.ownership import TAG_ID
from engine.targets.azure.steps.schedule import ENTRY, ENTRY_NAME
from scorer import sample_data
from tests.azure_support import provision, reload, target, write_profile, writes
from tests.fakeazure import FakeAzure
from tests.support import Collector
from tui.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::Warning:marshmallow.*", "ignore::Warning:azure.*")

HOURLY = '\n[schedule]\nfrequency = "hour"\ninterval = 2\n'
SCHEDULE = "amlbatch-schedule"


def definition(cloud: FakeAzure, profile) -> tuple[dict, dict, dict]:
    """(the schedule's properties, the job it starts, the pipeline's parallel step) as Azure stores them."""
    ws = cloud.workspace(profile.workspace.name)
    props = ws.schedules[SCHEDULE]["properties"]
    job = props["action"]["jobDefinition"]
    return props, job, job["jobs"]["score"]


def code_files(cloud: FakeAzure, profile, code_id: str) -> dict[str, bytes]:
    """The files of a code asset version, read from where the SDK uploaded them."""
    ws = cloud.workspace(profile.workspace.name)
    name, version = re.search(r"/codes/([^/]+)/versions/([^/]+)$", code_id).groups()
    uri = ws.assets["codes"][name.lower()]["versions"][version]["properties"]["codeUri"]
    account, container, prefix = re.match(r"https://([^.]+)\.blob\.[^/]+/([^/]+)/(.*)$", uri).groups()
    return {n[len(prefix) + 1:]: cloud.get_blob(account, container, n)
            for n in cloud.list_blobs(account, container, prefix + "/")}


@pytest.fixture
def scheduled(cloud, tmp_path):
    profile = reload(write_profile(tmp_path / "p", HOURLY, auth="environment"))  # the CLI signs in as CI does
    summary, sink = provision(profile, cloud)
    assert summary.outcome == "succeeded", sink.finished()
    return profile


def test_schedule_runs_the_deployments_scoring_and_is_created_once(cloud, scheduled):
    profile = scheduled
    props, job, step = definition(cloud, profile)
    assert props["trigger"]["triggerType"] == "Recurrence"
    assert (props["trigger"]["frequency"].lower(), props["trigger"]["interval"]) == ("hour", 2)
    assert props["trigger"]["timeZone"] == "UTC" and props["isEnabled"] is True
    assert job["jobType"] == "Pipeline" and list(job["jobs"]) == ["score"] and step["type"] == "parallel"

    dep = cloud.workspace(profile.workspace.name).deployments[profile.endpoint_name]["default"]["properties"]
    assert job["inputs"]["model"] == {"uri": dep["model"]["assetId"], "mode": "ReadOnlyMount",
                                      "jobInputType": "custom_model"}  # the registered model, mounted
    assert job["inputs"]["data"]["uri"] == "azureml://datastores/amlbatch_input/paths/data"
    assert job["outputs"]["score"]["uri"] == (
        f"azureml://datastores/amlbatch_output/paths/{profile.endpoint_name}/${{{{name}}}}/")
    task = step["task"]
    assert task["environment"].removeprefix("azureml:") == dep["environmentId"]
    assert job["computeId"].lower() == dep["compute"].lower()
    assert (step["mini_batch_size"], step["resources"]["instance_count"], step["max_concurrency_per_instance"],
            step["error_threshold"], step["retry_settings"]) == (
        dep["miniBatchSize"], dep["resources"]["instanceCount"], dep["maxConcurrencyPerInstance"],
        dep["errorThreshold"], {"max_retries": dep["retrySettings"]["maxRetries"], "timeout": 30})
    assert step["logging_level"].lower() == dep["loggingLevel"].lower()
    assert step["environment_variables"] == dep["environmentVariables"]
    assert task["append_row_to"] == "${{outputs.score}}"
    assert f"--append_row_file_name {dep['outputFileName']}" in task["program_arguments"]

    # the same scorer files as the deployment's code, plus the entry script that hands it the model
    ours = code_files(cloud, profile, task["code"].removeprefix("azureml:"))
    theirs = code_files(cloud, profile, dep["codeConfiguration"]["codeId"])
    assert ours.pop("amlbatch_scheduled_entry.py") and ours == theirs
    assert task["entry_script"] == "amlbatch_scheduled_entry.py"
    assert "--amlbatch_scoring_script score.py" in task["program_arguments"]

    cloud.reset_calls()
    summary, sink = provision(profile, cloud)
    assert sink.outcomes()["schedule"] == "exists", sink.finished()["schedule"]
    assert writes(cloud) == []


def test_a_fired_run_scores_like_an_invoked_run_and_is_listed_and_fetched(cloud, scheduled, tmp_path, capfd,
                                                                          monkeypatch):
    profile = scheduled
    seen = []

    def scorer(files, settings):
        seen.append(settings["properties"])
        return "".join(f"{name},{len(data)}\n" for name, data in files).encode()

    invoked = jobs.submit(profile, Collector(), target=target(profile, cloud))  # a run you start, for contrast
    cloud.scorer = scorer
    name = cloud.fire_schedule(SCHEDULE)
    run = cloud.job(name)
    assert run.tags["amlbatch-schedule"] == SCHEDULE and len(run.children) == 1
    for _ in range(5):
        cloud.advance_job(name)
    assert run.status == "Completed", run.error

    dep = cloud.workspace(profile.workspace.name).deployments[profile.endpoint_name]["default"]["properties"]
    [settings] = seen
    assert settings["miniBatchSize"] == dep["miniBatchSize"] and settings["outputAction"] == "AppendRow"
    assert settings["model"]["assetId"] == dep["model"]["assetId"]
    assert settings["environmentId"] == dep["environmentId"] and settings["outputFileName"] == "predictions.csv"

    # written where an invoked run writes: <output datastore>/<endpoint>/<job>/predictions.csv
    ws = cloud.workspace(profile.workspace.name)
    written = cloud.list_blobs(ws.storage_account, "amlbatch-output", f"{profile.endpoint_name}/{name}/")
    assert written == [f"{profile.endpoint_name}/{name}/predictions.csv"]
    uploaded = sorted(profile.base_dir.joinpath("data").glob("*.csv"))  # the profile's data, as uploaded
    rows = [f"{f.name},{f.stat().st_size}" for f in uploaded]
    assert cloud.get_blob(ws.storage_account, "amlbatch-output", written[0]).decode().splitlines() == rows

    listed = {j.job_id: j for j in jobs.list_jobs(profile, target=target(profile, cloud))}
    assert {i: (j.status, j.scheduled) for i, j in listed.items()} == {
        invoked.job_id: ("Completed", ""), name: ("Completed", SCHEDULE)}
    assert listed[name].output == f"azureml://datastores/amlbatch_output/paths/{profile.endpoint_name}/{name}/"

    # headless, signed in with a service principal in AZURE_* variables
    cloud.service_principals = {"11111111-0000-4000-8000-0000000000c1": "s3cret-for-the-test"}
    monkeypatch.setenv("AZURE_TENANT_ID", cloud.default_tenant)
    monkeypatch.setenv("AZURE_CLIENT_ID", "11111111-0000-4000-8000-0000000000c1")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "s3cret-for-the-test")
    path = str(profile.path)
    assert main(["--profile", path, "--jobs"]) == 0
    out, _ = capfd.readouterr()
    assert re.search(rf"^{re.escape(name)}\s+Completed .*/{re.escape(name)}/  \(scheduled: {SCHEDULE}\)$", out,
                     re.M), out
    assert re.search(rf"^{re.escape(invoked.job_id)}\s+Completed .*/{re.escape(invoked.job_id)}/$", out, re.M), out
    assert main(["--profile", path, "--results", name, "--out", str(tmp_path / "results")]) == 0
    out, _ = capfd.readouterr()
    fetched = tmp_path / "results" / "predictions.csv"
    assert str(fetched) in out and fetched.read_text().splitlines() == rows


def test_a_changed_setting_updates_the_schedules_job(cloud, scheduled):
    profile = reload(scheduled.path, "endpoint.mini_batch_size=2")
    summary, sink = provision(profile, cloud)
    assert summary.outcome == "succeeded"
    assert sink.outcomes()["deployment"] == "updated" and sink.outcomes()["schedule"] == "updated"
    assert sink.finished()["schedule"].detail == "schedule 'amlbatch-schedule': mini_batch_size 10 -> 2"
    _, _, step = definition(cloud, profile)
    assert step["mini_batch_size"] == 2

    cloud.reset_calls()
    assert provision(profile, cloud)[1].outcomes()["schedule"] == "exists"
    assert writes(cloud) == []

    (profile.base_dir / "scorer" / "score.py").write_text("def init():\n    pass\n\n\ndef run(b):\n    return b[:1]\n")
    summary, sink = provision(profile, cloud)
    assert sink.outcomes()["schedule"] == "updated"
    assert "the start time, scorer, model, environment, cluster or data" in sink.finished()["schedule"].detail
    step = definition(cloud, profile)[2]
    assert b"b[:1]" in code_files(cloud, profile, step["task"]["code"].removeprefix("azureml:"))["score.py"]


def test_a_taken_over_schedule_starts_runs_of_its_new_owner(cloud, scheduled, tmp_path):
    guest = reload(write_profile(tmp_path / "guest", HOURLY, name="guest"))  # same names, another profile
    assert run.provision(guest, Collector(), target=target(guest, cloud), adopt=True).outcome == "succeeded"
    name = cloud.fire_schedule(SCHEDULE)
    assert cloud.job(name).tags[TAG_ID] == guest.id
    assert [j.job_id for j in jobs.list_jobs(guest, target=target(guest, cloud))] == [name]
    assert jobs.list_jobs(scheduled, target=target(scheduled, cloud)) == []


def test_start_time_and_time_zone_go_on_the_trigger_as_azure_reads_them(cloud, scheduled):
    profile = reload(scheduled.path, "schedule.time_zone=Europe/Berlin", "schedule.start_time=2027-01-04T08:30:00Z")
    summary, sink = provision(profile, cloud)
    assert sink.outcomes()["schedule"] == "updated", sink.finished()["schedule"]
    assert "time zone UTC -> W. Europe Standard Time" in sink.finished()["schedule"].detail
    trigger = definition(cloud, profile)[0]["trigger"]
    # Azure ML takes Windows zone names, and a start time as the wall clock of that zone
    assert (trigger["timeZone"], trigger["startTime"]) == ("W. Europe Standard Time", "2027-01-04T09:30:00")

    summary, sink = provision(reload(scheduled.path, "schedule.time_zone=Antarctica/Troll"), cloud)
    assert summary.outcome == "failed"
    assert sink.finished()["schedule"].error.startswith("schedule.time_zone: 'Antarctica/Troll' has no Windows")
    # the CLI and the wizard check it before any cloud call
    with pytest.raises(ProfileError, match=r"schedule\.time_zone.*'Antarctica/Troll' has no Windows time zone"):
        run.preflight(reload(scheduled.path, "schedule.time_zone=Antarctica/Troll"))


def test_no_frequency_disables_then_deletes_the_schedule(cloud, scheduled):
    summary, sink = provision(reload(scheduled.path, "schedule.frequency="), cloud)
    assert sink.outcomes()["schedule"] == "updated"
    calls = [(c.method, c.path.rsplit("/", 1)[-1]) for c in writes(cloud) if "/schedules/" in c.path]
    assert calls[-2:] == [("PUT", SCHEDULE), ("DELETE", SCHEDULE)]  # the PUT disables it
    assert SCHEDULE not in cloud.workspace(scheduled.workspace.name).schedules


def test_the_entry_script_runs_the_scorer_as_a_batch_deployment_does(tmp_path):
    """The parallel step's entry script hands the mounted model to the scorer through AZUREML_MODEL_DIR and
    returns exactly what the scorer's run() returns (the demo scorer on its sample data)."""
    code, model = tmp_path / "code", tmp_path / "mounted" / "model"
    source = Path(scorer.__file__).parent
    shutil.copytree(source, code, ignore=shutil.ignore_patterns("model", "__pycache__"))
    shutil.copyfile(ENTRY, code / ENTRY_NAME)
    shutil.copytree(source / "model", model)
    files = [str(f) for f in sample_data.write_sample_files(tmp_path / "data", files=2, rows_per_file=4)]

    def scored(program: str, env: dict[str, str]) -> list[str]:
        done = subprocess.run([sys.executable, "-c", program, json.dumps(files)], cwd=code, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.splitlines()[-1])

    clean = {k: v for k, v in os.environ.items() if not k.startswith("AZUREML_")}
    scheduled = scored(
        "import json, sys; files = json.loads(sys.argv[1]); "
        f"sys.argv = ['driver', '--amlbatch_model_dir', {str(model)!r}, '--amlbatch_scoring_script', 'score.py', "
        "'--logging_level', 'INFO']; import amlbatch_scheduled_entry as e; e.init(); print(json.dumps(e.run(files)))",
        clean)
    deployed = scored("import json, sys; import score; score.init(); "
                      "print(json.dumps(score.run(json.loads(sys.argv[1]))))",
                      {**clean, "AZUREML_MODEL_DIR": str(model)})
    assert scheduled == deployed and len(deployed) == 8
