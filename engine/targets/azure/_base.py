"""Helpers shared by the azure target's modules: where a thread logs, Azure errors, resource states,
references."""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Callable, Iterator

from engine.targets.azure import _capture, _errors

BUSY_STATES = ("creating", "updating", "accepted", "running", "inprogress", "provisioning", "deleting",
               "scaling", "resizing")
FAILED_STATES = ("failed", "canceled")
TAG_HASH = "amlbatch-content-hash"
TAG_CODE = "amlbatch-code"  # on the deployment: the "name:content hash" of the code it runs

_local = threading.local()

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


def state_of(resource: Any) -> str:
    state = getattr(resource, "provisioning_state", None)
    return str(getattr(state, "value", state) or "").lower()


def tags_of(resource: Any) -> dict[str, str]:
    return dict(getattr(resource, "tags", None) or {})


def last_segment(arm_id: Any) -> str:
    return str(arm_id or "").rstrip("/").rsplit("/", 1)[-1]


def ref_of(arm_id: Any, kind: str) -> str:
    """The "name:version" of an asset reference: an ARM id ending in /<kind>/<name>/versions/<version>
    (with or without "azureml:" before it) or azureml:<name>:<version>. Anything else comes back as
    it is, so it differs from every wanted reference."""
    text = str(arm_id or "").rstrip("/")
    if text.lower().startswith("azureml:"):
        text = text[len("azureml:"):]
        if not text.startswith("/"):
            return text
    parts = text.split("/")
    if len(parts) >= 4 and parts[-2].lower() == "versions" and parts[-4].lower() == kind.lower():
        return f"{parts[-3]}:{parts[-1]}"
    return text


def default_deployment(endpoint: Any) -> str:
    """The name of a batch endpoint's default deployment ("" when it has none)."""
    defaults = getattr(endpoint, "defaults", None)
    if isinstance(defaults, dict):
        return str(defaults.get("deployment_name") or defaults.get("deploymentName") or "")
    return str(getattr(defaults, "deployment_name", "") or "")


def get_or_none(read: Callable[[], Any]) -> Any:
    try:
        return read()
    except Exception as exc:  # noqa: BLE001
        if _errors.is_not_found(exc):
            return None
        raise
