"""Scoring runs on the azure target against the fake: submit, follow, results from the child job,
per-job input upload and output folder, cancel, failures, listing."""

from __future__ import annotations

import threading
import time

import pytest

from engine import events as ev
from engine import jobs, run
from engine.errors import AmlBatchError
from tests.azure_support import provision, reload, target
from tests.support import Collector

pytestmark = pytest.mark.filterwarnings("ignore::Warning:marshmallow.*", "ignore::Warning:azure.*")


@pytest.fixture
def ready(cloud, profile_path):
    profile = reload(profile_path)
    summary, sink = provision(profile, cloud)
    assert summary.outcome == "succeeded", sink.finished()
    return profile


def test_submit_follow_download_preview(cloud, ready, tmp_path):
    sink = Collector()
    job = jobs.submit(ready, sink, target=target(ready, cloud))
    assert job.status == "Completed", job
    assert job.rows == 15  # 3 files x 5 non-empty lines, one row each from the fake's scorer
    assert job.output == (f"azureml://datastores/amlbatch_output/paths/{ready.endpoint_name}/{job.job_id}/")
    assert job.input == "azureml://datastores/amlbatch_input/paths/data"

    kinds = [type(e) for e in sink.events]
    assert kinds[0] is ev.JobSubmitted and kinds[-1] is ev.JobFinished
    statuses = [e.status for e in sink.of(ev.JobStatus)]
    assert statuses[-1] == "Completed" and len(statuses) == len(set(statuses))
    assert sink.of(ev.JobLog)

    fake_job = cloud.job(job.job_id)  # our job name is the Azure job name: no duplicate from retries
    assert fake_job.kind == "batch" and len(fake_job.children) == 1
    assert fake_job.output_uri.rstrip("/").endswith(f"{ready.endpoint_name}/{job.job_id}")

    cloud.reset_calls()
    copied = jobs.results(ready, job.job_id, tmp_path / "out", target=target(ready, cloud))
    assert [p.name for p in copied] == ["predictions.csv"]
    assert len(copied[0].read_text().splitlines()) == 15
    assert cloud.calls_matching("GET", "/children")  # found through the child job

    rows = jobs.preview(ready, job.job_id, 4, target=target(ready, cloud))
    assert len(rows) == 4 and rows[0].startswith("part-0.csv,1,")

    listed = jobs.list_jobs(ready, target=target(ready, cloud))
    assert [j.job_id for j in listed] == [job.job_id]
    assert listed[0].status == "Completed" and listed[0].submitted > 0
    assert jobs.get_job(ready, job.job_id, target=target(ready, cloud)).status == "Completed"


def test_each_job_gets_a_fresh_output_folder(cloud, ready):
    first = jobs.submit(ready, Collector(), target=target(ready, cloud))
    second = jobs.submit(ready, Collector(), target=target(ready, cloud))
    assert first.output != second.output
    assert first.rows == second.rows == 15


def test_submit_a_local_folder_uploads_it_under_a_per_job_prefix(cloud, ready, tmp_path):
    folder = tmp_path / "extra"
    folder.mkdir()
    (folder / "a.csv").write_text("x\n1\n2\n")
    (folder / "b.csv").write_text("x\n3\n")
    job = jobs.submit(ready, Collector(), input_path=str(folder), target=target(ready, cloud))
    assert job.input == f"azureml://datastores/amlbatch_input/paths/jobs/{job.job_id}/"
    ws = cloud.workspace("amlbatch-ws", "amlbatch-rg")
    assert cloud.list_blobs(ws.storage_account, "amlbatch-input", f"jobs/{job.job_id}/") == [
        f"jobs/{job.job_id}/a.csv", f"jobs/{job.job_id}/b.csv"]
    assert job.status == "Completed" and job.rows == 5


def test_canceling_while_following_cancels_the_job(cloud, ready):
    cloud.job_auto_advance = False  # the job stays Queued until canceled
    cancel = run.CancelToken()
    sink = Collector()
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault(
        "job", jobs.submit(ready, sink, cancel, target=target(ready, cloud, cancel=cancel))))
    thread.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not sink.of(ev.JobStatus):
        time.sleep(0.01)
    cancel.cancel()
    thread.join(30)
    job = result["job"]
    assert job.status == "Canceled"
    assert cloud.job(job.job_id).status == "Canceled"
    assert cloud.calls_matching("POST", f"/jobs/{job.job_id}/cancel")
    assert any("cancel requested" in e.message for e in sink.of(ev.JobLog))


def test_a_failed_job_says_where_its_logs_are(cloud, ready):
    def broken(files, deployment):
        raise ValueError("bad input")

    cloud.scorer = broken
    sink = Collector()
    job = jobs.submit(ready, sink, target=target(ready, cloud))
    assert job.status == "Failed"
    assert "ml.azure.com" in job.error
    finished = sink.of(ev.JobFinished)[-1]
    assert finished.status == "Failed" and finished.error


def test_a_dropped_connection_on_invoke_makes_one_job(cloud, ready):
    cloud.inject_failure("POST", "/jobs", host_contains="inference.ml.azure.com", kind="connection", times=1)
    job = jobs.submit(ready, Collector(), target=target(ready, cloud))
    assert job.status == "Completed"
    assert len([j for j in cloud.jobs_all() if j.kind == "batch"]) == 1


def test_submit_before_provisioning_says_what_to_do(cloud, profile_path):
    profile = reload(profile_path)
    cloud.add_resource_group("amlbatch-rg", "westeurope")
    cloud.add_workspace("amlbatch-ws", "amlbatch-rg", "westeurope")
    with pytest.raises(AmlBatchError, match="run the provisioning"):
        jobs.submit(profile, Collector(), target=target(profile, cloud))


def test_unknown_job_is_a_clear_error(cloud, ready):
    with pytest.raises(AmlBatchError, match="no scoring run 'nope'"):
        jobs.get_job(ready, "nope", target=target(ready, cloud))
