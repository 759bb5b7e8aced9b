"""What runs in a worker process: `_worker_main` (load the script, init(), then run() each
mini-batch the parent sends), its output redirection and messages to the parent, and
`_install_spawn_hook`, which lets the parent start it without re-running its own __main__.

The parent starts `_worker_main` by reference in a "spawn" process, so this module must stay
importable by its module path (engine.batch.worker) and light: standard library only."""

from __future__ import annotations

import importlib.util
import logging
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from engine.batch.output import _BINARY, _write_at
from engine.deployment import SUMMARY_ONLY

WORKER_LOG_EVENTS = 50  # script log records forwarded as JobLog events, per job

WORKER_PREFIX = "amlbatch-worker-"
_hook_lock = threading.Lock()


def _install_spawn_hook() -> None:
    """Spawned workers must not re-run the parent's __main__.

    multiprocessing's "spawn" re-imports the parent's main module in every child (as __mp_main__)
    before the target runs. For amlbatch that is the CLI/TUI entry point (a Textual import, and
    output before the worker redirects it to its log), or a caller's script without an
    `if __name__ == "__main__"` guard, which would start jobs recursively. The worker target lives
    in this module and its arguments are plain data, so the main module is not needed: this wraps
    `multiprocessing.spawn.get_preparation_data` once, dropping the main-module entries only for
    processes named amlbatch-worker-*; every other process is prepared as before."""
    from multiprocessing import spawn

    with _hook_lock:
        original = spawn.get_preparation_data
        if getattr(original, "_amlbatch", False):
            return

        def get_preparation_data(name: str, *args: Any, **kwargs: Any) -> dict:
            data = original(name, *args, **kwargs)
            if isinstance(name, str) and name.startswith(WORKER_PREFIX):
                data.pop("init_main_from_name", None)
                data.pop("init_main_from_path", None)
            return data

        get_preparation_data._amlbatch = True  # type: ignore[attr-defined]
        spawn.get_preparation_data = get_preparation_data


class _Sender:
    """Thread-safe sends to the parent (the script may log from its own threads)."""

    def __init__(self, conn: Any):
        self.conn = conn
        self.lock = threading.Lock()

    def __call__(self, msg: tuple) -> None:
        with self.lock:
            self.conn.send(msg)


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


def _redirect_output(path: str) -> None:
    """stdout and stderr (file descriptors 1 and 2 too, for C code) go to the worker's log."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except Exception:
            pass
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout = open(1, "w", encoding="utf-8", errors="backslashreplace", buffering=1, closefd=False)
    sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", buffering=1, closefd=False)


def _serialize(result: Any, action: str) -> tuple[int, bytes]:
    """(number of results, bytes for the part file) of what run() returned."""
    if result is None:
        raise TypeError("run() returned None; it must return a list (or a pandas DataFrame)")
    if isinstance(result, (str, bytes)):
        raise TypeError("run() returned a string; it must return a list (or a pandas DataFrame)")
    if hasattr(result, "to_csv") and hasattr(result, "columns"):  # pandas DataFrame
        if action == SUMMARY_ONLY:
            return len(result), b""
        return len(result), result.to_csv(header=False, index=False).encode("utf-8")
    if not isinstance(result, list):
        result = list(result)
    if action == SUMMARY_ONLY or not result:
        return len(result), b""
    text = "\n".join([item if isinstance(item, str) else str(item) for item in result])
    return len(result), (text + "\n").encode("utf-8")


def _worker_main(conn: Any, config: dict[str, Any]) -> None:
    """A worker process: load the script, init(), then run() each mini-batch the parent sends.

    Messages to the parent: ("ready", has_pop_failures, init_seconds) | ("init_failed", error) |
    ("done", mb, n_results, start, end, failures_or_None) | ("error", mb, error) |
    ("log", level, text). From the parent: (mb, [paths]) or None (stop)."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the parent's to handle
    except (ValueError, OSError):
        pass
    _redirect_output(config["log"])
    import faulthandler

    faulthandler.enable()
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
        try:
            send(("init_failed", f"{type(exc).__name__}: {exc}"))
        except OSError:
            pass
        return
    hook = getattr(module, "pop_failures", None)
    hook = hook if callable(hook) else None
    action = config["output_action"]
    send(("ready", hook is not None, time.monotonic() - started))

    fd = os.open(config["part"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _BINARY, 0o644)
    pos = 0
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            break
        if task is None:
            break
        mb, files = task
        try:
            result = run(files)
            count, data = _serialize(result, action)
        except Exception as exc:
            traceback.print_exc()
            send(("error", mb, f"{type(exc).__name__}: {exc}"))
            continue
        failures = None
        if hook is not None:
            try:
                failures = [(str(p), str(r)) for p, r in (hook() or [])]
            except Exception:
                traceback.print_exc()
        start = pos
        try:
            pos = _write_at(fd, data, pos)
        except OSError as exc:
            pos = start  # the next mini-batch overwrites what did get written
            send(("error", mb, f"writing results failed: {exc}"))
            continue
        send(("done", mb, count, start, pos, failures))
    os.close(fd)
    sys.stdout.flush()
    sys.stderr.flush()
