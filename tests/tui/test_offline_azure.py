"""An azure profile made without signing in (for CI, or offline): the subscription is typed on the
sign-in screen, the listing screens are skipped, and the review saves the profile without asking
Azure anything."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from textual.widgets import Input

from tests.tui.conftest import wait_for
from tui.app import AmlBatchApp
from tui.backend import Backend

SUBSCRIPTION = "12345678-1234-1234-1234-123456789abc"


class NoAzure(Backend):
    """The real backend, except that every call that would reach Azure is recorded instead."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def sign_in(self, method: str, tenant_id: str, emit: Any) -> Any:
        self.calls.append("sign_in")
        return None

    def list_subscriptions(self, credential: Any) -> list[Any]:
        self.calls.append("list_subscriptions")
        return []

    def list_regions(self, credential: Any, subscription_id: str) -> list[Any]:
        self.calls.append("list_regions")
        return []

    def list_vm_sizes(self, credential: Any, subscription_id: str, region: str) -> list[Any]:
        self.calls.append("list_vm_sizes")
        return []

    def plan(self, profile: Any, emit: Any, cancel: Any) -> Any:
        self.calls.append("plan")
        raise AssertionError("the review planned without a sign-in")


def screen_name(app: AmlBatchApp) -> str:
    return type(app.screen).__name__


async def test_an_azure_profile_is_saved_without_signing_in(amlbatch_home: Path) -> None:
    backend = NoAzure()
    app = AmlBatchApp(remember_theme=False, backend=backend)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("n")
        await wait_for(pilot, lambda: screen_name(app) == "BasicsScreen")
        await pilot.press(*"ci-cloud")
        await pilot.click("#azure")
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: screen_name(app) == "SignInScreen")

        # Without a subscription id it cannot go on, and says what to type
        await pilot.click("#skip")
        await pilot.pause()
        assert screen_name(app) == "SignInScreen"
        assert "Subscription id" in str(app.screen.query_one("#problem").render())

        app.screen.query_one("#f-account-subscription_id Input", Input).value = SUBSCRIPTION
        await pilot.pause()
        await pilot.click("#skip")
        await wait_for(pilot, lambda: screen_name(app) == "WorkspaceScreen")
        assert app.draft.offline and app.draft.credential is None
        assert "subscription" not in app.wizard_keys() and "region" not in app.wizard_keys()

        for expected in ("ComputeScreen", "StorageScreen", "ScorerScreen", "ScheduleScreen", "ReviewScreen"):
            await pilot.press("ctrl+n")
            await wait_for(pilot, lambda: screen_name(app) == expected)
            if expected == "ComputeScreen":
                assert not app.screen.query("#sizes")  # no VM size list without a sign-in
        status = app.screen.query_one("#plan-status")
        await wait_for(pilot, lambda: "Not signed in" in str(status.render()))

        await pilot.press("ctrl+s")
        path = amlbatch_home / "config" / "profiles" / "ci-cloud.toml"
        await wait_for(pilot, lambda: path.exists())
        await app.workers.wait_for_complete()

    saved = tomllib.loads(path.read_text())
    assert saved["target"] == "azure"
    assert saved["account"]["subscription_id"] == SUBSCRIPTION
    assert backend.calls == []  # no sign-in, no listing, no plan
