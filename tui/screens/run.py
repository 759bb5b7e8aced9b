"""Run: the live step checklist of a provisioning (or tear-down) run.

The engine runs in a thread worker and emits into an EventBuffer; a timer drains it every
FLUSH_SECONDS and applies the batch: step states, the newest progress per step, log lines for the
step being shown (bounded), the overall line. Cancel asks first, then sets the CancelToken; the
engine stops between operations. A failure offers retry (the idempotent re-run) and edit.
"""

from __future__ import annotations

import functools
from collections import deque
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import var
from textual.widgets import DataTable, Label, Log, ProgressBar, Static

from tui.headless import fmt_amount, fmt_duration, summary_parts
from tui.messages import FLUSH_SECONDS, EventBuffer, RunFinished, WorkFailed, error_text
from tui.screens.base import BaseScreen
from tui.widgets._checklist import StepChecklist

LOG_LINES = 2000  # per step kept, and in the log widget
PENDING_LOGS = 20_000  # log events waiting for the next flush; older ones are dropped and counted


class RunScreen(BaseScreen):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel run"),
        Binding("enter", "continue", "Continue", priority=True),
        Binding("r", "retry", "Retry"),
        Binding("e", "edit", "Edit profile"),
        Binding("f", "follow", "Follow running"),
        Binding("b", "back", "Back"),
    ]

    # The progress bar shows while a step reports progress, the sign-in box while a sign-in waits.
    DEFAULT_CSS = """
    RunScreen #progress-row, RunScreen #sign-in { display: none; }
    RunScreen.-progress #progress-row, RunScreen.-signing-in #sign-in { display: block; }
    """

    progress_step: var[str | None] = var(None, toggle_class="-progress")  # whose progress shows
    signing_in = var(False, toggle_class="-signing-in")

    def __init__(self, profile: Any, action: str = "provision", cancel_jobs: bool = False) -> None:
        super().__init__()
        self.profile = profile
        self.mode = action  # provision | teardown
        self.cancel_jobs = cancel_jobs  # teardown: cancel the profile's running scoring runs first
        self.buffer = EventBuffer(log_limit=PENDING_LOGS)
        self.cancel_token: Any = None
        self.state = "starting"
        self.started_at = 0.0
        self.finished_at: float | None = None
        self.logs: dict[str, deque[str]] = {}
        self.finished: dict[str, Any] = {}
        self.shown_step: str | None = None
        self.follow = True
        self.summary: Any = None
        self.dropped = 0
        self.lines_seen = 0

    def title_text(self) -> str:
        word = {"provision": "Provisioning", "teardown": "Tearing down"}[self.mode]
        return f"{word} · profile {self.profile.name} · target {self.profile.target}"

    def compose_body(self) -> ComposeResult:
        yield StepChecklist(id="steps", fill_detail=True)
        yield Static("", id="step-detail", markup=False)
        yield Static("", id="overall", markup=False)
        with Horizontal(id="progress-row"):
            yield Label("", id="progress-label")
            yield ProgressBar(total=100, show_eta=False, id="progress")
        yield Static("", id="sign-in", markup=False)
        with Vertical(id="log-box"):
            yield Log(max_lines=LOG_LINES, highlight=False, id="log", auto_scroll=True)

    def on_mount(self) -> None:
        self.set_interval(FLUSH_SECONDS, self.flush)
        self.start()

    # ------------------------------------------------------------------ the worker

    def start(self) -> None:
        from engine.context import CancelToken

        self.cancel_token = CancelToken()
        self.app_tokens().add(self.cancel_token)
        self.state = "running"
        self.started_at = self.app.clock.monotonic()
        self.finished_at = None
        self.finished.clear()
        self.logs.clear()
        self.shown_step, self.follow = None, True
        self.query_one(Log).clear()
        self.show_problem(None)
        self.update_overall()
        self.refresh_bindings()
        self.run_engine(self.profile, self.cancel_token)

    def app_tokens(self) -> set:
        if not hasattr(self.app, "active_tokens"):
            self.app.active_tokens = set()
        return self.app.active_tokens

    @work(thread=True, exclusive=True, group="run", exit_on_error=False)
    def run_engine(self, profile: Any, cancel: Any) -> None:
        backend = self.app.backend
        run = backend.provision if self.mode == "provision" else backend.teardown
        if self.mode == "teardown" and self.cancel_jobs:  # confirmed on the tear-down screen
            run = functools.partial(backend.teardown, cancel_jobs=True)
        try:
            summary = run(profile, self.buffer, cancel)
        except Exception as exc:  # noqa: BLE001 - e.g. LockedError, a ProfileError from preflight
            text, field = error_text(exc)
            self.post_message(WorkFailed(text, field))
            return
        self.post_message(RunFinished(summary))

    # ------------------------------------------------------------------ batches

    def flush(self) -> None:
        batch = self.buffer.drain()
        checklist = self.query_one("#steps", StepChecklist)
        now = self.app.clock.monotonic()
        if batch:
            log_lines: list[str] = []
            for event in batch.events:
                self.apply(event, checklist, now)
            for event in batch.logs:
                self.lines_seen += 1
                lines = self.logs.setdefault(event.step, deque(maxlen=LOG_LINES))
                prefix = "" if event.level == "info" else f"{event.level}: "
                for line in event.message.splitlines() or [""]:
                    lines.append(prefix + line)
                    if event.step == self.shown_step:
                        log_lines.append(prefix + line)
            self.dropped += batch.dropped
            if batch.dropped and self.shown_step:
                log_lines.append(f"… {batch.dropped} lines skipped to keep up …")
            for step, event in batch.progress.items():
                if checklist.states.get(step) == "running" and event.total:
                    self.show_progress(step, event, checklist)
            shown_before = self.shown_step
            if self.follow:
                self.follow_running(checklist)
            if log_lines and self.shown_step == shown_before:  # else show_step wrote the new step's lines
                self.query_one(Log).write_lines(log_lines[-LOG_LINES:])
        if self.state in ("running", "canceling"):
            checklist.tick(now)
            self.update_overall()
        self.show_detail()  # also after the width changed: the cut details are not the same

    def apply(self, event: Any, checklist: StepChecklist, now: float) -> None:
        kind = event.type
        if kind == "run_started":
            checklist.set_steps(event.steps, event.titles)
        elif kind == "step_started":
            checklist.start(event.step, now)
        elif kind == "step_finished":
            self.finished[event.step] = event
            checklist.finish(event)
            if self.progress_step == event.step:
                self.progress_step = None
        elif kind == "sign_in_prompt":
            text = " ".join(p for p in (event.message, event.url, event.code) if p)
            self.query_one("#sign-in", Static).update(text)
            self.signing_in = True
        elif kind == "run_finished":
            self.signing_in = False

    def show_progress(self, step: str, event: Any, checklist: StepChecklist) -> None:
        self.progress_step = step
        title = checklist.titles.get(step, step)
        unit = "" if event.unit == "bytes" else f" {event.unit}"
        self.query_one("#progress-label", Label).update(
            f"{title}: {fmt_amount(event.done, event.unit)}/{fmt_amount(event.total, event.unit)}{unit} ")
        self.query_one(ProgressBar).update(total=event.total, progress=event.done)
        checklist.progress(step, f"{event.done / event.total:.0%}")

    def follow_running(self, checklist: StepChecklist) -> None:
        running = checklist.running
        target = running[-1] if running else self.shown_step
        if target is None and checklist.states:
            target = next(iter(checklist.states))
        if target != self.shown_step and target is not None:
            checklist.move_cursor(row=checklist.get_row_index(target))
            self.show_step(target)

    def show_step(self, step: str) -> None:
        self.shown_step = step
        log = self.query_one(Log)
        log.clear()
        log.write_lines(list(self.logs.get(step, ())))
        self.update_log_title()
        self.show_detail()

    def show_detail(self) -> None:
        """The shown step's full detail, when its Detail cell is cut and the problem panel does
        not already say it (a failed run lists its failed steps' errors there)."""
        checklist = self.query_one("#steps", StepChecklist)
        full = checklist.cut_detail(self.shown_step) if self.shown_step else None
        if full and self.state == "failed" and checklist.states.get(self.shown_step or "") == "failed":
            full = None
        text = f"{checklist.titles.get(self.shown_step or '', '')}: {full}" if full else ""
        line = self.query_one("#step-detail", Static)
        if text != str(line.content):
            line.update(text)
            line.display = bool(full)

    def update_log_title(self) -> None:
        """Whose lines the log shows, and (while the run goes on) whether it follows the running step."""
        if self.shown_step is None:
            return
        title = self.query_one("#steps", StepChecklist).titles.get(self.shown_step, self.shown_step)
        if self.state not in ("running", "canceling"):
            mode = "↑↓ shows another step"
        else:
            mode = "following the running step" if self.follow else "F follows the running step"
        self.query_one("#log-box").border_title = f"Log · {title} · {mode}"

    def update_overall(self) -> None:
        checklist = self.query_one("#steps", StepChecklist)
        counts = checklist.counts()
        total = len(checklist.states)
        done = total - counts.get("pending", 0) - counts.get("running", 0)
        end = self.finished_at if self.finished_at is not None else self.app.clock.monotonic()
        elapsed = fmt_duration(end - self.started_at)
        if self.state == "canceling":
            text = f"Stopping after the current operation… {done}/{total} steps · {elapsed}"
        elif self.state == "running":
            running = ", ".join(checklist.titles.get(s, s) for s in checklist.running) or "starting"
            text = f"▶ {done}/{total} steps · running: {running} · {elapsed}"
        else:
            text = self.summary_text(counts) + f" in {elapsed}"
        self.query_one("#overall", Static).update(text)

    def summary_text(self, counts: dict[str, int]) -> str:
        parts = summary_parts("teardown" if self.mode == "teardown" else "provision", counts)
        verdict = {"succeeded": "✓ Done", "failed": "✗ Failed", "canceled": "! Canceled",
                   "error": "✗ Could not run"}.get(self.state, self.state)
        return f"{verdict}: " + ", ".join(parts)

    # ------------------------------------------------------------------ the end

    def on_run_finished(self, message: RunFinished) -> None:
        self.flush()
        self.summary = message.summary
        self.finished.update(message.summary.steps)
        self.finish(message.summary.outcome)

    def on_work_failed(self, message: WorkFailed) -> None:
        self.flush()
        self.finish("error")
        hint = "Press e to edit the profile" + (f" ({message.field})" if message.field else "") + \
            ", then r to try again."
        self.show_problem(f"✗ {message.text}\n{hint}")
        if message.field == "id":  # a copied profile file: offer what --new-id does
            self.offer_own_id(message.text, self.profile, self.start)

    def finish(self, outcome: str) -> None:
        self.state = outcome
        dialog = getattr(self, "stop_dialog", None)
        if dialog is not None and dialog.withdraw():  # "Stop the run?" about a run that has ended
            self.notify(f"The run ended ({outcome}) before it was stopped.", timeout=4)
        self.stop_dialog = None
        self.finished_at = self.app.clock.monotonic()
        self.app_tokens().discard(self.cancel_token)
        self.progress_step = None
        self.update_overall()
        self.update_log_title()
        self.show_detail()
        self.refresh_bindings()
        if outcome == "failed":
            failed = [f for f in self.finished.values() if f.outcome == "failed"]
            checklist = self.query_one("#steps", StepChecklist)
            lines = [f"✗ {checklist.titles.get(f.step, f.step)}: {f.error}" for f in failed]
            self.show_problem("\n".join(lines) + "\nFix the cause (e edits the profile), then r retries: "
                              "the re-run keeps everything that is done.")
            if failed:
                self.follow = False
                checklist.move_cursor(row=checklist.get_row_index(failed[0].step))
                self.show_step(failed[0].step)
        elif outcome == "canceled":
            self.show_problem("Stopped safely. r runs again and picks up where it stopped.",
                              severity="warning")
        elif outcome == "succeeded":
            follow_up = "Enter shows what was made." if self.mode == "provision" else \
                "Everything this profile created is gone. Enter goes back to the start."
            self.show_problem(follow_up, severity="info")

    # ------------------------------------------------------------------ keys

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        busy = self.state in ("running", "canceling", "starting")
        if action == "cancel":
            return self.state == "running"
        if action in ("retry", "edit"):
            return not busy and self.state != "succeeded"
        if action == "continue":
            return self.state == "succeeded"
        if action == "back":
            return not busy
        return True

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        step = event.row_key.value
        checklist = self.query_one("#steps", StepChecklist)
        if step is None or step == self.shown_step or event.cursor_row != checklist.cursor_row:
            return  # already shown, or a stale event from a cursor the app moved
        if checklist.has_focus:
            self.follow = False
        self.show_step(step)

    def action_follow(self) -> None:
        self.follow = True
        self.follow_running(self.query_one("#steps", StepChecklist))
        if self.shown_step:
            self.show_step(self.shown_step)

    def action_cancel(self) -> None:
        if self.state != "running":
            return
        from tui.screens.dialogs import Confirm

        def answer(yes: bool | None) -> None:
            if yes and self.state == "running":
                self.state = "canceling"
                self.cancel_token.cancel()
                self.update_overall()
                self.refresh_bindings()

        self.stop_dialog = Confirm("Stop the run? Each running step stops after its current "
                                   "operation; running it again later picks up where it stopped.",
                                   yes="Stop", no="Keep running", danger=True)
        self.app.push_screen(self.stop_dialog, answer)

    def action_retry(self) -> None:
        if self.state not in ("failed", "canceled", "error"):
            return
        self.start()

    def action_edit(self) -> None:
        self.app.use_profile(self.profile)
        self.app.go("workspace")

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_continue(self) -> None:
        if self.state != "succeeded":
            return
        if self.mode == "teardown":
            self.app.home()
            return
        self.app.go("finish", self.profile, dict(self.finished))

    def on_unmount(self) -> None:
        if self.cancel_token is not None and self.state in ("running", "canceling"):
            self.cancel_token.cancel()
        self.app_tokens().discard(self.cancel_token)
