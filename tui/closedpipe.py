"""A closed stdout (`amlbatch ... | head -2`) ends the output quietly, as Unix tools do.

`Guard` stands in for sys.stdout during a headless run: the first write or flush that finds the
reader gone points the stream at the null device (so nothing more fails, not even Python's flush at
exit) and remembers it; the run itself goes on, so its record tells the truth. The command then
exits 141 (128 + SIGPIPE, what a shell reports for a tool killed by a closed pipe) unless the run
failed (1) or was interrupted (130).
"""

from __future__ import annotations

import errno
import os
from typing import IO, Any

EXIT_CLOSED = 141
_CLOSED = {errno.EPIPE, errno.EINVAL}  # EINVAL: how Windows reports writing to a closed pipe


class Guard:
    def __init__(self, stream: IO[str]):
        self._stream = stream
        self.closed_pipe = False

    def _broken(self, exc: OSError) -> None:
        if not isinstance(exc, BrokenPipeError) and exc.errno not in _CLOSED:
            raise exc
        self.closed_pipe = True
        try:  # later writes, and the interpreter's flush at exit, go nowhere instead of failing
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass

    def write(self, text: str) -> int:
        if self.closed_pipe:
            return len(text)
        try:
            return self._stream.write(text)
        except OSError as exc:
            self._broken(exc)
            return len(text)

    def flush(self) -> None:
        if self.closed_pipe:
            return
        try:
            self._stream.flush()
        except OSError as exc:
            self._broken(exc)

    def __getattr__(self, name: str) -> Any:  # fileno, isatty, encoding, ...
        return getattr(self._stream, name)
