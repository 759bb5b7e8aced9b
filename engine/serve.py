"""The local service (`amlbatch --profile NAME --serve`): the local target's batch endpoint answered
over HTTP on the loopback address, and the profile's schedule fired.

Every run goes through the local target's own job operations (engine.jobs.submit), so it is one of
the runs `--jobs` lists and `--results` copies. Requests carry a bearer token made at each start;
it is a secret (engine.secrets masks it) and never stored. The service says what happens as lines
of text through `say` (the CLI prints them, the wizard shows them): never printing itself.

Stopping the service (Ctrl+C) leaves the runs it started running, as detached local runs do after
`--submit --no-wait`: they finish and `--jobs` shows them.
"""

from __future__ import annotations

import secrets
import threading
from datetime import datetime, timezone
from typing import Any, Callable

from engine import jobs, targets
from engine import secrets as masking
from engine.context import CancelToken
from engine.deployment import input_uri
from engine.errors import AmlBatchError, ProfileError
from engine.jobinfo import JobInfo
from engine.serve_api import ApiError, Invocation, job_list, job_resource, parse_invocation
from engine.serve_schedule import Firing, Recurrence
from engine.targets.local.state import read

HOST = "127.0.0.1"  # the loopback address only: the service is for this machine
DEFAULT_PORT = 8765
WATCH_EVERY = 0.25  # seconds between looks at the runs the service started


class RealClock:
    """The wall clock; waits end early when the service stops, and at least every 30 s, so a
    clock that is set meanwhile is noticed."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        return stop.wait(min(max(seconds, 0.0), 30.0))


class NotProvisioned(AmlBatchError):
    """The endpoint to serve does not exist yet."""


class LocalService:
    """One profile's local endpoint served, its schedule fired; start(), then stop()."""

    def __init__(self, profile: Any, say: Callable[[str], None], port: int = DEFAULT_PORT,
                 clock: Any = None) -> None:
        self.profile, self.port = profile, port
        self._say = say
        self.clock = clock or RealClock()
        self.token = secrets.token_urlsafe(32)
        masking.remember(self.token)  # masked wherever a line is stored or shown through the redactor
        self._stop = threading.Event()
        self._lock = threading.Lock()  # one target, one caller at a time
        self._submitting = threading.Lock()
        self._target: Any = None
        self._watched: dict[str, str] = {}  # run -> the status last said
        self._threads: list[threading.Thread] = []
        self._server: Any = None
        self.started_runs: list[str] = []

    def say(self, line: str) -> None:
        self._say(masking.redact(line))

    # ------------------------------------------------------------------ start and stop

    def check_ready(self) -> None:
        """Refuse, in one line, a profile that is not the local target's (ProfileError) or whose
        endpoint is not provisioned yet (NotProvisioned)."""
        p = self.profile
        if p.target != "local":
            raise ProfileError(p.source, "target", f"--serve runs the local target's service; the '{p.target}' "
                                                   "target's endpoint is served by Azure (its scoring URI)")
        self._target = targets.build(p, lambda e: None, CancelToken())
        endpoint = read(self._target.endpoint_file)
        deployment = read(self._target.deployment_file)
        if not endpoint or not deployment or endpoint.get("default_deployment") != deployment.get("name"):
            raise NotProvisioned(f"endpoint '{p.endpoint_name}' of profile '{p.name}' is not provisioned yet: "
                                 f"run `amlbatch --profile {p.name} --yes` first")

    def start(self) -> None:
        """Check, listen, say where (with the token: the one line it is shown in), and fire the
        schedule; returns once the server answers."""
        from engine.serve_http import HttpServer

        if self._target is None:
            self.check_ready()
        self._server = HttpServer(self, HOST, self.port)
        self.port = self._server.start()
        for line in self.banner():
            self._say(line)  # not redacted: the user needs the token to call the service
        self._spawn(self._watch, "serve-watch")
        if self.profile.schedule.frequency:
            recurrence = Recurrence.from_profile(self.profile.schedule, self.clock.now())
            firing = Firing(recurrence, fire=lambda: self.submit(Invocation(None, None), "the schedule").job_id,
                            still_running=self._still_running, say=self.say, now=self.clock.now,
                            wait=lambda seconds: self.clock.wait(seconds, self._stop))
            since = None if self.profile.schedule.start_time else recurrence.start
            self._spawn(lambda: firing.run(since), "serve-schedule")

    def _spawn(self, work: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=work, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def wait(self) -> None:
        """Until ask_stop() or stop()."""
        while not self._stop.wait(0.5):
            pass

    def ask_stop(self) -> None:
        """Safe from a signal handler: wait() returns; stop() then shuts everything down."""
        self._stop.set()

    def stop(self) -> list[JobInfo]:
        """Shut the server and the schedule down; returns the runs it started that still run."""
        self._stop.set()
        if self._server is not None:
            self._server.stop()
        for thread in self._threads:
            thread.join(timeout=10)
        running = [job for job in (self._job(name) for name in self.started_runs) if job and not job.finished]
        if self._target is not None:
            self._target.close()
        return running

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def banner(self) -> list[str]:
        """What a user needs to call the service: the paths, the token and a curl line to paste."""
        p = self.profile
        body = ('{"properties": {"inputData": {"UriFolder": {"jobInputType": "UriFolder", '
                f'"uri": "{input_uri(p)}"}}}}}}}}')
        lines = [f"Serving endpoint '{p.endpoint_name}' of profile '{p.name}' (local target) at {self.url}",
                 f"  invoke:  POST {self.url}/jobs",
                 f"  status:  GET  {self.url}/jobs/JOB",
                 f"  list:    GET  {self.url}/jobs",
                 f"  token:   {self.token}  (Authorization: Bearer ...; a new one at each start)",
                 "  try it:",
                 f"    curl -s -X POST {self.url}/jobs -H \"Authorization: Bearer {self.token}\" "
                 f"-H \"Content-Type: application/json\" -d '{body}'"]
        if not p.schedule.frequency:
            lines.append("No schedule in the profile (schedule.frequency is empty).")
        lines.append("Stopping the service (Ctrl+C) leaves the runs it started running (--jobs lists them).")
        return lines

    # ------------------------------------------------------------------ the API (called by serve_http)

    def authorized(self, header: str | None) -> bool:
        scheme, _, value = (header or "").partition(" ")
        return scheme.lower() == "bearer" and secrets.compare_digest(value.strip(), self.token)

    def invoke(self, body: Any, deployment: str | None) -> dict[str, Any]:
        folder = self._datastore_folder()
        job = self.submit(parse_invocation(self.profile, body, deployment, folder), "an invocation")
        return job_resource(self.profile, job)

    def get(self, name: str) -> dict[str, Any]:
        job = self._job(name)
        if job is None:
            raise ApiError(404, "UserError", f"The specified resource was not found: job '{name}'.")
        return job_resource(self.profile, job)

    def list_jobs(self) -> dict[str, Any]:
        with self._lock:
            found = sorted(self._target.list_jobs(), key=lambda j: j.submitted)
        return job_list(self.profile, found)

    # ------------------------------------------------------------------ runs

    def submit(self, invocation: Invocation, by: str) -> JobInfo:
        """One run through the local target's job operations, as `--submit --no-wait` makes it."""
        with self._submitting:  # one at a time: a name is checked and taken together
            if invocation.name and self._job(invocation.name) is not None:
                raise ApiError(409, "UserError", f"A job with name '{invocation.name}' already exists.")
            try:  # the run's events go to its record; the watcher says its state changes
                job = jobs.submit(self.profile, lambda event: None, input_path=invocation.input_path,
                                  wait=False, job_id=invocation.name)
            except AmlBatchError as exc:
                raise ApiError(400, "UserError", str(exc)) from None
        with self._lock:
            self.started_runs.append(job.job_id)
            self._watched[job.job_id] = job.status
        self.say(f"run {job.job_id} started by {by} (input: {job.input}): {job.status}")
        return job

    def _job(self, name: str) -> JobInfo | None:
        try:
            with self._lock:
                return self._target.get_job(name)
        except AmlBatchError:
            return None

    def _still_running(self, name: str) -> str | None:
        job = self._job(name)
        return job.status if job is not None and not job.finished else None

    def _watch(self) -> None:
        """A line per state change of every run the service started."""
        while not self._stop.wait(WATCH_EVERY):
            with self._lock:
                watched = dict(self._watched)
            for name, said in watched.items():
                job = self._job(name)
                if job is None or job.status == said:
                    continue
                with self._lock:
                    self._watched[name] = job.status
                    if job.finished:
                        del self._watched[name]
                self.say(_finished_line(job) if job.finished else f"run {name}: {job.status}")

    def _datastore_folder(self) -> Any:
        with self._lock:
            account = self._target.storage_account()
            return self._target.container_dir(account, self.profile.storage.input_container) / "blobs"


ENDINGS = {"completed": "Completed", "partial": "Completed with failures", "failed": "Failed",
           "canceled": "Canceled"}


def _finished_line(job: JobInfo) -> str:
    """How a run ended, worded as --submit's summary words it (engine.jobs.outcome)."""
    line = (f"run {job.job_id}: {ENDINGS.get(jobs.outcome(job), job.status)} ({job.rows:,} rows, "
            f"{job.failures} failed files, {job.duration:.1f} s)")
    if job.status == "Completed" and job.rows:
        return f"{line}; results in {job.output}"
    return f"{line}: {job.error}" if job.error and job.error != job.status else line
