"""The azure target: the steps it runs (engine.targets.azure.steps, one module each), its scoring
runs (`_jobs.AzureJobs`), and `around`, which every step operation runs through.

`around` binds our log lines and the SDKs' output (`_capture`) to the step, starts the session's
prefetch before a check, and turns an Azure error into one sentence with what to do
(`_errors.explain`); Ctrl+C while a step waits for a poller becomes Canceled (`_lro.wait`).

Test hooks (not profile fields, never set in normal use): the keyword arguments `credential=` (any
azure-core TokenCredential) and `blob_endpoint=` / `blob_verify=` (an account URL such as
Azurite's, and its CA bundle); for subprocess tests, the environment variables
AMLBATCH_TEST_BLOB_ENDPOINT and AMLBATCH_TEST_BLOB_CA, read only here, with the same meaning.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Callable, TypeVar

from engine import events as ev
from engine.context import CancelToken, StepContext
from engine.contract import Operation, Target, step_map
from engine.errors import AmlBatchError, Canceled
from engine.targets.azure import _capture, _errors
from engine.targets.azure._base import logging_to, sdk_error
from engine.targets.azure._jobs import AzureJobs
from engine.targets.azure.session import Session
from engine.targets.azure.steps.access import Access
from engine.targets.azure.steps.assets import Assets
from engine.targets.azure.steps.compute import Compute
from engine.targets.azure.steps.containers import Containers
from engine.targets.azure.steps.datastores import Datastores
from engine.targets.azure.steps.deployment import Deployment
from engine.targets.azure.steps.endpoint import Endpoint
from engine.targets.azure.steps.resource_group import ResourceGroup
from engine.targets.azure.steps.schedule import Schedule
from engine.targets.azure.steps.upload import Upload
from engine.targets.azure.steps.workspace import Workspace

R = TypeVar("R")
VERBS = {"check": "read", "apply": "create or update", "check_delete": "read", "delete": "delete"}


class AzureTarget(AzureJobs, Target):
    """Every step in a real Azure subscription; what the steps share is `self.session`."""

    name = "azure"
    steps = step_map(ResourceGroup, Workspace, Compute, Access, Containers, Upload, Datastores, Assets, Endpoint,
                     Deployment, Schedule)

    def __init__(self, profile: Any, emit: ev.Emit, cancel: CancelToken, credential: Any = None,
                 blob_endpoint: str | None = None, blob_verify: Any = None):
        super().__init__(profile, emit, cancel)
        self._closed = False
        self._close_lock = threading.Lock()
        self._recent_sdk_sink: Callable[[str, str], None] | None = None
        self.session = Session(
            profile, emit, credential,
            blob_endpoint=blob_endpoint or os.environ.get("AMLBATCH_TEST_BLOB_ENDPOINT") or None,
            blob_verify=blob_verify if blob_verify is not None else (os.environ.get("AMLBATCH_TEST_BLOB_CA") or None))
        _capture.attach(self, self._sdk_output)

    def around(self, ctx: StepContext, operation: Operation, call: Callable[[], R]) -> R:
        """Bind logging and the SDKs' output to the step; explain Azure errors."""

        def sdk_sink(message: str, level: str) -> None:
            ctx.log(message, "debug")

        # output from threads no step is bound to (SDK poller threads) goes to the newest step
        self._recent_sdk_sink = sdk_sink
        with logging_to(ctx.log, sdk_sink):
            _capture.quiet_loggers()
            if operation in ("check", "check_delete"):
                self.session.prefetch()
            try:
                result = call()
                if operation == "check":
                    self._preflight(ctx)
                return result
            except (AmlBatchError, Canceled):
                raise
            except Exception as exc:  # noqa: BLE001 - Azure errors become a sentence, bugs stay bugs
                if not sdk_error(exc):
                    raise
                ctx.log(f"{type(exc).__name__}: {exc}", "debug")
                raise _errors.explain(exc, f"{VERBS[operation]} {self.step(ctx.step).noun()}") from None

    def _preflight(self, ctx: StepContext) -> None:
        """Warn, per step and before anything changes, of each permission the identity lacks."""
        from engine.targets.azure import _access

        permissions = self.session.memo("permissions", lambda: _access.read_permissions(self.session))
        if permissions is None:
            return
        needs = _access.missing(permissions, ctx.step)
        if needs:
            ctx.log(_access.advice(ctx.step, needs, _access.rg_scope(self.profile)), "warning")

    def sign_in(self) -> None:
        self.session.credential  # noqa: B018 - signs in (or raises SignInError) once, before the steps

    def _sdk_output(self, message: str, level: str) -> None:
        """SDK output from a thread no step or job is bound to (a poller's thread)."""
        recent = self._recent_sdk_sink
        if recent is not None:
            recent(message, level)
        else:
            self.emit(ev.StepLog("", message, "debug"))

    def close(self) -> None:
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self.session.close()
        _capture.detach(self)

    def __del__(self) -> None:  # a target somebody forgot to close must not keep the capture on
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass
