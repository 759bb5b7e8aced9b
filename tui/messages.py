"""How engine work reaches the screens.

Engine calls block, so they run in thread workers. Two paths lead back to the UI thread:

* `EventBuffer` is the `emit` callback handed to the engine. Engine threads append events to it
  (a lock and a bounded deque, no Textual call); the screen that owns it drains it on a timer
  (every `FLUSH_SECONDS`) and applies a whole batch at once. Log lines are bounded: past
  `log_limit` pending lines the oldest are dropped and counted, so a flood costs bounded memory;
  progress events coalesce to the newest per step or job.
* Typed `Message`s below carry a worker's result (or its failure) back; `post_message` is
  thread-safe, and never touches a widget from the worker thread.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from textual.message import Message

FLUSH_SECONDS = 0.1
LOG_TYPES = ("step_log", "job_log")
PROGRESS_TYPES = ("step_progress", "job_progress")


@dataclass
class Batch:
    """What arrived since the previous drain: ordered events, the newest progress of each step
    or job, the log events, and how many log lines were dropped unseen."""

    events: list[Any] = field(default_factory=list)
    progress: dict[str, Any] = field(default_factory=dict)
    logs: list[Any] = field(default_factory=list)
    dropped: int = 0

    def __bool__(self) -> bool:
        return bool(self.events or self.progress or self.logs or self.dropped)


class EventBuffer:
    """A thread-safe `emit` for the engine; the UI drains it in batches."""

    def __init__(self, log_limit: int = 5000) -> None:
        self._lock = threading.Lock()
        self._events: list[Any] = []
        self._progress: dict[str, Any] = {}
        self._logs: deque[Any] = deque(maxlen=log_limit)
        self._dropped = 0
        self.received_logs = 0  # every log event ever pushed, for the benchmark and the UI

    def __call__(self, event: Any) -> None:
        kind = getattr(event, "type", "")
        with self._lock:
            if kind in LOG_TYPES:
                if len(self._logs) == self._logs.maxlen:
                    self._dropped += 1
                self._logs.append(event)
                self.received_logs += 1
            elif kind in PROGRESS_TYPES:
                key = getattr(event, "step", None) or getattr(event, "job_id", "")
                self._progress[key] = event
            else:
                self._events.append(event)

    def drain(self) -> Batch:
        with self._lock:
            batch = Batch(self._events, self._progress, list(self._logs), self._dropped)
            self._events, self._progress, self._dropped = [], {}, 0
            self._logs.clear()
        return batch

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._events) + len(self._logs) + len(self._progress)


# ------------------------------------------------------------------ worker results, one class each
# A screen's worker posts to that screen; its handler is `on_<snake_case name>`.

class WorkFailed(Message):
    """A thread worker stopped on an error a user should read (`text`); `field` is the profile
    field it names, when it names one."""

    def __init__(self, text: str, field: str = "") -> None:
        super().__init__()
        self.text, self.field = text, field


class ProfilesListed(Message):
    """The saved profiles (tui.backend.SavedProfile rows), for the start screen."""

    def __init__(self, profiles: list[Any]) -> None:
        super().__init__()
        self.profiles = profiles


class DeviceCodePrompt(Message):
    """A device-code sign-in waits for the user: `event` (engine SignInPrompt) has the URL and code."""

    def __init__(self, event: Any) -> None:
        super().__init__()
        self.event = event


class SignedIn(Message):
    """Sign-in attempt number `attempt` gave `credential`."""

    def __init__(self, credential: Any, attempt: int) -> None:
        super().__init__()
        self.credential, self.attempt = credential, attempt


class SignInFailed(Message):
    """Sign-in attempt number `attempt` failed with `text`."""

    def __init__(self, text: str, attempt: int) -> None:
        super().__init__()
        self.text, self.attempt = text, attempt


class ListingLoaded(Message):
    """What an Azure listing found: subscriptions, regions or VM sizes (the screen asked for one)."""

    def __init__(self, items: list[Any]) -> None:
        super().__init__()
        self.items = items


class DataFilesFound(Message):
    """The profile's data files: how many and their total size in bytes."""

    def __init__(self, count: int, size: int) -> None:
        super().__init__()
        self.count, self.size = count, size


class PlanMade(Message):
    """A plan finished: `summary` (engine RunSummary) says what a run would do."""

    def __init__(self, summary: Any) -> None:
        super().__init__()
        self.summary = summary


class RunFinished(Message):
    """A provisioning or tear-down run ended (succeeded, failed or canceled): its RunSummary."""

    def __init__(self, summary: Any) -> None:
        super().__init__()
        self.summary = summary


class TeardownPlanned(Message):
    """What a tear-down would do: one StepFinished per step in run order, and the steps' titles."""

    def __init__(self, steps: list[Any], titles: dict[str, str]) -> None:
        super().__init__()
        self.steps, self.titles = steps, titles


class JobFinished(Message):
    """A submitted scoring job ended (any status): its JobInfo."""

    def __init__(self, job: Any) -> None:
        super().__init__()
        self.job = job


class PreviewLoaded(Message):
    """The first result rows of a job, split into cells."""

    def __init__(self, rows: list[list[str]]) -> None:
        super().__init__()
        self.rows = rows


class ResultsCopied(Message):
    """A job's result files, copied to these local paths."""

    def __init__(self, paths: list[Any]) -> None:
        super().__init__()
        self.paths = paths


class JobsRunning(Message):
    """A tear-down was refused: the profile's scoring runs are still queued or running."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class ProfileIsCopy(Message):
    """The profile file carries the id of another file: a copy, refused until it has its own id."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


def error_text(exc: BaseException) -> tuple[str, str]:
    """(message, field) of an engine error; unexpected errors keep their type name."""
    field_name = getattr(exc, "field", "") or ""
    rule = getattr(exc, "rule", None)
    if rule is not None:
        text = f"{field_name}: {rule}" if field_name else rule
        return text, field_name
    name = type(exc).__name__
    known = {"AmlBatchError", "StepError", "LockedError", "Canceled", "ProfileError", "CloudError",
             "SignInError", "JobsRunningError"}
    text = str(exc) if name in known or str(exc).startswith(name) else f"{name}: {exc}"
    return text.strip() or name, field_name
