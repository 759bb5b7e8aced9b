"""The local service (`--serve`) over real HTTP on 127.0.0.1: Azure's batch endpoint REST API behind
a bearer token, runs that are the same runs --jobs and --results see, the schedule fired on an
injected clock, and a clean stop on Ctrl+C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from engine import jobs
from engine.profile import load
from engine.serve import LocalService
from tui.cli import main

SCORER = '''import os


def init():
    pass


def run(mini_batch):
    rows = []
    for path in mini_batch:
        with open(path) as handle:
            next(handle)
            rows += [f"{os.path.basename(path)},{line.strip()}" for line in handle if line.strip()]
    return rows
'''


def azure_body(uri: str, **extra: object) -> dict:
    """What azure-ai-ml's batch_endpoints.invoke sends for a uri_folder input."""
    return {"properties": {"inputData": {"UriFolder": {"jobInputType": "UriFolder", "uri": uri}}, **extra}}


@pytest.fixture
def profile_path(make_profile) -> Path:
    path = make_profile(files=3)
    (path.parent / "myscorer" / "score.py").write_text(SCORER)
    assert main(["--profile", str(path), "--yes"]) == 0
    return path


@pytest.fixture
def service(profile_path: Path):
    said: list[str] = []
    served = LocalService(load(str(profile_path)), said.append, port=0)
    served.start()
    served.said = said
    yield served
    served.stop()


def auth(service: LocalService) -> dict[str, str]:
    return {"Authorization": f"Bearer {service.token}"}


def finished(service: LocalService, name: str) -> dict:
    """The job's resource once it has ended (a local run of three tiny files takes about a second)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = requests.get(f"{service.url}/jobs/{name}", headers=auth(service), timeout=10).json()
        if job["properties"]["status"] in ("Completed", "Failed", "Canceled"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {name} did not end")


def results(job_output: str) -> list[str]:
    return sorted((Path(job_output) / "predictions.csv").read_text().splitlines())


def test_without_the_token_every_path_answers_401_in_azures_error_shape(service: LocalService) -> None:
    for method, path in (("POST", "/jobs"), ("GET", "/jobs"), ("GET", "/jobs/anything")):
        for headers in ({}, {"Authorization": "Bearer not-the-token"}, {"Authorization": service.token}):
            answer = requests.request(method, service.url + path, headers=headers, json={}, timeout=10)
            assert answer.status_code == 401
            assert answer.json()["error"]["code"] == "Unauthorized" and "bearer token" in answer.json()["error"]["message"]
    assert jobs.list_jobs(service.profile) == []  # nothing ran
    unknown = requests.get(f"{service.url}/score", headers=auth(service), timeout=10)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "NotFound"
    wrong_method = requests.delete(f"{service.url}/jobs", headers=auth(service), timeout=10)
    assert wrong_method.status_code == 405 and wrong_method.json()["error"]["code"] == "MethodNotAllowed"


def test_an_invocation_with_the_profiles_input_runs_like_submit(service: LocalService, profile_path: Path,
                                                                capsys: pytest.CaptureFixture) -> None:
    from engine.deployment import input_uri

    uri = input_uri(service.profile)
    answer = requests.post(f"{service.url}/jobs", json=azure_body(uri), headers=auth(service), timeout=30)
    assert answer.status_code == 200
    job = answer.json()
    name = job["name"]
    assert job["type"] == "Microsoft.MachineLearningServices/workspaces/batchEndpoints/jobs"
    assert job["id"].endswith(f"/batchEndpoints/{service.profile.endpoint_name}/jobs/{name}")
    assert job["properties"]["status"] in ("Queued", "Running")
    assert job["properties"]["inputData"]["input_data"]["uri"] == uri

    done = finished(service, name)
    assert done["properties"]["status"] == "Completed"
    assert done["properties"]["properties"]["amlbatch.rows"] == "3"
    listed = requests.get(f"{service.url}/jobs", headers=auth(service), timeout=10).json()
    assert [j["name"] for j in listed["value"]] == [name] and listed["nextLink"] is None

    # the same run --jobs lists; and --submit scores the same rows
    [served] = jobs.list_jobs(service.profile)
    assert served.job_id == name and served.input == uri
    assert main(["--profile", str(profile_path), "--yes", "--submit"]) == 0
    submitted = next(j for j in jobs.list_jobs(service.profile) if j.job_id != name)
    assert results(served.output) == results(submitted.output) == ["part-0.csv,0,0", "part-1.csv,1,2", "part-2.csv,2,4"]
    capsys.readouterr()
    assert main(["--profile", str(profile_path), "--jobs"]) == 0
    assert name in capsys.readouterr().out

    # and the service said every state the run went through (its watcher looks 4 times a second)
    deadline = time.monotonic() + 30
    while not any(": Completed (" in line for line in service.said) and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = [line for line in service.said if name in line]
    assert lines[0].startswith(f"run {name} started by an invocation")
    assert lines[-1].startswith(f"run {name}: Completed (3 rows, 0 failed files")


def users_client(scoring_uri: str, token: str, data: str) -> dict:
    """A user's script, written from Azure's REST samples with plain `requests`: POST the scoring URI,
    take the job's name from the end of its id, poll <scoring URI>/<name> for properties.status."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    body = {"properties": {"InputData": {"mnistinput": {"JobInputType": "UriFolder", "Uri": data}}}}
    answer = requests.post(scoring_uri, json=body, headers=headers, timeout=30)
    answer.raise_for_status()
    name = answer.json()["id"].rsplit("/", 1)[-1]
    for _ in range(600):
        job = requests.get(f"{scoring_uri}/{name}", headers=headers, timeout=10)
        job.raise_for_status()
        if job.json()["properties"]["status"] in ("Completed", "Failed", "Canceled"):
            return job.json()
        time.sleep(0.1)
    raise AssertionError(f"job {name} did not end")


def test_a_users_own_client_runs_unchanged(service: LocalService) -> None:
    """The same client runs against Azure (next test); here also the listing azure-ai-ml's list_jobs
    reads (the data-plane path), with the standard library only."""
    from engine.deployment import input_uri

    job = users_client(f"{service.url}/jobs", service.token, input_uri(service.profile))
    assert job["properties"]["status"] == "Completed"
    p = service.profile
    listing = (f"{service.url}/subscriptions/local/resourceGroups/{p.workspace.resource_group}/providers/"
               f"Microsoft.MachineLearningServices/workspaces/{p.workspace.name}/batchEndpoints/"
               f"{p.endpoint_name}/jobs?api-version=2020-09-01-dataplanepreview")
    request = urllib.request.Request(listing, headers={"Authorization": f"Bearer {service.token}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert [j["name"] for j in json.load(answer)["value"]] == [job["name"]]


@pytest.mark.filterwarnings("ignore::Warning:marshmallow.*", "ignore::Warning:azure.*")
def test_the_same_client_runs_against_azure(cloud, tmp_path: Path) -> None:
    """The fake of Azure's endpoint (tests/fakeazure) answers the same calls in Azure's shapes."""
    from engine.deployment import input_uri
    from tests.azure_support import provision, reload, write_profile

    profile = reload(write_profile(tmp_path / "project"))
    summary, sink = provision(profile, cloud)
    assert summary.outcome == "succeeded", sink.finished()
    token = cloud.credential().get_token("https://ml.azure.com/.default").token
    scoring_uri = f"https://{profile.endpoint_name}.{profile.workspace.location}.inference.ml.azure.com/jobs"
    job = users_client(scoring_uri, token, input_uri(profile))
    assert job["properties"]["status"] == "Completed"
    assert job["id"].endswith(f"/batchEndpoints/{profile.endpoint_name}/jobs/{job['name']}")


def test_inputs_are_read_only_from_the_profiles_own_places(service: LocalService, profile_path: Path,
                                                           tmp_path_factory: pytest.TempPathFactory) -> None:
    data = profile_path.parent / "data"
    one_file = requests.post(f"{service.url}/jobs", headers=auth(service), timeout=30,
                             json=azure_body(str(data / "part-1.csv"), name="just-part-1"))
    assert one_file.status_code == 200 and one_file.json()["name"] == "just-part-1"
    assert one_file.json()["properties"]["inputData"]["input_data"]["jobInputType"] == "UriFile"
    done = finished(service, "just-part-1")
    assert results(done["properties"]["properties"]["amlbatch.output"]) == ["part-1.csv,1,2"]
    in_datastore = requests.post(f"{service.url}/jobs", headers=auth(service), timeout=30,
                                 json=azure_body("azureml://datastores/amlbatch_input/paths/data/part-2.csv"))
    done = finished(service, in_datastore.json()["name"])
    assert results(done["properties"]["properties"]["amlbatch.output"]) == ["part-2.csv,2,4"]

    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (elsewhere / "secret.csv").write_text("id\n1\n")
    refused = {
        str(elsewhere / "secret.csv"): (403, "outside the folders this profile reads"),
        str(profile_path.parent / "myscorer" / "score.py"): (403, "outside the folders this profile reads"),
        f"file://{elsewhere}": (403, "outside the folders this profile reads"),
        str(data / ".." / ".." / elsewhere.name): (403, "outside the folders this profile reads"),
        "azureml://datastores/someone_else/paths/data": (400, "is not the profile's input datastore"),
        "azureml://datastores/amlbatch_input/paths/../../../..": (400, "no such file or folder in datastore"),
        "https://example.blob.core.windows.net/data/": (400, "it does not fetch"),
        "data/part-1.csv": (400, "must be absolute"),
    }
    for uri, (status, words) in refused.items():
        answer = requests.post(f"{service.url}/jobs", json=azure_body(uri), headers=auth(service), timeout=30)
        assert (answer.status_code, answer.json()["error"]["code"]) == (status, "Forbidden" if status == 403 else
                                                                        "UserError"), uri
        assert words in answer.json()["error"]["message"], uri
    again = requests.post(f"{service.url}/jobs", headers=auth(service), timeout=30,
                          json=azure_body(str(data), name="just-part-1"))
    assert again.status_code == 409 and "already exists" in again.json()["error"]["message"]
    wrong = requests.post(f"{service.url}/jobs", json=azure_body(str(data)), timeout=30,
                          headers={**auth(service), "azureml-model-deployment": "blue"})
    assert wrong.status_code == 400 and "Deployment 'blue' was not found" in wrong.json()["error"]["message"]
    missing = requests.get(f"{service.url}/jobs/no-such-job", headers=auth(service), timeout=10)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "UserError"
    assert [j.job_id for j in jobs.list_jobs(service.profile)][0] == "just-part-1"
    assert len(jobs.list_jobs(service.profile)) == 2  # nothing refused ran


def test_the_token_is_never_stored(service: LocalService) -> None:
    from engine.deployment import input_uri

    answer = requests.post(f"{service.url}/jobs", json=azure_body(input_uri(service.profile)),
                           headers=auth(service), timeout=30)
    finished(service, answer.json()["name"])
    home = Path(os.environ["AMLBATCH_HOME"])
    for path in home.rglob("*"):
        if path.is_file():
            assert service.token.encode() not in path.read_bytes(), path


def test_an_unprovisioned_endpoint_is_refused_in_one_line(make_profile, capsys: pytest.CaptureFixture) -> None:
    path = make_profile()
    assert main(["--profile", str(path), "--serve", "--port", "0"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"amlbatch: endpoint '{load(str(path)).endpoint_name}' of profile 'test' is not provisioned "
                   f"yet: run `amlbatch --profile test --yes` first"]


class Clock:
    """The service's clock in a test: time moves only when the test says."""

    def __init__(self, t: datetime) -> None:
        self.t, self.moved = t, threading.Condition()

    def now(self) -> datetime:
        with self.moved:
            return self.t

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        with self.moved:
            until = self.t + timedelta(seconds=seconds)
            while self.t < until and not stop.is_set():
                self.moved.wait(0.05)
        return stop.is_set()

    def advance(self, delta: timedelta) -> None:
        with self.moved:
            self.t += delta
            self.moved.notify_all()


def test_the_schedule_fires_runs_that_are_the_profiles_runs(make_profile) -> None:
    path = make_profile('\n[schedule]\nfrequency = "minute"\ninterval = 10\n'
                        'start_time = "2026-03-29T01:50:00"\ntime_zone = "Europe/Berlin"\n')
    (path.parent / "myscorer" / "score.py").write_text(SCORER)
    assert main(["--profile", str(path), "--yes"]) == 0
    clock = Clock(datetime(2026, 3, 29, 0, 45, tzinfo=timezone.utc))  # 01:45 CET, 5 minutes before the start
    said: list[str] = []
    service = LocalService(load(str(path)), said.append, port=0, clock=clock)
    service.start()
    try:
        clock.advance(timedelta(minutes=5))
        deadline = time.monotonic() + 60
        while not any(": Completed" in line for line in said) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        service.stop()
    [run] = jobs.list_jobs(service.profile)
    assert run.status == "Completed" and run.rows == 3
    assert said[0].startswith(f"Serving endpoint '{service.profile.endpoint_name}' of profile 'test' (local "
                              f"target) at {service.url}")
    assert next(line for line in said if line.startswith("schedule:")) == ("schedule: every 10 minutes from 2026-03-29T01:50:00+01:00 (Europe/Berlin); "
                       "next run at 2026-03-29 01:50:00 CET")
    assert f"run {run.job_id} started by the schedule (input: azureml://datastores/amlbatch_input/paths/data): " \
           "Queued" in said
    assert "schedule: next run at 2026-03-29 03:00:00 CEST" in said  # 10 minutes later, past the DST jump


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is a console event on Windows")
def test_ctrl_c_stops_the_service_cleanly_with_130(profile_path: Path) -> None:
    """With --yes it provisions first (nothing to change here), then serves until Ctrl+C."""
    process = subprocess.Popen([sys.executable, "-m", "tui.cli", "--profile", str(profile_path), "--yes", "--serve",
                                "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               cwd=Path(__file__).parents[2])
    try:
        lines = []
        while not any("token:" in line for line in lines):
            line = process.stdout.readline()
            assert line, process.stderr.read()
            lines.append(line)
        url = next(word for line in lines for word in line.split() if word.startswith("http://127.0.0.1:"))
        token = next(line for line in lines if "token:" in line).split()[2]
        assert requests.get(f"{url}/jobs", headers={"Authorization": f"Bearer {token}"}, timeout=10).json() == \
            {"value": [], "nextLink": None}
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    assert "Stopped the service." in out and "Traceback" not in err
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/jobs", timeout=5)


def test_the_local_schedule_record_follows_start_time_and_time_zone(make_profile) -> None:
    from engine import run
    from tests.support import Collector

    path = make_profile('\n[schedule]\nfrequency = "day"\nstart_time = "2026-03-28T09:00:00"\n')
    sink = Collector()
    run.provision(load(str(path)), sink)
    assert sink.finished()["schedule"].detail == "schedule 'amlbatch-schedule' every 1 day(s) from 2026-03-28T09:00:00"
    sink = Collector()
    run.provision(load(str(path), ["schedule.time_zone=Europe/Berlin"]), sink)
    assert sink.outcomes()["schedule"] == "updated"
    assert sink.finished()["schedule"].detail.endswith(
        "every 1 day(s) from 2026-03-28T09:00:00 -> every 1 day(s) from 2026-03-28T09:00:00 (Europe/Berlin)")


def test_a_bad_or_taken_port_is_one_line_naming_it(profile_path: Path, capsys: pytest.CaptureFixture) -> None:
    import socket

    assert main(["--profile", str(profile_path), "--serve", "--port", "70000"]) == 2
    assert capsys.readouterr().err == "amlbatch: --port: a port number from 0 to 65535 (0: any free one), not 70000\n"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["--profile", str(profile_path), "--serve", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"amlbatch: --port {port}: cannot listen on 127.0.0.1:{port} (") and \
        err.endswith("choose another port with --port N\n") and err.count("\n") == 1


def test_an_azure_profile_is_refused_naming_its_target(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from tests.azure_support import write_profile

    path = write_profile(tmp_path / "project")
    assert main(["--profile", str(path), "--serve"]) == 2
    assert capsys.readouterr().err == ("amlbatch: az.toml: target: --serve runs the local target's service; the "
                                       "'azure' target's endpoint is served by Azure (its scoring URI)\n")
