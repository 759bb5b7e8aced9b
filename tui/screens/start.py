"""Start: create a new profile, resume a saved one, or try the local demo."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from tui.screens.base import BaseScreen

if TYPE_CHECKING:  # imported when the first listing is made: off the first frame's path
    from textual.widgets import DataTable

    from tui.messages import ProfilesListed


def ago(then: float, now: float) -> str:
    seconds = max(0, now - then)
    if seconds < 90:
        return "just now"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return ""


class StartScreen(BaseScreen):
    TITLE_TEXT = "Start"
    CSS_PATH = None  # the first screen: its rules are in the app's own stylesheet (themes/app.tcss)
    INTRO = ("Stand up an Azure ML batch scoring service, then score data with it. "
             "Start a new profile, resume a saved one, or try everything on this machine first.")
    BINDINGS = [
        Binding("n", "new", "New profile"),
        Binding("d", "demo", "Local demo"),
        Binding("enter", "resume", "Resume", show=False),
        Binding("f5", "reload", "Refresh"),
    ]

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="start-actions"):
            yield Button("New profile  (n)", id="new", variant="primary", compact=True)
            yield Button("Try the local demo  (d)", id="demo", compact=True)
        # the saved-profiles section (#saved) is mounted when the first listing arrives: its
        # widgets, DataTable's import and styles stay out of the first frame

    def on_mount(self) -> None:
        # after the first paint: the listing's worker imports the engine, which would hold the GIL
        # while the screen is being drawn
        self.call_after_refresh(self.reload)

    async def profiles_table(self) -> DataTable:
        """The saved-profiles table, its section mounted on first use."""
        from textual.widgets import DataTable

        tables = self.query("#profiles")
        if tables:
            return tables.first(DataTable)
        table = DataTable(cursor_type="row", id="profiles")
        for label, key in (("Profile", "name"), ("Target", "target"), ("Region", "region"),
                           ("Workspace", "workspace"), ("Last run", "last")):
            table.add_column(label, key=key)
        await self.mount(Vertical(Static("Saved profiles · Enter resumes", classes="section-title"),
                                  table, Static("", id="profiles-empty"), id="saved"),
                         before="#problem")
        return table

    def reload(self) -> None:
        self.load_profiles()

    def action_reload(self) -> None:
        self.reload()

    @work(thread=True, exclusive=True, group="profiles", exit_on_error=False)
    def load_profiles(self) -> None:
        from tui.messages import ProfilesListed

        self.post_message(ProfilesListed(self.app.backend.saved_profiles()))

    async def on_profiles_listed(self, message: ProfilesListed) -> None:
        table = await self.profiles_table()
        table.clear()
        now = self.app.clock.now()
        for row in message.profiles:
            last = row.last_run
            if last:
                text = f"{last['action']} {last['outcome']} · {ago(last['ts'], now)}"
            else:
                text = "never run"
            table.add_row(row.name, row.target, row.region, row.workspace, text, key=row.name)
        empty = self.query_one("#profiles-empty", Static)
        empty.update("" if message.profiles else "No saved profiles yet: start a new one or try the demo.")
        table.display = bool(message.profiles)
        if message.profiles:
            table.focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        {"new": self.action_new, "demo": self.action_demo}[event.button.id]()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.app.open_profile(str(event.row_key.value))

    def action_resume(self) -> None:
        tables = self.query("#profiles")
        table = tables.first() if tables else None
        if table is not None and table.row_count:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            self.app.open_profile(str(key))

    def action_new(self) -> None:
        self.app.draft = self.app.draft.__class__()
        self.app.go("basics")

    def action_demo(self) -> None:
        self.notify("Opening the demo profile (local target, bundled scorer, generated data)…")
        self.app.open_profile("demo")
