"""The parent's handle on worker processes: starting one (`_start_worker`: a "spawn" process
running engine.batch.worker._worker_main), killing and reaping it, and saying how it exited."""

from __future__ import annotations

import multiprocessing
import signal
import time
from pathlib import Path
from typing import Any

from engine.batch.worker import WORKER_PREFIX, _install_spawn_hook, _worker_main


class _Worker:
    """The parent's handle on one worker process."""

    def __init__(self, seq: int, proc: Any, conn: Any, part: Path, deadline: float):
        self.seq = seq
        self.name = f"worker-{seq}"
        self.proc = proc
        self.conn = conn
        self.part = part
        self.state = "starting"  # starting | idle | busy | dead
        self.mb = -1  # mini-batch in progress
        self.deadline = deadline

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.state = "dead"

    def reap(self) -> None:
        try:
            self.conn.close()
        except OSError:
            pass
        self.proc.join(1.0)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(1.0)


def _start_worker(seq: int, config: dict[str, Any], part: Path, init_timeout: float) -> _Worker:
    """Start worker `seq` with `config` (see _worker_main); it must be ready within init_timeout."""
    ctx = multiprocessing.get_context("spawn")  # safe when the caller runs threads
    parent_conn, child_conn = ctx.Pipe(duplex=True)
    _install_spawn_hook()
    proc = ctx.Process(target=_worker_main, args=(child_conn, config), name=f"{WORKER_PREFIX}{seq}")
    proc.start()
    child_conn.close()
    return _Worker(seq, proc, parent_conn, part, time.monotonic() + init_timeout)


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "did not exit"
    if code < 0:
        try:
            return f"was killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"
