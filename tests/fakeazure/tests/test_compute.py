"""AmlCompute clusters, VM sizes and quota through azure-ai-ml."""

from __future__ import annotations

import pytest
from azure.ai.ml.entities import AmlCompute, IdentityConfiguration
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError


def _cluster(name="cpu-1", size="Standard_DS3_v2", lo=0, hi=2, **kw):
    return AmlCompute(name=name, size=size, min_instances=lo, max_instances=hi, idle_time_before_scale_down=120, **kw)


def test_create_get_update_delete(cloud, ml, ws):
    created = ml.compute.begin_create_or_update(
        _cluster(tier="low_priority", identity=IdentityConfiguration(type="system_assigned"))).result()
    assert created.provisioning_state == "Succeeded"
    got = ml.compute.get("cpu-1")
    assert (got.size, got.min_instances, got.max_instances, got.idle_time_before_scale_down) == \
        ("Standard_DS3_v2", 0, 2, 120)
    assert got.tier == "low_priority" and got.identity.type == "system_assigned"
    got.max_instances = 4
    ml.compute.begin_update(got).result()
    assert ml.compute.get("cpu-1").max_instances == 4
    assert cloud.resource(ws.child_id("computes", "cpu-1"))["properties"]["properties"]["scaleSettings"][
        "maxNodeCount"] == 4
    assert [c.name for c in ml.compute.list()] == ["cpu-1"]
    ml.compute.begin_delete("cpu-1").result()
    with pytest.raises(ResourceNotFoundError):
        ml.compute.get("cpu-1")


def test_re_create_changes_scale_but_not_vm_size(ml):
    ml.compute.begin_create_or_update(_cluster()).result()
    assert ml.compute.begin_create_or_update(_cluster(hi=3)).result().max_instances == 3
    with pytest.raises(HttpResponseError, match="cannot be changed in place"):
        ml.compute.begin_create_or_update(_cluster(size="Standard_D4s_v3")).result()


def test_unknown_vm_size_and_bad_name_are_refused(ml):
    with pytest.raises(HttpResponseError, match="not available in location"):
        ml.compute.begin_create_or_update(_cluster(size="Standard_Nope")).result()
    with pytest.raises(HttpResponseError, match="Compute name"):
        ml.compute.begin_create_or_update(_cluster(name="1bad")).result()


def test_list_sizes_carries_camel_case_fields(ml):
    sizes = {s.name: s for s in ml.compute.list_sizes(location="eastus", compute_type="AmlCompute")}
    ds3 = sizes["Standard_DS3_v2"]
    assert ds3.family == "standardDSv2Family"
    # azure-ai-ml 1.35 leaves the snake_case fields empty and keeps the wire names
    assert ds3.__dict__["vCPUs"] == 4 and ds3.__dict__["memoryGB"] == 14.0
    assert sizes["Standard_NC6s_v3"].gpus == 1


def test_usage_follows_clusters_and_quota_is_enforced(cloud, ml):
    def usage():
        return {u.name["value"]: u for u in ml.compute.list_usage(location="eastus")}

    before = usage()["standardDSv2Family"]
    assert before.__dict__["currentValue"] == 0 and before.limit == 24
    assert before.name["localizedValue"].startswith("Standard DSv2 Family")
    ml.compute.begin_create_or_update(_cluster(lo=2, hi=4)).result()
    assert usage()["standardDSv2Family"].__dict__["currentValue"] == 8  # 2 nodes x 4 vCPUs kept warm
    assert usage()["TotalDedicatedCores"].__dict__["currentValue"] == 8
    cloud.quota[("eastus", "standardDSv2Family")] = 10
    with pytest.raises(HttpResponseError, match="QuotaExceeded"):
        ml.compute.begin_create_or_update(_cluster(name="cpu-2", lo=1, hi=1)).result()
    assert usage()["standardDSv2Family"].limit == 10
    assert usage()["standardNCSv3Family"].limit == 0  # GPU families start without quota
