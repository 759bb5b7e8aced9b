"""Tear down: what will be deleted (a tear-down plan), then type the profile name to confirm."""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import var
from textual.widgets import Button, DataTable, Input, Label, Static

from tui.messages import JobsRunning, ProfileIsCopy, TeardownPlanned, WorkFailed, error_text
from tui.screens.base import BaseScreen
from tui.screens.dialogs import Confirm


class TeardownScreen(BaseScreen):
    BINDINGS = [Binding("escape", "back", "Back"), Binding("f5", "replan", "Look again")]

    # The "type the name to delete" row shows only once the plan found something to delete.
    DEFAULT_CSS = """
    TeardownScreen #td-confirm { display: none; }
    TeardownScreen.-confirming #td-confirm { display: block; }
    """

    confirming = var(False, toggle_class="-confirming")
    planned: TeardownPlanned | None = None  # the last plan, laid out again when the width changes
    cut: dict[str, str] = {}  # step -> its full text, where the table shows it cut
    MAX_LINES = 2  # a step's "What happens" lines in the table

    def __init__(self, profile: Any) -> None:
        super().__init__()
        self.profile = profile
        self.to_delete = 0
        self.cancel_jobs = False  # confirmed: cancel the profile's running scoring runs first

    def title_text(self) -> str:
        return f"Tear down · profile {self.profile.name} · target {self.profile.target}"

    def compose_body(self) -> ComposeResult:
        yield Static("Looking at what this profile created… (nothing is deleted yet)", id="td-status",
                     markup=False)
        yield DataTable(id="td-table", cursor_type="row")
        yield Static("", id="td-detail", markup=False)
        with Vertical(id="td-confirm"):
            yield Label(f"Type the profile name ({self.profile.name}) to delete what is listed:",
                        id="td-label")
            with Horizontal(id="td-row"):
                yield Input(placeholder=self.profile.name, id="td-name", compact=True)
                yield Button("Delete", id="delete", variant="error", disabled=True, compact=True)
                yield Button("Back", id="back", compact=True)

    def on_mount(self) -> None:
        self.plan()

    def on_resize(self) -> None:
        if self.planned is not None:  # the "What happens" column takes the new width
            self.call_after_refresh(self.fill_table)

    def action_replan(self) -> None:
        self.plan()

    @work(thread=True, exclusive=True, group="td-plan", exit_on_error=False)
    def plan(self) -> None:
        from engine.context import CancelToken
        from engine.errors import JobsRunningError, ProfileError

        found: list[Any] = []

        def collect(event: Any) -> None:
            if event.type == "step_finished":
                found.append(event)
            elif event.type == "run_started":
                collect.titles = dict(zip(event.steps, event.titles))  # type: ignore[attr-defined]

        collect.titles = {}  # type: ignore[attr-defined]
        try:
            if self.cancel_jobs:
                self.app.backend.teardown(self.profile, collect, CancelToken(), plan_only=True, cancel_jobs=True)
            else:
                self.app.backend.teardown(self.profile, collect, CancelToken(), plan_only=True)
        except JobsRunningError as exc:
            self.post_message(JobsRunning(str(exc)))
            return
        except ProfileError as exc:
            if getattr(exc, "field", "") == "id":  # a copied file: it may get its own id here
                self.post_message(ProfileIsCopy(error_text(exc)[0]))
            else:
                self.post_message(WorkFailed(error_text(exc)[0]))
            return
        except Exception as exc:  # noqa: BLE001
            self.post_message(WorkFailed(error_text(exc)[0]))
            return
        order = {key: i for i, key in enumerate(collect.titles)}  # type: ignore[attr-defined]
        found.sort(key=lambda e: order.get(e.step, 99))
        self.post_message(TeardownPlanned(found, collect.titles))  # type: ignore[attr-defined]

    def on_teardown_planned(self, message: TeardownPlanned) -> None:
        self.planned = message
        self.fill_table()
        found = message.steps
        delete = [e for e in found if e.plan == "delete"]
        failed = [e for e in found if e.outcome == "failed"]
        self.to_delete = len(delete)
        status = self.query_one("#td-status", Static)
        if failed:
            status.update("Cannot tell what to delete: " + "; ".join(e.error for e in failed))
        elif delete:
            status.update(f"{len(delete)} step{'s' if len(delete) > 1 else ''} will delete what this "
                          "profile created. Resources it did not create are kept.")
        else:
            status.update("Nothing to delete: this profile has nothing left that it created.")
        self.confirming = bool(delete) and not failed
        if delete and not failed:
            self.query_one("#td-name", Input).focus()

    def fill_table(self) -> None:
        """One row per step. "What happens" takes the width left and wraps to MAX_LINES lines; the
        full text of a highlighted row that had to be cut shows below the table."""
        if self.planned is None:
            return
        found, titles = self.planned.steps, self.planned.titles
        table = self.query_one("#td-table", DataTable)
        cursor = table.cursor_row
        table.clear(columns=True)
        names = [titles.get(event.step, event.step) for event in found]
        step_width = max([len("Step"), *(cell_len(name) for name in names)])
        # glyph, step and what, each padded both sides; the vertical scrollbar's room kept free
        used = 1 + step_width + 3 * 2 * table.cell_padding + table.styles.scrollbar_size_vertical
        width = max(20, (table.scrollable_content_region.width or table.size.width or 120) - used)
        table.add_column("", key="glyph", width=1)
        table.add_column("Step", key="step", width=step_width)
        table.add_column("What happens", key="what", width=width)
        variables = self.app.theme_variables
        self.cut = {}
        for event, name in zip(found, names):
            if event.plan == "delete":
                glyph, style, what = "−", variables.get("outcome-deleted", ""), "delete " + event.detail
            elif event.outcome == "failed":
                glyph, style, what = "✗", variables.get("error", ""), event.error
            else:
                glyph, style, what = "-", variables.get("outcome-muted", ""), event.detail
            lines = Text(what, style=style if event.plan != "delete" else "").wrap(self.app.console, width)
            if len(lines) > self.MAX_LINES:
                self.cut[event.step] = f"{name}: {what}"
                lines = lines[:self.MAX_LINES]
                lines[-1].truncate(width - 1)
                lines[-1].append("…")
            table.add_row(Text(glyph, style=style), name, Text("\n").join(lines), key=event.step,
                          height=max(1, len(lines)))
        if found:
            table.move_cursor(row=min(cursor, len(found) - 1))
        self.show_detail()

    def show_detail(self) -> None:
        """The full text of the highlighted row, when the table had to cut it."""
        table = self.query_one("#td-table", DataTable)
        step = None
        if table.row_count:
            step = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        detail = self.query_one("#td-detail", Static)
        detail.update(self.cut.get(step or "", ""))
        detail.display = (step or "") in self.cut

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_detail()

    def on_jobs_running(self, message: JobsRunning) -> None:
        self.query_one("#td-status", Static).update("Scoring runs of this profile are not finished.")

        def answered(go_on: bool | None) -> None:
            if go_on:
                self.cancel_jobs = True
                self.plan()
            else:
                self.action_back()
        self.app.push_screen(Confirm(f"{message.text}\n\nCancel them and go on with the tear-down?",
                                     yes="Cancel runs and go on", no="Back", danger=True), answered)

    def on_profile_is_copy(self, message: ProfileIsCopy) -> None:
        self.query_one("#td-status", Static).update("This profile file is a copy of another profile.")
        self.offer_own_id(message.text, self.profile, self.plan, no="Back", on_no=self.action_back)

    def on_work_failed(self, message: WorkFailed) -> None:
        self.query_one("#td-status", Static).update("Cannot look at what to delete:")
        self.show_problem(f"✗ {message.text}")

    def on_input_changed(self, event: Input.Changed) -> None:
        match = event.value.strip() == self.profile.name
        self.query_one("#delete", Button).disabled = not match

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip() == self.profile.name:
            self.delete()
        else:
            self.show_problem(f"Type '{self.profile.name}' exactly to confirm.", severity="warning")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "delete":
            self.delete()
        else:
            self.action_back()

    def delete(self) -> None:
        if self.query_one("#td-name", Input).value.strip() != self.profile.name or not self.to_delete:
            return
        if self.cancel_jobs:
            self.app.go("run", self.profile, "teardown", cancel_jobs=True, replace=True)
        else:
            self.app.go("run", self.profile, "teardown", replace=True)

    def action_back(self) -> None:
        self.app.pop_screen()
