"""The parent side of a local batch job: `run_batch` and `_Job`, which starts and replaces the
worker processes, dispatches mini-batches, retries them, applies error_threshold, and reports
JobStatus, JobProgress and JobLog events and overview.txt (see the package docstring)."""

from __future__ import annotations

import collections
import math
import os
import pickle
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.batch.output import OutputError, _Output
from engine.batch.processes import _describe_exit, _start_worker, _Worker
from engine.batch.reporting import _JobFailed, _Reporting
from engine.batch.settings import CANCELED, COMPLETED, FAILED, BatchResult, BatchSettings
from engine.batch.waiting import Waiter
import engine.batch.workerlog as workerlog
from engine.batch.worker import WORKER_LOG_EVENTS
from engine.deployment import APPEND_ROW

if TYPE_CHECKING:
    from engine import events as ev

POLL = 0.1  # longest wait between cancel checks
STOP_GRACE = 2.0  # seconds a worker gets to exit after "stop" before it is killed
AHEAD = 0.02  # seconds of work queued ahead per worker once mini-batches are timed: short
# mini-batches go out many to a message, and the parent answers a batch of replies at a time
MAX_AHEAD = 512  # mini-batches queued ahead per worker at most


def usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class _Canceled(Exception):
    pass


def _is_canceled(cancel: Any) -> bool:
    if cancel is None:
        return False
    is_set = getattr(cancel, "is_set", None)
    if callable(is_set):
        return bool(is_set())
    return bool(getattr(cancel, "canceled", False))


class _Job(_Reporting):
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

        self.workers: list[_Worker] = []
        self.run_seconds = 0.0  # time workers took per finished mini-batch, summed (as seen here)
        self.timed = 0  # mini-batches in that sum
        self.backlog = False  # replies arrived during a nap: take them all before the next
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

        self.output = _Output(self.output_dir, settings.output_file_name, job_id, self.n_mb)
        self.overview = None
        self.waiter = Waiter()

    # ------------------------------------------------------------------------------- workers

    def mb_files(self, mb: int) -> list[str]:
        size = self.s.mini_batch_size
        return [os.path.abspath(os.fspath(p)) for p in self.files[mb * size:(mb + 1) * size]]

    def start_worker(self) -> None:
        self.seq += 1
        seq = self.seq
        name = f"worker-{seq}"
        part = self.output.part_path(seq)
        threads = str(max(1, usable_cores() // max(1, self.n_workers)))
        config = {
            "name": name,
            "job_id": self.job_id,
            "scorer_dir": str(self.scorer_dir),
            "script": str(self.scorer_dir / self.script),
            "part": str(part),
            "log": str(self.logs_dir / f"{name}.txt"),
            "log_cap": workerlog.LOG_CAP,
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
        worker = _start_worker(seq, config, part, self.s.init_timeout)
        self.workers.append(worker)
        self.log(f"{name} started (pid {worker.proc.pid}), log: {config['log']}", "debug", event=False)

    def attempt_failed(self, mb: int, reason: str, worker: _Worker | None = None) -> None:
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
        self.output.accept(mb)  # no rows
        self.log(f"{label} failed after {total} attempt(s): {reason}", "error")
        self.files_done += len(files)
        self.mb_done += 1
        self.progress_dirty = True
        where = f"; see {self.logs_dir / f'{worker.name}.txt'}" if worker else ""
        for path in files:
            self.fail_file(path, f"{reason} (mini-batch {mb + 1}{where})")
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
            now = time.monotonic()
            self.run_seconds += max(0.0, now - (worker.deadline - self.s.timeout))  # since it started
            self.timed += 1
            if worker.queued:  # the worker went straight on to the one sent ahead
                worker.mb = worker.queued.pop(0)
                worker.deadline = now + self.s.timeout
            else:
                worker.state, worker.mb = "idle", -1
            if kind == "error":
                self.attempt_failed(mb, msg[2], worker)
                return
            _, _, items, start, end, failures = msg
            self.attempts.pop(mb, None)
            self.output.accept(mb, worker.seq, start, end)
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
        worker.kill()
        worker.reap()
        self.retry.extendleft(reversed(worker.queued))  # never started: not a failed attempt
        worker.queued = []
        if worker in self.workers:
            self.workers.remove(worker)
        why = reason or f"worker process {_describe_exit(worker.proc.exitcode)}"
        if state == "starting":
            self.init_failed(worker, why)
        elif state == "busy":
            if reason:
                self.log(f"{worker.name}: mini-batch {mb + 1} {reason}; worker killed", "error")
            else:
                self.log(f"{worker.name}: {why} during mini-batch {mb + 1}; see {worker.name}.txt", "error")
            self.attempt_failed(mb, why, worker)
        elif reason is None and state == "idle":
            self.log(f"{worker.name}: {why} while idle", "warning")

    def receive(self, worker: _Worker) -> bool:
        """Handle the one message `worker`'s readable connection holds; False if its pipe is closed."""
        try:
            if worker.state != "dead":
                self.on_message(worker, pickle.loads(worker.conn.recv_bytes()))
        except (EOFError, OSError):
            return False
        return True

    def drain(self, worker: _Worker) -> bool:
        """Handle every message waiting from `worker`; False if its pipe is closed."""
        try:
            while worker.state != "dead" and worker.conn.poll():
                self.on_message(worker, pickle.loads(worker.conn.recv_bytes()))
        except (EOFError, OSError):
            return False
        return True

    def undispatched(self) -> int:
        return len(self.retry) + (self.n_mb - self.next_mb)

    def next_work(self) -> int | None:
        if self.retry:
            return self.retry.popleft()
        if self.next_mb < self.n_mb:
            self.next_mb += 1
            return self.next_mb - 1
        return None

    def mean_run(self) -> float | None:
        """Seconds a mini-batch takes a worker, on average so far (None before the first)."""
        return self.run_seconds / self.timed if self.timed else None

    def ahead(self) -> int:
        """Mini-batches to keep queued ahead of each worker: one until two per worker are timed,
        then AHEAD seconds' worth, so that short ones are sent (and answered) in batches; never
        more than half a worker's share of what is left, so that the workers finish together."""
        mean = self.mean_run()
        workers = max(1, len(self.workers))
        if mean is None or self.timed < 2 * workers:
            return 1
        left = self.undispatched() + sum(len(w.queued) for w in self.workers)
        return max(1, min(MAX_AHEAD, int(AHEAD / max(mean, 1e-6)), left // (2 * workers)))

    def dispatch(self) -> None:
        """Give each worker a mini-batch to run and `ahead()` more queued behind it, sent in one
        message: a worker starts the next one the moment it finishes, without waiting for the
        parent's reply. Idle workers are served first so that the work is spread before anything
        is queued; a queue is topped up once it is half empty."""
        workers = self.workers
        for worker in workers:
            if worker.state == "idle":
                mb = self.next_work()
                if mb is None or not self.send_work(worker, [mb]):
                    return
                worker.state, worker.mb = "busy", mb
                worker.deadline = time.monotonic() + self.s.timeout
        ahead = self.ahead()
        for worker in workers:
            if worker.state != "busy" or len(worker.queued) > ahead // 2:
                continue
            starting = sum(w.state == "starting" for w in workers)
            batch = []
            while len(worker.queued) + len(batch) < ahead and self.undispatched() > starting:
                batch.append(self.next_work())  # a worker still starting will take what is left
            if not batch or not self.send_work(worker, batch):
                return
            worker.queued.extend(batch)

    def send_work(self, worker: _Worker, mbs: list[int]) -> bool:
        """Send mini-batches `mbs` to `worker` (one pickle, one write); False if the worker is gone."""
        try:
            tasks = [(mb, self.mb_files(mb)) for mb in mbs]
            worker.conn.send_bytes(pickle.dumps(tasks, pickle.HIGHEST_PROTOCOL))
        except (OSError, ValueError):
            self.retry.extendleft(reversed(mbs))
            self.on_death(worker)
            return False
        return True

    def nap(self) -> float:
        """How long the parent may sleep instead of waking for each reply: half the work queued
        ahead of the least fed worker, when every live worker is busy with several mini-batches
        queued (short ones; 0: wait for messages as they come, which long ones hardly send)."""
        mean = self.mean_run()
        if mean is None or not self.workers:
            return 0.0
        least = min((len(w.queued) if w.state == "busy" else 0) for w in self.workers)
        return min(POLL, least * mean / 2) if least >= 2 and least * mean >= 0.001 else 0.0

    def top_up(self) -> bool:
        """Start workers while there is work no live worker could take; True if any was started."""
        started = False
        while True:
            alive = [w for w in self.workers if w.state != "dead"]
            free = sum(1 for w in alive if w.state in ("starting", "idle"))
            if len(alive) >= self.n_workers or self.undispatched() <= free:
                return started
            self.start_worker()
            started = True

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
            except (_JobFailed, OutputError) as exc:
                status, error = FAILED, str(exc)
            except _Canceled:
                status, error = CANCELED, "canceled"
            if status == COMPLETED:
                self.request_stop()  # workers exit while the output is written
            else:
                self.kill_all()  # nothing more may reach the part files
            status, error, output_file, partial_file = self.output.finish(
                status, error, lambda: self.status("Finalizing"))
            self.join_workers()
            return self.finish(status, error, output_file, partial_file)
        finally:
            self.kill_all()
            self.join_workers()
            self.waiter.close()
            self.output.cleanup()
            if self.overview is not None:
                self.overview.close()
                self.overview = None

    def loop(self) -> str:
        s = self.s
        if not (self.scorer_dir / self.script).is_file():
            raise _JobFailed(f"scoring script not found: {self.scorer_dir / self.script}")
        if s.output_action == APPEND_ROW and self.output.out_path.exists():
            raise _JobFailed(f"output file already exists: {self.output.out_path} "
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
            self.output.open()
        if self.n_mb == 0:
            self.log("no input files", "warning")
            return COMPLETED
        self.output.parts_dir.mkdir(parents=True, exist_ok=True)
        self.log(f"starting {self.n_workers} worker process(es); logs in {self.logs_dir}")
        while True:
            if _is_canceled(self.cancel):
                self.log("cancel requested: stopping workers", "warning")
                raise _Canceled()
            self.dispatch()
            if self.mb_done >= self.n_mb:
                return COMPLETED
            if self.top_up():
                self.dispatch()
            now = time.monotonic()
            deadlines = [w.deadline for w in self.workers if w.state in ("starting", "busy")]
            timeout = max(0.0, min([POLL] + [d - now for d in deadlines]))
            napped = self.backlog
            if not napped and (nap := min(self.nap(), timeout)) > 0:
                time.sleep(nap)  # the replies wait in the pipes and are taken together
                napped = True
            ready = self.waiter.ready(self.workers, 0.0 if napped else timeout)
            self.backlog = napped and bool(ready)
            for w in ready:
                if w.state == "dead" and w not in self.workers:
                    continue
                open_pipe = self.receive(w)  # one message: the next select returns at once if more wait
                if w.state == "dead" or not open_pipe or not w.proc.is_alive():
                    if open_pipe:
                        self.drain(w)  # what it sent before it exited still counts
                    # exited (maybe after init_failed) or pipe closed: replace it
                    self.on_death(w)
            if not self.backlog:
                self.output.append()  # once per batch of replies: consecutive ranges in one copy
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
                w.conn.send_bytes(pickle.dumps(None))
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

def run_batch(job_id: str, files: list[Path], scorer_dir: Path, script: str, model_dir: Path,
              settings: BatchSettings, output_dir: Path, logs_dir: Path, emit: ev.Emit,
              cancel: Any = None, max_workers: int | None = None) -> BatchResult:
    """Score `files` with the scoring script `scorer_dir/script` (see the engine.batch docstring).

    cancel: a threading.Event, an object with a `.canceled` property (engine.run.CancelToken), or
    None. max_workers: cap on worker processes (default: the usable cores)."""
    settings.validate()
    if max_workers is not None and max_workers < 1:
        raise ValueError("max_workers must be >= 1")
    job = _Job(job_id, list(files) if not isinstance(files, list) else files, Path(scorer_dir), script,
               Path(model_dir), settings, Path(output_dir), Path(logs_dir), emit, cancel, max_workers)
    return job.run()
