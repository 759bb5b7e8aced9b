"""At 80x24 nothing a user needs is cut off for good: a step's detail too long for its column
shows in full below the table, and a job log line keeps its reason after a long path."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable

from tests.tui.conftest import ScriptedBackend, make_profile, scripted_runner, started, wait_for
from tui.app import AmlBatchApp
from tui.screens.jobs import short_path, short_paths


async def test_the_run_screen_shows_a_cut_detail_in_full_below_the_table(amlbatch_home: Path) -> None:
    from tui.screens.run import RunScreen
    from tui.widgets._checklist import StepChecklist

    app = AmlBatchApp(remember_theme=False, backend=ScriptedBackend(runner=scripted_runner(fail_at="compute")))
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        screen = RunScreen(make_profile(amlbatch_home, "snap", save=False))
        await app.push_screen(screen)
        await wait_for(pilot, lambda: screen.state == "failed")
        checklist = screen.query_one("#steps", StepChecklist)
        line = screen.query_one("#step-detail")
        assert checklist.virtual_size.width <= checklist.size.width  # no horizontal scrolling
        # the failed step's error is cut in the table, but the problem panel has it: no repeat
        assert checklist.cut_detail("compute")
        assert not line.display

        checklist.focus()
        await pilot.press("down")  # the next step, skipped because compute failed
        await wait_for(pilot, lambda: screen.shown_step == "datastores")
        assert checklist.cut_detail("datastores") == "not run: compute failed"
        assert line.display
        assert str(line.render()) == "Datastores: not run: compute failed"

        await pilot.press("up", "up")  # a step whose detail fits its column
        await wait_for(pilot, lambda: screen.shown_step == "upload")
        assert checklist.cut_detail("upload") is None
        assert not line.display

        await pilot.press("down", "down")
        await wait_for(pilot, lambda: screen.shown_step == "datastores" and line.display)
        await pilot.resize_terminal(120, 36)  # wider: the Detail column takes the new width
        await wait_for(pilot, lambda: checklist.cut_detail("datastores") is None and not line.display)
        assert checklist.virtual_size.width <= checklist.size.width
        assert str(checklist.get_cell("datastores", "detail")) == "not run: compute failed"


async def test_the_teardown_screen_wraps_what_happens_and_shows_a_cut_row_in_full(amlbatch_home: Path) -> None:
    from engine import run
    from tui.screens.teardown import TeardownScreen

    profile = make_profile(amlbatch_home, "snap")
    run.provision(profile, lambda e: None)
    app = AmlBatchApp(remember_theme=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        screen = TeardownScreen(profile)
        await app.push_screen(screen)
        await wait_for(pilot, lambda: screen.query_one("#td-confirm").display)
        table = screen.query_one("#td-table", DataTable)
        assert table.virtual_size.width <= table.size.width  # no horizontal scrolling
        assert table.rows["containers"].height == 2  # wrapped, not cut
        assert "amlbatch-output and their blobs" in str(table.get_cell("containers", "what"))
        detail = screen.query_one("#td-detail")
        assert not detail.display  # the first row fits

        assert "workspace" in screen.cut  # the workspace lists every file in it: cut to two lines
        table.move_cursor(row=table.get_row_index("workspace"))
        await pilot.pause()
        assert detail.display
        assert "workspace.json" in str(detail.render())

        await pilot.resize_terminal(120, 36)  # wider: one line is enough for the containers
        await wait_for(pilot, lambda: table.rows["containers"].height == 1)
        assert table.virtual_size.width <= table.size.width


def test_job_log_paths_under_the_job_or_the_state_root_are_shortened() -> None:
    job = "demo-20260101000000-abc123"
    state = "/home/me/.local/share/amlbatch"
    output = f"{state}/local/subscriptions/local/resourceGroups/rg/storageAccounts/sa/containers/out/blobs/demo/{job}"
    roots = [output, state]
    blob = f"{state}/local/subscriptions/local/resourceGroups/rg/storageAccounts/sa/containers/in/blobs/data/p-9.csv"

    assert short_paths(f"failed: {blob}: missing column 'x'", job, roots) == \
        "failed: …/data/p-9.csv: missing column 'x'"
    assert short_paths(f"job Completed: 10 rows; output {output}/predictions.csv", job, roots) == \
        "job Completed: 10 rows; output …/predictions.csv"
    logs = f"{state}/local/subscriptions/local/resourceGroups/rg/workspaces/ws/jobs/{job}/logs"
    assert short_paths(f"starting 2 worker process(es); logs in {logs}", job, roots) == \
        "starting 2 worker process(es); logs in …/logs"
    assert short_path(output, job) == f"…/{job}"
    # paths elsewhere, and a root matched inside a longer folder name, stay as they are
    assert short_paths("failed: /tmp/mine/p-1.csv: bad", job, roots) == "failed: /tmp/mine/p-1.csv: bad"
    assert short_paths(f"see {state}-old/x.txt", job, roots) == f"see {state}-old/x.txt"
