"""Headless rendering of the engine's events: one line per finished step, a live status line on a
terminal, and a closing summary. Plain text with ANSI colour; no Rich, no Textual."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import IO

from engine import events as ev
from engine.datafiles import human_bytes

GLYPHS = {
    ev.CREATED: ("+", "32"), ev.UPDATED: ("~", "33"), ev.EXISTS: ("✓", "32"), ev.SKIPPED: ("-", "2"),
    ev.FAILED: ("✗", "31"), ev.DELETED: ("−", "35"), ev.CANCELED: ("!", "33"), ev.PLANNED: ("?", "36"),
}
ASCII = {"✓": "=", "✗": "x", "−": "-"}
PLAN_WORDS = {"create": ("+", "would create", "32"), "update": ("~", "would update", "33"),
              "delete": ("−", "would delete", "35")}


def use_color(mode: str, stream: IO[str]) -> bool:
    if mode == "always":
        return True
    if mode == "never" or os.environ.get("NO_COLOR"):
        return False
    return stream.isatty() and os.environ.get("TERM") != "dumb"


def fmt_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(seconds), 60)
    return f"{minutes} min {sec:02d} s"


def fmt_amount(value: float, unit: str) -> str:
    return human_bytes(value) if unit == "bytes" else f"{value:g}"


def summary_parts(action: str, counts: dict[str, int]) -> list[str]:
    """A run's closing counts, worded the same by the headless output and the wizard."""
    c = counts
    if action == "plan":
        parts = [f"{c.get('would_create', 0)} to create", f"{c.get('would_update', 0)} to update",
                 f"{c.get(ev.EXISTS, 0)} unchanged"]
    elif action == "teardown-preview":
        parts = [f"{c.get('would_delete', 0)} to delete",
                 f"{c.get(ev.SKIPPED, 0) + c.get(ev.EXISTS, 0)} kept or gone"]
    elif action == "teardown":
        parts = [f"{c.get(ev.DELETED, 0)} deleted", f"{c.get(ev.SKIPPED, 0)} kept or gone"]
    else:
        parts = [f"{c.get(ev.CREATED, 0)} created", f"{c.get(ev.UPDATED, 0)} updated",
                 f"{c.get(ev.EXISTS, 0)} exist"]
    parts.append(f"{c.get(ev.FAILED, 0)} failed")
    if c.get(ev.CANCELED):
        parts.append(f"{c[ev.CANCELED]} canceled")
    return parts


class HumanRenderer:
    """Consumes events; prints step lines as steps finish and a summary at the end.

    On a terminal a single status line shows what is running with elapsed time and progress,
    redrawn in place by a ticker thread; elsewhere a 'still running' line every 30 s.
    """

    STILL_RUNNING_EVERY = 30.0

    def __init__(self, out: IO[str] = sys.stdout, color: bool = False, verbose: bool = False,
                 live: bool | None = None):
        self.out, self.color, self.verbose = out, color, verbose
        self.live = out.isatty() if live is None else live
        self.unicode = (getattr(out, "encoding", "") or "").lower().startswith("utf")
        self.titles: dict[str, str] = {}
        self.width = 0
        self.running: dict[str, float] = {}
        self.progress: dict[str, str] = {}
        self.said_still: dict[str, float] = {}
        self.action = ""
        self.preview = False  # a tear-down that only says what it would delete (set by the caller)
        self.order: list[str] = []  # the graph's steps not yet printed, in graph order
        self.held: dict[str, str] = {}  # finished steps' lines waiting for the steps before them
        self._lock = threading.Lock()
        self._status_shown = False
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    # -- colour and glyphs
    def paint(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color and code else text

    def glyph(self, symbol: str) -> str:
        return symbol if self.unicode else ASCII.get(symbol, symbol)

    # -- output
    def write_line(self, line: str) -> None:
        with self._lock:
            self._clear_status()
            self.out.write(line + "\n")
            self._draw_status()
            self.out.flush()

    def _clear_status(self) -> None:
        if self._status_shown:
            self.out.write("\r\x1b[2K")
            self._status_shown = False

    def _draw_status(self) -> None:
        if not self.live or not self.running:
            return
        now = time.monotonic()
        parts = []
        for step, started in self.running.items():
            extra = self.progress.get(step, "")
            parts.append(f"{self.titles.get(step, step)} {extra}{int(now - started)}s")
        text = "  … " + " · ".join(parts)
        try:
            columns = os.get_terminal_size(self.out.fileno()).columns
        except (OSError, ValueError, AttributeError):
            columns = 80
        self.out.write(self.paint(text[: columns - 1], "2"))
        self._status_shown = True

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            with self._lock:
                if self.live:
                    self._clear_status()
                    self._draw_status()
                    self.out.flush()
                else:
                    now = time.monotonic()
                    for step, started in list(self.running.items()):
                        last = self.said_still.get(step, started)
                        if now - last >= self.STILL_RUNNING_EVERY:
                            self.said_still[step] = now
                            self.out.write(f"  … {self.titles.get(step, step)} still running "
                                           f"({int(now - started)} s elapsed)\n")
                            self.out.flush()

    def close(self) -> None:
        self._print_held(everything=True)  # a run that ended without its summary still shows its steps
        self._stop.set()
        if self._ticker:
            self._ticker.join()
        with self._lock:
            self._clear_status()
            self.out.flush()

    # -- events
    def __call__(self, event: ev.Event) -> None:
        handler = getattr(self, "on_" + event.type, None)
        if handler:
            handler(event)

    def on_run_started(self, e: ev.RunStarted) -> None:
        self.titles = dict(zip(e.steps, e.titles))
        self.order, self.held = list(e.steps), {}
        self.width = max((len(t) for t in e.titles), default=10)
        self.action = e.action
        words = {"provision": "provisioning", "plan": "plan (nothing will change)",
                 "teardown": "tear-down", "submit": "scoring run"}
        self.write_line(self.paint(f"amlbatch · profile {e.profile} · target {e.target} · "
                                   f"{words.get(e.action, e.action)}", "1"))
        if self._ticker is None:
            self._ticker = threading.Thread(target=self._tick, daemon=True, name="status")
            self._ticker.start()

    def on_step_started(self, e: ev.StepStarted) -> None:
        with self._lock:
            self.running[e.step] = time.monotonic()

    def on_step_progress(self, e: ev.StepProgress) -> None:
        with self._lock:
            if e.total:
                self.progress[e.step] = (f"{fmt_amount(e.done, e.unit)}/{fmt_amount(e.total, e.unit)} "
                                         f"{'' if e.unit == 'bytes' else e.unit} ").replace("  ", " ")

    def on_step_log(self, e: ev.StepLog) -> None:
        # "profile" lines are about the profile itself (its id was written, runs being canceled): always shown
        if e.level in ("warning", "error") or (e.level == "info" and (self.verbose or e.step == "profile")):
            code = {"warning": "33", "error": "31"}.get(e.level, "2")
            title = self.titles.get(e.step, e.step)
            for line in e.message.splitlines() or [""]:
                self.write_line(self.paint(f"    {title}: {line}", code))

    def on_step_finished(self, e: ev.StepFinished) -> None:
        with self._lock:
            self.running.pop(e.step, None)
            self.progress.pop(e.step, None)
        title = self.titles.get(e.step, e.step).ljust(self.width)
        if e.outcome == ev.PLANNED and e.plan in PLAN_WORDS:
            symbol, word, code = PLAN_WORDS[e.plan]
        else:
            symbol, code = GLYPHS.get(e.outcome, ("?", ""))
            word = "no change" if (e.outcome == ev.EXISTS and self.action == "plan") else e.outcome
        text = e.error or e.detail
        line = f"  {self.paint(self.glyph(symbol), code)} {title}  {self.paint(word.ljust(12), code)} " \
               f"{fmt_duration(e.duration).rjust(8)}  {text}"
        if e.step not in self.order:
            self.write_line(line.rstrip())
            return
        self.held[e.step] = line.rstrip()
        self._print_held()

    def _print_held(self, everything: bool = False) -> None:
        """Step lines in graph order: a step that finished early waits for the steps before it
        (the status line shows what runs meanwhile)."""
        while self.order and (everything or self.order[0] in self.held):
            line = self.held.pop(self.order.pop(0), None)
            if line is not None:
                self.write_line(line)

    # -- scoring runs
    def on_job_submitted(self, e: ev.JobSubmitted) -> None:
        self.write_line(self.paint(f"Submitted scoring run {e.job_id}", "1"))
        self.write_line(f"  input:  {e.input}\n  output: {e.output}")
        with self._lock:
            self.running["job"] = time.monotonic()
            self.titles["job"] = "scoring"
        if self._ticker is None:
            self._ticker = threading.Thread(target=self._tick, daemon=True, name="status")
            self._ticker.start()

    def on_job_status(self, e: ev.JobStatus) -> None:
        self.write_line(f"  {e.status}" + (f": {e.message}" if e.message else ""))

    def on_job_progress(self, e: ev.JobProgress) -> None:
        total = max(e.mini_batches_total, 1)
        filled = int(20 * e.mini_batches_done / total)
        bar = "#" * filled + "." * (20 - filled)
        with self._lock:
            self.progress["job"] = (f"[{bar}] {e.mini_batches_done}/{e.mini_batches_total} mini-batches, "
                                    f"{e.files_done}/{e.files_total} files, {e.rows:,} rows, "
                                    f"{e.failures} failed ")

    def on_job_log(self, e: ev.JobLog) -> None:
        if e.level in ("warning", "error") or self.verbose:
            code = {"warning": "33", "error": "31"}.get(e.level, "2")
            for line in e.message.splitlines() or [""]:
                self.write_line(self.paint(f"    {e.source}: {line}", code))

    def on_job_finished(self, e: ev.JobFinished) -> None:
        with self._lock:
            self.running.pop("job", None)
            self.progress.pop("job", None)

    def on_cost_estimate(self, e: ev.CostEstimate) -> None:
        indent = "  " if e.scope == "run" else ""  # a run's cost closes its summary's indented lines
        for line in e.lines:
            self.write_line(indent + line)

    def on_sign_in_prompt(self, e: ev.SignInPrompt) -> None:
        self.write_line(self.paint(e.message, "1;33"))

    def on_run_finished(self, e: ev.RunFinished) -> None:
        self._print_held(everything=True)
        action = "teardown-preview" if self.action == "teardown" and self.preview else self.action
        parts = summary_parts(action, e.counts)
        code = {"failed": "31", "canceled": "33"}.get(e.outcome, "1")
        self.write_line(self.paint(", ".join(parts) + f" in {fmt_duration(e.duration)}", code))
        if e.outcome == "canceled":
            self.write_line("Stopped. Run the same command again to resume where it stopped.")


def service_line(line: str, as_json: bool = False) -> str:
    """A line of the local service (--serve), with the time it was said; with --json, a JSON object."""
    if as_json:
        return json.dumps({"ts": time.time(), "message": line})
    return f"{time.strftime('%H:%M:%S')} {line}"


class JsonRenderer:
    """The event stream as JSON lines (schema in engine.events)."""

    def __init__(self, out: IO[str] = sys.stdout):
        self.out = out
        self._lock = threading.Lock()

    def __call__(self, event: ev.Event) -> None:
        with self._lock:
            self.out.write(json.dumps(event.to_dict(), default=str) + "\n")
            self.out.flush()

    def close(self) -> None:
        pass
