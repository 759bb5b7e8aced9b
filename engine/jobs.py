"""Scoring runs: submit one to the profile's endpoint, follow it, list runs, fetch results.

The same calls work on every target: each implements the job operations of engine.contract.Target.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from engine import events as ev
from engine import targets
from engine.context import CancelToken
from engine.contract import Target
from engine.errors import AmlBatchError
from engine.jobinfo import JobInfo
from engine.profile import Profile
from engine.record import RunRecord
from engine.secrets import redact_event


def submit(profile: Profile, emit: ev.Emit, cancel: CancelToken | None = None,
           input_path: str | None = None, wait: bool = True, target: Target | None = None) -> JobInfo:
    """Submit a scoring run and, with `wait`, follow it to the end. Canceling the token while
    following cancels the job."""
    cancel = cancel or CancelToken()
    record = RunRecord(profile, uuid.uuid4().hex, "submit")

    def fan_out(event: ev.Event) -> None:
        event = redact_event(event)
        record(event)
        emit(event)

    target = target or targets.build(profile, fan_out, cancel)
    try:
        if input_path is not None and not Path(input_path).expanduser().exists():
            raise AmlBatchError(f"--input: no such file or folder: {input_path}")
        job = target.submit_job(input_path)
        fan_out(ev.JobSubmitted(job.job_id, job.input, job.output))
        if not wait:
            return job
        return target.follow_job(job.job_id, fan_out, cancel)
    finally:
        record.close()
        target.close()


@contextmanager
def _using(profile: Profile, target: Target | None) -> Iterator[Target]:
    """The caller's target, or a new one that is closed afterwards."""
    if target is not None:
        yield target
        return
    made = targets.build(profile, lambda e: None, CancelToken())
    try:
        yield made
    finally:
        made.close()


def list_jobs(profile: Profile, target: Target | None = None) -> list[JobInfo]:
    with _using(profile, target) as t:
        return sorted(t.list_jobs(), key=lambda j: j.submitted)


def get_job(profile: Profile, job_id: str, target: Target | None = None) -> JobInfo:
    with _using(profile, target) as t:
        return t.get_job(job_id)


def cancel_job(profile: Profile, job_id: str, target: Target | None = None) -> None:
    with _using(profile, target) as t:
        t.cancel_job(job_id)


def results(profile: Profile, job_id: str, out_dir: Path, target: Target | None = None) -> list[Path]:
    with _using(profile, target) as t:
        job = t.get_job(job_id)
        if job.status != "Completed":
            raise AmlBatchError(f"job {job_id} is {job.status}: results exist only for Completed runs")
        return t.download_results(job_id, out_dir)


def preview(profile: Profile, job_id: str, limit: int = 10, target: Target | None = None) -> list[str]:
    with _using(profile, target) as t:
        return t.preview_rows(job_id, limit)


def summary_lines(profile: Profile, job: JobInfo, target: Target | None = None) -> list[str]:
    """The closing lines of a headless --submit: counts, speed, where the results are, first rows."""
    if not job.finished:
        return [f"Submitted {job.job_id} ({job.status}). Follow it with: amlbatch --profile "
                f"{profile.name} --jobs"]
    lines = [f"{job.status}: job {job.job_id}"]
    rate = f", {job.rows / job.duration:,.0f} rows/s" if job.duration and job.rows else ""
    lines.append(f"  {job.rows:,} rows scored, {job.failures} failed files in {job.duration:.1f} s{rate}")
    for name, error in job.failed_files[:10]:
        lines.append(f"  failed: {name}: {error}")
    if job.error:
        lines.append(f"  error: {job.error}")
    if job.status == "Completed":
        lines.append(f"  results: {job.output}")
        lines.append(f"  copy them with: amlbatch --profile {profile.name} --results {job.job_id} --out DIR")
        rows = preview(profile, job.job_id, 5, target)
        if rows:
            lines.append("  first rows:")
            lines += [f"    {row}" for row in rows]
    return lines
