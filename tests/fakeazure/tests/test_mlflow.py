"""MLflow models in the fake as in Azure: registered as mlflow_model, deployed without scoring script
and environment (only they may be), and scored by Azure's own MLflow batch scoring."""

from __future__ import annotations

import pytest
from azure.ai.ml import Input
from azure.ai.ml.constants import AssetTypes
from azure.ai.ml.entities import AmlCompute, BatchEndpoint, Model, ModelBatchDeployment
from azure.core.exceptions import HttpResponseError



@pytest.fixture
def endpoint(ml):
    ml.compute.begin_create_or_update(AmlCompute(name="cpu-1", size="Standard_DS3_v2", max_instances=2)).result()
    ml.batch_endpoints.begin_create_or_update(BatchEndpoint(name="mlflow-ep")).result()
    return "mlflow-ep"


def deploy(ml, endpoint: str, model) -> None:
    ml.batch_deployments.begin_create_or_update(ModelBatchDeployment(
        name="bare", endpoint_name=endpoint, model=model, compute="cpu-1"), skip_script_validation=True).result()


def test_a_custom_model_needs_a_scoring_script_and_an_environment(ml, endpoint, tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "m.pkl").write_bytes(b"model")
    model = ml.models.create_or_update(Model(name="clf", version="1", path=tmp_path / "model"))
    with pytest.raises(HttpResponseError) as caught:
        deploy(ml, endpoint, model)
    assert "scoring script (codeConfiguration) and an environment are required" in str(caught.value)


def test_an_mlflow_model_deploys_without_code_and_azure_scores_it(cloud, ml, ws, endpoint, tmp_path):
    from tests.support import save_mlflow_model as save_model

    model = ml.models.create_or_update(Model(name="clf", version="1", path=save_model(tmp_path / "model"),
                                             type=AssetTypes.MLFLOW_MODEL))
    assert model.type == AssetTypes.MLFLOW_MODEL
    deploy(ml, endpoint, model)
    container = ws.datastores["workspaceblobstore"]["properties"]["containerName"]
    cloud.put_blob(ws.storage_account, container, "in/x.csv", "a,b\n0,0\n3,3\n")
    job = ml.batch_endpoints.invoke(endpoint_name=endpoint, deployment_name="bare",
                                    input=Input(type="uri_folder", path="azureml://datastores/workspaceblobstore/paths/in/"))
    statuses = [ml.jobs.get(job.name).status for _ in range(len(cloud.job_progression))]  # one step per GET
    assert statuses[-1] == "Completed", statuses
    child = next(iter(ml.jobs.list(parent_job_name=job.name)))
    ml.jobs.download(child.name, output_name="score", download_path=str(tmp_path / "out"))
    [predictions] = (tmp_path / "out").rglob("predictions.csv")
    assert predictions.read_text().splitlines() == ["0,0,x.csv", "1,1,x.csv"]
