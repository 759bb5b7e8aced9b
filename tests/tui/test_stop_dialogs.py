"""The wizard's words match what happens: "Stop the run?" and "Cancel this scoring run?" close when
the work they ask about ends while they are open, and the cancel dialog says what the job log says."""

from __future__ import annotations

import threading
from pathlib import Path

from tests.tui.conftest import ScriptedBackend, make_profile, scripted_runner, scripted_submitter, started, wait_for
from tui.app import AmlBatchApp


def _gated(inner, gate: threading.Event):
    def run(*args):
        gate.wait(20)
        return inner(*args)
    return run


async def test_stop_the_run_closes_when_the_run_ends(amlbatch_home: Path) -> None:
    from tui.screens.run import RunScreen

    gate = threading.Event()
    app = AmlBatchApp(remember_theme=False, backend=ScriptedBackend(runner=_gated(scripted_runner(), gate)))
    async with app.run_test(size=(100, 32)) as pilot:
        await started(pilot)
        screen = RunScreen(make_profile(amlbatch_home, "dialog"))
        await app.push_screen(screen)
        await wait_for(pilot, lambda: screen.state == "running")
        await pilot.press("escape")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "Confirm")
        gate.set()  # the run ends while the question is open
        await wait_for(pilot, lambda: screen.state == "succeeded")
        await wait_for(pilot, lambda: app.screen is screen)
        assert screen.state == "succeeded"  # not turned into "canceling" by a late answer


async def test_cancel_job_dialog_closes_when_the_job_ends_and_says_what_the_log_says(amlbatch_home: Path) -> None:
    from tui.screens.jobs import JobScreen

    gate = threading.Event()
    app = AmlBatchApp(remember_theme=False, start_dir=amlbatch_home,
                      backend=ScriptedBackend(submitter=_gated(scripted_submitter(), gate)))
    async with app.run_test(size=(100, 32)) as pilot:
        await started(pilot)
        screen = JobScreen(make_profile(amlbatch_home, "jobs", save=False))
        await app.push_screen(screen)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen.state == "running")
        await pilot.press("escape")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "Confirm")
        question = app.screen.question
        assert "keeps no output" in question and "kept" not in question  # the log: "no output kept"
        gate.set()
        await wait_for(pilot, lambda: screen.state == "done")
        await wait_for(pilot, lambda: app.screen is screen)
        assert screen.job.status == "Completed"


async def test_a_job_that_scored_no_row_while_files_failed_shows_an_error(amlbatch_home: Path) -> None:
    from engine import events as ev
    from engine.jobinfo import JobInfo
    from tui.screens.jobs import JobScreen

    def submit(profile, emit, cancel, input_path):
        emit(ev.JobSubmitted("j-1", "data", "out"))
        emit(ev.JobFinished("j-1", "Completed", 0, 12, 1.0, "out"))
        failed = [[f"f{i}.csv", f"ValueError: bad (mini-batch {i + 1}; see /logs/worker-1.txt)"] for i in range(12)]
        return JobInfo("j-1", "Completed", 0.0, "data", "out", 0, 12, 1.0, "", failed)

    app = AmlBatchApp(remember_theme=False, start_dir=amlbatch_home, backend=ScriptedBackend(submitter=submit))
    async with app.run_test(size=(100, 32)) as pilot:
        await started(pilot)
        screen = JobScreen(make_profile(amlbatch_home, "jobs", save=False))
        await app.push_screen(screen)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen.state == "done")
        problem = str(screen.query_one("#problem").render())
        assert problem.startswith("✗ No row scored: 12 files failed."), problem
        assert "and 7 more failed files" in problem and "first traceback in /logs/worker-1.txt" in problem
