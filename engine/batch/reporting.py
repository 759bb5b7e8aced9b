"""How a local batch job reports: JobStatus, JobProgress and JobLog events, overview.txt, failed
files against error_threshold, and the end of the job (`_Reporting`, the base of
engine.batch.scheduling._Job). Every line it writes or emits passes the one redactor first."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.batch.settings import CANCELED, COMPLETED, BatchResult
from engine.secrets import redact
from engine.words import counted

if TYPE_CHECKING:
    from engine import events as ev

FAILURES_KEPT = 1000  # BatchResult.failures keeps the first ones; overview.txt has them all
FAILURE_EVENTS = 20  # failed files announced as JobLog events; the rest only in overview.txt
PROGRESS_INTERVAL = 0.1  # seconds between JobProgress events
OVERVIEW_PROGRESS_INTERVAL = 5.0


class _JobFailed(Exception):
    pass


class _Reporting:
    """Reporting state and methods of a job; _Job sets the attributes in its __init__."""

    job_id: str
    ev: Any
    emit_fn: Any
    overview: Any
    logs_dir: Path
    failures: list[tuple[str, str]]

    def emit(self, event: ev.Event) -> None:
        self.emit_fn(event)

    def log(self, message: str, level: str = "info", event: bool = True, source: str = "overview") -> None:
        message = redact(message)
        if self.overview is not None:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
            prefix = "" if source == "overview" else f"{source}: "
            self.overview.write(f"{stamp} {level.upper():7} {prefix}{message}\n")
        if event:
            self.emit(self.ev.JobLog(self.job_id, source, message, level))

    def status(self, status: str, message: str = "") -> None:
        self.emit(self.ev.JobStatus(self.job_id, status, message))

    def progress(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and (not self.progress_dirty or now - self.last_progress < PROGRESS_INTERVAL):
            return
        self.last_progress = now
        self.progress_dirty = False
        self.emit(self.ev.JobProgress(self.job_id, self.mb_done, self.n_mb, self.files_done,
                                      self.n_files, self.rows, self.failed_files))
        if force or now - self.last_overview_progress >= OVERVIEW_PROGRESS_INTERVAL:
            self.last_overview_progress = now
            self.log(f"progress: {self.mb_done}/{self.n_mb} mini-batches, {self.files_done}/{self.n_files} "
                     f"files, {self.rows} rows, {counted(self.failed_files, 'failed file')}", event=False)

    def fail_file(self, name: str, reason: str, count: int = 1) -> None:
        reason = redact(reason)  # it is kept in job.json and shown, like every log line
        self.failed_files += count
        if len(self.failures) < FAILURES_KEPT:
            self.failures.append((name, reason))
        announce = self.failure_events < FAILURE_EVENTS
        self.failure_events += 1
        suffix = f" ({count} files)" if count > 1 else ""
        self.log(f"failed: {name}{suffix}: {reason}", "error", event=announce)
        if self.failure_events == FAILURE_EVENTS + 1:
            self.emit(self.ev.JobLog(self.job_id, "overview",
                                     f"more failed files: see {self.logs_dir / 'overview.txt'}", "warning"))

    def check_threshold(self) -> None:
        limit = self.s.error_threshold
        if limit >= 0 and self.failed_files > limit:
            first = self.failures[0] if self.failures else ("?", "?")
            raise _JobFailed(f"{self.failed_files} failed file(s), more than error_threshold {limit}; "
                             f"first: {first[0]}: {first[1]}")

    def finish(self, status: str, error: str, output_file: Path | None, partial_file: Path | None,
               ) -> BatchResult:
        duration = round(time.monotonic() - self.start, 3)
        self.progress(force=True)
        if status == COMPLETED:
            where = f"; output {output_file}" if output_file else ""
            self.log(f"job Completed: {self.rows} rows, {counted(self.failed_files, 'failed file')}, "
                     f"{duration:.2f} s{where}")
        elif status == CANCELED:
            self.log(f"job Canceled after {duration:.2f} s; no output kept", "warning")
        else:
            kept = f"; rows of the completed mini-batches kept in {partial_file}" if partial_file else ""
            self.log(f"job Failed: {error}{kept}", "error")
        self.status(status, error)
        self.emit(self.ev.JobFinished(self.job_id, status, self.rows, self.failed_files, duration,
                                 str(output_file) if output_file else "", error))
        return BatchResult(status=status, rows=self.rows, failures=list(self.failures),
                           failed_files=self.failed_files, files_total=self.n_files,
                           files_done=self.files_done, mini_batches_total=self.n_mb,
                           mini_batches_done=self.mb_done, duration=duration, output_file=output_file,
                           partial_file=partial_file, error=error, workers=self.n_workers)
