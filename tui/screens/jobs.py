"""Scoring runs: choose the input, submit, watch the job, then its results."""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import var
from textual.widgets import (Button, DataTable, Input, Label, Log, ProgressBar, RadioButton, RadioSet, Select,
                             Static)

from engine.words import counted, plural
from tui.headless import fmt_duration
from tui.messages import (FLUSH_SECONDS, EventBuffer, JobFinished, PreviewLoaded, ResultsCopied,
                          WorkFailed, error_text)
from tui.screens.base import BaseScreen, ServiceScreen
from tui.widgets._histogram import Histogram, as_number, is_numeric

LOG_LINES = 2000
PATH_END = re.compile(r"[\s:;,'\"()\[\]]")  # what ends a path written into a log line
SEPARATORS = re.compile(r"[\\/]")


def short_path(path: str, job_id: str) -> str:
    """"…/" and what follows the job's own folder (its output or its logs), else the file's folder
    and name: what tells one file from another without the absolute prefix."""
    parts = [p for p in SEPARATORS.split(path) if p]
    if job_id in parts:
        rest = parts[len(parts) - parts[::-1].index(job_id):]
        return "…/" + "/".join(rest or [job_id])
    return "…/" + "/".join(parts[-2:])


def short_paths(line: str, job_id: str, roots: list[str]) -> str:
    """A log line as shown: absolute paths under one of `roots` (the job's output folder, the
    state root) shortened by `short_path`, so the reason after a path fits the width. The log
    files keep the full paths."""
    for root in sorted({r.rstrip("/\\") for r in roots if r.rstrip("/\\")}, key=len, reverse=True):
        start = line.find(root)
        while start != -1:
            after = start + len(root)
            if after < len(line) and line[after] not in "/\\" and not PATH_END.match(line[after]):
                start = line.find(root, after)  # /data/x matched inside /data/xy: not this root
                continue
            end = PATH_END.search(line, after)
            stop = end.start() if end else len(line)
            short = short_path(line[start:stop], job_id)
            line = line[:start] + short + line[stop:]
            start = line.find(root, start + len(short))
    return line


class JobScreen(BaseScreen):
    BINDINGS = [
        Binding("ctrl+s", "submit", "Submit", priority=True),
        Binding("ctrl+o", "browse", "Browse"),
        Binding("escape", "cancel_or_back", "Cancel / Back"),
        Binding("enter", "results", "Results", priority=True),
    ]

    # While choosing (the screen has class -choosing) the input panel shows, then the job's.
    DEFAULT_CSS = """
    JobScreen #job-choose, JobScreen.-choosing #job-watch { display: none; }
    JobScreen.-choosing #job-choose { display: block; }
    JobScreen #job-cost { display: none; height: auto; padding: 0 1; color: $text-muted; }
    """

    state = var("choosing")  # choosing | running | canceling | done | error

    def __init__(self, profile: Any) -> None:
        super().__init__()
        self.profile = profile
        self.buffer = EventBuffer()
        self.cancel_token: Any = None
        self.job: Any = None
        self.job_id = ""
        self.status = ""
        self.started_at = 0.0
        self.finished_at: float | None = None
        self.counts = ""
        self.path_roots: list[str] = []  # where log lines' paths are shortened (see short_paths)

    def title_text(self) -> str:
        return f"Scoring run · profile {self.profile.name} · endpoint {self.profile.endpoint_name}"

    def compose_body(self) -> ComposeResult:
        p = self.profile
        with Vertical(id="job-choose"):
            yield Label("What to score", classes="section-title")
            with RadioSet(id="job-input"):
                yield RadioButton(f"The uploaded data · container {p.storage.input_container}, "
                                  f"folder {p.data.prefix}", value=True, id="uploaded")
                yield RadioButton("A local file or folder", id="local")
            with Horizontal(id="job-path-row"):
                yield Input(placeholder="path to a CSV file or a folder of them", id="job-path",
                            compact=True, disabled=True)
                yield Button("Browse… ^o", id="browse", compact=True, disabled=True)
            yield Button("Submit the scoring run  ^s", id="submit", variant="primary", compact=True)
        with Vertical(id="job-watch"):
            yield Static("", id="job-status", markup=False)
            yield Static("", id="job-cost", markup=False)
            with Horizontal(id="job-progress-row"):
                yield Label("", id="job-counts")
                yield ProgressBar(total=None, show_eta=False, id="job-progress")
            with Vertical(id="log-box"):
                yield Log(max_lines=LOG_LINES, highlight=False, id="job-log")

    def watch_state(self, state: str) -> None:
        self.set_class(state == "choosing", "-choosing")

    def on_mount(self) -> None:
        self.set_interval(FLUSH_SECONDS, self.flush)

    # ------------------------------------------------------------------ choose

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        local = event.pressed.id == "local"
        self.query_one("#job-path", Input).disabled = not local
        self.query_one("#browse", Button).disabled = not local
        if local:
            self.query_one("#job-path", Input).focus()

    def action_browse(self) -> None:
        if self.state != "choosing":
            return
        from tui.screens.dialogs import PathPicker

        def picked(path: str | None) -> None:
            if path:
                self.query_one("#local", RadioButton).value = True
                self.query_one("#job-path", Input).value = path

        self.app.push_screen(PathPicker(self.app.start_dir, title="Score a file or a folder"), picked)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "submit":
            self.action_submit()
        elif event.button.id == "browse":
            self.action_browse()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()

    def input_path(self) -> str | None:
        if self.query_one("#local", RadioButton).value:
            return self.query_one("#job-path", Input).value.strip() or ""
        return None

    def action_submit(self) -> None:
        if self.state not in ("choosing",):
            return
        path = self.input_path()
        if path == "":
            self.show_problem("Type or browse to the file or folder to score.", severity="warning")
            return
        if path is not None and not Path(path).expanduser().exists():
            self.show_problem(f"✗ No such file or folder: {path}")
            return
        from engine.context import CancelToken

        self.show_problem(None)
        self.cancel_token = CancelToken()
        self.state = "running"
        self.status = "Submitting"
        self.started_at = self.app.clock.monotonic()
        self.query_one("#log-box").border_title = "Job log"
        self.update_status()
        self.refresh_bindings()
        self.submit_job(path, self.cancel_token)

    @work(thread=True, exclusive=True, group="job", exit_on_error=False)
    def submit_job(self, path: str | None, cancel: Any) -> None:
        try:
            job = self.app.backend.submit(self.profile, self.buffer, cancel, path)
        except Exception as exc:  # noqa: BLE001
            self.post_message(WorkFailed(error_text(exc)[0]))
            return
        if job.finished:  # its node time at the node price, shown before the job's end (README: Cost)
            try:
                self.app.call_from_thread(self.show_cost, self.app.backend.run_cost(self.profile, job))
            except Exception:  # noqa: BLE001 - the screen has closed meanwhile
                pass
        self.post_message(JobFinished(job))

    def show_cost(self, lines: list[str]) -> None:
        cost = self.query_one("#job-cost", Static)
        cost.update("\n".join(line[0].upper() + line[1:] for line in lines))
        cost.display = True

    # ------------------------------------------------------------------ watch

    def flush(self) -> None:
        batch = self.buffer.drain()
        if batch:
            lines: list[str] = []
            for event in batch.events:
                if event.type == "job_submitted":
                    self.job_id = event.job_id
                    self.path_roots = self.roots(event.output)
                elif event.type == "job_status":
                    self.status = event.status
                    if event.message:
                        lines.append(f"[status] {event.status}: {event.message}")
                elif event.type == "job_finished":
                    self.status = event.status
            for event in batch.progress.values():
                if event.type == "job_progress":
                    self.show_counts(event)
            for event in batch.logs:
                prefix = f"[{getattr(event, 'source', '') or getattr(event, 'step', '')}] "
                level = "" if event.level == "info" else f"{event.level}: "
                lines.extend(prefix + level + line for line in event.message.splitlines() or [""])
            lines = [short_paths(line, self.job_id, self.path_roots) for line in lines]
            if batch.dropped:
                lines.append(f"… {batch.dropped} lines skipped to keep up …")
            if lines:
                self.query_one("#job-log", Log).write_lines(lines[-LOG_LINES:])
        if self.state in ("running", "canceling"):
            self.update_status()

    @staticmethod
    def roots(output: str) -> list[str]:
        """The job's output folder (when it is one on this machine) and the state root."""
        from engine.paths import data_dir

        return [output if output and os.path.isabs(output) else "", str(data_dir())]

    def show_counts(self, event: Any) -> None:
        self.counts = (f"mini-batches {event.mini_batches_done}/{event.mini_batches_total} · "
                       f"files {event.files_done}/{event.files_total} · rows {event.rows:,} · "
                       f"failures {event.failures}")
        self.query_one("#job-counts", Label).update(self.counts + "  ")
        if event.mini_batches_total:
            self.query_one("#job-progress", ProgressBar).update(total=event.mini_batches_total,
                                                                progress=event.mini_batches_done)

    def update_status(self) -> None:
        end = self.finished_at if self.finished_at is not None else self.app.clock.monotonic()
        job = self.job_id or "(submitting)"
        extra = " · stopping…" if self.state == "canceling" else ""
        self.query_one("#job-status", Static).update(
            f"Job {job} · {self.status} · {fmt_duration(end - self.started_at)}{extra}")

    def withdraw_stop_dialog(self, ended: str) -> None:
        dialog = getattr(self, "stop_dialog", None)
        if dialog is not None and dialog.withdraw():  # "Cancel this scoring run?" about one that has ended
            self.notify(f"The job ended ({ended}) before it was canceled.", timeout=4)
        self.stop_dialog = None

    def on_job_finished(self, message: JobFinished) -> None:
        self.flush()
        self.withdraw_stop_dialog(message.job.status)
        job = self.job = message.job
        self.job_id, self.status = job.job_id, job.status
        self.state = "done"
        self.finished_at = self.app.clock.monotonic()
        self.query_one("#job-status", Static).update(
            f"Job {job.job_id} · {job.status} · {job.rows:,} rows, {counted(job.failures, 'failed file')} "
            f"in {fmt_duration(job.duration)}")
        from engine.jobs import failure_lines, outcome

        verdict = outcome(job)
        lines = [f"{name}: {error}" for name, error in job.failed_files[:5]]  # then "and N more", the log
        lines += [line for line in failure_lines(job, 5) if not line.startswith("failed: ")]
        details = "\n".join(short_paths(f"  {line}", job.job_id, self.roots(job.output)) for line in lines)
        if verdict == "completed":
            self.query_one("#job-progress", ProgressBar).update(total=1, progress=1)
            self.show_problem(f"✓ Completed: {job.rows:,} rows scored. Enter shows the results.",
                              severity="info")
        elif verdict == "partial":
            self.query_one("#job-progress", ProgressBar).update(total=1, progress=1)
            self.show_problem(f"! Completed with {counted(job.failures, 'failed file')}: {job.rows:,} rows "
                              f"scored. Enter shows the results.\n{details}", severity="warning")
        elif verdict == "failed" and job.status == "Completed":
            self.show_problem(f"✗ No row scored: {counted(job.failures, 'file')} failed.\n{details}")
        elif job.status == "Canceled":
            self.show_problem("! The job was canceled. Esc goes back.", severity="warning")
        else:
            self.show_problem(f"✗ The job {job.status.lower()}: {job.error or 'see the log'}"
                              + (f"\n{details}" if details else ""))
        self.refresh_bindings()

    def on_work_failed(self, message: WorkFailed) -> None:
        self.flush()
        self.withdraw_stop_dialog("with an error")
        self.state = "error"
        self.finished_at = self.app.clock.monotonic()
        self.status = "not submitted" if not self.job_id else self.status
        self.update_status()
        self.show_problem(f"✗ {message.text}\nEsc goes back.")
        self.refresh_bindings()

    # ------------------------------------------------------------------ keys

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("submit", "browse"):
            return self.state == "choosing"
        if action == "results":
            return self.state == "done" and self.job is not None and self.job.status == "Completed"
        return True

    def action_results(self) -> None:
        if self.state == "done" and self.job is not None and self.job.status == "Completed":
            self.app.go("results", self.profile, self.job)

    def action_cancel_or_back(self) -> None:
        if self.state != "running":
            if self.state != "canceling":
                self.app.pop_screen()
            return
        from tui.screens.dialogs import Confirm

        def answer(yes: bool | None) -> None:
            if yes and self.state == "running":
                self.state = "canceling"
                self.cancel_token.cancel()
                self.update_status()

        # the same words as the job's log: a Canceled run keeps no output
        self.stop_dialog = Confirm("Cancel this scoring run? The job stops now and keeps no output: "
                                   "a canceled run writes no results file.", yes="Cancel the job",
                                   no="Keep running", danger=True)
        self.app.push_screen(self.stop_dialog, answer)

    def on_unmount(self) -> None:
        if self.cancel_token is not None and self.state == "running":
            self.cancel_token.cancel()


def parse_rows(lines: list[str]) -> list[list[str]]:
    return [row for row in csv.reader(lines) if row]


def column_names(declared: list[str], rows: list[list[str]]) -> list[str]:
    """The profile's scorer.columns; when it declares none, generic names as wide as the rows."""
    if declared:
        return list(declared)
    return [f"Column {i + 1}" for i in range(max((len(row) for row in rows), default=1))]


def show_cell(text: str) -> str:
    """Long decimals shortened for the table (the copied results keep every digit)."""
    if "." in text and as_number(text) is not None and len(text) > 8:
        return f"{float(text):.4f}"
    return text


class ResultsScreen(ServiceScreen):
    BINDINGS = [
        Binding("s", "again", "Score again"),
        Binding("d", "download", "Copy results"),
        Binding("t", "teardown", "Tear down"),
        Binding("h", "home", "Start screen"),
        Binding("escape", "back", "Back"),
    ]
    SHOWN_ROWS = 200
    PLOTTED_ROWS = 20000

    def __init__(self, profile: Any, job: Any) -> None:
        super().__init__()
        self.profile, self.job = profile, job
        self.rows: list[list[str]] = []
        self.columns: list[str] = []

    def title_text(self) -> str:
        return f"Results · job {self.job.job_id}"

    def compose_body(self) -> ComposeResult:
        job = self.job
        rate = f" · {job.rows / job.duration:,.0f} rows/s" if job.duration and job.rows else ""
        yield Static(f"{job.status} · {job.rows:,} rows scored · {job.failures} failed "
                     f"{plural(job.failures, 'file')} · {fmt_duration(job.duration)}{rate}", id="res-summary",
                     markup=False)
        yield Static(f"Results: {job.output}", id="res-path", markup=False)
        with Horizontal(id="res-body"):
            yield DataTable(id="res-table", cursor_type="row", zebra_stripes=True)
            with Vertical(id="res-side"):
                yield Select([], prompt="Plot a column", allow_blank=True, id="res-column", compact=True)
                yield Histogram(bins=10, id="res-hist")
        if job.failed_files:
            yield Static("Failed files:\n" + "\n".join(f"  {n}: {e}" for n, e in job.failed_files[:10]),
                         id="res-failed", markup=False)

    def on_mount(self) -> None:
        self.query_one("#res-table", DataTable).loading = True
        self.load_preview()

    @work(thread=True, exclusive=True, group="preview", exit_on_error=False)
    def load_preview(self) -> None:
        try:
            lines = self.app.backend.preview(self.profile, self.job.job_id, self.PLOTTED_ROWS)
        except Exception as exc:  # noqa: BLE001
            self.post_message(WorkFailed(error_text(exc)[0]))
            return
        self.post_message(PreviewLoaded(parse_rows(lines)))

    def on_preview_loaded(self, message: PreviewLoaded) -> None:
        self.rows = message.rows
        self.columns = column_names(self.profile.scorer.columns, self.rows)
        width = len(self.columns)
        table = self.query_one("#res-table", DataTable)
        table.loading = False
        for name in self.columns:
            table.add_column(name)
        for row in self.rows[: self.SHOWN_ROWS]:
            table.add_row(*[show_cell(cell) for cell in (row + [""] * width)[:width]])
        numeric = [i for i in range(width) if is_numeric(self.column(i))]
        chooser = self.query_one("#res-column", Select)
        chooser.set_options([(name, i) for i, name in enumerate(self.columns)])
        chooser.value = numeric[0] if numeric else 0  # the first numeric column, by default
        table.focus()

    def column(self, index: int) -> list[str]:
        return [row[index] if index < len(row) else "" for row in self.rows]

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "res-column" and isinstance(event.value, int):
            self.query_one(Histogram).show_column(self.columns[event.value], self.column(event.value))

    def on_results_copied(self, message: ResultsCopied) -> None:
        paths = message.paths
        self.notify(f"Copied {len(paths)} file(s) to {paths[0].parent}" if paths else "Nothing to copy",
                    title="Results")

    def on_work_failed(self, message: WorkFailed) -> None:
        self.query_one("#res-table", DataTable).loading = False  # the preview or the copy failed
        self.show_problem(f"✗ {message.text}")

    @work(thread=True, exclusive=True, group="download", exit_on_error=False)
    def action_download(self) -> None:
        out = self.app.start_dir / "results" / self.job.job_id
        try:
            copied = self.app.backend.results(self.profile, self.job.job_id, out)
        except Exception as exc:  # noqa: BLE001
            self.post_message(WorkFailed(error_text(exc)[0]))
            return
        self.post_message(ResultsCopied(copied))

    def action_again(self) -> None:
        self.app.pop_screen()
        self.app.switch_screen(JobScreen(self.profile))

