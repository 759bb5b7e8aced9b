"""Pilot tests of the wizard's part in issue 9: a tear-down refused because scoring runs are running
asks whether to cancel them and go on (or go back); a copied profile file can get its own id."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from engine import identity, run
from engine.errors import JobsRunningError
from engine.profile import load
from tests.tui.conftest import ScriptedBackend, make_profile, started, wait_for
from tui.app import AmlBatchApp
from tui.screens.teardown import TeardownScreen


def screen_name(app) -> str:
    return type(app.screen).__name__


def confirm_shown(app) -> bool:
    """The Confirm dialog is up and composed (its stylesheet is read when it is first shown)."""
    return screen_name(app) == "Confirm" and bool(app.screen.query(".dialog-text"))


class BusyBackend(ScriptedBackend):
    """The real local engine, except that a tear-down without cancel_jobs finds a running job."""

    def __init__(self) -> None:
        super().__init__()
        self.teardowns: list[tuple[bool, bool]] = []  # (plan_only, cancel_jobs) of each call

    def teardown(self, profile: Any, emit: Any, cancel: Any, plan_only: bool = False,
                 cancel_jobs: bool = False) -> Any:
        self.teardowns.append((plan_only, cancel_jobs))
        if not cancel_jobs:
            raise JobsRunningError(f"profile '{profile.name}' has scoring runs not finished: job-1 (Running); "
                                   "wait for them or tear down with --cancel-jobs")
        return super().teardown(profile, emit, cancel, plan_only=plan_only, cancel_jobs=cancel_jobs)


async def test_running_jobs_are_canceled_after_a_confirmation(amlbatch_home: Path) -> None:
    profile = make_profile(amlbatch_home, "busy")
    run.provision(profile, lambda e: None)
    backend = BusyBackend()
    app = AmlBatchApp(remember_theme=False, backend=backend)
    async with app.run_test(size=(100, 32)) as pilot:
        await started(pilot)
        await app.push_screen(TeardownScreen(profile))
        await wait_for(pilot, lambda: confirm_shown(app))
        assert "job-1 (Running)" in str(app.screen.query_one(".dialog-text").render())
        await pilot.press("y")
        await wait_for(pilot, lambda: screen_name(app) == "TeardownScreen" and app.screen.confirming)
        assert backend.teardowns == [(True, False), (True, True)]
        await pilot.press(*"busy", "enter")
        await wait_for(pilot, lambda: screen_name(app) == "RunScreen")
        await wait_for(pilot, lambda: app.screen.state == "succeeded", timeout=30)
        assert backend.teardowns[-1] == (False, True)


async def test_running_jobs_and_back_deletes_nothing(amlbatch_home: Path) -> None:
    profile = make_profile(amlbatch_home, "busy")
    run.provision(profile, lambda e: None)
    backend = BusyBackend()
    app = AmlBatchApp(remember_theme=False, backend=backend)
    async with app.run_test(size=(100, 32)) as pilot:
        await started(pilot)
        start = screen_name(app)
        await app.push_screen(TeardownScreen(profile))
        await wait_for(pilot, lambda: screen_name(app) == "Confirm")
        await pilot.press("n")
        await wait_for(pilot, lambda: screen_name(app) == start)
    assert backend.teardowns == [(True, False)]
    assert (amlbatch_home / "data" / "local" / "subscriptions").exists()


async def test_a_copied_profile_gets_its_own_id_from_the_teardown_screen(amlbatch_home: Path) -> None:
    original = make_profile(amlbatch_home, "original")
    run.provision(original, lambda e: None)
    copy_path = original.path.with_name("copy.toml")
    shutil.copyfile(original.path, copy_path)
    copy = load(str(copy_path))
    assert copy.id == identity.id_in_file(original.path)
    app = AmlBatchApp(remember_theme=False, backend=ScriptedBackend())
    async with app.run_test(size=(100, 32)) as pilot:
        await started(pilot)
        await app.push_screen(TeardownScreen(copy))
        await wait_for(pilot, lambda: confirm_shown(app))
        assert "--new-id" in str(app.screen.query_one(".dialog-text").render())
        await pilot.press("y")
        await wait_for(pilot, lambda: screen_name(app) == "TeardownScreen" and "Nothing to delete" in
                       str(app.screen.query_one("#td-status").render()))
    assert identity.id_in_file(copy_path) not in ("", identity.id_in_file(original.path))
    assert (amlbatch_home / "data" / "local" / "subscriptions").exists()  # the original's resources stay
