"""The wizard's finish screen starts the local service (as --serve does), shows its address, token
and a curl line, and stops it when the app exits."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from textual.widgets import Log

from engine.profile import load
from tests.tui.conftest import make_profile, started, wait_for
from tui.app import AmlBatchApp
from tui.cli import main


async def test_serve_from_the_finish_screen_answers_until_the_app_exits(amlbatch_home: Path) -> None:
    from tui.screens.finish import FinishScreen

    make_profile(amlbatch_home, "served")
    assert main(["--profile", "served", "--yes"]) == 0
    app = AmlBatchApp(remember_theme=False, start_dir=Path.cwd())
    async with app.run_test(size=(120, 36)) as pilot:
        await started(pilot)
        screen = FinishScreen(load("served"), {})
        await app.push_screen(screen)
        await pilot.press("v")
        await wait_for(pilot, lambda: screen.service is not None, timeout=30)
        service = screen.service
        shown = "\n".join(screen.query_one("#serve-log", Log).lines)
        assert f"invoke:  POST {service.url}/jobs" in shown and service.token in shown and "curl -s -X POST" in shown
        answer = requests.get(f"{service.url}/jobs", headers={"Authorization": f"Bearer {service.token}"}, timeout=10)
        assert answer.json() == {"value": [], "nextLink": None}
        url = service.url
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/jobs", timeout=5)


async def test_an_azure_profile_offers_no_local_service(amlbatch_home: Path) -> None:
    from tui.screens.finish import FinishScreen

    profile = make_profile(amlbatch_home, "cloudy", target="azure", save=False)
    app = AmlBatchApp(remember_theme=False, start_dir=Path.cwd())
    async with app.run_test(size=(120, 36)) as pilot:
        await started(pilot)
        screen = FinishScreen(profile, {})
        await app.push_screen(screen)
        await pilot.press("v")
        await pilot.pause()
        assert not screen.query("#serve") and screen.service is None
