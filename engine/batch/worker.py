"""What runs in a worker process: `_child_main` (connect back to the parent), `_worker_main` (load
the script, init(), then run() each mini-batch the parent sends), its output redirection and
messages to the parent.

The parent starts a plain `python -c` that imports this module and calls `_child_main` (see
engine.batch.processes): it never imports the parent's __main__, so this module must stay
importable by its module path (engine.batch.worker) and light: standard library only."""

from __future__ import annotations

import collections
import importlib.util
import logging
import os
import pickle
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Iterator

from engine.batch.output import _BINARY, _write_at
from engine.batch.workerlog import LOG_CAP, WorkerLog
from engine.deployment import SUMMARY_ONLY

WORKER_LOG_EVENTS = 50  # script log records forwarded as JobLog events, per job

def _child_main(address: str) -> None:
    """The worker process's entry: the authkey arrives on stdin, the config as the first message."""
    from multiprocessing.connection import Client

    key = bytes.fromhex(sys.stdin.readline().strip())
    try:
        sys.stdin.close()
    except OSError:
        pass
    conn = Client(address, authkey=key)
    config = conn.recv()
    _worker_main(conn, config)


class _Sender:
    """Thread-safe sends to the parent (the script may log from its own threads)."""

    def __init__(self, conn: Any):
        self.conn = conn
        self.lock = threading.Lock()

    def __call__(self, msg: tuple) -> None:
        data = pickle.dumps(msg, pickle.HIGHEST_PROTOCOL)  # send_bytes: no pickler built per message
        with self.lock:
            self.conn.send_bytes(data)


class _ForwardHandler(logging.Handler):
    def __init__(self, send: _Sender, limit: int = WORKER_LOG_EVENTS):
        super().__init__(logging.WARNING)
        self.send = send
        self.left = limit

    def emit(self, record: logging.LogRecord) -> None:
        if self.left <= 0:
            return
        self.left -= 1
        try:
            level = "error" if record.levelno >= logging.ERROR else "warning"
            self.send(("log", level, record.getMessage()[:2000]))
        except Exception:
            pass


def _redirect_output(path: str, cap: int = LOG_CAP) -> WorkerLog:
    """stdout and stderr (file descriptors 1 and 2 too, for C code) go to the worker's log,
    through the redactor and the cap of engine.batch.workerlog."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except Exception:
            pass
    log = WorkerLog(path, cap)
    sys.stdout = open(1, "w", encoding="utf-8", errors="backslashreplace", buffering=1, closefd=False)
    sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", buffering=1, closefd=False)
    return log


def describe(exc: BaseException) -> str:
    """An exception as one line that always names its type: "MemoryError (no message)" when it
    carries no text."""
    text = " ".join(str(exc)[:4000].split())[:2000]
    return f"{type(exc).__name__}: {text}" if text else f"{type(exc).__name__} (no message)"


CHUNK_ROWS = 10_000  # results encoded and written at a time: the part file is written as it goes


def _serialize(result: Any, action: str) -> tuple[int, Iterator[bytes]]:
    """(number of results, the part file's bytes in chunks) of what run() returned. The type is
    checked here; the chunks are made as they are written, so the output of a mini-batch is never
    held twice in memory."""
    if result is None:
        raise TypeError("run() returned None; it must return a list (or a pandas DataFrame)")
    if isinstance(result, (str, bytes)):
        raise TypeError("run() returned a string; it must return a list (or a pandas DataFrame)")
    if hasattr(result, "to_csv") and hasattr(result, "columns"):  # pandas DataFrame
        if action == SUMMARY_ONLY:
            return len(result), iter(())
        return len(result), (result.iloc[i:i + CHUNK_ROWS].to_csv(header=False, index=False).encode("utf-8")
                             for i in range(0, len(result), CHUNK_ROWS))
    if not isinstance(result, list):
        try:
            result = list(result)
        except TypeError:
            raise TypeError(f"run() returned {type(result).__name__}; it must return a list "
                            "(or a pandas DataFrame)") from None
    if action == SUMMARY_ONLY or not result:
        return len(result), iter(())
    return len(result), _line_chunks(result)


def _line_chunks(result: list) -> Iterator[bytes]:
    """One line per result. A result with a line break would be two lines for one counted row:
    it is the scorer's error (quote it as CSV, or return a DataFrame, which pandas quotes)."""
    for i in range(0, len(result), CHUNK_ROWS):
        lines = [item if isinstance(item, str) else str(item) for item in result[i:i + CHUNK_ROWS]]
        for n, line in enumerate(lines):
            if "\n" in line or "\r" in line:
                raise ValueError(f"run() returned a row with a line break (row {i + n + 1}: {line[:60]!r}); "
                                 "one row must be one line: quote it as CSV or return a DataFrame")
        lines.append("")  # every line ends with a newline
        yield "\n".join(lines).encode("utf-8")


def _worker_main(conn: Any, config: dict[str, Any]) -> None:
    """A worker process: load the script, init(), then run() each mini-batch the parent sends.

    Messages to the parent: ("ready", has_pop_failures, init_seconds) | ("init_failed", error) |
    ("done", mb, n_results, start, end, failures_or_None) | ("error", mb, error) |
    ("log", level, text). From the parent: [(mb, [paths]), ...] (run in order) or None (stop).
    After the config, each message is one pickle sent with send_bytes both ways."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the parent's to handle
    except (ValueError, OSError):
        pass
    log = _redirect_output(config["log"], config.get("log_cap", LOG_CAP))
    try:
        _serve(conn, config, log)
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        log.close()


def _serve(conn: Any, config: dict[str, Any], log: WorkerLog) -> None:
    import faulthandler

    faulthandler.enable(file=log)  # straight to the file: a crash cannot wait for the log thread
    send = _Sender(conn)
    os.environ.update(config["env"])
    for var, value in config["env_defaults"].items():
        os.environ.setdefault(var, value)
    root = logging.getLogger()
    root.setLevel(getattr(logging, config["logging_level"].upper(), logging.INFO))
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.addHandler(_ForwardHandler(send))
    name, script = config["name"], config["script"]
    # a worker's stdout is its own log file (logs/worker-N.txt), never the user's terminal
    sys.stdout.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {name} (pid {os.getpid()}) of job "
                     f"{config['job_id']}: loading {script}\n")
    sys.stdout.flush()

    started = time.monotonic()
    try:
        sys.path.insert(0, config["scorer_dir"])
        module_name = Path(script).stem
        if not module_name.isidentifier() or module_name in sys.modules:
            module_name = "amlbatch_entry_script"
        spec = importlib.util.spec_from_file_location(module_name, script)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {script}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
        run = getattr(module, "run", None)
        if not callable(run):
            raise AttributeError(f"{os.path.basename(script)} has no run(mini_batch) function")
        init = getattr(module, "init", None)
        if callable(init):
            init()
    except Exception as exc:
        traceback.print_exc()
        sys.stderr.flush()
        log.close()  # the traceback is in the log file before the parent hears (it may kill us then)
        try:
            send(("init_failed", describe(exc)))
        except OSError:
            pass
        return
    hook = getattr(module, "pop_failures", None)
    hook = hook if callable(hook) else None
    action = config["output_action"]
    send(("ready", hook is not None, time.monotonic() - started))

    fd = os.open(config["part"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _BINARY, 0o644)
    pos = 0
    tasks: collections.deque[tuple[int, list[str]]] = collections.deque()
    while True:
        if not tasks:  # the parent's next message waits in the pipe while these run
            try:
                sent = pickle.loads(conn.recv_bytes())
            except (EOFError, OSError):
                break
            if sent is None:
                break
            tasks.extend(sent)
        mb, files = tasks.popleft()
        start, writing = pos, False
        try:
            result = run(files)
            count, chunks = _serialize(result, action)
            del result  # the chunks keep what they still need; the next run() starts without it
            for chunk in chunks:
                writing = True
                pos = _write_at(fd, chunk, pos)
                writing = False
        except Exception as exc:
            pos = start  # the next mini-batch overwrites what did get written
            traceback.print_exc()
            failed = f"writing results failed: {describe(exc)}" if writing else describe(exc)
            send(("error", mb, failed))
            continue
        failures = None
        if hook is not None:
            try:
                failures = [(str(p), str(r)) for p, r in (hook() or [])]
            except Exception:
                traceback.print_exc()
        send(("done", mb, count, start, pos, failures))
    os.close(fd)
    sys.stdout.flush()
    sys.stderr.flush()
