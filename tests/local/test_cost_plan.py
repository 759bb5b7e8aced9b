"""The cost before you pay, headless: `--plan` shows what the profile would cost on Azure, `--json`
carries the figures, a finished `--submit` says what the run would have cost, and prices that cannot
be read hold nothing up (tests/fakeazure/_prices.py is the Retail Prices API)."""

from __future__ import annotations

import json
from typing import Iterator

import pytest

from tests.fakeazure._prices import FakePrices
from tui.cli import main


@pytest.fixture
def prices(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePrices]:
    with FakePrices() as fake:
        monkeypatch.setenv("AMLBATCH_PRICES_URL", fake.url)
        yield fake


def test_the_plan_shows_what_the_local_profile_would_cost_on_azure(make_profile, prices: FakePrices,
                                                                   capsys: pytest.CaptureFixture) -> None:
    path = str(make_profile("[compute]\nmax_nodes = 3\n"))
    assert main(["--profile", path, "--plan"]) == 3  # the plan's exit code, as before
    out = capsys.readouterr().out
    summary = out.index(" to create, ")
    cost = out.index("On Azure this profile would cost (retail prices, westeurope, USD, read ")
    assert summary < cost  # after the plan, before anything is created
    assert "cluster cpu-cluster, Standard_DS3_v2 dedicated: $0.293 per node-hour" in out
    assert "min 0 nodes: $0 an hour (0 nodes at rest costs nothing); max 3 nodes: $0.879 an hour" in out
    assert "Azure ML adds no charge of its own for compute" in out
    assert "key vault (Standard): $0.03 per 10,000 operations" in out


def test_the_plan_completes_as_before_when_prices_cannot_be_read(make_profile, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture) -> None:
    path = str(make_profile())
    with FakePrices(mode="fail") as fake:
        monkeypatch.setenv("AMLBATCH_PRICES_URL", fake.url)
        assert main(["--profile", path, "--plan"]) == 3
        assert fake.requests  # it did ask
    out = capsys.readouterr().out
    assert " to create, " in out
    assert "cluster cpu-cluster, Standard_DS3_v2 dedicated: price unavailable" in out
    assert "Traceback" not in out
    assert main(["--profile", path, "--yes"]) == 0
    capsys.readouterr()
    with FakePrices(mode="fail") as fake:
        monkeypatch.setenv("AMLBATCH_PRICES_URL", fake.url)
        assert main(["--profile", path, "--plan"]) == 0  # nothing to change: 0, prices or not


def test_json_carries_the_figures(make_profile, prices: FakePrices, capsys: pytest.CaptureFixture) -> None:
    path = str(make_profile("[compute]\ntier = \"low_priority\"\n"))
    assert main(["--profile", path, "--plan", "--json"]) == 3
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    cost = [e for e in events if e["type"] == "cost_estimate"]
    assert len(cost) == 1 and cost[0]["scope"] == "profile"
    figures = cost[0]["figures"]
    assert (figures["target"], figures["tier"], figures["currency"]) == ("local", "low_priority", "USD")
    assert figures["per_hour_at_min_nodes"] == 0 and figures["per_hour_at_max_nodes"] == pytest.approx(0.1172)
    node = cost[0]["prices"][0]
    assert (node["amount"], node["unit"], node["meter"]) == (0.0586, "node-hour", "DS3 v2 Low Priority")
    assert {p["unit"] for p in cost[0]["prices"]} >= {"GB-month", "10,000 operations", "day"}


def test_a_finished_local_run_says_what_it_would_have_cost_on_azure(make_profile, prices: FakePrices,
                                                                    capsys: pytest.CaptureFixture) -> None:
    made = make_profile("[compute]\nmax_nodes = 2\n\n[endpoint]\ninstance_count = 2\n")
    (made.parent / "myscorer" / "score.py").write_text(
        "def init():\n    pass\n\n\ndef run(mini_batch):\n    return [f'{name},1' for name in mini_batch]\n")
    path = str(made)
    assert main(["--profile", path, "--yes", "--submit"]) == 0
    out = capsys.readouterr().out
    assert "  on Azure this run would have cost about $" in out
    assert "2 nodes x " in out and "(endpoint.instance_count) at $0.293 per node-hour" in out

    assert main(["--profile", path, "--yes", "--submit", "--json"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    finished = next(e for e in events if e["type"] == "job_finished")
    run = next(e for e in events if e["type"] == "cost_estimate" and e["scope"] == "run")
    figures = run["figures"]
    assert figures["job_id"] == finished["job_id"] and figures["nodes"] == 2
    assert figures["seconds"] == pytest.approx(finished["duration"], abs=0.05)  # the run's real duration
    assert figures["cost"] == pytest.approx(2 * figures["seconds"] / 3600 * 0.293)
