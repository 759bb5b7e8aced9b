"""The detached process a local scoring run lives in: `python -m engine.targets.local.jobhost JOB_DIR`.

It runs the job of JOB_DIR/spec.json (written by engine.targets.local.jobs) with engine.batch,
appends the job's events to JOB_DIR/events.jsonl and keeps JOB_DIR/job.json up to date. It stops
when JOB_DIR/cancel appears or SIGTERM arrives (POSIX; on Windows the submitter writes only the file).
"""

from __future__ import annotations

import signal
import threading

# Installed before anything else is imported: a cancel that arrives while the host is still
# starting (Ctrl+C within milliseconds of --submit) must end the job Canceled, not kill the host.
_STOP = threading.Event()
if __name__ == "__main__":  # the host process only: importing this module changes no handler
    for _name in ("SIGTERM", "SIGINT"):
        if hasattr(signal, _name):
            signal.signal(getattr(signal, _name), lambda *_: _STOP.set())

import json  # noqa: E402 - after the handler, on purpose
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from engine import events as ev  # noqa: E402
from engine.batch import BatchSettings, run_batch
from engine.fileio import read_json, write_json
from engine.jobinfo import JobInfo
from engine.secrets import redact, redact_event
from engine.targets.local.jobs import CANCEL_MARKER
from engine.targets.local.state import confined


class _FileCancel:
    """Canceled when the cancel marker appears or SIGTERM arrives."""

    def __init__(self, job_dir: Path):
        self.marker = job_dir / CANCEL_MARKER
        self._event = _STOP  # set by the handler installed when this module was first loaded

    @property
    def canceled(self) -> bool:
        if not self._event.is_set() and self.marker.exists():
            self._event.set()
        return self._event.is_set()

    def is_set(self) -> bool:
        return self.canceled

    def wait(self, seconds: float) -> bool:
        return self._event.wait(seconds) or self.canceled


def host(job_dir: Path) -> int:
    job_dir = confined(job_dir)  # it writes only inside amlbatch's local state
    spec = read_json(job_dir / "spec.json")
    job = JobInfo.from_dict(read_json(job_dir / "job.json"))
    events = open(job_dir / "events.jsonl", "a", encoding="utf-8")
    lock = threading.Lock()
    last: list[ev.JobFinished] = []

    def write(event: ev.Event) -> None:
        event = redact_event(event)  # the job's events are stored: every line passes the redactor
        with lock:
            events.write(json.dumps(event.to_dict(), default=str) + "\n")
            events.flush()

    def emit(event: ev.Event) -> None:
        # The runner's own JobFinished waits until job.json holds the end state: a follower
        # that sees the event then reads a finished job, never a stale "Running".
        if isinstance(event, ev.JobFinished):
            last.append(event)
        else:
            write(event)

    cancel = _FileCancel(job_dir)
    job.status = "Running"
    write_json(job_dir / "job.json", job.to_dict())
    start = time.monotonic()
    try:
        result = run_batch(
            job.job_id, [Path(f) for f in spec["files"]], Path(spec["code_dir"]), spec["script"],
            Path(spec["model_dir"]), BatchSettings.from_dict(spec["settings"]), Path(spec["output_dir"]),
            job_dir / "logs", emit, cancel,
        )
        job.status, job.rows, job.error = result.status, result.rows, result.error
        job.failed_files = [[str(f), str(e)] for f, e in result.failures]
        job.failures = result.failed_files
    except Exception as exc:  # the runner itself broke: the job fails with the reason
        job.status, job.error = "Failed", f"{type(exc).__name__}: {exc}"
        last.clear()
    job.duration = round(time.monotonic() - start, 3)
    job.error = redact(job.error)
    write_json(job_dir / "job.json", job.to_dict())
    write(last[-1] if last else ev.JobFinished(job.job_id, job.status, job.rows, job.failures,
                                                job.duration, job.output, job.error))
    events.close()
    return 0


if __name__ == "__main__":
    sys.exit(host(Path(sys.argv[1])))
