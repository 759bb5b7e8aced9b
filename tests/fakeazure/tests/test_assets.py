"""Datastores (secrets only via listSecrets) and versioned assets with SDK-internal uploads."""

from __future__ import annotations

import pytest
from azure.ai.ml.entities import (AccountKeyConfiguration, AzureBlobDatastore, CodeConfiguration, Environment,
                                  Model)
from azure.ai.ml.entities._assets._artifacts.code import Code
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError


def test_datastore_secrets_only_from_list_secrets(cloud, ml, ws):
    key = cloud.account_key(ws.storage_account)
    ml.datastores.create_or_update(AzureBlobDatastore(
        name="inputs", account_name=ws.storage_account, container_name="input",
        credentials=AccountKeyConfiguration(account_key=key)))
    stored = cloud.resource(ws.child_id("datastores", "inputs"))
    assert key not in repr(stored)
    got = ml.datastores.get("inputs")
    assert (got.account_name, got.container_name) == (ws.storage_account, "input")
    assert got.credentials.type == "account_key" and got.credentials.account_key is None
    assert ml.datastores.get("inputs", include_secrets=True).credentials.account_key == key
    assert cloud.calls_matching("POST", "/datastores/inputs/listSecrets")
    default = ml.datastores.get_default(include_secrets=True)
    assert default.name == "workspaceblobstore" and default.credentials.account_key == key


def test_identity_datastore_has_no_secrets(cloud, ml, ws):
    ml.datastores.create_or_update(AzureBlobDatastore(name="outputs", account_name=ws.storage_account,
                                                      container_name="output"))
    ds = ml.datastores.get("outputs", include_secrets=True)
    assert str(ds.credentials.type).lower().endswith("none")
    assert not cloud.calls_matching("POST", "/datastores/outputs/listSecrets")
    assert sorted(d.name for d in ml.datastores.list()) == [
        "outputs", "workspaceartifactstore", "workspaceblobstore", "workspacefilestore", "workspaceworkingdirectory"]
    with pytest.raises(ResourceNotFoundError):
        ml.datastores.get("missing")
    ml.datastores.delete("outputs")
    with pytest.raises(ResourceNotFoundError):
        ml.datastores.get("outputs")


def test_environment_versions(ml):
    env = ml.environments.create_or_update(Environment(name="score-env", version="3", image="python:3.11-slim",
                                                       conda_file={"dependencies": ["python=3.11"]}))
    assert env.version == "3" and env.id.endswith("/environments/score-env/versions/3")
    assert ml.environments.get("score-env", version="3").image == "python:3.11-slim"
    assert ml.environments.create_or_update(Environment(name="score-env", version="3",
                                                        image="python:3.11-slim",
                                                        conda_file={"dependencies": ["python=3.11"]})).version == "3"
    with pytest.raises(HttpResponseError, match="already exists with different image"):
        ml.environments.create_or_update(Environment(name="score-env", version="3", image="python:3.12"))
    ml.environments.create_or_update(Environment(name="score-env", version="4", image="python:3.12"))
    assert [e.version for e in ml.environments.list(name="score-env")] == ["4", "3"]
    assert ml.environments.get("score-env", label="latest").version == "4"


def test_model_upload_goes_to_the_workspace_blob_store(cloud, ml, ws, tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(b"\x00\x01weights")
    model = ml.models.create_or_update(Model(name="clf", version="1", path=folder))
    assert model.version == "1" and "workspaceblobstore" in model.path
    container = ws.datastores["workspaceblobstore"]["properties"]["containerName"]
    uploaded = [b for b in cloud.list_blobs(ws.storage_account, container) if b.endswith("weights.bin")]
    assert len(uploaded) == 1
    assert cloud.get_blob(ws.storage_account, container, uploaded[0]) == b"\x00\x01weights"
    assert ml.models.get("clf", version="1").path == model.path


def test_code_upload_uses_pending_upload_and_dedupes_by_hash(cloud, ml, ws, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "score.py").write_text("def init():\n    pass\n\ndef run(batch):\n    return batch\n")
    code = ml._code.create_or_update(Code(name="score-code", version="1", path=src))
    assert code.version == "1"
    assert cloud.calls_matching("POST", "/codes/score-code/versions/1/startPendingUpload")
    blobs = [(c, b) for c in cloud.containers(ws.storage_account)
             for b in cloud.list_blobs(ws.storage_account, c) if b.endswith("score.py")]
    assert len(blobs) == 1 and b"def run" in cloud.get_blob(ws.storage_account, *blobs[0])
    cloud.reset_calls()
    again = ml._code.create_or_update(Code(name="score-code", version="2", path=src))
    assert again.version == "1"  # same content hash: the SDK reuses the registered version
    assert not cloud.calls_matching("PUT", "/codes/")
    assert CodeConfiguration(code=again.id, scoring_script="score.py").code == again.id


def test_state_snapshot_holds_no_secrets(cloud, ml, ws):
    import json

    key = cloud.account_key(ws.storage_account)
    ml.datastores.create_or_update(AzureBlobDatastore(
        name="keyed", account_name=ws.storage_account, container_name="c1",
        credentials=AccountKeyConfiguration(account_key=key)))
    snapshot = json.dumps(cloud.state)
    assert key not in snapshot and "keyed" in snapshot
    assert cloud.state["workspaces"][ws.id]["datastores"]["keyed"]["properties"]["credentials"] == {
        "credentialsType": "AccountKey"}
