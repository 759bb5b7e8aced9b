"""Every Ctrl+C gives 130 and Canceled, whenever it comes: a cancel that reaches the job host while
it is still starting (within milliseconds of --submit) ends the job Canceled, never Failed."""

from __future__ import annotations

import time

from engine import jobs, run
from engine.profile import load
from engine.targets.local.target import LocalTarget
from tests.local.test_jobs import slow_scorer


def test_a_cancel_at_once_after_submit_ends_the_job_canceled(tmp_path, make_profile) -> None:
    slow_scorer(tmp_path / "slow")
    profile = load(str(make_profile(files=4)), ["scorer.folder=slow", "endpoint.mini_batch_size=1"])
    assert run.provision(profile, lambda e: None).outcome == "succeeded"
    target = LocalTarget(profile, lambda e: None, run.CancelToken())
    try:
        for delay in (0.0, 0.01, 0.05):
            job = target.submit_job(None)
            time.sleep(delay)
            target.cancel_job(job.job_id)  # SIGTERM to a host that may not have its handler yet
            canceled = run.CancelToken()
            canceled.cancel()
            started = time.monotonic()
            ended = target.follow_job(job.job_id, lambda e: None, canceled)
            assert ended.status == "Canceled", (delay, ended)
            assert time.monotonic() - started < 20
    finally:
        target.close()


def test_ctrl_c_right_after_submit_exits_130(tmp_path, make_profile) -> None:
    from tui.cli import Exit, submit

    slow_scorer(tmp_path / "slow")
    profile = load(str(make_profile(files=4)), ["scorer.folder=slow", "endpoint.mini_batch_size=1"])
    assert run.provision(profile, lambda e: None).outcome == "succeeded"
    cancel = run.CancelToken()
    cancel.cancel()  # the Ctrl+C came while --submit was starting the job

    class Args:
        input, no_wait, json = None, False, True

    assert submit(profile, Args(), lambda e: None, cancel) == Exit.INTERRUPTED
    assert jobs.list_jobs(profile)[-1].status == "Canceled"
