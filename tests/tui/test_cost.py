"""The wizard shows the cost before you pay (the review's plan tab and its Cost tab) and what a
finished scoring run would have cost on Azure (the job view), at 80x24, from the fake Retail
Prices API (tests/fakeazure/_prices.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakeazure._prices import FakePrices
from tests.tui.conftest import ScriptedBackend, make_profile, scripted_submitter, started, wait_for
from tui.app import AmlBatchApp


async def test_the_review_shows_the_node_price_and_every_price_in_its_cost_tab(
        amlbatch_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_profile(amlbatch_home, "priced", compute={"max_nodes": 4})
    with FakePrices() as prices:
        monkeypatch.setenv("AMLBATCH_PRICES_URL", prices.url)
        app = AmlBatchApp(profile="priced", remember_theme=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: " to create" in str(app.screen.query_one("#plan-status").render()),
                           timeout=20)
            line = app.screen.query_one("#plan-cost")
            assert str(line.render()) == "On Azure: $0.293 per node-hour, $0 at rest; every price: Cost tab"
            assert line.size.height == 1  # one line above the plan at 80x24
            everything = str(app.screen.query_one("#cost").render())
            assert "max 4 nodes: $1.17 an hour" in everything
            assert "0 nodes at rest costs nothing" in everything
            assert "container registry (Basic, made at the first image build): $0.167 per day" in everything


async def test_the_review_says_price_unavailable_and_still_plans(amlbatch_home: Path) -> None:
    make_profile(amlbatch_home, "offline")  # AMLBATCH_PRICES_URL=off (tests/conftest.py): no price is read
    app = AmlBatchApp(profile="offline", remember_theme=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: " to create" in str(app.screen.query_one("#plan-status").render()),
                       timeout=20)
        assert "price unavailable" in str(app.screen.query_one("#plan-cost").render())


async def test_the_job_view_says_what_the_run_would_have_cost_on_azure(
        amlbatch_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tui.screens.jobs import JobScreen

    profile = make_profile(amlbatch_home, "jobcost", save=False)
    with FakePrices() as prices:
        monkeypatch.setenv("AMLBATCH_PRICES_URL", prices.url)
        app = AmlBatchApp(remember_theme=False, start_dir=amlbatch_home,
                          backend=ScriptedBackend(submitter=scripted_submitter()))
        async with app.run_test(size=(80, 24)) as pilot:
            await started(pilot)
            screen = JobScreen(profile)
            await app.push_screen(screen)
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: screen.state == "done")
            cost = screen.query_one("#job-cost")
            assert cost.display
            # the scripted run: 1 node (endpoint.instance_count) for 4.0 s at $0.293 per node-hour
            assert str(cost.render()).replace("\n", " ").startswith(
                "On Azure this run would have cost about $0.000326: 1 node x 4.0 s")
