"""The parent's handle on worker processes: starting one (`_start_worker`: a plain Python
subprocess running engine.batch.worker's `_child_main`, talking to the parent over a
`multiprocessing.connection` Listener/Client pair), killing and reaping it, and saying how it
exited.

Workers are started with `subprocess`, not `multiprocessing.Process`: a "spawn" child re-imports
the parent's __main__ (the CLI/TUI entry point, or a caller's script without a main guard) before
its target runs. The worker's entry is `python -c` importing engine.batch.worker only, so nothing
of the caller runs again, with public APIs alone on every platform (Listener picks a Unix socket or
a Windows named pipe). The authkey goes to the child on its stdin, never on its command line."""

from __future__ import annotations

import secrets
import signal
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Client, Listener
from pathlib import Path
from typing import Any

import engine

ROOT = str(Path(engine.__file__).resolve().parent.parent)  # the folder holding the engine package
BOOTSTRAP = ("import sys; sys.path.insert(0, sys.argv[1]); from engine.batch.worker import _child_main; "
             "_child_main(sys.argv[2])")
CONNECT_TIMEOUT = 60.0  # seconds a new worker has to connect back (a Python start and a small import)


class _Proc:
    """A worker's process, with the parts of multiprocessing.Process the scheduler uses."""

    def __init__(self, popen: subprocess.Popen, conn: Any):
        self.popen = popen
        self.pid = popen.pid
        self.sentinel = conn  # a dead worker's connection reads EOF: it is what we wait on

    @property
    def exitcode(self) -> int | None:
        return self.popen.poll()

    def is_alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        try:
            self.popen.kill()
        except OSError:
            pass

    def join(self, timeout: float | None = None) -> None:
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            pass


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
        self.queued: list[int] = []  # sent ahead: waits in the pipe, so the worker never idles
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
    key = secrets.token_bytes(32)
    with Listener(authkey=key) as listener:
        popen = subprocess.Popen([sys.executable, "-c", BOOTSTRAP, ROOT, str(listener.address)],
                                 stdin=subprocess.PIPE, close_fds=True)
        try:
            assert popen.stdin is not None
            popen.stdin.write(key.hex().encode("ascii") + b"\n")
            popen.stdin.close()
            conn = _accept(listener, popen, key)
        except BaseException:
            popen.kill()
            popen.wait()
            raise
    conn.send(config)
    return _Worker(seq, _Proc(popen, conn), conn, part, time.monotonic() + init_timeout)


def _accept(listener: Listener, popen: subprocess.Popen, key: bytes) -> Any:
    """The worker's connection; if it exits (or hangs) before connecting, an OSError saying so.
    Listener.accept() has no timeout: a child that never connects is replaced by our own Client,
    which wakes the accept."""
    got: dict[str, Any] = {}

    def accept() -> None:
        try:
            got["conn"] = listener.accept()
        except Exception as exc:  # noqa: BLE001 - reported below
            got["error"] = exc

    thread = threading.Thread(target=accept, name="amlbatch-worker-accept", daemon=True)
    thread.start()
    deadline = time.monotonic() + CONNECT_TIMEOUT
    while thread.is_alive():
        thread.join(0.01)
        if thread.is_alive() and (popen.poll() is not None or time.monotonic() > deadline):
            try:
                Client(listener.address, authkey=key).close()
            except OSError:
                pass
            thread.join(5.0)
            got.pop("conn", None)
            why = _describe_exit(popen.poll()) if popen.poll() is not None else \
                f"did not connect within {CONNECT_TIMEOUT:g} s"
            raise OSError(f"worker process {why} before it connected")
    if "conn" not in got:
        raise OSError(f"worker process did not connect: {got.get('error')}")
    return got["conn"]


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "did not exit"
    if code < 0:
        try:
            return f"was killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"
