"""Tear down: what will be deleted (a tear-down plan), then type the profile name to confirm."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import var
from textual.widgets import Button, DataTable, Input, Label, Static

from tui.messages import TeardownPlanned, WorkFailed, error_text
from tui.screens.base import BaseScreen


class TeardownScreen(BaseScreen):
    BINDINGS = [Binding("escape", "back", "Back"), Binding("f5", "replan", "Look again")]

    # The "type the name to delete" row shows only once the plan found something to delete.
    DEFAULT_CSS = """
    TeardownScreen #td-confirm { display: none; }
    TeardownScreen.-confirming #td-confirm { display: block; }
    """

    confirming = var(False, toggle_class="-confirming")

    def __init__(self, profile: Any) -> None:
        super().__init__()
        self.profile = profile
        self.to_delete = 0

    def title_text(self) -> str:
        return f"Tear down · profile {self.profile.name} · target {self.profile.target}"

    def compose_body(self) -> ComposeResult:
        yield Static("Looking at what this profile created… (nothing is deleted yet)", id="td-status",
                     markup=False)
        yield DataTable(id="td-table", cursor_type="row")
        with Vertical(id="td-confirm"):
            yield Label(f"Type the profile name ({self.profile.name}) to delete what is listed:",
                        id="td-label")
            with Horizontal(id="td-row"):
                yield Input(placeholder=self.profile.name, id="td-name", compact=True)
                yield Button("Delete", id="delete", variant="error", disabled=True, compact=True)
                yield Button("Back", id="back", compact=True)

    def on_mount(self) -> None:
        table = self.query_one("#td-table", DataTable)
        table.add_column("", key="glyph", width=1)
        table.add_column("Step", key="step")
        table.add_column("What happens", key="what")
        self.plan()

    def action_replan(self) -> None:
        self.plan()

    @work(thread=True, exclusive=True, group="td-plan", exit_on_error=False)
    def plan(self) -> None:
        from engine.context import CancelToken

        found: list[Any] = []

        def collect(event: Any) -> None:
            if event.type == "step_finished":
                found.append(event)
            elif event.type == "run_started":
                collect.titles = dict(zip(event.steps, event.titles))  # type: ignore[attr-defined]

        collect.titles = {}  # type: ignore[attr-defined]
        try:
            self.app.backend.teardown(self.profile, collect, CancelToken(), plan_only=True)
        except Exception as exc:  # noqa: BLE001
            self.post_message(WorkFailed(error_text(exc)[0]))
            return
        order = {key: i for i, key in enumerate(collect.titles)}  # type: ignore[attr-defined]
        found.sort(key=lambda e: order.get(e.step, 99))
        self.post_message(TeardownPlanned(found, collect.titles))  # type: ignore[attr-defined]

    def on_teardown_planned(self, message: TeardownPlanned) -> None:
        found, titles = message.steps, message.titles
        table = self.query_one("#td-table", DataTable)
        table.clear()
        variables = self.app.theme_variables
        delete = [e for e in found if e.plan == "delete"]
        failed = [e for e in found if e.outcome == "failed"]
        for event in found:
            if event.plan == "delete":
                glyph, style, what = "−", variables.get("outcome-deleted", ""), "delete " + event.detail
            elif event.outcome == "failed":
                glyph, style, what = "✗", variables.get("error", ""), event.error
            else:
                glyph, style, what = "-", variables.get("outcome-muted", ""), event.detail
            table.add_row(Text(glyph, style=style), titles.get(event.step, event.step),
                          Text(what, style=style if event.plan != "delete" else ""), key=event.step)
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
        self.app.go("run", self.profile, "teardown", replace=True)

    def action_back(self) -> None:
        self.app.pop_screen()
