"""Waiting for Azure's long-running operations so that Ctrl+C is honoured and progress shows.

Every sync azure-core poller (ARM, azure-ai-ml's AzureMLPolling, the workspace's template
deployment) runs in a daemon thread and sleeps through `LROBasePolling._sleep` between polls.
`install()` replaces that sleep, once per process, with one that

* waits at most `CLOCK.max_delay` seconds however long the service's Retry-After (our progress
  line stays lively), scaled by `CLOCK.scale` (tests set 0: pollers never sleep for real), and
* ends the polling thread when the poller was marked stopped, which `wait()` does on Ctrl+C: we
  stop *waiting*, the operation keeps running in Azure, and no stray thread keeps calling Azure.

`wait()` watches a poller from the step's thread, reporting elapsed time as progress (unit "s")
and a "still ..." line every 30 s.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from engine.errors import Canceled


class _Clock:
    scale = 1.0  # multiplies every poll delay; tests use 0
    max_delay = 15.0  # seconds between polls at most
    tick = 0.25  # how often a waiting step looks at its cancel token and the poller
    still_every = 30.0  # seconds between "still creating" log lines


CLOCK = _Clock()


class PollingStopped(Exception):
    """Raised inside a poller thread that we stopped waiting for."""


_installed = False
_install_lock = threading.Lock()


def install() -> None:
    global _installed
    with _install_lock:
        if _installed:
            return
        from azure.core.polling import base_polling

        original = base_polling.LROBasePolling._sleep

        def _sleep(self: Any, delay: float) -> None:
            deadline = time.monotonic() + max(0.0, min(float(delay or 0), CLOCK.max_delay)) * CLOCK.scale
            while True:
                if getattr(self, "_amlbatch_stop", False):
                    raise PollingStopped()
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                time.sleep(min(0.1, left))

        _sleep._amlbatch_original = original  # type: ignore[attr-defined]
        base_polling.LROBasePolling._sleep = _sleep
        _installed = True


def stop(poller: Any) -> None:
    """Make the poller's thread end at its next sleep."""
    method = poller.polling_method() if hasattr(poller, "polling_method") else None
    for candidate in (method, getattr(method, "poller", None)):
        inner = candidate.polling_method() if hasattr(candidate, "polling_method") else candidate
        if inner is not None:
            try:
                inner._amlbatch_stop = True
            except AttributeError:
                pass


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
    wait(ctx, poller.done, what, on_cancel=lambda: stop(poller))
    return poller.result()
