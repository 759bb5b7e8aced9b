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
from engine import paths, targets
from engine.context import CancelToken, StepContext
from engine.contract import Target
from engine.datafiles import expand
from engine.errors import AmlBatchError, Canceled, LockedError, ProfileError
from engine.profile import Profile
from engine.record import RunRecord
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
            else:
                done = target.around(ctx, "apply", lambda: step.apply(ctx, check))
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

def _run(profile: Profile, action: str, emit: ev.Emit, cancel: CancelToken | None,
         plan_only: bool, target: Target | None = None,
         only: set[str] | None = None, options: dict[str, Any] | None = None) -> RunSummary:
    cancel = cancel or CancelToken()
    graph_of_target = (target or targets.target_class(profile.target)).graph
    specs = reversed_graph(graph_of_target) if action == "teardown" else graph_of_target
    run_id = uuid.uuid4().hex
    start = time.monotonic()
    # A plan changes nothing, so it may look while another run works; changes take the lock.
    lock = nullcontext() if plan_only and action == "plan" else profile_lock(profile)
    with lock:
        record = RunRecord(profile, run_id, action)

        def fan_out(event: ev.Event) -> None:
            record(event)
            emit(event)

        try:
            graph = _GraphRun(profile, None, specs, action, fan_out, cancel, plan_only, run_id, only, options)
            graph.emit(ev.RunStarted(run_id, profile.name, profile.target, action,
                                     tuple(s.key for s in specs), tuple(s.title for s in specs)))
            try:
                graph.target = target or targets.build(profile, graph.emit, cancel)
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
              target: Target | None = None, only: set[str] | None = None) -> RunSummary:
    return _run(profile, "provision", emit, cancel, False, target, only)


def plan(profile: Profile, emit: ev.Emit, cancel: CancelToken | None = None,
         target: Target | None = None) -> RunSummary:
    return _run(profile, "plan", emit, cancel, True, target)


def teardown(profile: Profile, emit: ev.Emit, cancel: CancelToken | None = None,
             plan_only: bool = False, target: Target | None = None, purge: bool = False) -> RunSummary:
    """Delete what this profile created, newest first. `purge` also frees a soft-deleted
    workspace's name (azure)."""
    return _run(profile, "teardown", emit, cancel, plan_only, target, options={"purge": purge})


def preflight(profile: Profile) -> list[Path]:
    """Checks of the user's own files before any resource is touched; returns the data files."""
    scorer_dir, source = profile.scorer_dir, profile.source
    if not scorer_dir.is_dir():
        raise ProfileError(source, "scorer.folder", f"no such folder: {scorer_dir}")
    for key in ("script", "model", "environment"):
        if not (scorer_dir / getattr(profile.scorer, key)).exists():
            raise ProfileError(source, f"scorer.{key}",
                               f"no such file in {scorer_dir}: {getattr(profile.scorer, key)}")
    return expand(profile, source)
