"""What a step sees while it runs, and how a run is stopped. Below the targets and the run
orchestration, so both import it and neither imports the other."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Mapping

from engine import events as ev
from engine.errors import Canceled
from engine.steps import StepSpec


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


PROGRESS_INTERVAL = 0.25  # seconds between progress events of one step: records stay small


class StepContext:
    """What a step sees: its profile, the values and plans of the steps it needs, and ways to report.

    `values` and `plans` are the run's live maps (read only here): a needed step has finished
    before this one starts, so what it found or made is there."""

    def __init__(self, spec: StepSpec, profile: Any, emit: Callable[[ev.Event], None], cancel: CancelToken,
                 plan_only: bool = False, options: Mapping[str, Any] | None = None,
                 values: Mapping[str, Any] | None = None, plans: Mapping[str, str] | None = None):
        self.spec = spec
        self.profile = profile
        self.plan_only = plan_only
        self.cancel = cancel
        self.options: Mapping[str, Any] = options or {}
        self._emit = emit
        self._values: Mapping[str, Any] = values if values is not None else {}
        self._plans: Mapping[str, str] = plans if plans is not None else {}
        self._last_progress: float | None = None

    @property
    def step(self) -> str:
        return self.spec.key

    def value(self, step: str) -> Any:
        """The value a needed step found or made (e.g. the workspace's storage account)."""
        return self._values.get(step)

    def planned(self, step: str) -> str:
        """What a needed step did or would do: create | update | none | ..."""
        return self._plans.get(step, "")

    def log(self, message: str, level: str = "info") -> None:
        self._emit(ev.StepLog(self.step, message, level))

    def progress(self, done: float, total: float, unit: str = "") -> None:
        """Coalesced to a few events a second (the first and the last always go), so a step over
        many items costs its consumers and the run record the same as one over a few."""
        now = time.monotonic()
        last = self._last_progress
        if last is not None and done < total and now - last < PROGRESS_INTERVAL:
            return
        self._last_progress = now
        self._emit(ev.StepProgress(self.step, done, total, unit))

    def checkpoint(self) -> None:
        if self.cancel.canceled:
            raise Canceled()

    def emit(self, event: ev.Event) -> None:
        self._emit(event)
