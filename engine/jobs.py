"""Scoring runs: submit one to the profile's endpoint, follow it, list runs, fetch results.

The same calls work on both targets; each target implements
  submit_job(input_path) -> JobInfo, follow_job(job_id, emit, cancel) -> JobInfo,
  list_jobs() -> list[JobInfo], get_job(job_id) -> JobInfo, cancel_job(job_id),
  download_results(job_id, out_dir) -> list[Path], preview_rows(job_id, limit) -> list[str].
"""

from __future__ import annotations

import dataclasses
import time
from contextlib import contextmanager
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from engine import events as ev
from engine.errors import AmlBatchError
from engine.profile import Profile
from engine.run import CancelToken, RunRecord

TERMINAL = ("Completed", "Failed", "Canceled")


@dataclass
class JobInfo:
    job_id: str
    status: str
    submitted: float
    input: str = ""
    output: str = ""  # where the results are (a folder path locally, an azureml:// URI on Azure)
    rows: int = 0
    failures: int = 0
    duration: float = 0.0
    error: str = ""
    failed_files: list[list[str]] = field(default_factory=list)  # [file, error]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "JobInfo":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL


def new_job_id(profile: Profile) -> str:
    """Sortable and unique: time first, so `--jobs` lists in order."""
    return f"{profile.endpoint_name}-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}"


def _target(profile: Profile, emit: ev.Emit, cancel: CancelToken) -> Any:
    from engine.targets import create

    return create(profile, emit, cancel)


def submit(profile: Profile, emit: ev.Emit, cancel: CancelToken | None = None,
           input_path: str | None = None, wait: bool = True, target: Any = None) -> JobInfo:
    """Submit a scoring run and, with `wait`, follow it to the end. Canceling the token while
    following cancels the job."""
    cancel = cancel or CancelToken()
    record = RunRecord(profile, uuid.uuid4().hex, "submit")

    def fan_out(event: ev.Event) -> None:
        from engine.run import _redacted

        event = _redacted(event)
        record(event)
        emit(event)

    target = target or _target(profile, fan_out, cancel)
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
        close = getattr(target, "close", None)
        if close:
            close()


@contextmanager
def _using(profile: Profile, target: Any) -> Iterator[Any]:
    """The caller's target, or a new one that is closed afterwards."""
    if target is not None:
        yield target
        return
    made = _target(profile, lambda e: None, CancelToken())
    try:
        yield made
    finally:
        close = getattr(made, "close", None)
        if close:
            close()


def list_jobs(profile: Profile, target: Any = None) -> list[JobInfo]:
    with _using(profile, target) as t:
        return sorted(t.list_jobs(), key=lambda j: j.submitted)


def get_job(profile: Profile, job_id: str, target: Any = None) -> JobInfo:
    with _using(profile, target) as t:
        return t.get_job(job_id)


def cancel_job(profile: Profile, job_id: str, target: Any = None) -> None:
    with _using(profile, target) as t:
        t.cancel_job(job_id)


def results(profile: Profile, job_id: str, out_dir: Path, target: Any = None) -> list[Path]:
    with _using(profile, target) as t:
        job = t.get_job(job_id)
        if job.status != "Completed":
            raise AmlBatchError(f"job {job_id} is {job.status}: results exist only for Completed runs")
        return t.download_results(job_id, out_dir)


def preview(profile: Profile, job_id: str, limit: int = 10, target: Any = None) -> list[str]:
    with _using(profile, target) as t:
        return t.preview_rows(job_id, limit)


def summary_lines(profile: Profile, job: JobInfo, target: Any = None) -> list[str]:
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
