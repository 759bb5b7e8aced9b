"""Each provisioning step meeting a failing Azure: HTTP 500, 429 with Retry-After, a dropped
connection and a failed long-running operation. The run reports the step as failed with a sentence
(not a stack trace); a re-run completes, and nothing exists twice.

Failures persist for the whole first run (the SDKs' own retries do not hide them; their back-off
sleeps are patched out), except the failed LRO, which happens once.
"""

from __future__ import annotations

import pytest

from tests.azure_support import provision, reload, write_profile

pytestmark = pytest.mark.filterwarnings("ignore::Warning:marshmallow.*", "ignore::Warning:azure.*")

# step -> (host part, path part) of the request that creates its resource
WRITES = {
    "resource_group": ("management", "/resourcegroups/amlbatch-rg"),
    "workspace": ("management", "/providers/Microsoft.Resources/deployments/"),
    "containers": ("blob.core", "/amlbatch-output"),
    "upload": ("blob.core", "/amlbatch-input/data/"),
    "compute": ("management", "/computes/cpu-cluster"),
    "datastores": ("management", "/datastores/amlbatch_"),
    "assets": ("management", "/environments/amlbatch-env/versions/"),
    "endpoint": ("management", "/batchEndpoints/amlbatch-"),
    "deployment": ("management", "/deployments/default"),
    "schedule": ("management", "/schedules/amlbatch-schedule"),
}
LRO_STEPS = ("workspace", "compute", "endpoint", "deployment", "schedule")
KINDS = {
    "http500": dict(status=500, times=None),
    "http429": dict(status=429, retry_after=1, times=None),
    "dropped": dict(kind="connection", times=None),
    "lro_failed": dict(kind="lro", times=1),
}
CASES = [(step, kind) for step in WRITES for kind in KINDS if kind != "lro_failed" or step in LRO_STEPS]
HOURLY = '\n[schedule]\nfrequency = "hour"\n'


@pytest.mark.parametrize("step,kind", CASES, ids=[f"{s}-{k}" for s, k in CASES])
def test_step_fails_then_rerun_completes_without_duplicates(cloud, tmp_path, step, kind):
    profile = reload(write_profile(tmp_path / "p", HOURLY))
    host, path = WRITES[step]
    rule = cloud.inject_failure("PUT", path, host_contains=host, **KINDS[kind])

    summary, sink = provision(profile, cloud)
    assert rule.hits >= 1, f"the failure was never hit: {sink.outcomes()}"
    finished = sink.finished()[step]
    assert summary.outcome == "failed" and finished.outcome == "failed", sink.outcomes()
    assert finished.error.startswith("could not "), finished.error
    assert "Traceback" not in finished.error and "\n" not in finished.error
    hint = {"http500": "internal error", "http429": "throttling", "dropped": "connection",
            "lro_failed": "failed in Azure"}[kind]
    assert hint in finished.error, finished.error

    cloud.clear_failures()
    summary, sink = provision(profile, cloud)
    assert summary.outcome == "succeeded", {k: (e.outcome, e.error) for k, e in sink.finished().items()}
    assert "failed" not in sink.outcomes().values()

    # nothing twice
    ws = cloud.workspace("amlbatch-ws", "amlbatch-rg")
    assert [rg for _, rg in cloud.resource_groups] == ["amlbatch-rg"]
    assert list(ws.computes) == ["cpu-cluster"]
    assert list(ws.endpoints) == [profile.endpoint_name]
    assert list(ws.deployments[profile.endpoint_name]) == ["default"]
    assert sorted(n for n in ws.datastores if n.startswith("amlbatch")) == ["amlbatch_input", "amlbatch_output"]
    assert cloud.list_blobs(ws.storage_account, "amlbatch-input") == [f"data/part-{i}.csv" for i in range(3)]
    assert len(cloud.workspaces) == 1
    # a third run is a no-op
    summary, sink = provision(profile, cloud)
    assert set(sink.outcomes().values()) == {"exists"}, sink.outcomes()
