"""Pilot tests: the whole wizard on the local target, driven by keys as a user would."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from textual.widgets import DataTable, Input, Log

from tests.tui.conftest import (ScriptedBackend, make_profile, scripted_runner, scripted_submitter,
                                started, wait_for)
from tui.app import AmlBatchApp


def screen_name(app) -> str:
    return type(app.screen).__name__


async def set_field(pilot, dotted: str, text: str) -> None:
    app = pilot.app
    field_input = app.screen.query_one(f"#f-{dotted.replace('.', '-')} Input", Input)
    field_input.focus()
    field_input.value = text
    await pilot.pause()


def rule_of(app, dotted: str) -> str:
    field = app.screen.query_one(f"#f-{dotted.replace('.', '-')}")
    return str(field.query_one(".field-rule").render()) if field.has_class("-invalid") else ""


async def test_new_profile_through_every_screen(amlbatch_home: Path) -> None:
    """New profile, validation shown then cleared at each kind of rule, plan, save, run,
    submit a scoring run, results, tear down by typing the name."""
    from scorer.sample_data import write_sample_files

    data = amlbatch_home / "inputs"
    write_sample_files(data, files=3, rows_per_file=10, seed=0)
    app = AmlBatchApp(remember_theme=False, start_dir=amlbatch_home)
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: screen_name(app) == "StartScreen")
        await pilot.press("n")
        await wait_for(pilot, lambda: screen_name(app) == "BasicsScreen")

        # basics: an invalid name shows the rule and Next refuses
        await pilot.press(*"bad name")
        assert "letters, digits" in str(app.screen.query_one("#name-rule").render())
        await pilot.press("ctrl+n")
        assert screen_name(app) == "BasicsScreen"
        app.screen.query_one("#name", Input).value = "flow"
        await pilot.pause()
        assert str(app.screen.query_one("#name-rule").render()) == ""
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: screen_name(app) == "WorkspaceScreen")

        # workspace: inline rule as typed, cleared when fixed; Back/Next keeps the text
        await set_field(pilot, "workspace.name", "x")
        assert "3-33 characters" in rule_of(app, "workspace.name")
        await pilot.press("ctrl+n")
        assert screen_name(app) == "WorkspaceScreen"
        assert app.screen.query_one("#problem").has_class("-shown")
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen_name(app) == "BasicsScreen")
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: screen_name(app) == "WorkspaceScreen")
        assert app.screen.query_one("#f-workspace-name Input", Input).value == "x"
        await set_field(pilot, "workspace.name", "flow-ws")
        assert rule_of(app, "workspace.name") == ""
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: screen_name(app) == "ComputeScreen")

        # compute: a number rule, then a cross-field rule shown as typed and gone once kept
        await set_field(pilot, "compute.max_nodes", "many")
        assert rule_of(app, "compute.max_nodes") == "✗ must be a whole number"
        await set_field(pilot, "compute.min_nodes", "3")
        await set_field(pilot, "compute.max_nodes", "2")
        assert "must be >= compute.min_nodes (2 < 3)" in rule_of(app, "compute.max_nodes")
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert screen_name(app) == "ComputeScreen"
        assert "must be >= compute.min_nodes" in rule_of(app, "compute.max_nodes")
        await set_field(pilot, "compute.min_nodes", "0")
        assert rule_of(app, "compute.max_nodes") == ""  # fixed by the other field: the rule goes at once
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: screen_name(app) == "StorageScreen")

        # storage and data: same container twice is a cross-field rule; add files by pattern
        await set_field(pilot, "storage.output_container", "amlbatch-input")
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert "must differ" in rule_of(app, "storage.output_container")
        await set_field(pilot, "storage.output_container", "flow-out")
        pattern = app.screen.query_one("#pattern", Input)
        pattern.focus()
        pattern.value = str(amlbatch_home / "missing" / "*.csv")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "matches no file" in str(app.screen.query_one("#files-summary").render())
                       or "no such" in str(app.screen.query_one("#files-summary").render()))
        app.screen.query_one("#files").focus()
        await pilot.press("delete")
        pattern.focus()
        pattern.value = str(data / "*.csv")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "3 files to upload" in str(app.screen.query_one("#files-summary").render()))
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: screen_name(app) == "ScorerScreen")

        # scorer and endpoint: the bundled scorer is found; a bad endpoint name shows its rule
        assert "✓" in str(app.screen.query_one("#scorer-check").render())
        await set_field(pilot, "endpoint.name", "9bad")
        assert "starting with a letter" in rule_of(app, "endpoint.name")
        await set_field(pilot, "endpoint.name", "flow-endpoint")
        await set_field(pilot, "endpoint.instance_count", "5")
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert "must be <= compute.max_nodes" in rule_of(app, "endpoint.instance_count")
        await set_field(pilot, "endpoint.instance_count", "1")
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: screen_name(app) == "ScheduleScreen")
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: screen_name(app) == "ReviewScreen")

        # review: the TOML and the plan
        await wait_for(pilot, lambda: "to create" in str(app.screen.query_one("#plan-status").render()))
        toml_text = str(app.screen.query_one("#toml").render())
        assert 'name = "flow-ws"' in toml_text
        await pilot.press("ctrl+s")
        saved = tomllib.loads((amlbatch_home / "config" / "profiles" / "flow.toml").read_text())
        assert saved["storage"]["output_container"] == "flow-out"
        assert saved["endpoint"]["name"] == "flow-endpoint"

        # run
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: screen_name(app) == "RunScreen")
        await wait_for(pilot, lambda: app.screen.state == "succeeded", timeout=30)
        assert "✓ Done: 10 created" in str(app.screen.query_one("#overall").render())
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen_name(app) == "FinishScreen")
        assert "local://flow-ws/batchEndpoints/flow-endpoint/jobs" in app.screen.details()

        # submit a scoring run of the uploaded data, then the results
        await pilot.press("s")
        await wait_for(pilot, lambda: screen_name(app) == "JobScreen")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen.state in ("done", "error"), timeout=60)
        assert app.screen.job.status == "Completed", app.screen.query_one("#problem").render()
        assert app.screen.job.rows == 30
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen_name(app) == "ResultsScreen")
        await wait_for(pilot, lambda: app.screen.query_one("#res-table", DataTable).row_count > 0)
        assert app.screen.query_one("#res-hist").total == 30
        await pilot.press("t")
        await wait_for(pilot, lambda: screen_name(app) == "TeardownScreen")
        await wait_for(pilot, lambda: app.screen.query_one("#td-confirm").display)
        assert app.screen.query_one("#delete").disabled
        await pilot.press(*"flo")
        assert app.screen.query_one("#delete").disabled
        await pilot.press("w")
        assert not app.screen.query_one("#delete").disabled
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen_name(app) == "RunScreen")
        await wait_for(pilot, lambda: app.screen.state == "succeeded", timeout=30)
        assert "deleted" in str(app.screen.query_one("#overall").render())
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen_name(app) == "StartScreen")
    assert not (amlbatch_home / "data" / "local" / "subscriptions").exists()


async def test_resume_saved_profile_then_run_again(amlbatch_home: Path) -> None:
    """The start list shows target, region and last run; Enter opens the review; a second run
    finds everything in place."""
    from engine import run

    profile = make_profile(amlbatch_home, "resumed")
    run.provision(profile, lambda e: None)
    app = AmlBatchApp(remember_theme=False)
    async with app.run_test(size=(100, 32)) as pilot:
        # the start screen is shown, and its table mounted, after the first frame: wait for both
        await wait_for(pilot, lambda: app.screen.query_one("#profiles", DataTable).row_count == 1)
        table = app.screen.query_one("#profiles", DataTable)
        row = [str(c) for c in table.get_row("resumed")]
        assert row[1:4] == ["local", "westeurope", "snap-ws"]
        assert row[4].startswith("provision succeeded")
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen_name(app) == "ReviewScreen")
        await wait_for(pilot, lambda: "Everything exists" in str(app.screen.query_one("#plan-status").render()))
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: screen_name(app) == "RunScreen" and app.screen.state == "succeeded")
        assert "10 exist" in str(app.screen.query_one("#overall").render())
        # editing from the run goes to the forms and comes back to the review
        await pilot.press("b")
        await wait_for(pilot, lambda: screen_name(app) == "ReviewScreen")
        await pilot.press("ctrl+e")
        await wait_for(pilot, lambda: screen_name(app) == "WorkspaceScreen")
        for key in ("workspace", "compute", "storage", "scorer", "schedule"):
            await wait_for(pilot, lambda: getattr(app.screen, "wizard_key", "") == key)
            await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: screen_name(app) == "ReviewScreen")
        assert len(app.screen_stack) == 3  # default, start, review: no screen piles up


async def test_open_profile_from_the_command_line(amlbatch_home: Path) -> None:
    """`amlbatch --profile demo` opens the review of the demo (made on first use)."""
    app = AmlBatchApp(profile="demo", sets=["compute.max_nodes=3"], remember_theme=False)
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: screen_name(app) == "ReviewScreen", timeout=20)
        # let the review finish mounting (and show the profile) before the app is shut down
        await wait_for(pilot, lambda: "max_nodes = 3" in str(app.screen.query_one("#toml").render()))
        assert app.draft.profile.compute.max_nodes == 3
        assert "target local" in str(app.screen.query_one("#intro").render())


async def test_cancel_a_run_then_retry(amlbatch_home: Path) -> None:
    profile = make_profile(amlbatch_home, "cancel")
    from tui.screens.run import RunScreen

    backend = ScriptedBackend(runner=scripted_runner(done=3, block=True))
    app = AmlBatchApp(remember_theme=False, backend=backend)
    async with app.run_test(size=(100, 32)) as pilot:
        await started(pilot)
        screen = RunScreen(profile)
        await app.push_screen(screen)
        await wait_for(pilot, lambda: screen.query_one("#steps").running == ["upload"])
        await wait_for(pilot, lambda: screen.query_one("#progress-row").display)
        assert "7/20 files" in str(screen.query_one("#progress-label").render())
        await pilot.press("escape")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "Confirm")
        await pilot.press("n")  # keep running
        await pilot.pause()
        assert screen.state == "running"
        await pilot.press("escape")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "Confirm")
        await pilot.press("y")
        await wait_for(pilot, lambda: screen.state == "canceled")
        assert "Canceled" in str(screen.query_one("#overall").render())
        backend.runner = scripted_runner()
        await pilot.press("r")
        await wait_for(pilot, lambda: screen.state == "succeeded")


async def test_failure_shows_what_to_fix_and_retry_reruns(amlbatch_home: Path) -> None:
    profile = make_profile(amlbatch_home, "failing")
    from tui.screens.run import RunScreen

    backend = ScriptedBackend(runner=scripted_runner(fail_at="compute"))
    app = AmlBatchApp(remember_theme=False, backend=backend)
    async with app.run_test(size=(100, 32)) as pilot:
        await started(pilot)
        screen = RunScreen(profile)
        await app.push_screen(screen)
        await wait_for(pilot, lambda: screen.state == "failed")
        problem = str(screen.query_one("#problem").render())
        assert "quota exceeded" in problem and "r retries" in problem
        assert screen.shown_step == "compute"
        assert "compute: line 1" in "\n".join(screen.query_one(Log).lines)
        backend.runner = scripted_runner()
        await pilot.press("r")
        await wait_for(pilot, lambda: screen.state == "succeeded")
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen_name(app) == "FinishScreen")
        assert "https://snap-endpoint.westeurope.inference.ml.azure.com/jobs" in app.screen.details()


async def test_second_run_of_a_locked_profile_is_refused(amlbatch_home: Path) -> None:
    from engine.run import profile_lock
    from tui.screens.run import RunScreen

    profile = make_profile(amlbatch_home, "locked")
    app = AmlBatchApp(remember_theme=False)
    async with app.run_test(size=(100, 32)) as pilot:
        await started(pilot)
        with profile_lock(profile):
            screen = RunScreen(profile)
            await app.push_screen(screen)
            await wait_for(pilot, lambda: screen.state == "error")
        assert "already being run" in str(screen.query_one("#problem").render())


async def test_log_flood_is_batched_and_bounded(amlbatch_home: Path) -> None:
    """50,000 log lines from an engine thread: the UI applies them in batches, the log widget and
    the per-step history stay bounded, and the app keeps answering."""
    from engine import events as ev
    from tui.screens.run import LOG_LINES, RunScreen

    def flood(profile, emit, cancel):
        emit(ev.RunStarted("r", profile.name, "local", "provision", ("upload",), ("Data upload",)))
        emit(ev.StepStarted("upload", "Data upload"))
        for n in range(50_000):
            emit(ev.StepLog("upload", f"line {n}"))
        emit(ev.StepFinished("upload", "created", 1.0, "done"))
        emit(ev.RunFinished("r", "succeeded", 1.0, {}))
        from engine.run import RunSummary

        return RunSummary("r", "provision", "succeeded", 1.0, {"created": 1}, {})

    profile = make_profile(amlbatch_home, "flood", save=False)
    app = AmlBatchApp(remember_theme=False, backend=ScriptedBackend(runner=flood))
    async with app.run_test(size=(100, 32)) as pilot:
        await started(pilot)
        screen = RunScreen(profile)
        await app.push_screen(screen)
        await wait_for(pilot, lambda: screen.state == "succeeded", timeout=30)
        log = screen.query_one(Log)
        assert len(log.lines) <= LOG_LINES
        assert len(screen.logs["upload"]) <= LOG_LINES
        assert screen.logs["upload"][-1] == "line 49999"
        assert screen.buffer.received_logs == 50_000


async def test_theme_switch_is_remembered(amlbatch_home: Path) -> None:
    import themes

    app = AmlBatchApp()
    async with app.run_test(size=(100, 32)) as pilot:
        assert app.theme == themes.DARK
        await pilot.press("ctrl+p")
        await pilot.press(*"Light theme")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.theme == themes.LIGHT)
        await pilot.pause()
    settings = tomllib.loads((amlbatch_home / "config" / "settings.toml").read_text())
    assert settings["theme"] == themes.LIGHT
    again = AmlBatchApp()
    async with again.run_test(size=(100, 32)):
        assert again.theme == themes.LIGHT


async def test_help_screen_lists_the_keys(amlbatch_home: Path) -> None:
    app = AmlBatchApp(remember_theme=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f1")
        await wait_for(pilot, lambda: screen_name(app) == "HelpScreen")
        assert "New profile" in app.screen.keys_table()
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen_name(app) == "StartScreen")


async def test_submit_cancel_and_results(amlbatch_home: Path) -> None:
    from tests.tui.conftest import fake_preview
    from tui.screens.jobs import JobScreen

    profile = make_profile(amlbatch_home, "jobs", save=False)
    backend = ScriptedBackend(submitter=scripted_submitter(block=True),
                              previewer=lambda p, j, n: fake_preview())
    app = AmlBatchApp(remember_theme=False, start_dir=amlbatch_home, backend=backend)
    async with app.run_test(size=(100, 32)) as pilot:
        await started(pilot)
        screen = JobScreen(profile)
        await app.push_screen(screen)
        # a local input that does not exist is refused before anything is submitted
        await pilot.click("#local")
        screen.query_one("#job-path", Input).value = str(amlbatch_home / "nope.csv")
        await pilot.press("ctrl+s")
        assert "No such file" in str(screen.query_one("#problem").render())
        screen.query_one("#job-path", Input).value = str(amlbatch_home / "work" / "data")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "rows 7,500" in str(screen.query_one("#job-counts").render()))
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen_name(app) == "Confirm")
        await pilot.press("y")
        await wait_for(pilot, lambda: screen.state == "done")
        assert screen.job.status == "Canceled"
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen_name(app) == "StartScreen")
        backend.submitter = scripted_submitter()
        done = JobScreen(profile)
        await app.push_screen(done)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: done.state == "done")
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen_name(app) == "ResultsScreen")
        await wait_for(pilot, lambda: app.screen.query_one("#res-table", DataTable).row_count == 200)
        assert app.screen.query_one("#res-hist").total == 400


def test_app_module_imports_no_engine_run_nor_azure() -> None:
    """Start-up stays light: tui.app loads neither the engine's runner nor any Azure SDK."""
    code = ("import sys, tui.app; bad = [m for m in sys.modules if m.startswith(('azure', 'engine.run', "
            "'engine.targets', 'engine.jobs', 'numpy'))]; print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=Path(__file__).parents[2])
    assert result.returncode == 0, result.stdout + result.stderr
