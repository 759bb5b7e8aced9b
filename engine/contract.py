"""The contract between the engine and a target: one `Step` class per resource, one `Target` per
place resources live (this machine, Azure). The engine knows nothing else about a target.

A step holds one resource's four operations:

    check(ctx) -> Check          look, change nothing (a plan stops here)
    apply(ctx, check) -> Done    make what check found missing or different
    check_delete(ctx) -> Check   look before a tear-down
    delete(ctx, check) -> Done   delete what check_delete found to be this profile's

A target names its step classes (`steps`, one per key of its `graph`) and implements the job
operations. A target class that lacks any of them is refused when it is built, with a message
naming every missing operation.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Literal, Mapping, TypeVar

from engine import events as ev
from engine.context import CancelToken, StepContext
from engine.errors import AmlBatchError
from engine.steps import STEPS, Check, Done, StepSpec

if TYPE_CHECKING:
    from engine.jobinfo import JobInfo

Operation = Literal["check", "apply", "check_delete", "delete"]
R = TypeVar("R")


class TargetError(AmlBatchError):
    """A target that does not implement the contract (a programming error, named plainly)."""


class Step(ABC):
    """One resource on one target. Subclasses set `key` and implement the four operations; what
    the target's steps share (clients, caches, the state root) is reached through `self.target`."""

    key: ClassVar[str]

    def __init__(self, target: Any) -> None:
        self.target = target
        self.profile = target.profile

    @abstractmethod
    def check(self, ctx: StepContext) -> Check: ...

    @abstractmethod
    def apply(self, ctx: StepContext, check: Check) -> Done: ...

    @abstractmethod
    def check_delete(self, ctx: StepContext) -> Check: ...

    @abstractmethod
    def delete(self, ctx: StepContext, check: Check) -> Done: ...


class Target(ABC):
    """A place resources live. `graph` is the step graph it runs (engine.steps.STEPS unless a
    target adds or leaves out steps); `steps` maps each key of the graph to its Step class."""

    name: ClassVar[str]
    graph: ClassVar[tuple[StepSpec, ...]] = STEPS
    steps: ClassVar[Mapping[str, type[Step]]] = {}

    def __new__(cls, *args: Any, **kwargs: Any) -> "Target":
        missing = missing_operations(cls)
        if missing:
            raise TargetError(f"target {cls.__name__} cannot be built: it lacks " + ", ".join(missing))
        return super().__new__(cls)

    def __init__(self, profile: Any, emit: ev.Emit, cancel: CancelToken) -> None:
        self.profile = profile
        self.emit = emit
        self.cancel = cancel
        self._step_objects: dict[str, Step] = {}

    def step(self, key: str) -> Step:
        """The step object of `key` (one per target, so a step may keep what it read)."""
        if key not in self._step_objects:
            self._step_objects[key] = self.steps[key](self)
        return self._step_objects[key]

    def around(self, ctx: StepContext, operation: Operation, call: Callable[[], R]) -> R:
        """Every step operation runs through here: a target binds its logging or turns its
        errors into sentences by overriding it."""
        return call()

    def sign_in(self) -> None:
        """Called once before the steps run: a target that needs a sign-in does it here, so a
        failure is told once, as itself, not as the first step's failure."""

    def close(self) -> None:
        """Release clients and threads; called once when a run or a job call ends."""

    # ------------------------------------------------------------------ jobs (scoring runs)

    @abstractmethod
    def submit_job(self, input_path: str | None) -> "JobInfo":
        """Invoke the endpoint on `input_path` (a local file or folder) or, when None, on the
        profile's uploaded data; return at once."""

    @abstractmethod
    def get_job(self, job_id: str) -> "JobInfo": ...

    @abstractmethod
    def list_jobs(self) -> list["JobInfo"]: ...

    @abstractmethod
    def cancel_job(self, job_id: str) -> None: ...

    @abstractmethod
    def follow_job(self, job_id: str, emit: ev.Emit, cancel: CancelToken) -> "JobInfo":
        """Emit the job's status, progress and logs until it ends (or `cancel`, which cancels it)."""

    @abstractmethod
    def download_results(self, job_id: str, out_dir: Path) -> list[Path]: ...

    @abstractmethod
    def preview_rows(self, job_id: str, limit: int) -> list[str]: ...


def step_map(*classes: type[Step]) -> dict[str, type[Step]]:
    """A target's `steps`, keyed by each class's own `key`."""
    return {cls.key: cls for cls in classes}


def missing_operations(cls: type[Target]) -> list[str]:
    """Every operation `cls` lacks: job operations, steps of its graph, and step operations."""
    missing = sorted(getattr(cls, "__abstractmethods__", ()))
    for spec in cls.graph:
        step_class = cls.steps.get(spec.key)
        if step_class is None:
            missing.append(f"step '{spec.key}'")
            continue
        missing += [f"{spec.key}.{op}" for op in sorted(getattr(step_class, "__abstractmethods__", ()))]
    return missing
