"""Contract tests: each behaviour of the Azure SDKs that amlbatch relies on, driven through the
real SDKs over the fake (issue 11). If an SDK update changes one of these, a test here says which."""

from __future__ import annotations

import pytest

from tests.azure_support import provision, reload, target, writes

pytestmark = pytest.mark.filterwarnings("ignore::Warning:marshmallow.*", "ignore::Warning:azure.*")


def code_versions(cloud) -> list:
    return [c for c in writes(cloud) if "/codes/" in c.path and c.method == "PUT" and "/versions/" in c.path]


def test_a_deployments_local_code_folder_registers_by_content_hash(cloud, profile_path):
    """CodeConfiguration(code=<local folder>) makes azure-ai-ml upload and register the folder as a
    code asset, reusing an existing one with the same content hash (Code Versions - List `hash`,
    "regardless of name"): a deployment updated for another reason registers no code again."""
    provision(reload(profile_path), cloud)
    ws = cloud.workspace("amlbatch-ws", "amlbatch-rg")
    assert len(ws.assets["codes"]) == 1
    cloud.reset_calls()
    summary, sink = provision(reload(profile_path, "endpoint.mini_batch_size=25"), cloud)
    assert sink.outcomes()["deployment"] == "updated"
    assert code_versions(cloud) == [] and len(ws.assets["codes"]) == 1
    # and a re-run with nothing changed writes nothing at all
    cloud.reset_calls()
    provision(reload(profile_path, "endpoint.mini_batch_size=25"), cloud)
    assert writes(cloud) == []


def test_the_deployment_records_which_code_it_runs(cloud, profile_path):
    from engine.ownership import asset_versions
    from engine.targets.azure._base import TAG_CODE

    provision(reload(profile_path), cloud)
    profile = reload(profile_path)
    deployment = cloud.workspace("amlbatch-ws", "amlbatch-rg").deployments[profile.endpoint_name]["default"]
    assert deployment["tags"][TAG_CODE] == "{}:{}".format(*asset_versions(profile)["code"])
    assert "/codes/" in deployment["properties"]["codeConfiguration"]["codeId"]


def test_pollers_honour_retry_after(cloud, profile_path, monkeypatch):
    """azure-core's pollers sleep what the service's Retry-After says (through the transport's
    sleep); amlbatch no longer caps or replaces that wait."""
    from azure.core.pipeline.transport import RequestsTransport

    slept = []
    monkeypatch.setattr(RequestsTransport, "sleep", lambda self, seconds: slept.append(seconds))
    cloud.lro_polls = 2
    cloud.lro_retry_after = 37
    summary, sink = provision(reload(profile_path), cloud)
    assert summary.outcome == "succeeded", sink.finished()
    assert 37 in slept


def test_a_closed_session_sends_nothing(cloud, profile_path):
    """Every ARM and Azure ML client carries the session's closing policy (azure-core's public
    per_call_policies): once the session closed, no request leaves, which is what ends a poller
    thread we stopped waiting for."""
    from engine.targets.azure._lro import SessionClosed

    t = target(reload(profile_path), cloud)
    session = t.session
    ml, rm = session.ml, session.rm
    t.close()
    cloud.reset_calls()
    for call in (lambda: ml.workspaces.get("amlbatch-ws"), lambda: rm.resource_groups.get("amlbatch-rg")):
        with pytest.raises(SessionClosed):
            call()
    assert [c for c in cloud.calls if "login." not in c.host] == []


def test_the_ml_client_is_made_without_progress_bars(cloud, profile_path):
    t = target(reload(profile_path), cloud)
    try:
        assert t.session.ml.models._show_progress is False  # noqa: SLF001 - the test reads what the SDK kept
    finally:
        t.close()


def test_logging_level_goes_on_the_wire_as_the_api_spells_it(cloud, profile_path):
    summary, sink = provision(reload(profile_path, "endpoint.logging_level=warning"), cloud)
    assert summary.outcome == "succeeded", sink.finished()
    profile = reload(profile_path)
    deployment = cloud.workspace("amlbatch-ws", "amlbatch-rg").deployments[profile.endpoint_name]["default"]
    assert deployment["properties"]["loggingLevel"] == "Warning"
    cloud.reset_calls()
    provision(reload(profile_path, "endpoint.logging_level=warning"), cloud)
    assert writes(cloud) == []  # "Warning" read back is the profile's "warning": no drift


def test_a_logging_level_the_api_does_not_take_is_refused_by_the_profile(tmp_path):
    from engine.errors import AmlBatchError

    from tests.azure_support import write_profile

    path = write_profile(tmp_path / "p")
    with pytest.raises(AmlBatchError, match="debug"):
        reload(path, "endpoint.logging_level=error")
