"""Helpers shared by the azure target's modules: the step wrapper, resource states, references."""

from __future__ import annotations

import contextlib
import functools
import threading
from typing import Any, Callable, Iterator

from engine.errors import AmlBatchError, Canceled
from engine.targets.azure import _capture, _errors, _lro

BUSY_STATES = ("creating", "updating", "accepted", "running", "inprogress", "provisioning", "deleting",
               "scaling", "resizing")
FAILED_STATES = ("failed", "canceled")
TAG_HASH = "amlbatch-content-hash"

_local = threading.local()

NOUNS: dict[str, Callable[[Any], str]] = {
    "resource_group": lambda p: f"resource group '{p.workspace.resource_group}'",
    "workspace": lambda p: f"workspace '{p.workspace.name}'",
    "containers": lambda p: f"blob containers {p.storage.input_container}, {p.storage.output_container}",
    "upload": lambda p: "the data files",
    "compute": lambda p: f"compute cluster '{p.compute.name}'",
    "datastores": lambda p: f"datastores {p.storage.input_datastore}, {p.storage.output_datastore}",
    "assets": lambda p: "the environment, model and code",
    "endpoint": lambda p: f"batch endpoint '{p.endpoint_name}'",
    "deployment": lambda p: f"deployment '{p.endpoint.deployment}'",
    "schedule": lambda p: f"schedule '{p.schedule.name}'",
}
VERBS = {"check": "read", "apply": "create or update", "check_delete": "read", "delete": "delete"}


Log = Callable[[str, str], None]  # (message, level)


@contextlib.contextmanager
def logging_to(log: Log | None, sdk_sink: Log | None = None) -> Iterator[None]:
    """Bind, for this thread, where our own log lines (`say`) and the SDKs' output go."""
    previous = getattr(_local, "log", None)
    _local.log = log
    try:
        if sdk_sink is not None:
            with _capture.bound(sdk_sink):
                yield
        else:
            yield
    finally:
        _local.log = previous


def current_log() -> Log | None:
    return getattr(_local, "log", None)


def say(message: str, level: str = "info") -> None:
    """Log through whatever this thread is bound to (a step's ctx.log, a job's JobLog)."""
    log = current_log()
    if log is not None:
        log(message, level)


def carry(call: Callable[[], Any]) -> Callable[[], Any]:
    """Wrap `call` so that, run in another thread, it logs where the calling thread logs."""
    log, sink = current_log(), _capture.current_sink()

    def run() -> Any:
        with logging_to(log, sink):
            return call()
    return run


def sdk_error(exc: BaseException) -> bool:
    module = type(exc).__module__ or ""
    if module.split(".", 1)[0] in ("azure", "requests", "urllib3", "msal"):
        return True
    return isinstance(exc, (ConnectionError, TimeoutError))


def step(kind: str) -> Callable:
    """Wrap a step method: bind logging and the SDKs' output to the step, explain Azure errors."""

    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def run(self: Any, ctx: Any, *args: Any) -> Any:
            def sdk_sink(message: str, level: str) -> None:
                ctx.log(message, "debug")

            # output from threads no step is bound to (SDK poller threads) goes to the newest step
            self._recent_sdk_sink = sdk_sink
            with logging_to(ctx.log, sdk_sink):
                _capture.quiet_loggers()
                if kind in ("check", "check_delete") and hasattr(self, "prefetch"):
                    self.prefetch()
                try:
                    return fn(self, ctx, *args)
                except (AmlBatchError, Canceled):
                    raise
                except _lro.PollingStopped:
                    raise Canceled() from None
                except Exception as exc:  # noqa: BLE001 - Azure errors become a sentence, bugs stay bugs
                    if not sdk_error(exc):
                        raise
                    ctx.log(f"{type(exc).__name__}: {exc}", "debug")
                    noun = NOUNS[ctx.step](self.profile)
                    raise _errors.explain(exc, f"{VERBS[kind]} {noun}") from None
        return run

    return wrap


def state_of(resource: Any) -> str:
    state = getattr(resource, "provisioning_state", None)
    return str(getattr(state, "value", state) or "").lower()


def tags_of(resource: Any) -> dict[str, str]:
    return dict(getattr(resource, "tags", None) or {})


def last_segment(arm_id: Any) -> str:
    return str(arm_id or "").rstrip("/").rsplit("/", 1)[-1]


def same_ref(arm_id: Any, kind: str, name: str, version: str | None = None) -> bool:
    """Whether an ARM id (or azureml:name:version) points at kind/name[/versions/version]."""
    text = str(arm_id or "").lower().rstrip("/")
    if text.startswith("azureml:"):
        parts = text[len("azureml:"):].split(":")
        return parts[0] == name.lower() and (version is None or parts[-1] == str(version).lower())
    want = f"/{kind}/{name}".lower() + (f"/versions/{version}".lower() if version is not None else "")
    return text.endswith(want)


def get_or_none(read: Callable[[], Any]) -> Any:
    try:
        return read()
    except Exception as exc:  # noqa: BLE001
        if _errors.is_not_found(exc):
            return None
        raise
