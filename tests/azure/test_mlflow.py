"""MLflow models on the azure target, over the fake: registered as mlflow_model, deployed without
code and environment (Azure's documented no-code deployment), scored by the fake as Azure's
MLflow batch scoring does; an unchanged model is a no-op re-run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from engine import jobs
from tests.azure_support import SUB, provision, reload, target, writes
from tests.support import Collector
from tests.support import save_mlflow_model as save_model

pytestmark = pytest.mark.filterwarnings("ignore::Warning:marshmallow.*", "ignore::Warning:azure.*")


@pytest.fixture(scope="module")
def mlflow_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_model(tmp_path_factory.mktemp("mlflow") / "model")


def mlflow_profile(folder: Path, model: Path) -> Path:
    """An azure profile whose scorer folder holds only an MLflow model; a CSV and a Parquet input."""
    shutil.copytree(model, folder / "scorer" / "model")
    (folder / "data").mkdir()
    pd.DataFrame({"a": [0.0, 3.0], "b": [0.0, 3.0]}).to_csv(folder / "data" / "a.csv", index=False)
    pd.DataFrame({"a": [2.5, 0.1, 3.0], "b": [1.0, 0.2, 2.0]}).to_parquet(folder / "data" / "b.parquet")
    path = folder / "ml.toml"
    path.write_text(f'target = "azure"\n[account]\nsubscription_id = "{SUB}"\n[data]\nfiles = ["data/*"]\n'
                    '[scorer]\nfolder = "scorer"\nmodel = "model"\n')
    return path


def test_an_mlflow_model_is_deployed_without_code_and_scored(cloud, tmp_path, mlflow_model):
    profile = reload(mlflow_profile(tmp_path / "p", mlflow_model))
    summary, sink = provision(profile, cloud)
    assert summary.outcome == "succeeded", [(e.step, e.outcome, e.error[:300]) for e in sink.finished().values()]
    assert "MLflow model: no scoring script" in sink.finished()["assets"].detail

    ws = cloud.workspace(profile.workspace.name, profile.workspace.resource_group)
    [model] = ws.assets["models"][profile.scorer.model_name]["versions"].values()
    assert model["properties"]["modelType"] == "mlflow_model"
    assert "environments" not in ws.assets or not ws.assets["environments"]
    deployment = ws.deployments[profile.endpoint_name]["default"]["properties"]
    assert deployment["model"]["assetId"].endswith(f"/models/{profile.scorer.model_name}/versions/{model['name']}")
    assert not deployment.get("codeConfiguration") and not deployment.get("environmentId")

    cloud.reset_calls()
    profile = reload(profile.path)
    summary, sink = provision(profile, cloud)  # unchanged: nothing written
    assert summary.outcome == "succeeded" and set(sink.outcomes().values()) <= {"exists", "skipped"}, sink.outcomes()
    assert writes(cloud) == []

    job = jobs.submit(profile, Collector(), target=target(profile, cloud))
    assert job.status == "Completed" and job.rows == 5, job
    [copied] = jobs.results(profile, job.job_id, tmp_path / "out", target=target(profile, cloud))
    written = pd.read_csv(copied, names=["row", "prediction", "file"])
    assert written.values.tolist() == [[0, 0, "a.csv"], [1, 1, "a.csv"],
                                       [0, 1, "b.parquet"], [1, 0, "b.parquet"], [2, 1, "b.parquet"]]



def test_an_mlflow_model_with_an_azure_schedule_is_refused_before_anything_runs(tmp_path, mlflow_model):
    """The azure schedule's pipeline step runs a scoring script in its environment: an MLflow model has
    neither, so the profile is refused with the field named, not failed halfway."""
    from engine import run
    from engine.errors import ProfileError

    path = mlflow_profile(tmp_path / "p", mlflow_model)
    path.write_text(path.read_text() + '[schedule]\nfrequency = "day"\n')
    with pytest.raises(ProfileError) as caught:
        run.preflight(reload(path))
    assert "schedule.frequency" in str(caught.value) and "MLflow model" in str(caught.value)
