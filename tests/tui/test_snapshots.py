"""SVG snapshots of every screen, in the dark and the light theme, at 80x24 and at 120x36.

Deterministic: a fixed AMLBATCH_HOME folder, a fixed clock, a scripted backend where
durations or ids would vary, cursor blink off. Update with `pytest tests/tui --snapshot-update`.

Screenshots are taken as pytest-textual-snapshot's `snap_compare` does (textual's
take_svg_screenshot), but stored as .svg files with the SVG's `terminal-<n>` id derived from the
picture itself: Rich derives it from segment reprs, which carry style metadata that can differ
between two identical-looking renders.
"""

from __future__ import annotations

import json
import re
import sys
import zlib
from pathlib import Path
from typing import Any, Awaitable, Callable

import pytest
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode
from textual.widgets import Input

import themes
from tests.tui.conftest import (FakeClock, FakeCloud, ScriptedBackend, fake_preview, make_profile,
                                scripted_runner, scripted_submitter, started, wait_for)
from tui.app import AmlBatchApp
from tui.backend import Backend

SIZES = {"80x24": (80, 24), "120x36": (120, 36)}
THEMES = pytest.mark.parametrize("theme", [themes.DARK, themes.LIGHT])
# These screens show a path under the fixed snapshot folder, which only Linux spells as the snapshot does.
SHOWS_A_PATH = pytest.mark.skipif(sys.platform != "linux", reason="the snapshot holds a Linux path")


class SVGSnapshot(SingleFileSnapshotExtension):
    file_extension = "svg"
    _write_mode = WriteMode.TEXT


def stable_ids(svg: str) -> str:
    body = re.sub(r"terminal-\d+", "terminal-ID", svg)
    return body.replace("terminal-ID", f"terminal-{zlib.adler32(body.encode())}")


@pytest.fixture(params=list(SIZES), ids=list(SIZES))
def size(request: pytest.FixtureRequest) -> tuple[int, int]:
    """Every snapshot at the smallest supported terminal and at a common larger one."""
    return SIZES[request.param]


@pytest.fixture
def snap_compare(snapshot: Any, size: tuple[int, int]) -> Callable[..., bool]:
    snapshot = snapshot.use_extension(SVGSnapshot)

    def compare(app: AmlBatchApp, terminal_size: tuple[int, int] = size,
                run_before: Callable[[Any], Awaitable[None]] | None = None) -> bool:
        from textual._doc import take_svg_screenshot

        svg = stable_ids(take_svg_screenshot(app=app, terminal_size=terminal_size, run_before=run_before))
        same = snapshot == svg
        if not same:  # keep what was seen, to compare by eye with the stored one
            seen = Path("/tmp/amlbatch-tui-snapshot-failures")
            seen.mkdir(exist_ok=True)
            (seen / f"{snapshot.test_location.testname}.svg").write_text(svg)
        return same

    return compare


def make_app(theme: str, home: Path, backend: Backend | None = None) -> AmlBatchApp:
    return AmlBatchApp(remember_theme=False, theme=theme, clock=FakeClock(), start_dir=home, backend=backend)


async def steady(pilot: Any) -> None:
    """Workers done, batches flushed, cursors not blinking."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause(0.25)
    for screen in pilot.app.screen_stack:
        for widget in screen.query(Input):
            widget.cursor_blink = False
    await pilot.pause()


def snap(snap_compare: Any, app: AmlBatchApp, before: Callable[[Any], Awaitable[None]]) -> None:
    async def run_before(pilot: Any) -> None:
        await started(pilot)
        await before(pilot)
        await steady(pilot)

    assert snap_compare(app, run_before=run_before)


def name_of(app: AmlBatchApp) -> str:
    return type(app.screen).__name__


# ---------------------------------------------------------------------------------- screens

@THEMES
def test_start(snap_compare, snap_home, theme) -> None:
    make_profile(snap_home, "snap")
    (snap_home / "config" / "profiles" / "broken.toml").write_text("target = 'moon'\n")
    runs = snap_home / "data" / "runs" / "snap"
    runs.mkdir(parents=True)
    ts = FakeClock().now() - 7200
    (runs / "20270115-080000-provision-abcdef12.jsonl").write_text(
        json.dumps({"type": "run_started", "action": "provision", "ts": ts}) + "\n"
        + json.dumps({"type": "run_finished", "outcome": "succeeded", "ts": ts + 60}) + "\n")
    app = make_app(theme, snap_home)

    async def before(pilot):
        await wait_for(pilot, lambda: app.screen.query_one("#profiles").row_count == 2)

    snap(snap_compare, app, before)


@THEMES
def test_basics_with_error(snap_compare, snap_home, theme) -> None:
    app = make_app(theme, snap_home)

    async def before(pilot):
        await pilot.press("n")
        await wait_for(pilot, lambda: name_of(app) == "BasicsScreen")
        await pilot.press(*"bad name")
        await pilot.press("ctrl+n")

    snap(snap_compare, app, before)


async def open_form(pilot: Any, key: str, target: str = "local", **values: str) -> None:
    app = pilot.app
    app.new_draft("snap", target)
    if key in ("storage", "scorer", "schedule", "compute"):
        profile = make_profile(Path.cwd(), "snap", target=target, save=False)
        app.draft.profile = profile
    app.go(key)
    await wait_for(pilot, lambda: getattr(app.screen, "wizard_key", "") == key)
    await pilot.pause()
    for dotted, text in values.items():
        widget = app.screen.query_one(f"#f-{dotted.replace('__', '.').replace('.', '-')} Input", Input)
        widget.value = text
        await pilot.pause()


@THEMES
def test_workspace_with_error(snap_compare, snap_home, theme) -> None:
    app = make_app(theme, snap_home)

    async def before(pilot):
        await open_form(pilot, "workspace", **{"workspace__name": "x", "workspace__resource_group": "my-rg."})

    snap(snap_compare, app, before)


@THEMES
def test_compute_cross_field_error(snap_compare, snap_home, theme) -> None:
    app = make_app(theme, snap_home)

    async def before(pilot):
        await open_form(pilot, "compute", **{"compute__min_nodes": "4", "compute__max_nodes": "2"})
        await pilot.press("ctrl+n")

    snap(snap_compare, app, before)


@THEMES
def test_storage_and_data(snap_compare, snap_home, theme) -> None:
    app = make_app(theme, snap_home)

    async def before(pilot):
        await open_form(pilot, "storage")
        await wait_for(pilot, lambda: "files to upload" in str(app.screen.query_one("#files-summary").render()))
        app.screen.query_one("#form").scroll_end(animate=False)

    snap(snap_compare, app, before)


@THEMES
@SHOWS_A_PATH
def test_scorer_and_endpoint(snap_compare, snap_home, theme) -> None:
    app = make_app(theme, snap_home)

    async def before(pilot):
        await open_form(pilot, "scorer", **{"scorer__script": "../score.py"})

    snap(snap_compare, app, before)


@THEMES
def test_schedule(snap_compare, snap_home, theme) -> None:
    app = make_app(theme, snap_home)

    async def before(pilot):
        await open_form(pilot, "schedule")

    snap(snap_compare, app, before)


@THEMES
def test_review_plan(snap_compare, snap_home, theme) -> None:
    make_profile(snap_home, "snap")
    app = make_app(theme, snap_home)

    async def before(pilot):
        app.open_profile("snap")
        await wait_for(pilot, lambda: name_of(app) == "ReviewScreen")
        await wait_for(pilot, lambda: "Plan:" in str(app.screen.query_one("#plan-status").render()))

    snap(snap_compare, app, before)


@THEMES
def test_review_toml(snap_compare, snap_home, theme) -> None:
    make_profile(snap_home, "snap")
    app = make_app(theme, snap_home)

    async def before(pilot):
        app.open_profile("snap")
        await wait_for(pilot, lambda: name_of(app) == "ReviewScreen")
        await wait_for(pilot, lambda: "Plan:" in str(app.screen.query_one("#plan-status").render()))
        app.screen.query_one("#review-tabs").active = "tab-toml"

    snap(snap_compare, app, before)


def run_screen(home: Path) -> Any:
    from tui.screens.run import RunScreen

    return RunScreen(make_profile(home, "snap", save=False))


@THEMES
def test_run_in_progress(snap_compare, snap_home, theme) -> None:
    app = make_app(theme, snap_home, ScriptedBackend(runner=scripted_runner(done=3, block=True)))

    async def before(pilot):
        screen = run_screen(snap_home)
        await app.push_screen(screen)
        await wait_for(pilot, lambda: screen.query_one("#progress-row").display)
        app.clock.advance(42)
        await pilot.pause(0.2)

    async def run_before(pilot):
        await started(pilot)
        await before(pilot)
        await pilot.pause(0.25)

    assert snap_compare(app, run_before=run_before)


@THEMES
def test_run_failed(snap_compare, snap_home, theme) -> None:
    app = make_app(theme, snap_home, ScriptedBackend(runner=scripted_runner(fail_at="compute")))

    async def before(pilot):
        screen = run_screen(snap_home)
        await app.push_screen(screen)
        await wait_for(pilot, lambda: screen.state == "failed")

    snap(snap_compare, app, before)


@THEMES
@SHOWS_A_PATH
def test_finish(snap_compare, snap_home, theme) -> None:
    app = make_app(theme, snap_home, ScriptedBackend(runner=scripted_runner()))

    async def before(pilot):
        screen = run_screen(snap_home)
        await app.push_screen(screen)
        await wait_for(pilot, lambda: screen.state == "succeeded")
        await pilot.press("enter")
        await wait_for(pilot, lambda: name_of(app) == "FinishScreen")

    snap(snap_compare, app, before)


@THEMES
def test_job_watch(snap_compare, snap_home, theme) -> None:
    from tui.screens.jobs import JobScreen

    app = make_app(theme, snap_home, ScriptedBackend(submitter=scripted_submitter("Failed")))

    async def before(pilot):
        screen = JobScreen(make_profile(snap_home, "snap", save=False))
        await app.push_screen(screen)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen.state == "done")

    snap(snap_compare, app, before)


@THEMES
def test_results(snap_compare, snap_home, theme) -> None:
    from tui.screens.jobs import JobScreen

    app = make_app(theme, snap_home, ScriptedBackend(submitter=scripted_submitter(),
                                                     previewer=lambda p, j, n: fake_preview()))
    columns = {"columns": ["file", "row_id", "label", "probability"]}

    async def before(pilot):
        screen = JobScreen(make_profile(snap_home, "snap", save=False, scorer=columns))
        await app.push_screen(screen)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen.state == "done")
        await pilot.press("enter")
        await wait_for(pilot, lambda: name_of(app) == "ResultsScreen")

    snap(snap_compare, app, before)


@THEMES
def test_teardown(snap_compare, snap_home, theme) -> None:
    from engine import run
    from tui.screens.teardown import TeardownScreen

    profile = make_profile(snap_home, "snap")
    run.provision(profile, lambda e: None)
    app = make_app(theme, snap_home)

    async def before(pilot):
        screen = TeardownScreen(profile)
        await app.push_screen(screen)
        await wait_for(pilot, lambda: screen.query_one("#td-confirm").display)
        await pilot.press(*"sna")

    snap(snap_compare, app, before)


@THEMES
def test_help(snap_compare, snap_home, theme) -> None:
    app = make_app(theme, snap_home)

    async def before(pilot):
        await pilot.press("f1")
        await wait_for(pilot, lambda: name_of(app) == "HelpScreen")

    snap(snap_compare, app, before)


# ------------------------------------------------------------------------------------- azure

@THEMES
def test_azure_sign_in_failed(snap_compare, snap_home, theme) -> None:
    app = make_app(theme, snap_home, FakeCloud(fail_sign_in="sign-in (device_code) failed: the device code "
                                                            "expired before the sign-in was finished. To fix: "
                                                            "sign in again and enter the new code in the "
                                                            "browser within 15 minutes"))

    async def before(pilot):
        await open_form(pilot, "signin", target="azure")
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: "To fix" in str(app.screen.query_one("#problem").render()))

    snap(snap_compare, app, before)


@THEMES
def test_azure_subscriptions(snap_compare, snap_home, theme) -> None:
    app = make_app(theme, snap_home, FakeCloud())

    async def before(pilot):
        await open_form(pilot, "subscription", target="azure")
        await wait_for(pilot, lambda: app.screen.query_one("#choices DataTable").row_count == 3)
        await pilot.press(*"contoso")

    snap(snap_compare, app, before)


@THEMES
def test_azure_regions(snap_compare, snap_home, theme) -> None:
    app = make_app(theme, snap_home, FakeCloud())

    async def before(pilot):
        await open_form(pilot, "region", target="azure")
        await wait_for(pilot, lambda: app.screen.query_one("#choices DataTable").row_count == 5)

    snap(snap_compare, app, before)


@THEMES
def test_azure_compute_vm_sizes(snap_compare, snap_home, theme) -> None:
    app = make_app(theme, snap_home, FakeCloud())

    async def before(pilot):
        await open_form(pilot, "compute", target="azure")
        app.draft.profile.account.subscription_id = "11111111-1111-1111-1111-111111111111"
        await wait_for(pilot, lambda: app.screen.query_one("#sizes DataTable").row_count == 4)

    snap(snap_compare, app, before)
