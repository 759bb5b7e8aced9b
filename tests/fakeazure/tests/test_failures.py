"""Failure injection as the real SDK pipelines see it, LRO polling, latency, unmatched routes."""

from __future__ import annotations

import threading
import time

import pytest
import requests
from azure.ai.ml.entities import AmlCompute, BatchEndpoint
from azure.core.exceptions import HttpResponseError
from azure.mgmt.resource.resources import ResourceManagementClient

from tests.fakeazure import FakeAzure

from .conftest import SUB


def _cluster(name="cpu-1"):
    return AmlCompute(name=name, size="Standard_DS3_v2", max_instances=2)


def _puts(cloud, fragment):
    return [c.status for c in cloud.calls_matching("PUT", fragment)]


def test_500_once_is_retried_by_the_sdk_pipeline(cloud, ml):
    rule = cloud.inject_failure(method="PUT", path_contains="/computes/", status=500, times=1)
    assert ml.compute.begin_create_or_update(_cluster()).result().provisioning_state == "Succeeded"
    assert rule.hits == 1 and _puts(cloud, "/computes/cpu-1") == [500, 201]


def test_429_with_retry_after_is_honoured(cloud, ml):
    cloud.inject_failure(method="PUT", path_contains="/computes/", status=429, retry_after=1, times=1)
    started = time.monotonic()
    ml.compute.begin_create_or_update(_cluster()).result()
    assert time.monotonic() - started >= 1.0
    assert _puts(cloud, "/computes/cpu-1") == [429, 201]


def test_connection_drop_is_retried(cloud, ml):
    rule = cloud.inject_failure(method="PUT", path_contains="/computes/", connection_error=True, times=1)
    ml.compute.begin_create_or_update(_cluster()).result()
    assert rule.hits == 1 and _puts(cloud, "/computes/cpu-1") == [0, 201]  # 0: the connection dropped


def test_connection_drop_reaches_plain_requests(cloud):
    cloud.inject_failure(host_contains="api.azureml.ms", connection_error=True, times=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get("https://eastus.api.azureml.ms/discovery")
    assert requests.get("https://eastus.api.azureml.ms/discovery").ok


def test_failed_lro_raises_and_leaves_a_failed_resource(cloud, ml, ws):
    cloud.inject_failure(method="PUT", path_contains="/computes/", kind="lro", code="QuotaExceeded",
                         message="Not enough cores.")
    with pytest.raises(HttpResponseError, match="Not enough cores"):
        ml.compute.begin_create_or_update(_cluster()).result()
    assert ml.compute.get("cpu-1").provisioning_state == "Failed"


def test_failed_lro_of_a_resource_group_delete(cloud, cred):
    client = ResourceManagementClient(cred, SUB)
    client.resource_groups.create_or_update("rg-x", {"location": "eastus"})
    cloud.inject_failure(method="DELETE", path_contains="/resourcegroups/rg-x", kind="lro")
    with pytest.raises(HttpResponseError):
        client.resource_groups.begin_delete("rg-x").result()
    assert client.resource_groups.check_existence("rg-x")


def test_non_retryable_error_surfaces_immediately(cloud, ml):
    cloud.inject_failure(method="PUT", path_contains="/batchEndpoints/", status=409, code="Conflict",
                         message="Another operation is in progress.", times=None)
    with pytest.raises(HttpResponseError, match="Another operation is in progress"):
        ml.batch_endpoints.begin_create_or_update(BatchEndpoint(name="ep-1")).result()
    assert _puts(cloud, "/batchEndpoints/ep-1") == [409]


def test_lro_polls_in_progress_first(ml):
    cloud = FakeAzure(lro_polls=1)
    cloud.lro_retry_after = 1
    with cloud:
        ws = cloud.add_workspace("ws1", "rg1")
        from azure.ai.ml import MLClient
        client = MLClient(cloud.credential(), next(iter(cloud.subscriptions.values()))["id"], "rg1", ws.name)
        client.compute.begin_create_or_update(_cluster()).result()
        polls = [c.status for c in cloud.calls_matching("GET", "/mfeOperationsStatus/")]
        assert polls == [200, 200]
        assert client.compute.get("cpu-1").provisioning_state == "Succeeded"


def test_delay_applies_outside_the_mock_lock(cloud):
    cloud.delay = 0.2
    started = time.monotonic()
    threads = [threading.Thread(target=requests.get, args=("https://eastus.api.azureml.ms/discovery",))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    assert 0.2 <= elapsed < 0.7  # four calls overlapped instead of 0.8 s in a row


def test_unmatched_route_is_loud(cloud):
    response = requests.get("https://management.azure.com/not/a/real/path",
                            headers={"Authorization": "Bearer x.e30.y"})
    assert response.status_code == 501 and response.json()["error"]["code"] == "FakeAzureNoRoute"
    assert cloud.unmatched == [("GET", "https://management.azure.com/not/a/real/path")]


def test_other_hosts_pass_through_to_the_network(cloud):
    import http.server

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"real")

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.handle_request, daemon=True).start()
    try:
        assert requests.get(f"http://127.0.0.1:{server.server_port}/x", timeout=5).text == "real"
    finally:
        server.server_close()
    assert not [c for c in cloud.calls if c.host == "127.0.0.1"]


def test_a_crashing_handler_is_reported_not_retried():
    fake = FakeAzure()
    with pytest.raises(AssertionError, match="internal errors"):
        with fake:
            fake.dp_discovery = lambda req: 1 / 0  # simulate a bug in the fake
            response = requests.get("https://eastus.api.azureml.ms/discovery")
            assert response.status_code == 501
            assert response.json()["error"]["code"] == "FakeAzureInternalError"
    assert "ZeroDivisionError" in fake.internal_errors[0]
