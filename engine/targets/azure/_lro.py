"""Waiting for Azure's long-running operations so that Ctrl+C is honoured and progress shows.

Every sync azure-core poller (ARM, azure-ai-ml's AzureMLPolling, the workspace's template
deployment) polls in its own daemon thread, sleeping as the service asks (Retry-After, else the
client's polling interval): amlbatch changes nothing in azure-core. `wait()` watches a poller from
the step's thread through its public `done()`, reporting elapsed time as progress (unit "s") and a
"still ..." line every 30 s, and looks at the step's cancel token every `CLOCK.tick` seconds. On
Ctrl+C we stop *waiting*: the operation keeps running in Azure (the next run picks it up). The
SDK's poller thread stops calling Azure when the session closes: every client is made with
`closing_policy` among its `per_call_policies` (azure-core's public pipeline-policy option), which
refuses any request once the session is closed, so the poller thread ends at its next poll.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from engine.errors import Canceled


class _Clock:
    scale = 1.0  # multiplies every poll delay; tests use 0
    max_delay = 15.0  # seconds between amlbatch's own status reads at most (not the SDK pollers')
    tick = 0.25  # how often a waiting step looks at its cancel token and the poller
    still_every = 30.0  # seconds between "still creating" log lines


CLOCK = _Clock()


class SessionClosed(Exception):
    """Raised (in an SDK poller thread) for a request made after the amlbatch session closed."""


def closing_policy(closed: Callable[[], bool]) -> Any:
    """An azure-core SansIOHTTPPolicy refusing every request once `closed()` is true."""
    from azure.core.pipeline.policies import SansIOHTTPPolicy

    class _Closing(SansIOHTTPPolicy):
        def on_request(self, request: Any) -> None:
            if closed():
                raise SessionClosed("the amlbatch session is closed: no more calls to Azure")

    return _Closing()


def fmt_elapsed(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def wait(ctx: Any, done: Callable[[], bool], what: str, on_cancel: Callable[[], None] | None = None,
         start: float | None = None) -> None:
    """Block until `done()` is true, honouring ctx.cancel. On cancel: run `on_cancel`, log a
    warning that the operation keeps running in Azure, raise Canceled."""
    start = time.monotonic() if start is None else start
    last_said = start
    last_progress = -1
    while not done():
        if ctx.cancel.wait(CLOCK.tick):
            if on_cancel:
                on_cancel()
            ctx.log(f"stopped waiting for {what} after {fmt_elapsed(time.monotonic() - start)}; it keeps "
                    "going in Azure and the next run picks it up", "warning")
            raise Canceled()
        now = time.monotonic()
        if int(now - start) != last_progress:
            last_progress = int(now - start)
            ctx.progress(last_progress, 0, "s")
        if now - last_said >= CLOCK.still_every:
            last_said = now
            ctx.log(f"still {what} ({fmt_elapsed(now - start)} elapsed)")


def wait_poller(ctx: Any, poller: Any, what: str) -> Any:
    """Wait for an azure-core LROPoller; returns its result (raising its error)."""
    wait(ctx, poller.done, what)
    return poller.result()
