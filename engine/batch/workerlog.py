"""A worker's log file (logs/worker-N.txt): everything the scoring script prints, on sys.stdout,
sys.stderr or file descriptors 1 and 2 (C code), passes the one redactor line by line and stops at
a cap per worker, with a note where it was cut (the rest is read and dropped, so the script never
blocks on a full pipe). Standard library and engine.secrets only: worker processes import it."""

from __future__ import annotations

import os
import threading
from typing import BinaryIO

from engine.secrets import redact

LOG_CAP = 10 * 1024 * 1024  # bytes of log kept per worker
LONGEST_LINE = 64 * 1024  # a line without newline longer than this is written in pieces


class WorkerLog:
    """Reads the pipe behind fds 1 and 2 in a thread and writes the log file."""

    def __init__(self, path: str, cap: int = LOG_CAP):
        self.file: BinaryIO = open(path, "ab")
        self.cap, self.kept, self.dropped = cap, 0, 0
        read, write = os.pipe()
        os.dup2(write, 1)
        os.dup2(write, 2)
        os.close(write)  # fds 1 and 2 are now the pipe's only write ends
        self.reader = os.fdopen(read, "rb", buffering=0)
        self.thread = threading.Thread(target=self._pump, name="amlbatch-worker-log", daemon=True)
        self.thread.start()

    def fileno(self) -> int:
        """The raw log file, for faulthandler: a crash dump must not wait for the thread."""
        return self.file.fileno()

    def _keep(self, data: bytes) -> None:
        if self.kept >= self.cap:
            self.dropped += len(data)
            return
        text = redact(data.decode("utf-8", errors="backslashreplace")).encode("utf-8")
        room = self.cap - self.kept
        if len(text) > room:
            self.dropped += len(text) - room
            text = text[:room]
        self.file.write(text)
        self.file.flush()
        self.kept += len(text)
        if self.kept >= self.cap:
            self.file.write(f"\n[amlbatch: this log was cut here at {self.cap:,} bytes; "
                            "the worker's later output is not kept]\n".encode())
            self.file.flush()

    def _pump(self) -> None:
        pending = b""
        while True:
            try:
                chunk = self.reader.read(65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            if lines:
                self._keep(b"\n".join(lines) + b"\n")
            if len(pending) > LONGEST_LINE:
                self._keep(pending)
                pending = b""
        if pending:
            self._keep(pending)
        if self.dropped:
            self.file.write(f"[amlbatch: {self.dropped:,} more bytes of output were not kept]\n".encode())
        self.file.close()

    def close(self, timeout: float = 5.0) -> None:
        """Point fds 1 and 2 at the null device and wait for what is in the pipe to be written."""
        null = os.open(os.devnull, os.O_WRONLY)
        for fd in (1, 2):
            try:
                os.dup2(null, fd)
            except OSError:
                pass
        os.close(null)
        self.thread.join(timeout)
