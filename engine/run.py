"""Running the step graph: concurrency, cancellation, the per-profile lock and the run record.

`provision`, `plan`, `teardown` each take a validated profile and an `emit` callback; they return
a RunSummary and emit the whole story as events (engine.events). Nothing here prints.
"""

from __future__ import annotations

import os
import threading
import time
import traceback
import uuid
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from filelock import FileLock, Timeout

from engine import events as ev
from engine import identity, mlflowmodel, paths, targets
from engine import validation as v
from engine.context import CancelToken, StepContext
from engine.contract import Target
from engine.datafiles import expand
from engine.errors import AmlBatchError, Canceled, JobsRunningError, LockedError, ProfileError
from engine.profile import Profile
from engine.record import RunRecord, guarded
from engine.secrets import redact_event
from engine.steps import Check, Done, StepSpec, reversed_graph

__all__ = ["CancelToken", "RunSummary", "plan", "preflight", "profile_lock", "provision", "teardown"]


@dataclass
class RunSummary:
    run_id: str
    action: str
    outcome: str  # succeeded | failed | canceled | changes
    duration: float
    counts: dict[str, int] = field(default_factory=dict)
    steps: dict[str, ev.StepFinished] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.outcome in ("succeeded", "changes")


class _GraphRun:
    def __init__(self, profile: Profile, target: Target | None, specs: tuple[StepSpec, ...], action: str,
                 emit: ev.Emit, cancel: CancelToken, plan_only: bool, run_id: str,
                 only: set[str] | None = None, options: dict[str, Any] | None = None):
        self.options = options or {}
        self.profile, self.target, self.specs, self.action = profile, target, specs, action
        self.cancel, self.plan_only, self.run_id = cancel, plan_only, run_id
        self.only = only
        self._emit, self._lock = emit, threading.Lock()
        self.values: dict[str, Any] = {}
        self.plans: dict[str, str] = {}
        self.finished: dict[str, ev.StepFinished] = {}

    def emit(self, event: ev.Event) -> None:
        event = redact_event(event)
        with self._lock:
            self._emit(event)

    def run_step(self, spec: StepSpec) -> ev.StepFinished:
        deleting = self.action == "teardown"
        target = self.target
        step = target.step(spec.key)
        ctx = StepContext(spec, self.profile, self.emit, self.cancel, self.plan_only, self.options,
                          self.values, self.plans)
        start = time.monotonic()
        self.emit(ev.StepStarted(spec.key, spec.title))
        plan = ""
        try:
            ctx.checkpoint()
            if deleting:
                check: Check = target.around(ctx, "check_delete", lambda: step.check_delete(ctx))
            else:
                check = target.around(ctx, "check", lambda: step.check(ctx))
            plan = check.plan
            self.plans[spec.key] = plan
            if check.plan == "fail":
                raise AmlBatchError(check.detail)
            if self.plan_only or check.plan in ("none", "skip"):
                self.values[spec.key] = check.value
                outcome = ev.SKIPPED if check.plan == "skip" else ev.EXISTS
                if check.changes:
                    outcome = ev.PLANNED
                return self._finish(spec, outcome, start, check.detail, plan)
            ctx.checkpoint()
            if deleting:
                done: Done = target.around(ctx, "delete", lambda: step.delete(ctx, check))
            elif check.takeover_only:
                done = Done(ev.UPDATED, check.detail, check.value)
            else:
                done = target.around(ctx, "apply", lambda: step.apply(ctx, check))
            for retag in check.takeover:  # --adopt: after apply, which may have put the found tags back
                target.around(ctx, "apply", retag)
            self.values[spec.key] = done.value
            return self._finish(spec, done.outcome, start, done.detail, plan)
        except Canceled:
            return self._finish(spec, ev.CANCELED, start, "stopped before it finished", plan)
        except AmlBatchError as exc:
            return self._finish(spec, ev.FAILED, start, "", plan, error=str(exc))
        except Exception as exc:  # a bug or an unexpected SDK error: report it, keep the trace in the record
            self.emit(ev.StepLog(spec.key, traceback.format_exc(), "debug"))
            message = f"{type(exc).__name__}: {exc}".strip()
            return self._finish(spec, ev.FAILED, start, "", plan, error=message)

    def _finish(self, spec: StepSpec, outcome: str, start: float, detail: str, plan: str,
                error: str = "") -> ev.StepFinished:
        event = ev.StepFinished(spec.key, outcome, round(time.monotonic() - start, 3), detail,
                                plan if self.plan_only else "", error)
        self.finished[spec.key] = event
        self.emit(event)
        return event

    def not_run(self, spec: StepSpec, outcome: str, detail: str) -> None:
        self.emit(ev.StepStarted(spec.key, spec.title))
        self._finish(spec, outcome, time.monotonic(), detail, "")

    def execute(self) -> None:
        """Run every step once all it needs has finished well; independent steps run together."""
        pending = {s.key: s for s in self.specs}
        running: dict[str, Any] = {}
        blocked_by_failure = {ev.FAILED, ev.CANCELED}
        not_run: set[str] = set()  # steps skipped because something they need did not happen
        with ThreadPoolExecutor(max_workers=max(1, len(pending)), thread_name_prefix="step") as pool:
            while pending or running:
                for key, spec in list(pending.items()):
                    states = [self.finished.get(n) for n in spec.needs if n in {s.key for s in self.specs}]
                    if any(s is None for s in states):
                        continue
                    del pending[key]
                    bad = [s for s in states if s.outcome in blocked_by_failure or s.step in not_run]
                    if self.cancel.canceled:
                        self.not_run(spec, ev.CANCELED, "not started: the run was canceled")
                    elif bad:
                        not_run.add(key)
                        why = "not run" if bad[0].step in not_run else bad[0].outcome
                        self.not_run(spec, ev.SKIPPED, f"not run: {bad[0].step.replace('_', ' ')} {why}")
                    elif self.only is not None and key not in self.only:
                        not_run.add(key)
                        self.not_run(spec, ev.SKIPPED, "not asked for")
                    else:
                        running[key] = pool.submit(self.run_step, spec)
                if not running:
                    continue
                wait(running.values(), return_when=FIRST_COMPLETED)
                for key in [k for k, f in running.items() if f.done()]:
                    running.pop(key).result()


# ---------------------------------------------------------------------------------- the lock

@contextmanager
def profile_lock(profile: Profile) -> Iterator[None]:
    """One run per profile at a time; a second one is refused, not allowed to race.

    The holder's description is in a separate file beside the lock: on Windows a locked file
    cannot be read by another process."""
    folder = paths.locks_dir()
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(folder / f"{profile.name}.lock")
    holder = folder / f"{profile.name}.holder"
    try:
        lock.acquire(timeout=0)
    except Timeout:
        try:
            who = holder.read_text(encoding="utf-8").strip()
        except OSError:
            who = ""
        raise LockedError(f"profile '{profile.name}' is already being run ({who or 'another process'}); "
                          "wait for it to finish or stop it first") from None
    try:
        holder.write_text(f"pid {os.getpid()}, started {time.strftime('%H:%M:%S')}", encoding="utf-8")
        yield
    finally:
        lock.release()


# ------------------------------------------------------------------------------------- runs

def _sweep_after_a_kill(profile: Profile) -> None:
    """The profile's last run ended without its last event (killed): remove the temp files its
    atomic writes left (engine.leftovers). A clean last run costs one record read."""
    from engine import leftovers
    from engine.record import last_run

    last = last_run(profile.name)
    if last and last["outcome"] == "interrupted":
        leftovers.sweep_atomic_temps([paths.local_cloud_dir(), paths.data_dir() / "hashes",
                                      paths.profiles_dir()])
        if profile.path is not None:  # the profile file's own folder: only its own temp files
            leftovers.sweep_atomic_temps([], extra=profile.path.parent.glob(f".{profile.path.name}.*.tmp"))


def _run(profile: Profile, action: str, emit: ev.Emit, cancel: CancelToken | None,
         plan_only: bool, target: Target | None = None,
         only: set[str] | None = None, options: dict[str, Any] | None = None) -> RunSummary:
    cancel = cancel or CancelToken()
    graph_of_target = (target or targets.target_class(profile.target)).graph
    specs = reversed_graph(graph_of_target) if action == "teardown" else graph_of_target
    run_id = uuid.uuid4().hex
    start = time.monotonic()
    # The id decides ownership: a run that may change something first makes sure the profile has one
    # (and that no copied file claims the same); a plan changes nothing, not even the file.
    said = None if plan_only and action == "plan" else identity.ensure(profile)
    # A plan changes nothing, so it may look while another run works; changes take the lock.
    lock = nullcontext() if plan_only and action == "plan" else profile_lock(profile)
    with lock:
        if not plan_only:
            _sweep_after_a_kill(profile)
        record = RunRecord(profile, run_id, action)
        consumer = guarded(emit)

        def fan_out(event: ev.Event) -> None:
            record(event)
            consumer(event)

        try:
            graph = _GraphRun(profile, None, specs, action, fan_out, cancel, plan_only, run_id, only, options)
            graph.emit(ev.RunStarted(run_id, profile.name, profile.target, action,
                                     tuple(s.key for s in specs), tuple(s.title for s in specs)))
            if said:
                graph.emit(ev.StepLog("profile", said, "info"))
            try:
                graph.target = target or targets.build(profile, graph.emit, cancel)
                graph.target.sign_in()  # a SignInError leaves the run before any step
                if action == "teardown":
                    _no_running_jobs(graph.target, graph.emit, cancel, plan_only, bool(graph.options.get("cancel_jobs")))
                graph.execute()
            finally:
                if graph.target is not None:
                    graph.target.close()
            counts: dict[str, int] = {}
            for finished in graph.finished.values():
                counts[finished.outcome] = counts.get(finished.outcome, 0) + 1
            if plan_only:
                for plan in graph.plans.values():
                    if plan in ("create", "update", "delete"):
                        counts["would_" + plan] = counts.get("would_" + plan, 0) + 1
            if cancel.canceled:
                outcome = "canceled"
            elif counts.get(ev.FAILED):
                outcome = "failed"
            elif plan_only and any(k.startswith("would_") for k in counts):
                outcome = "changes"
            else:
                outcome = "succeeded"
            duration = round(time.monotonic() - start, 3)
            graph.emit(ev.RunFinished(run_id, outcome, duration, counts))
            return RunSummary(run_id, action, outcome, duration, counts, dict(graph.finished))
        finally:
            record.close()


def provision(profile: Profile, emit: ev.Emit, cancel: CancelToken | None = None,
              target: Target | None = None, only: set[str] | None = None, adopt: bool = False) -> RunSummary:
    """`adopt`: take over resources another profile (or a person) made instead of refusing them."""
    return _run(profile, "provision", emit, cancel, False, target, only, options={"adopt": adopt})


def plan(profile: Profile, emit: ev.Emit, cancel: CancelToken | None = None,
         target: Target | None = None, adopt: bool = False) -> RunSummary:
    return _run(profile, "plan", emit, cancel, True, target, options={"adopt": adopt})


def teardown(profile: Profile, emit: ev.Emit, cancel: CancelToken | None = None,
             plan_only: bool = False, target: Target | None = None, purge: bool = False,
             cancel_jobs: bool = False) -> RunSummary:
    """Delete what this profile created, newest first. `purge` also frees a soft-deleted
    workspace's name (azure). Refused while a scoring run of the profile is queued or running,
    unless `cancel_jobs`, which cancels them first."""
    return _run(profile, "teardown", emit, cancel, plan_only, target,
                options={"purge": purge, "cancel_jobs": cancel_jobs})


JOB_WAIT_SECONDS = 120.0


def _no_running_jobs(target: Target, emit: ev.Emit, cancel: CancelToken, plan_only: bool,
                     cancel_jobs: bool) -> None:
    """Deleting under a running job breaks it (and its host re-creates folders afterwards)."""
    busy = [job for job in target.list_jobs() if not job.finished]
    if not busy:
        return
    names = ", ".join(f"{job.job_id} ({job.status})" for job in busy)
    if not cancel_jobs:
        raise JobsRunningError(f"profile '{target.profile.name}' has scoring runs not finished: {names}; "
                               "wait for them (--jobs lists them) or tear down with --cancel-jobs to cancel "
                               "them first")
    if plan_only:
        emit(ev.StepLog("profile", f"would cancel the scoring runs first: {names}", "warning"))
        return
    for job in busy:
        emit(ev.StepLog("profile", f"canceling scoring run {job.job_id} ({job.status})", "warning"))
        target.cancel_job(job.job_id)
    deadline = time.monotonic() + JOB_WAIT_SECONDS
    while any(not target.get_job(job.job_id).finished for job in busy):
        if cancel.canceled:
            raise Canceled()
        if time.monotonic() > deadline:
            raise JobsRunningError(f"the scoring runs {names} did not stop within {JOB_WAIT_SECONDS:.0f} s; "
                                   "nothing was deleted: run the tear-down again once they have stopped")
        cancel.wait(0.2)


def preflight(profile: Profile) -> list[Path]:
    """Checks of the user's own files before any resource is touched; returns the data files."""
    scorer_dir, source = profile.scorer_dir, profile.source
    if not scorer_dir.is_dir():
        raise ProfileError(source, "scorer.folder", f"no such folder: {scorer_dir}")
    if profile.target == "azure" and profile.schedule.frequency and not v.windows_zone(profile.schedule.time_zone):
        raise ProfileError(source, "schedule.time_zone", f"'{profile.schedule.time_zone}' has no Windows time zone, "
                           "the names Azure ML schedules take: choose another IANA name for the same clock")
    mlflow = mlflowmodel.check(profile)  # an MLflow model needs no script and no environment
    for key in ("model",) if mlflow else ("script", "model", "environment"):
        if not (scorer_dir / getattr(profile.scorer, key)).exists():
            raise ProfileError(source, f"scorer.{key}",
                               f"no such file in {scorer_dir}: {getattr(profile.scorer, key)}")
    return expand(profile, source)
