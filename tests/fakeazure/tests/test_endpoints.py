"""Batch endpoints, deployments, invocation, jobs (progression, children, download, cancel) and schedules."""

from __future__ import annotations

import pytest
from azure.ai.ml import Input, Output, command, dsl
from azure.ai.ml.entities import (AmlCompute, BatchEndpoint, BatchRetrySettings, CodeConfiguration, Environment,
                                  JobSchedule, Model, ModelBatchDeployment, ModelBatchDeploymentSettings,
                                  RecurrenceTrigger)
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from tests.fakeazure import default_scorer


@pytest.fixture
def deployed(cloud, ml, ws, tmp_path):
    """cpu-1 cluster, env/model/code, endpoint 'score-ep' with default deployment 'blue', input data."""
    ml.compute.begin_create_or_update(AmlCompute(name="cpu-1", size="Standard_DS3_v2", max_instances=2)).result()
    env = ml.environments.create_or_update(Environment(name="env", version="1", image="python:3.11"))
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "m.pkl").write_bytes(b"model")
    model = ml.models.create_or_update(Model(name="clf", version="1", path=tmp_path / "model"))
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "score.py").write_text("def init(): pass\ndef run(b): return b\n")
    ml.batch_endpoints.begin_create_or_update(BatchEndpoint(name="score-ep", description="scores")).result()
    ml.batch_deployments.begin_create_or_update(ModelBatchDeployment(
        name="blue", endpoint_name="score-ep", model=model, environment=env, compute="cpu-1",
        code_configuration=CodeConfiguration(code=str(tmp_path / "code"), scoring_script="score.py"),
        settings=ModelBatchDeploymentSettings(mini_batch_size=10, output_file_name="predictions.csv",
                                              retry_settings=BatchRetrySettings(max_retries=3, timeout=30)),
    )).result()
    endpoint = ml.batch_endpoints.get("score-ep")
    endpoint.defaults.deployment_name = "blue"
    ml.batch_endpoints.begin_create_or_update(endpoint).result()
    container = ws.datastores["workspaceblobstore"]["properties"]["containerName"]
    cloud.put_blob(ws.storage_account, container, "input/day1/a.csv", "1,2\n3,4\n")
    cloud.put_blob(ws.storage_account, container, "input/day1/b.csv", "5,6\n")
    return container


INPUT = Input(type="uri_folder", path="azureml://datastores/workspaceblobstore/paths/input/day1/")


def test_endpoint_and_default_deployment(cloud, ml, ws, deployed):
    ep = ml.batch_endpoints.get("score-ep")
    assert ep.defaults.deployment_name == "blue"
    assert ep.scoring_uri == "https://score-ep.eastus.inference.ml.azure.com/jobs"
    assert ep.provisioning_state == "Succeeded"
    dep = ml.batch_deployments.get("blue", endpoint_name="score-ep")
    assert dep.compute.endswith("/computes/cpu-1") and dep.output_file_name == "predictions.csv"
    assert [d.name for d in ml.batch_deployments.list(endpoint_name="score-ep")] == ["blue"]
    assert [e.name for e in ml.batch_endpoints.list()] == ["score-ep"]


def test_endpoint_names_are_unique_per_region(cloud, ml, deployed):
    cloud.taken_endpoint_names.add("popular-name")
    with pytest.raises(HttpResponseError, match="is not available. Endpoint names must be unique within the region"):
        ml.batch_endpoints.begin_create_or_update(BatchEndpoint(name="popular-name")).result()
    other = cloud.add_workspace("ws-other", "rg-other", "eastus")
    from azure.ai.ml import MLClient
    from .conftest import SUB
    ml_other = MLClient(cloud.credential(), SUB, "rg-other", other.name)
    with pytest.raises(HttpResponseError, match="not available"):
        ml_other.batch_endpoints.begin_create_or_update(BatchEndpoint(name="score-ep")).result()


def test_deployment_references_are_checked(ml, deployed):
    dep = ml.batch_deployments.get("blue", endpoint_name="score-ep")
    dep.name, dep.compute = "green", "no-such-cluster"
    with pytest.raises(HttpResponseError, match="Compute 'no-such-cluster'"):
        ml.batch_deployments.begin_create_or_update(dep).result()


def test_invoke_without_default_deployment_fails(ml, deployed):
    ml.batch_endpoints.begin_create_or_update(BatchEndpoint(name="empty-ep")).result()
    with pytest.raises(Exception, match="No valid deployments to route to|No deployment exists"):
        ml.batch_endpoints.invoke(endpoint_name="empty-ep", input=INPUT)


def test_invoke_progresses_and_outputs_come_from_the_child(cloud, ml, deployed, tmp_path):
    job = ml.batch_endpoints.invoke(endpoint_name="score-ep", input=INPUT)
    assert job.status == "Queued"
    assert [ml.jobs.get(job.name).status for _ in range(3)] == ["Running", "Completed", "Completed"]
    children = list(ml.jobs.list(parent_job_name=job.name))
    assert len(children) == 1 and children[0].status == "Completed"
    ml.jobs.download(children[0].name, output_name="score", download_path=tmp_path / "out")
    rows = (tmp_path / "out" / "named-outputs" / "score" / "predictions.csv").read_text().splitlines()
    assert rows == ["a.csv,1,{}".format(rows[0].split(",")[2]), rows[1], rows[2]] and len(rows) == 3
    assert [r.split(",")[0] for r in rows] == ["a.csv", "a.csv", "b.csv"]
    assert cloud.calls_matching("POST", "/jobs", host_contains="inference.ml.azure.com")
    assert job.name in [j.name for j in ml.batch_endpoints.list_jobs("score-ep")]


def test_custom_scorer_output_location_and_failure(cloud, ml, ws, deployed):
    cloud.scorer = lambda files, deployment: "".join(f"{n}\n" for n, _ in files)
    out = Output(type="uri_file", path="azureml://datastores/workspaceblobstore/paths/results/run-1/out.csv")
    job = ml.batch_endpoints.invoke(endpoint_name="score-ep", input=INPUT, outputs={"score": out})
    cloud.set_job_status(job.name, "Completed")
    assert ml.jobs.get(job.name).status == "Completed"
    assert cloud.get_blob(ws.storage_account, deployed, "results/run-1/out.csv") == b"a.csv\nb.csv\n"

    cloud.scorer = default_scorer
    empty = Input(type="uri_folder", path="azureml://datastores/workspaceblobstore/paths/nothing-here/")
    job = ml.batch_endpoints.invoke(endpoint_name="score-ep", input=empty)
    statuses = [ml.jobs.get(job.name).status for _ in range(2)]
    assert statuses == ["Running", "Failed"]
    assert "No input files" in cloud.job(job.name).error["message"]

    job = ml.batch_endpoints.invoke(endpoint_name="score-ep", input=INPUT)
    cloud.set_job_status(job.name, "Failed", error="out of memory")
    assert ml.jobs.get(job.name).status == "Failed"


def test_cancel(cloud, ml, deployed):
    job = ml.batch_endpoints.invoke(endpoint_name="score-ep", input=INPUT)
    ml.jobs.begin_cancel(job.name).result()
    assert ml.jobs.get(job.name).status == "Canceled"
    assert cloud.job(job.name).ended is not None


def test_endpoint_delete_removes_deployments_but_not_jobs(cloud, ml, deployed):
    job = ml.batch_endpoints.invoke(endpoint_name="score-ep", input=INPUT)
    ml.batch_deployments.begin_delete(name="blue", endpoint_name="score-ep").result()
    assert ml.batch_endpoints.get("score-ep").defaults.deployment_name is None
    ml.batch_endpoints.begin_delete("score-ep").result()
    with pytest.raises(ResourceNotFoundError):
        ml.batch_endpoints.get("score-ep")
    assert ml.jobs.get(job.name).name == job.name


def test_schedule_create_disable_delete(cloud, ml, deployed, tmp_path):
    step = command(name="score", code=str(tmp_path / "code"), command="python score.py ${{inputs.data}}",
                   environment="azureml:env:1", inputs={"data": Input(type="uri_folder")}, compute="cpu-1")

    @dsl.pipeline(compute="cpu-1")
    def nightly(data):
        step(data=data)

    schedule = JobSchedule(name="nightly", trigger=RecurrenceTrigger(frequency="hour", interval=6),
                           create_job=nightly(data=INPUT))
    created = ml.schedules.begin_create_or_update(schedule).result()
    assert created.is_enabled and created.trigger.frequency == "hour" and created.trigger.interval == 6
    assert ml.schedules.begin_disable("nightly").result().is_enabled is False
    assert ml.schedules.get("nightly").is_enabled is False
    assert [s.name for s in ml.schedules.list(list_view_type="all")] == ["nightly"]
    assert [s.name for s in ml.schedules.list()] == []  # the default view lists enabled schedules only
    ml.schedules.begin_delete("nightly").result()
    with pytest.raises(ResourceNotFoundError):
        ml.schedules.get("nightly")


def test_jobs_can_be_held_and_stepped(cloud, ml, deployed):
    cloud.job_auto_advance = False
    job = ml.batch_endpoints.invoke(endpoint_name="score-ep", input=INPUT)
    assert [ml.jobs.get(job.name).status for _ in range(2)] == ["Queued", "Queued"]
    assert cloud.advance_job(job.name) == "Running"
    assert ml.jobs.get(job.name).status == "Running"
    assert cloud.advance_job(job.name) == "Completed"
    child = cloud.job(cloud.job(job.name).children[0])
    assert child.status == "Completed" and child.kind == "batch-child"
