"""The azure target's screens: sign-in (device code shown in the app, failure explained),
searchable subscription and region lists, VM sizes with quota on the compute screen."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Input

from tests.tui.conftest import FakeCloud, wait_for
from tui.app import AmlBatchApp


def screen_name(app) -> str:
    return type(app.screen).__name__


async def start_azure_profile(pilot, app) -> None:
    await pilot.press("n")
    await wait_for(pilot, lambda: screen_name(app) == "BasicsScreen")
    await pilot.press(*"cloudy")
    await pilot.click("#azure")
    await pilot.press("ctrl+n")
    await wait_for(pilot, lambda: screen_name(app) == "SignInScreen")


async def test_azure_sign_in_subscription_region_and_vm_sizes(amlbatch_home: Path) -> None:
    app = AmlBatchApp(remember_theme=False, backend=FakeCloud())
    async with app.run_test(size=(100, 32)) as pilot:
        await start_azure_profile(pilot, app)
        assert app.step_label("signin").endswith("step 2 of 10")
        assert app.draft.profile.account.auth == "device_code"
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: screen_name(app) == "SubscriptionScreen")
        assert app.draft.credential is not None

        table = app.screen.query_one("#choices DataTable", DataTable)
        await wait_for(pilot, lambda: table.row_count == 3)
        await pilot.press(*"prod")
        await wait_for(pilot, lambda: table.row_count == 1)
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen_name(app) == "RegionScreen")
        account = app.draft.profile.account
        assert account.subscription_id == "22222222-2222-2222-2222-222222222222"
        assert account.tenant_id == "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa"

        table = app.screen.query_one("#choices DataTable", DataTable)
        await wait_for(pilot, lambda: table.row_count == 5)
        await pilot.press(*"swed")
        await wait_for(pilot, lambda: table.row_count == 1)
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen_name(app) == "WorkspaceScreen")
        assert app.screen.query_one("#f-workspace-location Input", Input).value == "swedencentral"

        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: screen_name(app) == "ComputeScreen")
        sizes = app.screen.query_one("#sizes DataTable", DataTable)
        await wait_for(pilot, lambda: sizes.row_count == 4)
        assert [str(c) for c in sizes.get_row("Standard_D4s_v3")] == \
            ["Standard_D4s_v3", "standardDSv3Family", "4", "16", "0"]
        app.screen.query_one("#sizes #filter", Input).focus()
        await pilot.press(*"E8s")
        await wait_for(pilot, lambda: sizes.row_count == 1)
        await pilot.press("enter")
        await pilot.pause()
        assert app.draft.profile.compute.vm_size == "Standard_E8s_v3"
        assert app.screen.query_one("#f-compute-vm_size Input", Input).value == "Standard_E8s_v3"

        # Back through the azure screens keeps the choices
        for expected in ("WorkspaceScreen", "RegionScreen"):
            await pilot.press("escape")
            await wait_for(pilot, lambda: screen_name(app) == expected)
        assert app.draft.profile.workspace.location == "swedencentral"


async def test_azure_sign_in_failure_is_explained(amlbatch_home: Path) -> None:
    app = AmlBatchApp(remember_theme=False, backend=FakeCloud(
        fail_sign_in="sign-in (device_code) failed: AADSTS70016: pending. To fix: "
                     "finish the device-code sign-in in a browser before the code expires"))
    async with app.run_test(size=(100, 32)) as pilot:
        await start_azure_profile(pilot, app)
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: "To fix" in str(app.screen.query_one("#problem").render()))
        assert screen_name(app) == "SignInScreen"
        assert app.draft.credential is None
        assert "FAKE-CODE-42" in str(app.screen.query_one("#signin-code").render())
        assert not app.screen.query_one("#sign-in").disabled


async def test_azure_screens_against_the_fake_cloud(amlbatch_home: Path, monkeypatch) -> None:
    """The real engine.cloud and Azure SDKs, over tests.fakeazure: sign in with a service
    principal from the environment, then the subscription, region and VM size lists."""
    from tests.fakeazure import FakeAzure
    from tests.fakeazure._core import DEFAULT_CLIENT_ID, DEFAULT_SECRET, DEFAULT_TENANT

    sub = "00000000-0000-4000-8000-000000000001"
    monkeypatch.setenv("AZURE_TENANT_ID", DEFAULT_TENANT)
    monkeypatch.setenv("AZURE_CLIENT_ID", DEFAULT_CLIENT_ID)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", DEFAULT_SECRET)
    with FakeAzure(subscriptions=[{"id": sub, "name": "Fake Dev", "tenant": DEFAULT_TENANT}],
                   locations=["eastus", "westeurope"]):
        app = AmlBatchApp(remember_theme=False)
        async with app.run_test(size=(100, 32)) as pilot:
            await start_azure_profile(pilot, app)
            app.screen.query_one("#f-account-auth Select").value = "environment"
            await pilot.pause()
            await pilot.press("ctrl+g")
            await wait_for(pilot, lambda: screen_name(app) == "SubscriptionScreen", timeout=30)
            table = app.screen.query_one("#choices DataTable", DataTable)
            await wait_for(pilot, lambda: table.row_count == 1, timeout=30)
            assert [str(c) for c in table.get_row(sub)][:2] == ["Fake Dev", sub]
            await pilot.press("enter")
            await wait_for(pilot, lambda: screen_name(app) == "RegionScreen")
            table = app.screen.query_one("#choices DataTable", DataTable)
            await wait_for(pilot, lambda: table.row_count == 2, timeout=30)
            await pilot.press(*"east", "enter")
            await wait_for(pilot, lambda: screen_name(app) == "WorkspaceScreen")
            assert app.draft.profile.workspace.location == "eastus"
            await pilot.press("ctrl+n")
            await wait_for(pilot, lambda: screen_name(app) == "ComputeScreen")
            sizes = app.screen.query_one("#sizes DataTable", DataTable)
            await wait_for(pilot, lambda: sizes.row_count > 0 or "Could not" in
                           str(app.screen.query_one("#sizes-status").render()), timeout=60)
            assert sizes.row_count > 0, app.screen.query_one("#sizes-status").render()
            assert "Standard_DS3_v2" in [str(sizes.get_row_at(i)[0]) for i in range(sizes.row_count)]
