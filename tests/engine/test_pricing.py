"""Prices from the Azure Retail Prices API (a real loopback fake of it, tests/fakeazure/_prices.py):
the profile's VM size in its region and tier, the workspace's dependencies, paging, the on-disk
cache with its date, and "price unavailable" when the API cannot be read."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Iterator

import pytest

from engine import events as ev
from engine import pricing
from engine.jobinfo import JobInfo
from engine.profile import Profile
from tests.fakeazure._prices import FakePrices, catalog


@pytest.fixture
def prices(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePrices]:
    with FakePrices() as fake:
        monkeypatch.setenv("AMLBATCH_PRICES_URL", fake.url)
        yield fake


def profile(**compute: object) -> Profile:
    p = Profile(name="priced", path=None, target="azure")
    for key, value in compute.items():
        setattr(p.compute, key, value)
    return p


def day(seconds_ago: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(time.time() - seconds_ago))


def test_the_dedicated_linux_price_of_the_profiles_vm_size_in_its_region(prices: FakePrices) -> None:
    found = pricing.estimate(profile(vm_size="Standard_DS3_v2", min_nodes=0, max_nodes=2))
    # not the Windows, Low Priority, Spot or reservation meters, nor another region's
    assert (found.node.amount, found.node.unit, found.node.meter) == (0.293, "node-hour", "DS3 v2")
    assert found.per_hour(0) == 0 and found.per_hour(2) == pytest.approx(0.586)
    lines = "\n".join(found.lines())
    assert "Cost on Azure (retail prices, westeurope, USD, read " + day(0) in lines
    assert "cluster cpu-cluster, Standard_DS3_v2 dedicated: $0.293 per node-hour" in lines
    assert "min 0 nodes: $0 an hour (0 nodes at rest costs nothing); max 2 nodes: $0.586 an hour" in lines
    assert pricing.NO_SURCHARGE in lines
    # the dependencies at their published rates and units, one line each, no invented total
    assert "storage account (Standard LRS, hot): $0.0196 per GB-month, $0.065 per 10,000 writes, " \
           "$0.0052 per 10,000 reads" in lines
    assert "key vault (Standard): $0.03 per 10,000 operations" in lines
    assert "container registry (Basic, made at the first image build): $0.167 per day" in lines
    assert "application insights (Log Analytics ingestion): $2.99 per GB ingested after the first 5 GB " \
           "a month" in lines
    assert "total" not in lines.lower()


def test_the_low_priority_meter_for_the_low_priority_tier_and_min_nodes_paid_at_rest(prices: FakePrices) -> None:
    found = pricing.estimate(profile(tier="low_priority", min_nodes=1, max_nodes=4))
    assert (found.node.amount, found.node.meter) == (0.0586, "DS3 v2 Low Priority")
    assert "min 1 node: $0.0586 an hour (paid even when idle: min_nodes)" in "\n".join(found.lines())
    assert found.summary() == "Cost: $0.0586 per node-hour, $0.0586 an hour at rest"


def test_the_spot_meter_is_said_when_a_size_has_no_low_priority_one(prices: FakePrices) -> None:
    found = pricing.estimate(profile(vm_size="Standard_NC4as_T4_v3", tier="low_priority"), wait=5)
    assert found.node.amount == 0.2 and "Spot price" in found.node.text()
    assert pricing.estimate(profile(vm_size="Standard_NC4as_T4_v3")).node.text() == "price unavailable"


def test_every_page_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakePrices(page_size=1) as fake:  # the API's pages are 100 items; one forces NextPageLink
        monkeypatch.setenv("AMLBATCH_PRICES_URL", fake.url)
        found = pricing.estimate(profile(tier="low_priority"))
    assert found.node.amount == 0.0586
    assert [p.amount for p in found.services[:3]] == [0.0196, 0.065, 0.0052]  # three pages of storage meters
    pages = 4 + 4 + 1 + 1 + 2  # VM meters, storage, key vault, registry, log analytics (two tiers)
    assert fake.requests == pages


def test_a_cached_answer_is_used_without_a_call_and_shows_its_date(prices: FakePrices, amlbatch_home: Path) -> None:
    first = pricing.estimate(profile())
    calls = prices.requests
    assert calls == 5 and first.node.date == day(0)
    again = pricing.estimate(profile())
    assert prices.requests == calls and again.node.amount == 0.293

    cache = amlbatch_home / "data" / "prices.json"
    data = json.loads(cache.read_text())
    for answer in data.values():
        answer["fetched"] -= 3 * 24 * 3600  # read three days ago: still young enough
    cache.write_text(json.dumps(data))
    old = pricing.estimate(profile())
    assert prices.requests == calls
    assert old.node.date == day(3 * 24 * 3600) and f"read {day(3 * 24 * 3600)}" in old.heading()


def test_a_stale_cache_is_refreshed_and_kept_with_its_date_when_the_api_fails(
        prices: FakePrices, amlbatch_home: Path) -> None:
    pricing.estimate(profile())
    cache = amlbatch_home / "data" / "prices.json"
    data = json.loads(cache.read_text())
    stale = {key: {**answer, "fetched": answer["fetched"] - 8 * 24 * 3600} for key, answer in data.items()}
    cache.write_text(json.dumps(stale))
    calls = prices.requests
    fresh = pricing.estimate(profile())
    assert prices.requests == calls + 5 and fresh.node.date == day(0)

    cache.write_text(json.dumps(stale))
    prices.mode = "fail"
    kept = pricing.estimate(profile())  # the API fails: the old price, with the day it was read
    assert kept.node.amount == 0.293 and kept.node.date == day(8 * 24 * 3600)


@pytest.mark.parametrize("mode", ["fail", "hang"])
def test_an_unreadable_api_gives_price_unavailable_and_never_raises(
        monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    with FakePrices(mode=mode) as fake:
        monkeypatch.setenv("AMLBATCH_PRICES_URL", fake.url)
        found = pricing.estimate(profile(), wait=0.5)  # "hang": the bounded wait ends it
    assert found.node.amount is None and all(p.amount is None for p in found.services)
    lines = found.lines()
    assert lines[1] == "  cluster cpu-cluster, Standard_DS3_v2 dedicated: price unavailable"
    assert all(line.endswith("price unavailable") for line in lines[2:])
    assert found.summary() == "Cost: Standard_DS3_v2 dedicated nodes: price unavailable"


def test_no_match_is_price_unavailable(prices: FakePrices) -> None:
    found = pricing.estimate(profile(vm_size="Standard_Nope_v9"))
    assert found.node.text() == "price unavailable" and found.services[0].amount == 0.0196


def test_prices_turned_off_make_no_call(prices: FakePrices, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AMLBATCH_PRICES_URL", "off")
    assert pricing.estimate(profile()).node.amount is None and prices.requests == 0


def test_items_with_unsound_numbers_are_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    items = catalog()
    for item in items:
        if item["meterName"] == "DS3 v2":
            item["retailPrice"] = "0.293"  # not a number: not a price
    with FakePrices(items=items) as fake:
        monkeypatch.setenv("AMLBATCH_PRICES_URL", fake.url)
        assert pricing.estimate(profile()).node.amount is None


def test_a_runs_cost_is_nodes_times_duration_times_the_node_price(prices: FakePrices) -> None:
    local = profile()
    local.target = "local"
    local.endpoint.instance_count = 2
    job = JobInfo("job-1", "Completed", 0.0, duration=1800.0)
    cost = pricing.run_cost(local, job)
    assert cost.node_hours == 1.0 and cost.cost == pytest.approx(0.293)
    assert cost.lines() == [f"on Azure this run would have cost about $0.293: 2 nodes x 1800.0 s "
                            f"(endpoint.instance_count) at $0.293 per node-hour (Standard_DS3_v2 dedicated, "
                            f"read {day(0)})"]
    on_azure = pricing.run_cost(profile(), JobInfo("job-2", "Failed", 0.0, duration=3600.0))  # failed runs cost too
    assert on_azure.lines()[0].startswith("cost: about $0.293: 1 node x 3600.0 s at $0.293 per node-hour")
    assert "120 s a node of idle time" in on_azure.lines()[0]


def test_a_run_without_a_price_says_so_and_whose_price_it_would_be() -> None:
    unknown = pricing.Price("Standard_DS3_v2 dedicated", "", None)
    local = pricing.RunCost("local", "job-1", 1, 4.0, 120, unknown)
    assert local.lines() == ["on Azure this run's cost: 1 node x 4.0 s of Standard_DS3_v2 dedicated: price unavailable"]
    on_azure = pricing.RunCost("azure", "job-2", 1, 4.0, 120, unknown)
    assert on_azure.lines() == ["cost: 1 node x 4.0 s of Standard_DS3_v2 dedicated: price unavailable"]


def test_the_figures_travel_as_one_event(prices: FakePrices) -> None:
    event = pricing.estimate(profile()).event()
    data = json.loads(json.dumps(event.to_dict()))
    assert data["type"] == "cost_estimate" and data["scope"] == "profile"
    assert data["figures"]["per_hour_at_max_nodes"] == pytest.approx(0.586)
    assert data["figures"]["compute_surcharge"] == 0
    assert data["prices"][0]["amount"] == 0.293 and data["prices"][0]["unit"] == "node-hour"
    assert ev.from_dict(data) == ev.from_dict(event.to_dict())
