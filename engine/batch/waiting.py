"""Waiting for the workers' messages: one selector for the whole job, each worker's connection
registered once, so a wait costs one system call (multiprocessing.connection.wait builds and
tears down a selector on every call, twice per mini-batch with a poll before each receive).

A dead worker's connection reads EOF, so it is also how a worker's death is noticed. On Windows a
worker's connection is a named pipe, which selectors cannot watch: there multiprocessing's own
`wait` (which can) is used."""

from __future__ import annotations

import selectors
import sys
import time
from multiprocessing.connection import wait as _wait
from typing import Any


class Waiter:
    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector() if sys.platform != "win32" else None
        self._fds: dict[int, Any] = {}  # registered descriptor -> its worker
        self._workers: list[Any] = []  # the workers registered, in order

    def ready(self, workers: list[Any], timeout: float) -> list[Any]:
        """The workers with a message (or EOF) waiting, after at most `timeout` s."""
        if not workers:
            time.sleep(timeout)
            return []
        if self._selector is None:
            conns = {w.conn: w for w in workers}
            return [conns[c] for c in _wait(list(conns), timeout)]
        if self._workers != workers:  # the list changes only when a worker starts or goes
            self._sync(workers)
            self._workers = list(workers)
        return [key.data for key, _ in self._selector.select(timeout)]

    def _sync(self, workers: list[Any]) -> None:
        """Register new workers' connections, drop those of workers gone (a descriptor number may
        come back for a new worker's connection once the old one is closed)."""
        live: dict[int, Any] = {}
        for worker in workers:
            try:
                live[worker.conn.fileno()] = worker
            except (OSError, ValueError):
                continue  # closed: the worker is being replaced
        for fd in [fd for fd, worker in self._fds.items() if live.get(fd) is not worker]:
            del self._fds[fd]
            try:
                self._selector.unregister(fd)
            except (KeyError, ValueError, OSError):
                pass
        for fd, worker in live.items():
            if fd not in self._fds:
                self._selector.register(fd, selectors.EVENT_READ, worker)
                self._fds[fd] = worker

    def close(self) -> None:
        if self._selector is not None:
            self._selector.close()
            self._fds.clear()
            self._workers = []
