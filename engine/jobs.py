"""Scoring runs: submit one to the profile's endpoint, follow it, list runs, fetch results.

The same calls work on every target: each implements the job operations of engine.contract.Target.
"""

from __future__ import annotations

import tempfile
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
from engine.record import RunRecord, guarded
from engine.words import counted
from engine.secrets import redact_event


def submit(profile: Profile, emit: ev.Emit, cancel: CancelToken | None = None,
           input_path: str | None = None, wait: bool = True, target: Target | None = None,
           job_id: str | None = None) -> JobInfo:
    """Submit a scoring run and, with `wait`, follow it to the end. Canceling the token while
    following cancels the job. `job_id`: a name the caller chose (the local service's invocations)."""
    cancel = cancel or CancelToken()
    record = RunRecord(profile, uuid.uuid4().hex, "submit")
    consumer = guarded(emit)

    def fan_out(event: ev.Event) -> None:
        event = redact_event(event)
        record(event)
        consumer(event)

    target = target or targets.build(profile, fan_out, cancel)
    try:
        if input_path is not None and not Path(input_path).expanduser().exists():
            raise AmlBatchError(f"--input: no such file or folder: {input_path}")
        job = target.submit_job(input_path, job_id) if job_id else target.submit_job(input_path)
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


def results(profile: Profile, job_id: str, out_dir: Path, target: Target | None = None,
            header: bool = False) -> list[Path]:
    """Copy a Completed run's output into `out_dir`; with `header`, the results file starts with
    the profile's scorer.columns (the output itself has no header row, as on Azure)."""
    if header and not profile.scorer.columns:
        raise AmlBatchError("--header: the profile declares no scorer.columns, so there is no header to "
                            "write; add them, e.g. --set 'scorer.columns=[\"file\", \"score\"]'")
    with _using(profile, target) as t:
        job = t.get_job(job_id)
        if job.status != "Completed":
            raise AmlBatchError(f"job {job_id} is {job.status}: results exist only for Completed runs")
        if not header:
            return t.download_results(job_id, out_dir)
        with tempfile.TemporaryDirectory() as fetched:
            paths = t.download_results(job_id, Path(fetched))
            line = (",".join(profile.scorer.columns) + "\n").encode()
            return [_place(path, out_dir / path.relative_to(fetched),
                           line if path.name == profile.endpoint.output_file_name else b"")
                    for path in paths]


def _place(source: Path, dest: Path, header: bytes) -> Path:
    data = header + source.read_bytes()
    if dest.exists() and dest.read_bytes() != data:
        raise AmlBatchError(f"{dest} exists and differs; choose another --out folder")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    return dest


def preview(profile: Profile, job_id: str, limit: int = 10, target: Target | None = None) -> list[str]:
    with _using(profile, target) as t:
        return t.preview_rows(job_id, limit)


FAILED_SHOWN = 10  # failed files a summary lists; "and N more" says how many it left out


def outcome(job: JobInfo) -> str:
    """How a finished run ended for the user: "failed" (the job failed, or it scored no row while
    files failed, though Azure's error_threshold semantics end such a job Completed), "partial"
    (some files failed), "completed", "canceled"; "running" while it is not finished."""
    if not job.finished:
        return "running"
    if job.status == "Canceled":
        return "canceled"
    if job.status != "Completed" or (job.rows == 0 and job.failures > 0):
        return "failed"
    return "partial" if job.failures else "completed"


def failure_lines(job: JobInfo, shown: int = FAILED_SHOWN) -> list[str]:
    """The first failed files, "and N more" when the list is cut, and the worker log that holds
    the first traceback."""
    lines = [f"failed: {name}: {error}" for name, error in job.failed_files[:shown]]
    more = job.failures - min(shown, len(job.failed_files))
    if lines and more > 0:
        lines.append(f"and {counted(more, 'more failed file')}")
    for _, error in job.failed_files[:1]:
        _, see, log = error.rpartition("; see ")
        if see and log.endswith(")"):
            lines.append(f"first traceback in {log[:-1]}")
    return lines


def headline(job: JobInfo) -> str:
    """The first line of a finished run's summary, saying how it ended for the user."""
    verdict = outcome(job)
    if verdict == "failed" and job.status == "Completed":
        return (f"Failed: job {job.job_id} scored no row: {counted(job.failures, 'file')} failed "
                "(the job itself ended Completed, as error_threshold lets it)")
    if verdict == "partial":
        return f"Completed with failures: job {job.job_id}: {counted(job.failures, 'file')} failed"
    return f"{job.status}: job {job.job_id}"


def summary_lines(profile: Profile, job: JobInfo, target: Target | None = None) -> list[str]:
    """The closing lines of a headless --submit: counts, speed, where the results are, first rows."""
    if not job.finished:
        return [f"Submitted {job.job_id} ({job.status}). Follow it with: amlbatch --profile "
                f"{profile.name} --jobs"]
    lines = [headline(job)]
    rate = f", {job.rows / job.duration:,.0f} rows/s" if job.duration and job.rows else ""
    lines.append(f"  {counted(job.rows, 'row')} scored, {counted(job.failures, 'failed file')} "
                 f"in {job.duration:.1f} s{rate}")
    lines += [f"  {line}" for line in failure_lines(job)]
    if job.error and job.error.lower() != job.status.lower():  # "Canceled" needs no "error: canceled"
        lines.append(f"  error: {job.error}")
    if job.status == "Completed":
        lines.append(f"  results: {job.output}")
        lines.append(f"  copy them with: amlbatch --profile {profile.name} --results {job.job_id} --out DIR")
        rows = preview(profile, job.job_id, 5, target)
        if rows:
            columns = profile.scorer.columns
            lines.append(f"  first rows ({', '.join(columns)}):" if columns else
                         "  first rows (columns unknown: set scorer.columns to name them):")
            lines += [f"    {row}" for row in rows]
    return lines
