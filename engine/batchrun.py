"""Run a batch-scoring job on this machine with Azure ML batch-deployment semantics.

The local target calls `run_batch`; this module needs only the standard library (numpy and the
user's dependencies are imported by the worker processes, through the user's scoring script).

    settings = BatchSettings.from_endpoint(profile.endpoint)
    result = run_batch(job_id, files, scorer_dir, "score.py", scorer_dir / "model", settings,
                       output_dir, logs_dir, emit, cancel)

    run_batch(job_id, files, scorer_dir, script, model_dir, settings, output_dir, logs_dir, emit,
              cancel=None, max_workers=None) -> BatchResult

What it does, as an Azure batch deployment does:

- `files` is split, in order, into mini-batches of `settings.mini_batch_size` files.
- `instance_count * max_concurrency_per_instance` worker processes are started, capped at
  `max_workers` (default: the cores this process may use) and at the number of mini-batches; a
  JobLog (warning) says when the cores or max_workers cap applies. Workers are `multiprocessing`
  processes of the "spawn" context (safe when the caller runs threads, e.g. a Textual app); they
  do not re-import the caller's __main__ (see `_install_spawn_hook`), so start-up costs a Python
  start plus what the script imports.
- Each worker puts `scorer_dir` first on sys.path, loads `scorer_dir/script` by its file path,
  sets `AZUREML_MODEL_DIR=model_dir`, `AZUREML_BI_OUTPUT_PATH=output_dir` and
  `AMLBATCH_OUTPUT_ACTION=<output_action>` (and OMP/OpenBLAS/MKL thread counts of
  cores // workers unless already set), calls `init()` once, then `run(mini_batch)` per mini-batch
  with the files' absolute paths. SIGINT is ignored in workers: Ctrl+C is the caller's to handle.
- `timeout` applies to each `run()` call; a mini-batch whose run() raises, times out (the worker is
  killed) or whose worker dies (segfault, os._exit) is tried again, up to `max_retries` more times
  (a dead worker is replaced by a new process). After the last attempt all its files count as
  failed, with the last error.
- `init()` (or importing the script) failing: that worker exits and a new one is started; the job
  fails with the init error ("init() failed: <Type>: <message>") once init has failed more than
  `max_retries` times in all (Azure restarts failed processes too; a deterministic init bug thus
  costs 1 + max_retries start-ups). `settings.init_timeout` bounds a hung import or init().
- Failed files: the files of mini-batches that failed as above, plus what the script reports
  itself: a script may define `pop_failures() -> list[(path, reason)]` (the bundled scorer does: it
  skips bad files and names them). Without it Azure's rule applies: fewer results than files in a
  mini-batch count as that many failed files, reported under the mini-batch's name since nothing
  says which. When failed files exceed `error_threshold` (-1: never) the job stops and fails.
- `append_row`: every element run() returns becomes one line of `output_dir/<output_file_name>`
  (a pandas DataFrame result becomes CSV rows without header). `summary_only`: results are only
  counted (`BatchResult.rows` then counts items); the script writes its own files under
  AZUREML_BI_OUTPUT_PATH.
- Cancel (`cancel.set()` on a threading.Event, or any object whose `.canceled` is true, such as
  engine.run.CancelToken) is checked at least every 0.1 s; the workers are killed and the job
  ends Canceled.

Output file: a worker writes its rows to its own part file (`output_dir/.amlbatch-<job>.parts/`)
and reports only a byte range; the parent accepts the range only when it accepts the mini-batch as
done, so bytes of an attempt that timed out, crashed or was given up never reach the output and a
retried mini-batch never duplicates rows. Accepted ranges are copied (sendfile) in mini-batch order,
i.e. input file order, into a hidden temporary file as soon as all earlier mini-batches are
finished, so the parent holds no rows and the copying overlaps the scoring. At the end:
Completed -> the temporary file is renamed to `<output_file_name>`; Failed -> the rows of every
mini-batch that did complete are kept as `<output_file_name>.partial` (`BatchResult.partial_file`)
and no `<output_file_name>` is written; Canceled -> nothing is kept. An existing
`<output_file_name>` makes the job fail before it starts (use a fresh output folder per job, as on
Azure). Part and temporary files are always removed.

Logs: `logs_dir/overview.txt` (like Azure's job_progress_overview.txt: settings, worker start-up
and exits, retries, every failed file, progress every 5 s, final status) and
`logs_dir/worker-N.txt` (one per worker process, a replacement gets the next N: the script's
stdout and stderr, file descriptors included, logging at `logging_level`, tracebacks, faulthandler
dumps on a crash). Notable overview lines (cap, retries, crashes, time-outs, the first 20 failed
files, the end) and the script's first 50 WARNING+ log records go out as JobLog events.

Events, always emitted from the calling thread: JobStatus Starting -> Running (first worker ready)
-> Finalizing (Completed only) -> Completed | Failed | Canceled; JobProgress at most every 0.1 s
plus a final one; JobLog; exactly one JobFinished, last. `run_batch` returns a `BatchResult`; it
raises only ValueError for invalid arguments (before anything starts) and whatever `emit` raises
(the workers are killed first).
"""

from __future__ import annotations

import collections
import errno
import importlib.util
import logging
import math
import multiprocessing
import os
import re
import shutil
import signal
import sys
import threading
import time
import traceback
from array import array
from dataclasses import dataclass, field, fields
from multiprocessing.connection import wait as _wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine import events as ev

COMPLETED, FAILED, CANCELED = "Completed", "Failed", "Canceled"
APPEND_ROW, SUMMARY_ONLY = "append_row", "summary_only"
LOG_LEVELS = ("debug", "info", "warning", "error")
FAILURES_KEPT = 1000  # BatchResult.failures keeps the first ones; overview.txt has them all
FAILURE_EVENTS = 20  # failed files announced as JobLog events; the rest only in overview.txt
WORKER_LOG_EVENTS = 50  # script log records forwarded as JobLog events, per job
PROGRESS_INTERVAL = 0.1  # seconds between JobProgress events
OVERVIEW_PROGRESS_INTERVAL = 5.0
POLL = 0.1  # longest wait between cancel checks
STOP_GRACE = 2.0  # seconds a worker gets to exit after "stop" before it is killed
_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation in part and output files


@dataclass
class BatchSettings:
    """Azure ML batch deployment settings (same names and defaults), plus `init_timeout`."""

    mini_batch_size: int = 10
    instance_count: int = 1
    max_concurrency_per_instance: int = 1
    output_action: str = APPEND_ROW
    output_file_name: str = "predictions.csv"
    error_threshold: int = -1
    max_retries: int = 3
    timeout: float = 30.0  # seconds per run() call
    logging_level: str = "info"
    init_timeout: float = 600.0  # seconds for a worker to start, import the script and init()

    @classmethod
    def from_endpoint(cls, endpoint: Any) -> "BatchSettings":
        """From any object with these attribute names (e.g. the profile's endpoint section)."""
        values = {f.name: getattr(endpoint, f.name) for f in fields(cls) if hasattr(endpoint, f.name)}
        return cls(**values)

    def validate(self) -> None:
        problems = []
        if self.mini_batch_size < 1:
            problems.append("mini_batch_size must be >= 1")
        if self.instance_count < 1 or self.max_concurrency_per_instance < 1:
            problems.append("instance_count and max_concurrency_per_instance must be >= 1")
        if self.output_action not in (APPEND_ROW, SUMMARY_ONLY):
            problems.append(f"output_action must be {APPEND_ROW} or {SUMMARY_ONLY}")
        name = self.output_file_name
        if not name or name in (".", "..") or "/" in name or "\\" in name:
            problems.append("output_file_name must be a plain file name")
        if self.error_threshold < -1:
            problems.append("error_threshold must be >= -1")
        if self.max_retries < 0:
            problems.append("max_retries must be >= 0")
        if not self.timeout > 0 or not self.init_timeout > 0:
            problems.append("timeout and init_timeout must be > 0")
        if self.logging_level.lower() not in LOG_LEVELS:
            problems.append(f"logging_level must be one of {', '.join(LOG_LEVELS)}")
        if problems:
            raise ValueError("; ".join(problems))


@dataclass
class BatchResult:
    status: str  # Completed | Failed | Canceled
    rows: int = 0  # results returned by run(): output rows (append_row) or items (summary_only)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (file, error), first 1000
    failed_files: int = 0  # all failed files (the error_threshold count)
    files_total: int = 0
    files_done: int = 0  # files of finished mini-batches (scored or failed)
    mini_batches_total: int = 0
    mini_batches_done: int = 0
    duration: float = 0.0
    output_file: Path | None = None  # append_row and Completed only
    partial_file: Path | None = None  # Failed: rows of the mini-batches that completed
    error: str = ""
    workers: int = 0  # worker processes run at the same time


def usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


# ---------------------------------------------------------------------------------------- parent


class _Canceled(Exception):
    pass


class _JobFailed(Exception):
    pass


class _Worker:
    """The parent's handle on one worker process."""

    def __init__(self, seq: int, proc: Any, conn: Any, part: Path, deadline: float):
        self.seq = seq
        self.name = f"worker-{seq}"
        self.proc = proc
        self.conn = conn
        self.part = part
        self.state = "starting"  # starting | idle | busy | dead
        self.mb = -1  # mini-batch in progress
        self.deadline = deadline


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "did not exit"
    if code < 0:
        try:
            return f"was killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


WORKER_PREFIX = "amlbatch-worker-"
_hook_lock = threading.Lock()


def _install_spawn_hook() -> None:
    """Spawned workers must not re-run the parent's __main__.

    multiprocessing's "spawn" re-imports the parent's main module in every child (as __mp_main__)
    before the target runs. For amlbatch that is the CLI/TUI entry point (a Textual import, and
    output before the worker redirects it to its log), or a caller's script without an
    `if __name__ == "__main__"` guard, which would start jobs recursively. The worker target lives
    in this module and its arguments are plain data, so the main module is not needed: this wraps
    `multiprocessing.spawn.get_preparation_data` once, dropping the main-module entries only for
    processes named amlbatch-worker-*; every other process is prepared as before."""
    from multiprocessing import spawn

    with _hook_lock:
        original = spawn.get_preparation_data
        if getattr(original, "_amlbatch", False):
            return

        def get_preparation_data(name: str, *args: Any, **kwargs: Any) -> dict:
            data = original(name, *args, **kwargs)
            if isinstance(name, str) and name.startswith(WORKER_PREFIX):
                data.pop("init_main_from_name", None)
                data.pop("init_main_from_path", None)
            return data

        get_preparation_data._amlbatch = True  # type: ignore[attr-defined]
        spawn.get_preparation_data = get_preparation_data


def _is_canceled(cancel: Any) -> bool:
    if cancel is None:
        return False
    is_set = getattr(cancel, "is_set", None)
    if callable(is_set):
        return bool(is_set())
    return bool(getattr(cancel, "canceled", False))


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:60] or "job"


def _copy_range(src: int, dst: int, offset: int, count: int) -> None:
    """Write bytes [offset, offset+count) of fd `src` at the current position of fd `dst`:
    in the kernel with sendfile where it works (Linux), else through a buffer."""
    sendfile = getattr(os, "sendfile", None)
    while count > 0:
        if sendfile is not None:
            try:
                sent = sendfile(dst, src, offset, min(count, 1 << 30))
            except OSError as exc:
                if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EIO):
                    raise
                sendfile = None  # e.g. macOS: sendfile only writes to sockets
                continue
            if sent == 0:
                raise OSError(f"part file ends before byte {offset + count}")
        else:
            chunk = _read_at(src, min(count, 1 << 20), offset)
            if not chunk:
                raise OSError(f"part file ends before byte {offset + count}")
            view = memoryview(chunk)
            while view:
                view = view[os.write(dst, view):]
            sent = len(chunk)
        offset += sent
        count -= sent


def _read_at(fd: int, size: int, offset: int) -> bytes:
    if hasattr(os, "pread"):
        return os.pread(fd, size, offset)
    os.lseek(fd, offset, os.SEEK_SET)  # Windows
    return os.read(fd, size)


def _write_at(fd: int, data: bytes, offset: int) -> int:
    """Write all of `data` at `offset`; returns the offset after it."""
    view = memoryview(data)
    while view:
        if hasattr(os, "pwrite"):
            written = os.pwrite(fd, view, offset)
        else:  # Windows
            os.lseek(fd, offset, os.SEEK_SET)
            written = os.write(fd, view)
        offset += written
        view = view[written:]
    return offset


class _Job:
    def __init__(self, job_id: str, files: list[Path], scorer_dir: Path, script: str, model_dir: Path,
                 settings: BatchSettings, output_dir: Path, logs_dir: Path, emit: ev.Emit, cancel: Any,
                 max_workers: int | None):
        self.job_id = job_id
        self.files = files
        self.scorer_dir = Path(scorer_dir).resolve()
        self.script = script
        self.model_dir = Path(model_dir).resolve()
        self.s = settings
        self.output_dir = Path(output_dir).resolve()
        self.logs_dir = Path(logs_dir).resolve()
        from engine import events  # not at module level: worker processes import this module

        self.ev = events
        self.emit_fn = emit
        self.cancel = cancel
        self.max_workers = max_workers
        self.start = time.monotonic()

        self.n_files = len(files)
        self.n_mb = math.ceil(self.n_files / settings.mini_batch_size)
        self.next_mb = 0  # first mini-batch never dispatched
        self.retry: collections.deque[int] = collections.deque()
        self.attempts: dict[int, int] = {}  # failed attempts of mini-batches being retried
        # each mini-batch's accepted output: r_part -1 = not finished, 0 = finished without rows,
        # N = rows at [r_start, r_end) of worker N's part file
        self.r_part = array("q", [-1]) * self.n_mb
        self.r_start = array("q", [0]) * self.n_mb
        self.r_end = array("q", [0]) * self.n_mb

        self.workers: list[_Worker] = []
        self.seq = 0
        self.n_workers = 0
        self.init_failures = 0
        self.running_emitted = False

        self.rows = 0
        self.files_done = 0
        self.mb_done = 0
        self.failed_files = 0
        self.failures: list[tuple[str, str]] = []
        self.failure_events = 0
        self.worker_log_events = 0
        self.last_progress = 0.0
        self.last_overview_progress = time.monotonic()
        self.progress_dirty = False

        self.out_path = self.output_dir / settings.output_file_name
        self.partial_path = self.output_dir / (settings.output_file_name + ".partial")
        self.parts_dir = self.output_dir / f".amlbatch-{_safe_name(job_id)}.parts"
        self.tmp_path = self.output_dir / f".{settings.output_file_name}.{_safe_name(job_id)}.tmp"
        self.out_fd: int | None = None  # tmp_path, written in mini-batch order as the prefix completes
        self.merged = 0  # mini-batches before this one are in tmp_path
        self.part_fds: dict[int, int] = {}
        self.overview = None
        self.ctx = multiprocessing.get_context("spawn")

    # ----------------------------------------------------------------------------- reporting

    def emit(self, event: ev.Event) -> None:
        self.emit_fn(event)

    def log(self, message: str, level: str = "info", event: bool = True, source: str = "overview") -> None:
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
                     f"files, {self.rows} rows, {self.failed_files} failed files", event=False)

    def fail_file(self, name: str, reason: str, count: int = 1) -> None:
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

    # ------------------------------------------------------------------------------- workers

    def mb_files(self, mb: int) -> list[str]:
        size = self.s.mini_batch_size
        return [os.path.abspath(os.fspath(p)) for p in self.files[mb * size:(mb + 1) * size]]

    def start_worker(self) -> None:
        self.seq += 1
        seq = self.seq
        name = f"worker-{seq}"
        part = self.parts_dir / f"part-{seq}.txt"
        threads = str(max(1, usable_cores() // max(1, self.n_workers)))
        config = {
            "name": name,
            "job_id": self.job_id,
            "scorer_dir": str(self.scorer_dir),
            "script": str(self.scorer_dir / self.script),
            "part": str(part),
            "log": str(self.logs_dir / f"{name}.txt"),
            "logging_level": self.s.logging_level.lower(),
            "output_action": self.s.output_action,
            "env": {
                "AZUREML_MODEL_DIR": str(self.model_dir),
                "AZUREML_BI_OUTPUT_PATH": str(self.output_dir),
                "AMLBATCH_OUTPUT_ACTION": self.s.output_action,
            },
            "env_defaults": {var: threads for var in
                             ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")},
        }
        parent_conn, child_conn = self.ctx.Pipe(duplex=True)
        _install_spawn_hook()
        proc = self.ctx.Process(target=_worker_main, args=(child_conn, config), name=f"{WORKER_PREFIX}{seq}")
        proc.start()
        child_conn.close()
        self.workers.append(_Worker(seq, proc, parent_conn, part, time.monotonic() + self.s.init_timeout))
        self.log(f"{name} started (pid {proc.pid}), log: {config['log']}", "debug", event=False)

    def kill(self, worker: _Worker) -> None:
        if worker.proc.is_alive():
            worker.proc.kill()
        worker.state = "dead"

    def reap(self, worker: _Worker) -> None:
        try:
            worker.conn.close()
        except OSError:
            pass
        worker.proc.join(1.0)
        if worker.proc.is_alive():
            worker.proc.kill()
            worker.proc.join(1.0)
        if worker in self.workers:
            self.workers.remove(worker)

    def attempt_failed(self, mb: int, reason: str) -> None:
        tries = self.attempts.get(mb, 0) + 1
        total = self.s.max_retries + 1
        files = self.mb_files(mb)
        label = self.mb_label(mb)
        if tries < total:
            self.attempts[mb] = tries
            self.retry.append(mb)
            self.log(f"{label} attempt {tries} of {total} failed: {reason}; retrying", "warning")
            return
        self.attempts.pop(mb, None)
        self.r_part[mb] = 0
        self.append_output()
        self.log(f"{label} failed after {total} attempt(s): {reason}", "error")
        self.files_done += len(files)
        self.mb_done += 1
        self.progress_dirty = True
        for path in files:
            self.fail_file(path, reason)
        self.check_threshold()

    def init_failed(self, worker: _Worker, reason: str) -> None:
        self.init_failures += 1
        self.log(f"{worker.name}: init failed ({self.init_failures} of {self.s.max_retries + 1} allowed): "
                 f"{reason}", "error")
        if self.init_failures > self.s.max_retries:
            raise _JobFailed(f"init() failed: {reason}")

    def on_message(self, worker: _Worker, msg: tuple) -> None:
        kind = msg[0]
        if kind == "ready":
            worker.state = "idle"
            hook = ", reports bad files through pop_failures()" if msg[1] else ""
            self.log(f"{worker.name} ready (import and init took {msg[2]:.2f} s{hook})", "info", event=False)
            if not self.running_emitted:
                self.running_emitted = True
                self.status("Running")
        elif kind == "init_failed":
            worker.state = "dead"
            self.init_failed(worker, msg[1])
        elif kind == "log":
            level, text = msg[1], msg[2]
            announce = self.worker_log_events < WORKER_LOG_EVENTS
            self.worker_log_events += 1
            self.log(text, level, event=announce, source=worker.name)
        elif kind in ("done", "error"):
            mb = msg[1]
            if worker.state != "busy" or worker.mb != mb:
                return  # stale: the parent already gave up on this attempt
            worker.state, worker.mb = "idle", -1
            if kind == "error":
                self.attempt_failed(mb, msg[2])
                return
            _, _, items, start, end, failures = msg
            self.attempts.pop(mb, None)
            if end > start:
                self.r_part[mb], self.r_start[mb], self.r_end[mb] = worker.seq, start, end
            else:
                self.r_part[mb] = 0
            self.append_output()
            n_files = self.mb_len(mb)
            self.rows += items
            self.files_done += n_files
            self.mb_done += 1
            self.progress_dirty = True
            if failures is not None:  # the script named its failed files
                for path, reason in failures:
                    self.fail_file(path, reason)
            elif items < n_files:  # Azure's rule: fewer results than files
                self.fail_file(self.mb_label(mb), f"run() returned {items} results for {n_files} files",
                               count=n_files - items)
            self.check_threshold()

    def mb_label(self, mb: int) -> str:
        files = self.mb_files(mb)
        last = f" .. {os.path.basename(files[-1])}" if len(files) > 1 else ""
        return f"mini-batch {mb + 1} ({os.path.basename(files[0])}{last})"

    def mb_len(self, mb: int) -> int:
        size = self.s.mini_batch_size
        return min(size, self.n_files - mb * size)

    def on_death(self, worker: _Worker, reason: str | None = None) -> None:
        state, mb = worker.state, worker.mb
        self.kill(worker)
        self.reap(worker)
        why = reason or f"worker process {_describe_exit(worker.proc.exitcode)}"
        if state == "starting":
            self.init_failed(worker, why)
        elif state == "busy":
            if reason:
                self.log(f"{worker.name}: mini-batch {mb + 1} {reason}; worker killed", "error")
            else:
                self.log(f"{worker.name}: {why} during mini-batch {mb + 1}; see {worker.name}.txt", "error")
            self.attempt_failed(mb, why)
        elif reason is None and state == "idle":
            self.log(f"{worker.name}: {why} while idle", "warning")

    def drain(self, worker: _Worker) -> bool:
        """Handle every message waiting from `worker`; False if its pipe is closed."""
        try:
            while worker.state != "dead" and worker.conn.poll():
                self.on_message(worker, worker.conn.recv())
        except (EOFError, OSError):
            return False
        return True

    def undispatched(self) -> int:
        return len(self.retry) + (self.n_mb - self.next_mb)

    def dispatch(self) -> None:
        for worker in self.workers:
            if worker.state != "idle":
                continue
            if self.retry:
                mb = self.retry.popleft()
            elif self.next_mb < self.n_mb:
                mb = self.next_mb
                self.next_mb += 1
            else:
                return
            try:
                worker.conn.send((mb, self.mb_files(mb)))
            except (OSError, ValueError):
                self.retry.appendleft(mb)
                self.on_death(worker)
                return
            worker.state, worker.mb = "busy", mb
            worker.deadline = time.monotonic() + self.s.timeout

    def top_up(self) -> None:
        """Start workers while there is work no live worker could take."""
        while True:
            alive = [w for w in self.workers if w.state != "dead"]
            free = sum(1 for w in alive if w.state in ("starting", "idle"))
            if len(alive) >= self.n_workers or self.undispatched() <= free:
                return
            self.start_worker()

    # ---------------------------------------------------------------------------------- run

    def run(self) -> BatchResult:
        s = self.s
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.overview = open(self.logs_dir / "overview.txt", "a", encoding="utf-8", buffering=1)
        try:
            self.status("Starting")
            self.log(f"job {self.job_id}: {self.n_files} files in {self.n_mb} mini-batches of up to "
                     f"{s.mini_batch_size}; script {self.scorer_dir / self.script}; model {self.model_dir}; "
                     f"output_action {s.output_action}; error_threshold {s.error_threshold}; "
                     f"max_retries {s.max_retries}; timeout {s.timeout:g} s", event=False)
            error = ""
            try:
                status = self.loop()
            except _JobFailed as exc:
                status, error = FAILED, str(exc)
            except _Canceled:
                status, error = CANCELED, "canceled"
            if status == COMPLETED:
                self.request_stop()  # workers exit while the output is written
            else:
                self.kill_all()  # nothing more may reach the part files
            status, error, output_file, partial_file = self.write_output(status, error)
            self.join_workers()
            return self.finish(status, error, output_file, partial_file)
        finally:
            self.kill_all()
            self.join_workers()
            self.close_output()
            self.tmp_path.unlink(missing_ok=True)
            shutil.rmtree(self.parts_dir, ignore_errors=True)
            if self.overview is not None:
                self.overview.close()
                self.overview = None

    def loop(self) -> str:
        s = self.s
        if not (self.scorer_dir / self.script).is_file():
            raise _JobFailed(f"scoring script not found: {self.scorer_dir / self.script}")
        if s.output_action == APPEND_ROW and self.out_path.exists():
            raise _JobFailed(f"output file already exists: {self.out_path} "
                             "(use a fresh output folder per job)")
        requested = s.instance_count * s.max_concurrency_per_instance
        cap = self.max_workers if self.max_workers is not None else usable_cores()
        cap = max(1, cap)
        self.n_workers = min(requested, cap)
        if requested > cap:
            why = "max_workers" if self.max_workers is not None else f"the {cap} cores of this machine"
            self.log(f"{requested} worker processes requested (instance_count {s.instance_count} x "
                     f"max_concurrency_per_instance {s.max_concurrency_per_instance}); running {cap}, "
                     f"capped by {why}", "warning")
        self.n_workers = max(1, min(self.n_workers, self.n_mb))
        if s.output_action == APPEND_ROW:
            self.out_fd = os.open(self.tmp_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _BINARY, 0o644)
        if self.n_mb == 0:
            self.log("no input files", "warning")
            return COMPLETED
        self.parts_dir.mkdir(parents=True, exist_ok=True)
        self.log(f"starting {self.n_workers} worker process(es); logs in {self.logs_dir}")
        while True:
            if _is_canceled(self.cancel):
                self.log("cancel requested: stopping workers", "warning")
                raise _Canceled()
            self.dispatch()
            if self.mb_done >= self.n_mb:
                return COMPLETED
            self.top_up()
            self.dispatch()
            now = time.monotonic()
            deadlines = [w.deadline for w in self.workers if w.state in ("starting", "busy")]
            timeout = max(0.0, min([POLL] + [d - now for d in deadlines]))
            waitables = {}
            for w in self.workers:
                waitables[w.conn] = w
                waitables[w.proc.sentinel] = w
            ready = _wait(list(waitables), timeout) if waitables else time.sleep(timeout) or []
            seen = set()
            for obj in ready:
                w = waitables[obj]
                if w.seq in seen or w.state == "dead" and w not in self.workers:
                    continue
                seen.add(w.seq)
                open_pipe = self.drain(w)
                if w.state == "dead" or not open_pipe or not w.proc.is_alive():
                    # exited (maybe after init_failed) or pipe closed: replace it
                    self.on_death(w)
            now = time.monotonic()
            for w in list(self.workers):
                if w.state == "starting" and now > w.deadline:
                    self.on_death(w, f"init did not finish within {s.init_timeout:g} s")
                elif w.state == "busy" and now > w.deadline:
                    self.drain(w)  # a result that arrived just in time still counts
                    if w.state == "busy":
                        self.on_death(w, f"timed out after {s.timeout:g} s")
            self.progress()

    def request_stop(self) -> None:
        for w in self.workers:
            try:
                w.conn.send(None)
            except (OSError, ValueError):
                pass
        self.stop_deadline = time.monotonic() + STOP_GRACE

    def kill_all(self) -> None:
        for w in self.workers:
            if w.proc.is_alive():
                w.proc.kill()

    def join_workers(self) -> None:
        deadline = getattr(self, "stop_deadline", time.monotonic() + 1.0)
        for w in self.workers:
            w.proc.join(max(0.0, deadline - time.monotonic()))
            if w.proc.is_alive():
                w.proc.kill()
                w.proc.join(1.0)
            try:
                w.conn.close()
            except OSError:
                pass
        self.workers.clear()

    def copy_rows(self, mb: int) -> None:
        seq = self.r_part[mb]
        if seq <= 0 or self.out_fd is None:
            return
        fd = self.part_fds.get(seq)
        if fd is None:
            fd = self.part_fds[seq] = os.open(self.parts_dir / f"part-{seq}.txt", os.O_RDONLY | _BINARY)
        _copy_range(fd, self.out_fd, self.r_start[mb], self.r_end[mb] - self.r_start[mb])

    def append_output(self) -> None:
        """Copy the finished mini-batches that follow the output's end, in order (rows of later
        ones wait in the part files): the output file is ready when the last one finishes."""
        try:
            while self.merged < self.n_mb and self.r_part[self.merged] >= 0:
                self.copy_rows(self.merged)
                self.merged += 1
        except OSError as exc:
            raise _JobFailed(f"writing {self.tmp_path} failed: {exc}") from None

    def close_output(self) -> None:
        if self.out_fd is not None:
            os.close(self.out_fd)
            self.out_fd = None
        for fd in self.part_fds.values():
            os.close(fd)
        self.part_fds.clear()

    def write_output(self, status: str, error: str) -> tuple[str, str, Path | None, Path | None]:
        """Completed: rename the output into place. Failed: keep the finished mini-batches' rows
        as <name>.partial. Canceled: keep nothing."""
        output_file = partial_file = None
        if self.out_fd is None:
            return status, error, None, None
        try:
            if status == COMPLETED:
                self.status("Finalizing")
                self.append_output()
                if self.merged != self.n_mb:
                    raise _JobFailed("internal error: output incomplete")
                self.close_output()
                os.replace(self.tmp_path, self.out_path)
                output_file = self.out_path
            elif status == FAILED:
                for mb in range(self.merged, self.n_mb):  # finished after a gap
                    self.copy_rows(mb)
                rows_kept = os.fstat(self.out_fd).st_size > 0
                self.close_output()
                if rows_kept:
                    os.replace(self.tmp_path, self.partial_path)
                    partial_file = self.partial_path
        except (OSError, _JobFailed) as exc:
            status, error, output_file = FAILED, f"writing {self.out_path.name} failed: {exc}", None
        finally:
            self.close_output()
            self.tmp_path.unlink(missing_ok=True)
        return status, error, output_file, partial_file

    def finish(self, status: str, error: str, output_file: Path | None, partial_file: Path | None,
               ) -> BatchResult:
        duration = round(time.monotonic() - self.start, 3)
        self.progress(force=True)
        if status == COMPLETED:
            where = f"; output {output_file}" if output_file else ""
            self.log(f"job Completed: {self.rows} rows, {self.failed_files} failed files, "
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


def run_batch(job_id: str, files: list[Path], scorer_dir: Path, script: str, model_dir: Path,
              settings: BatchSettings, output_dir: Path, logs_dir: Path, emit: ev.Emit,
              cancel: Any = None, max_workers: int | None = None) -> BatchResult:
    """Score `files` with the scoring script `scorer_dir/script` (see the module docstring).

    cancel: a threading.Event, an object with a `.canceled` property (engine.run.CancelToken), or
    None. max_workers: cap on worker processes (default: the usable cores)."""
    settings.validate()
    if max_workers is not None and max_workers < 1:
        raise ValueError("max_workers must be >= 1")
    job = _Job(job_id, list(files) if not isinstance(files, list) else files, Path(scorer_dir), script,
               Path(model_dir), settings, Path(output_dir), Path(logs_dir), emit, cancel, max_workers)
    return job.run()


# ---------------------------------------------------------------------------------------- worker


class _Sender:
    """Thread-safe sends to the parent (the script may log from its own threads)."""

    def __init__(self, conn: Any):
        self.conn = conn
        self.lock = threading.Lock()

    def __call__(self, msg: tuple) -> None:
        with self.lock:
            self.conn.send(msg)


class _ForwardHandler(logging.Handler):
    def __init__(self, send: _Sender, limit: int = WORKER_LOG_EVENTS):
        super().__init__(logging.WARNING)
        self.send = send
        self.left = limit

    def emit(self, record: logging.LogRecord) -> None:
        if self.left <= 0:
            return
        self.left -= 1
        try:
            level = "error" if record.levelno >= logging.ERROR else "warning"
            self.send(("log", level, record.getMessage()[:2000]))
        except Exception:
            pass


def _redirect_output(path: str) -> None:
    """stdout and stderr (file descriptors 1 and 2 too, for C code) go to the worker's log."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except Exception:
            pass
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout = open(1, "w", encoding="utf-8", errors="backslashreplace", buffering=1, closefd=False)
    sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", buffering=1, closefd=False)


def _serialize(result: Any, action: str) -> tuple[int, bytes]:
    """(number of results, bytes for the part file) of what run() returned."""
    if result is None:
        raise TypeError("run() returned None; it must return a list (or a pandas DataFrame)")
    if isinstance(result, (str, bytes)):
        raise TypeError("run() returned a string; it must return a list (or a pandas DataFrame)")
    if hasattr(result, "to_csv") and hasattr(result, "columns"):  # pandas DataFrame
        if action == SUMMARY_ONLY:
            return len(result), b""
        return len(result), result.to_csv(header=False, index=False).encode("utf-8")
    if not isinstance(result, list):
        result = list(result)
    if action == SUMMARY_ONLY or not result:
        return len(result), b""
    text = "\n".join([item if isinstance(item, str) else str(item) for item in result])
    return len(result), (text + "\n").encode("utf-8")


def _worker_main(conn: Any, config: dict[str, Any]) -> None:
    """A worker process: load the script, init(), then run() each mini-batch the parent sends.

    Messages to the parent: ("ready", has_pop_failures, init_seconds) | ("init_failed", error) |
    ("done", mb, n_results, start, end, failures_or_None) | ("error", mb, error) |
    ("log", level, text). From the parent: (mb, [paths]) or None (stop)."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the parent's to handle
    except (ValueError, OSError):
        pass
    _redirect_output(config["log"])
    import faulthandler

    faulthandler.enable()
    send = _Sender(conn)
    os.environ.update(config["env"])
    for var, value in config["env_defaults"].items():
        os.environ.setdefault(var, value)
    root = logging.getLogger()
    root.setLevel(getattr(logging, config["logging_level"].upper(), logging.INFO))
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.addHandler(_ForwardHandler(send))
    name, script = config["name"], config["script"]
    # a worker's stdout is its own log file (logs/worker-N.txt), never the user's terminal
    sys.stdout.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {name} (pid {os.getpid()}) of job "
                     f"{config['job_id']}: loading {script}\n")
    sys.stdout.flush()

    started = time.monotonic()
    try:
        sys.path.insert(0, config["scorer_dir"])
        module_name = Path(script).stem
        if not module_name.isidentifier() or module_name in sys.modules:
            module_name = "amlbatch_entry_script"
        spec = importlib.util.spec_from_file_location(module_name, script)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {script}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
        run = getattr(module, "run", None)
        if not callable(run):
            raise AttributeError(f"{os.path.basename(script)} has no run(mini_batch) function")
        init = getattr(module, "init", None)
        if callable(init):
            init()
    except Exception as exc:
        traceback.print_exc()
        try:
            send(("init_failed", f"{type(exc).__name__}: {exc}"))
        except OSError:
            pass
        return
    hook = getattr(module, "pop_failures", None)
    hook = hook if callable(hook) else None
    action = config["output_action"]
    send(("ready", hook is not None, time.monotonic() - started))

    fd = os.open(config["part"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _BINARY, 0o644)
    pos = 0
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            break
        if task is None:
            break
        mb, files = task
        try:
            result = run(files)
            count, data = _serialize(result, action)
        except Exception as exc:
            traceback.print_exc()
            send(("error", mb, f"{type(exc).__name__}: {exc}"))
            continue
        failures = None
        if hook is not None:
            try:
                failures = [(str(p), str(r)) for p, r in (hook() or [])]
            except Exception:
                traceback.print_exc()
        start = pos
        try:
            pos = _write_at(fd, data, pos)
        except OSError as exc:
            pos = start  # the next mini-batch overwrites what did get written
            send(("error", mb, f"writing results failed: {exc}"))
            continue
        send(("done", mb, count, start, pos, failures))
    os.close(fd)
    sys.stdout.flush()
    sys.stderr.flush()
