"""The azure target's own blob code against Azurite (the real Blob API): containers, concurrent
upload with byte progress, skipping unchanged files, and the truth (the role to ask for, no account
key) when the identity has no data rights. ARM (the workspace that owns the storage account) is the
fake cloud; blob traffic goes to Azurite through the target's test hook."""

from __future__ import annotations

import logging
import time
import uuid

import pytest

from engine import events as ev
from engine import identity, run
from tests.azure_support import reload, target, write_profile
from tests.support import Collector
from tests.azurite import StaticToken

pytestmark = pytest.mark.filterwarnings("ignore::Warning:marshmallow.*", "ignore::Warning:azure.*")
BLOB_STEPS = {"resource_group", "workspace", "compute", "access", "containers", "upload"}


class SplitCredential:
    """Tokens for ARM from the fake cloud, tokens for storage shaped for Azurite."""

    def __init__(self, arm, storage):
        self.arm, self.storage = arm, storage

    def get_token(self, *scopes, **kwargs):
        if any("storage.azure.com" in s for s in scopes):
            return self.storage.get_token(*scopes, **kwargs)
        return self.arm.get_token(*scopes, **kwargs)


@pytest.fixture
def names():
    suffix = uuid.uuid4().hex[:8]
    return f"in-{suffix}", f"out-{suffix}"


def blob_profile(tmp_path, names, files=3):
    inp, out = names
    return reload(write_profile(tmp_path / "p", f'\n[storage]\ninput_container = "{inp}"\n'
                                                f'output_container = "{out}"\n', files=files))


def provision(profile, cloud, azurite, storage_token, only=BLOB_STEPS):
    sink = Collector()
    credential = SplitCredential(cloud.credential(), storage_token)
    summary = run.provision(profile, sink, target=target(profile, cloud, credential=credential,
                                                         blob_endpoint=azurite.url, blob_verify=azurite.ca_file),
                            only=set(only))
    return summary, sink


def key_client(azurite):
    from azure.storage.blob import BlobServiceClient

    return BlobServiceClient(azurite.url, credential=azurite.key, connection_verify=azurite.ca_file)


def test_containers_and_upload_with_entra_id(cloud, azurite, tmp_path, names):
    profile = blob_profile(tmp_path, names)
    token = StaticToken()
    summary, sink = provision(profile, cloud, azurite, token)
    assert summary.outcome == "succeeded", sink.finished()
    assert sink.outcomes()["containers"] == "created" and sink.outcomes()["upload"] == "created"
    assert token.requests  # Entra ID was used for storage
    assert not sink.logs(level="warning")  # no key fallback

    client = key_client(azurite)
    props = client.get_container_client(names[0]).get_container_properties()
    assert props.metadata == {"createdby": "amlbatch", "amlbatchprofile": profile.name,
                              "amlbatchprofileid": identity.id_in_file(profile.path)}
    blobs = {b.name: b for b in client.get_container_client(names[0]).list_blobs(include=["metadata"])}
    assert sorted(blobs) == ["data/part-0.csv", "data/part-1.csv", "data/part-2.csv"]
    assert all(b.metadata.get("md5") and b.content_settings.content_md5 for b in blobs.values())

    progress = [e for e in sink.of(ev.StepProgress) if e.step == "upload" and e.unit == "bytes"]
    total = sum(p.stat().st_size for p in (tmp_path / "p" / "data").glob("*.csv"))
    assert progress and progress[-1].done == progress[-1].total == total

    # unchanged: nothing to do
    summary, sink = provision(profile, cloud, azurite, token)
    assert sink.outcomes()["containers"] == "exists" and sink.outcomes()["upload"] == "exists"

    # one file changed: only it goes up
    (tmp_path / "p" / "data" / "part-2.csv").write_text("id,value\n7,7\n8,8\n")
    summary, sink = provision(profile, cloud, azurite, token)
    assert sink.outcomes()["upload"] == "created"
    assert "1 of 3 files" in sink.finished()["upload"].detail or "uploaded 1 file (" in sink.finished()["upload"].detail
    progress = [e for e in sink.of(ev.StepProgress) if e.step == "upload" and e.unit == "bytes"]
    assert progress[-1].total == (tmp_path / "p" / "data" / "part-2.csv").stat().st_size
    data = client.get_blob_client(names[0], "data/part-2.csv").download_blob().readall()
    assert data == b"id,value\n7,7\n8,8\n"


def test_without_data_rights_it_says_which_role_and_uses_no_account_key(cloud, azurite, tmp_path, names):
    profile = blob_profile(tmp_path, names)
    refused = StaticToken(audience="https://management.azure.com")  # storage answers 403
    summary, sink = provision(profile, cloud, azurite, refused)
    containers = sink.finished()["containers"]
    assert summary.outcome == "failed" and containers.outcome == "failed"
    assert "refused the signed-in identity" in containers.error
    assert "'Storage Blob Data Contributor' role" in containers.error
    assert sink.outcomes()["upload"] == "skipped"
    assert not cloud.calls_matching("POST", "/listSecrets") and not cloud.calls_matching("POST", "/listKeys")


def test_upload_can_be_canceled_and_resumes(cloud, azurite, tmp_path, names):
    profile = blob_profile(tmp_path, names, files=6)
    cancel = run.CancelToken()
    sink = Collector()

    def emit(event):
        sink(event)
        if isinstance(event, ev.StepProgress) and event.step == "upload" and event.unit == "bytes":
            cancel.cancel()  # Ctrl+C after the first bytes went up

    credential = SplitCredential(cloud.credential(), StaticToken())
    summary = run.provision(profile, emit, cancel, target=target(profile, cloud, credential=credential,
                                                                 cancel=cancel, blob_endpoint=azurite.url,
                                                                 blob_verify=azurite.ca_file),
                            only=BLOB_STEPS)
    assert summary.outcome == "canceled"
    summary, sink = provision(profile, cloud, azurite, StaticToken())
    assert summary.outcome == "succeeded"
    names_up = [b.name for b in key_client(azurite).get_container_client(names[0]).list_blobs()]
    assert len(names_up) == 6


def test_a_wide_upload_keeps_every_connection_open(azurite, tmp_path, names, caplog):
    """All the upload's calls in flight at once reuse their connections: none is dropped after one
    call for want of room in the client's pool (with Azure each drop is a new TLS handshake)."""
    from engine.targets.azure.session import UPLOAD_THREADS, Session

    profile = blob_profile(tmp_path, names)
    data = tmp_path / "wide"
    data.mkdir()
    for i in range(3 * UPLOAD_THREADS):
        (data / f"f{i:03d}.csv").write_text(f"id,value\n{i},{i}\n")
    todo = [(p, f"wide/{p.name}", p.stat().st_size) for p in sorted(data.iterdir())]
    key_client(azurite).create_container(names[0])

    class Never:
        canceled = False

    def round_trip(request) -> None:
        time.sleep(0.05)  # Azure's latency: every upload thread has a call in flight at once

    session = Session(profile, lambda event: None, credential=StaticToken(), blob_endpoint=azurite.url,
                      blob_verify=azurite.ca_file, blob_options={"raw_request_hook": round_trip})
    caplog.set_level(logging.WARNING, logger="urllib3.connectionpool")
    session.upload_files(azurite.account, names[0], todo, Never(), lambda done, total: None)

    uploaded = key_client(azurite).get_container_client(names[0]).list_blobs(name_starts_with="wide/")
    assert len(list(uploaded)) == len(todo)
    assert not [r.getMessage() for r in caplog.records if "pool is full" in r.getMessage()]
