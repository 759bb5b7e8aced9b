"""Running the step graph: concurrency, cancellation, the per-profile lock and the run record.

`provision`, `plan`, `teardown` each take a validated profile and an `emit` callback; they return
a RunSummary and emit the whole story as events (engine.events). Nothing here prints.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
import traceback
import uuid
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from engine import events as ev
from engine import paths
from engine.datafiles import expand
from engine.errors import AmlBatchError, Canceled, LockedError, ProfileError
from engine.profile import Profile
from engine.secrets import redact
from engine.steps import STEPS, Check, Done, StepSpec, reversed_graph


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


class CancelToken:
    """Set by Ctrl+C or the TUI's cancel; steps call `ctx.checkpoint()` between operations."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def canceled(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True if canceled meanwhile."""
        return self._event.wait(seconds)


class StepContext:
    """What a step sees: its profile, the values of the steps it needs, and ways to report."""

    def __init__(self, run: "_GraphRun", spec: StepSpec):
        self._run = run
        self.spec = spec
        self.profile: Profile = run.profile
        self.plan_only: bool = run.plan_only
        self.cancel: CancelToken = run.cancel
        self.options: dict[str, Any] = run.options

    @property
    def step(self) -> str:
        return self.spec.key

    def value(self, step: str) -> Any:
        """The value a needed step found or made (e.g. the workspace's storage account)."""
        return self._run.values.get(step)

    def planned(self, step: str) -> str:
        """What a needed step did or would do: create | update | none | ..."""
        return self._run.plans.get(step, "")

    def log(self, message: str, level: str = "info") -> None:
        self._run.emit(ev.StepLog(self.step, message, level))

    def progress(self, done: float, total: float, unit: str = "") -> None:
        self._run.emit(ev.StepProgress(self.step, done, total, unit))

    def checkpoint(self) -> None:
        if self.cancel.canceled:
            raise Canceled()

    def emit(self, event: ev.Event) -> None:
        self._run.emit(event)


class _GraphRun:
    def __init__(self, profile: Profile, target: Any, specs: tuple[StepSpec, ...], action: str,
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
        event = _redacted(event)
        with self._lock:
            self._emit(event)

    def _method(self, key: str, kind: str) -> Callable:
        prefix = {"check": "check_", "apply": "apply_", "check_delete": "check_delete_",
                  "delete": "delete_"}[kind]
        return getattr(self.target, prefix + key)

    def run_step(self, spec: StepSpec) -> ev.StepFinished:
        deleting = self.action == "teardown"
        ctx = StepContext(self, spec)
        start = time.monotonic()
        self.emit(ev.StepStarted(spec.key, spec.title))
        plan = ""
        try:
            ctx.checkpoint()
            check: Check = self._method(spec.key, "check_delete" if deleting else "check")(ctx)
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
            done: Done = self._method(spec.key, "delete" if deleting else "apply")(ctx, check)
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


def _redacted(event: ev.Event) -> ev.Event:
    changes = {}
    for name in ("message", "detail", "error"):
        value = getattr(event, name, None)
        if isinstance(value, str) and value:
            clean = redact(value)
            if clean != value:
                changes[name] = clean
    return dataclasses.replace(event, **changes) if changes else event


# ----------------------------------------------------------------------------- lock and record

@contextmanager
def profile_lock(profile: Profile) -> Iterator[None]:
    """One run per profile at a time; a second one is refused, not allowed to race."""
    import fcntl

    folder = paths.locks_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{profile.name}.lock"
    handle = open(path, "a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise LockedError(f"profile '{profile.name}' is already being run ({holder}); "
                              "wait for it to finish or stop it first") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, started {time.strftime('%H:%M:%S')}")
        handle.flush()
        yield
    finally:
        handle.close()


class RunRecord:
    """Appends every event of a run, with its time, as JSON lines under the data folder."""

    def __init__(self, profile: Profile, run_id: str, action: str):
        folder = paths.runs_dir(profile.name)
        folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.path = folder / f"{stamp}-{action}-{run_id[:8]}.jsonl"
        self._handle = open(self.path, "a", encoding="utf-8")

    def __call__(self, event: ev.Event) -> None:
        self._handle.write(json.dumps(event.to_dict(), default=str) + "\n")
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()


def last_run(profile_name: str) -> dict[str, Any] | None:
    """How the profile's newest run that could change something ended (plans are left out)."""
    folder = paths.runs_dir(profile_name)
    if not folder.is_dir():
        return None
    for path in sorted(folder.glob("*.jsonl"), reverse=True):
        if "-plan-" in path.name:
            continue
        started = finished = None
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                try:
                    data = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a record cut off by a crash
                if data.get("type") == "run_started":
                    started = data
                elif data.get("type") == "run_finished":
                    finished = data
        if started:
            return {"action": started["action"], "ts": started["ts"],
                    "outcome": finished["outcome"] if finished else "interrupted"}
    return None


# ------------------------------------------------------------------------------------- runs

def make_target(profile: Profile, emit: ev.Emit, cancel: CancelToken) -> Any:
    from engine.targets import create

    return create(profile, emit, cancel)


def _run(profile: Profile, action: str, emit: ev.Emit, cancel: CancelToken | None,
         plan_only: bool, specs: tuple[StepSpec, ...], target: Any = None,
         only: set[str] | None = None, options: dict[str, Any] | None = None) -> RunSummary:
    cancel = cancel or CancelToken()
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
                graph.target = target or make_target(profile, graph.emit, cancel)
                graph.execute()
            finally:
                close = getattr(graph.target, "close", None)
                if close:
                    close()
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
              target: Any = None, only: set[str] | None = None) -> RunSummary:
    return _run(profile, "provision", emit, cancel, False, STEPS, target, only)


def plan(profile: Profile, emit: ev.Emit, cancel: CancelToken | None = None,
         target: Any = None) -> RunSummary:
    return _run(profile, "plan", emit, cancel, True, STEPS, target)


def teardown(profile: Profile, emit: ev.Emit, cancel: CancelToken | None = None,
             plan_only: bool = False, target: Any = None, purge: bool = False) -> RunSummary:
    """Delete what this profile created, newest first. `purge` also frees a soft-deleted
    workspace's name (azure)."""
    return _run(profile, "teardown", emit, cancel, plan_only, reversed_graph(), target,
                options={"purge": purge})


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
