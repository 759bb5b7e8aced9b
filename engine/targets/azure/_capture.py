"""Keep everything the Azure SDKs print or log off the terminal, and in the event stream instead.

azure-ai-ml attaches stderr handlers to its loggers at import, some of its pollers `print(".")`,
`jobs.stream` prints to stdout, tqdm draws progress bars on uploads. While an AzureTarget is
alive:

* The SDK clients are made with `show_progress=False` (no tqdm bars, no colour resets), and
  `sys.stdout` / `sys.stderr` are wrapped. What is left is attributed by *thread*, never by
  inspecting the call stack: a write from a thread a step or job bound to its sink (`bound`)
  is SDK output (amlbatch's own code in those threads speaks through events, never print), and
  so is a write from any other thread but the main one (azure-core's poller threads print
  azure-ai-ml's progress dots). Those are cut into lines and sent to the owning target as debug
  events; writes from the main thread go through untouched, so amlbatch's own prints, the
  headless renderers (which hold the original stream objects anyway) and a leaked wrapper can
  never swallow output that is not the SDK's.
* Stream handlers on `azure.*` loggers are detached and the `azure` and `msal` loggers are routed
  into the same sink at debug level.

Everything is restored when the last target closes. The sink of a write is the target bound to
the writing thread (steps bind theirs), else the newest live target (SDK poller threads).
"""

from __future__ import annotations

import io
import logging
import sys
import threading
import weakref
from typing import Any, Callable

Sink = Callable[[str, str], None]  # (message, level)

_lock = threading.RLock()
_local = threading.local()
_sinks: list[Any] = []  # weak references to the owners, newest last
_sink_of: dict[int, Sink] = {}
_saved: dict[str, object] = {}


def _sdk_sink() -> "Sink | None":
    """Where a write from this thread goes: a bound thread's sink, the newest target's for any
    other thread but the main one, None (write it through) for the main thread and our sinks."""
    if getattr(_local, "in_sink", False):
        return None  # our own sink printing (e.g. a renderer): never capture it again
    sink = getattr(_local, "sink", None)
    if sink is not None:
        return sink
    if threading.current_thread() is threading.main_thread():
        return None
    return current_sink()


def _deliver(sink: "Sink", message: str, level: str) -> None:
    _local.in_sink = True
    try:
        sink(message, level)
    finally:
        _local.in_sink = False


def current_sink() -> Sink | None:
    sink = getattr(_local, "sink", None)
    if sink is not None:
        return sink
    with _lock:
        for ref in reversed(_sinks):
            if ref() is not None:
                return _sink_of.get(id(ref))
        return None


class bound:
    """Context manager: SDK output from this thread goes to `sink` meanwhile."""

    def __init__(self, sink: Sink):
        self.sink = sink

    def __enter__(self) -> "bound":
        self.previous = getattr(_local, "sink", None)
        _local.sink = self.sink
        return self

    def __exit__(self, *exc: object) -> None:
        _local.sink = self.previous


class _CapturingStream(io.TextIOBase):
    """Stands in for sys.stdout/sys.stderr; passes non-SDK writes to the real stream."""

    def __init__(self, real, level: str):
        self.real = real
        self.level = level
        self._buffers: dict[int, str] = {}

    def write(self, text: str) -> int:
        if not text:
            return 0
        sink = _sdk_sink()
        if sink is None:
            return self.real.write(text)
        key = threading.get_ident()
        pending = self._buffers.get(key, "") + text.replace("\r", "\n")
        *lines, rest = pending.split("\n")
        self._buffers[key] = rest
        for line in lines:
            if line.strip():
                _deliver(sink, line.rstrip(), self.level)
        if len(rest) > 2000:  # a run of dots without a newline: do not hold on to it forever
            _deliver(sink, rest, self.level)
            self._buffers[key] = ""
        return len(text)

    def flush_pending(self) -> None:
        sink = current_sink()
        for key, rest in list(self._buffers.items()):
            if rest.strip() and sink is not None:
                _deliver(sink, rest.strip(), self.level)
        self._buffers.clear()

    def flush(self) -> None:
        try:
            self.real.flush()
        except (OSError, ValueError):
            pass

    # what code checks on a stream
    def isatty(self) -> bool:
        return False  # SDK progress bars draw nothing fancy into a captured stream

    def fileno(self) -> int:
        return self.real.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.real, "encoding", "utf-8")

    def writable(self) -> bool:
        return True


class _RoutingHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        sink = current_sink()
        if sink is None or getattr(_local, "in_sink", False):
            return
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed SDK log call must not break a step
            message = str(record.msg)
        level = "debug"
        for line in message.splitlines():
            if line.strip():
                _deliver(sink, f"{record.name}: {line.rstrip()}", level)


_handler = _RoutingHandler(level=logging.DEBUG)


def quiet_loggers() -> None:
    """Detach stream handlers from azure.* loggers (azure-ai-ml adds them at import and when
    modules load later) and put the routing handler in their place. Safe to call often."""
    with _lock:
        if not _sinks:
            return
        manager = logging.root.manager
        for name, logger in list(manager.loggerDict.items()):
            if not isinstance(logger, logging.Logger):
                continue
            if not (name == "azure" or name.startswith("azure.") or name == "msal" or name.startswith("msal.")):
                continue
            removed = False
            for handler in list(logger.handlers):
                if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
                    logger.removeHandler(handler)
                    _saved.setdefault("handlers", []).append((logger, handler))  # type: ignore[union-attr]
                    removed = True
            # a logger that printed (it had a stream handler and does not propagate) now routes instead
            if removed and not logger.propagate and _handler not in logger.handlers:
                logger.addHandler(_handler)
                _saved.setdefault("added", []).append(logger)  # type: ignore[union-attr]
        for name in ("azure", "msal"):
            logger = logging.getLogger(name)
            if _handler not in logger.handlers:
                logger.addHandler(_handler)
                _saved.setdefault("added", []).append(logger)  # type: ignore[union-attr]
            if logger.propagate:
                logger.propagate = False
                _saved.setdefault("propagate", []).append(logger)  # type: ignore[union-attr]


def attach(owner: object, sink: Sink) -> None:
    """Start capturing for `owner` (an AzureTarget); its sink gets the SDKs' output. The owner is
    held weakly: a target nobody closed stops capturing once it is garbage."""
    with _lock:
        for name in ("stdout", "stderr"):
            current = getattr(sys, name)
            if not isinstance(current, _CapturingStream):  # first, or somebody swapped the stream since
                setattr(sys, name, _CapturingStream(current, "debug"))
        ref = weakref.ref(owner, _gone)
        _sinks.append(ref)
        _sink_of[id(ref)] = _weak_sink(owner, sink)
    quiet_loggers()


def _weak_sink(owner: object, sink: Sink) -> Sink:
    method = weakref.WeakMethod(sink) if hasattr(sink, "__self__") and getattr(sink, "__self__") is owner else None
    if method is None:
        return sink

    def call(message: str, level: str) -> None:
        bound_sink = method()
        if bound_sink is not None:
            bound_sink(message, level)
    return call


def _gone(ref: Any) -> None:
    with _lock:
        if ref in _sinks:
            _sinks.remove(ref)
            _sink_of.pop(id(ref), None)
            if not _sinks:
                _restore()


def detach(owner: object) -> None:
    """Stop capturing for `owner`; the last one out restores streams and logging."""
    with _lock:
        ref = next((r for r in _sinks if r() is owner), None)
        if ref is None:
            return
        for stream in (sys.stdout, sys.stderr):
            if isinstance(stream, _CapturingStream):
                stream.flush_pending()
        _sinks.remove(ref)
        _sink_of.pop(id(ref), None)
        if not _sinks:
            _restore()


def _restore() -> None:
    for name in ("stdout", "stderr"):
        current = getattr(sys, name)
        while isinstance(current, _CapturingStream):
            current = current.real
        if current is not getattr(sys, name):
            setattr(sys, name, current)
    for logger, handler in _saved.pop("handlers", []):  # type: ignore[misc]
        if handler not in logger.handlers:
            logger.addHandler(handler)
    for logger in _saved.pop("added", []):  # type: ignore[misc]
        logger.removeHandler(_handler)
    for logger in _saved.pop("propagate", []):  # type: ignore[misc]
        logger.propagate = True


def active() -> bool:
    with _lock:
        return bool(_sinks)
