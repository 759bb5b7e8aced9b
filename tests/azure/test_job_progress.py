"""Following an Azure job reads what its scoring step publishes (the fake writes it in Azure's place: run
artifacts in the workspace artifact store): mini-batch progress, the scoring script's output, and the files
it could not score, with their reasons."""

from __future__ import annotations

import pytest

from engine import events as ev
from engine import jobs
from tests.azure_support import provision, reload, target
from tests.support import Collector

pytestmark = pytest.mark.filterwarnings("ignore::Warning:marshmallow.*", "ignore::Warning:azure.*")


@pytest.fixture
def ready(cloud, profile_path):
    profile = reload(profile_path, "endpoint.mini_batch_size=1")
    summary, sink = provision(profile, cloud)
    assert summary.outcome == "succeeded", sink.finished()
    return profile


def _three_files(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.csv").write_text("x\n1\n2\n")
    (folder / "b.csv").write_text("x\n9\n")
    (folder / "c.csv").write_text("x\n3\n")
    return folder


def test_following_shows_mini_batches_logs_and_failed_files(cloud, ready, tmp_path):
    cloud.file_errors = {"b.csv": "ValueError: column 'x' is not a number"}
    cloud.job_progression = ("Queued", "Running", "Running", "Running", "Running", "Completed")  # runs a while
    sink = Collector()
    job = jobs.submit(ready, sink, input_path=str(_three_files(tmp_path)), target=target(ready, cloud))
    assert job.status == "Completed", job
    assert job.rows == 5  # a.csv 3 lines + c.csv 2 lines; b.csv was skipped by the scorer
    assert job.failures == 1
    assert job.failed_files == [["b.csv", "ValueError: column 'x' is not a number"]]

    progress = [(e.mini_batches_done, e.mini_batches_total) for e in sink.of(ev.JobProgress)]
    assert progress[0] == (1, 3)  # read while the job was Running
    assert progress[-1] == (3, 3)
    last = sink.of(ev.JobProgress)[-1]
    assert (last.files_done, last.files_total, last.rows, last.failures) == (3, 3, 5, 1)

    logs = sink.of(ev.JobLog)
    failed = [e for e in logs if e.source == "failed"]
    assert [e.message for e in failed] == ["b.csv: ValueError: column 'x' is not a number"]
    assert failed[0].level == "warning"
    worker = [e.message for e in logs if e.source == "worker"]
    assert worker == ["scored mini batch 1 of 3", "scored mini batch 2 of 3", "scored mini batch 3 of 3"]
    finished = sink.of(ev.JobFinished)[-1]
    assert (finished.rows, finished.failures) == (5, 1)

    ws = cloud.workspace("amlbatch-ws", "amlbatch-rg")  # where Azure keeps a run's logs
    child = cloud.job(job.job_id).children[0]
    assert f"ExperimentRun/dcid.{child}/logs/job_progress_overview.txt" in cloud.list_blobs(
        ws.storage_account, "azureml", f"ExperimentRun/dcid.{child}/logs/")


def test_a_job_without_published_logs_still_completes(cloud, ready, tmp_path):
    cloud.storage_accounts[cloud.workspace("amlbatch-ws", "amlbatch-rg").storage_account]["containers"].pop(
        "azureml")  # nothing published, nothing to read: the follow does not fail on it
    sink = Collector()
    job = jobs.submit(ready, sink, input_path=str(_three_files(tmp_path)), target=target(ready, cloud))
    assert job.status == "Completed" and job.rows == 7 and job.failures == 0
    assert sink.of(ev.JobProgress)[-1].rows == 7
