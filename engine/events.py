"""The engine's one event stream.

Every consumer (headless text, --json, the run record, the Textual app) reads these and nothing
else. Events are frozen dataclasses; `to_dict()` gives the versioned JSON form
(`{"v": 1, "type": "step_finished", "ts": ..., ...}`) and `from_dict()` reads it back.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

EVENT_SCHEMA = 1

# Step outcomes. `deleted` only appears in tear-down runs, `canceled` when the run was stopped,
# `planned` in plan mode for a step that would change something (its `plan` field says what).
EXISTS, CREATED, UPDATED, SKIPPED, FAILED, DELETED, CANCELED, PLANNED = (
    "exists", "created", "updated", "skipped", "failed", "deleted", "canceled", "planned",
)
OUTCOMES = (EXISTS, CREATED, UPDATED, SKIPPED, FAILED, DELETED, CANCELED, PLANNED)

# What plan mode says a step would do.
WOULD_CREATE, WOULD_UPDATE, WOULD_DELETE, NO_CHANGE = "create", "update", "delete", "none"


@dataclass(frozen=True)
class Event:
    type: ClassVar[str] = "event"
    ts: float = field(default_factory=time.time, kw_only=True)

    def to_dict(self) -> dict[str, Any]:
        data = {"v": EVENT_SCHEMA, "type": self.type}
        data.update(dataclasses.asdict(self))
        return data


@dataclass(frozen=True)
class RunStarted(Event):
    type: ClassVar[str] = "run_started"
    run_id: str
    profile: str
    target: str
    action: str  # provision | plan | teardown | submit
    steps: tuple[str, ...]
    titles: tuple[str, ...] = ()


@dataclass(frozen=True)
class StepStarted(Event):
    type: ClassVar[str] = "step_started"
    step: str
    title: str


@dataclass(frozen=True)
class StepLog(Event):
    type: ClassVar[str] = "step_log"
    step: str
    message: str
    level: str = "info"  # debug | info | warning | error


@dataclass(frozen=True)
class StepProgress(Event):
    type: ClassVar[str] = "step_progress"
    step: str
    done: float
    total: float
    unit: str = ""  # "files", "bytes", "s" (elapsed, for long-running operations)


@dataclass(frozen=True)
class StepFinished(Event):
    type: ClassVar[str] = "step_finished"
    step: str
    outcome: str
    duration: float
    detail: str = ""
    plan: str = ""  # plan mode only: create | update | delete | none
    error: str = ""


@dataclass(frozen=True)
class SignInPrompt(Event):
    """A sign-in needs the user: device code flow shows a URL and a code."""

    type: ClassVar[str] = "sign_in_prompt"
    message: str
    url: str = ""
    code: str = ""


@dataclass(frozen=True)
class JobSubmitted(Event):
    type: ClassVar[str] = "job_submitted"
    job_id: str
    input: str
    output: str


@dataclass(frozen=True)
class JobStatus(Event):
    type: ClassVar[str] = "job_status"
    job_id: str
    status: str  # Queued | Running | Completed | Failed | Canceled (plus Azure's intermediate ones)
    message: str = ""


@dataclass(frozen=True)
class JobProgress(Event):
    type: ClassVar[str] = "job_progress"
    job_id: str
    mini_batches_done: int
    mini_batches_total: int
    files_done: int
    files_total: int
    rows: int
    failures: int


@dataclass(frozen=True)
class JobLog(Event):
    type: ClassVar[str] = "job_log"
    job_id: str
    source: str  # "overview", "worker-1", ...
    message: str
    level: str = "info"


@dataclass(frozen=True)
class JobFinished(Event):
    type: ClassVar[str] = "job_finished"
    job_id: str
    status: str
    rows: int
    failures: int
    duration: float
    output: str = ""
    error: str = ""


@dataclass(frozen=True)
class CostEstimate(Event):
    """Azure retail prices (engine.pricing): what a profile would cost (scope "profile", before
    anything is made) or what a finished scoring run cost (scope "run"). `lines` words them;
    `prices` holds each rate (`amount` null when unavailable), `figures` the sums made of them."""

    type: ClassVar[str] = "cost_estimate"
    scope: str  # profile | run
    lines: tuple[str, ...]
    prices: tuple[dict[str, Any], ...] = ()
    figures: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunFinished(Event):
    type: ClassVar[str] = "run_finished"
    run_id: str
    outcome: str  # succeeded | failed | canceled | changes (plan found work to do)
    duration: float
    counts: dict[str, int] = field(default_factory=dict)


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls
    for cls in (
        RunStarted, StepStarted, StepLog, StepProgress, StepFinished, SignInPrompt,
        JobSubmitted, JobStatus, JobProgress, JobLog, JobFinished, CostEstimate, RunFinished,
    )
}

Emit = Callable[[Event], None]


def from_dict(data: dict[str, Any]) -> Event:
    cls = EVENT_TYPES[data["type"]]
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {k: v for k, v in data.items() if k in names}
    for key in ("steps", "titles", "lines", "prices"):
        if key in kwargs:
            kwargs[key] = tuple(kwargs[key])
    return cls(**kwargs)
