"""What every screen shares: header, a title line, a problem panel and the footer."""

from __future__ import annotations

from typing import Any, Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Static

import themes


class BaseScreen(Screen):
    """A titled screen. Subclasses yield their body from `compose_body`."""

    # Textual reads a screen's CSS_PATH (for the whole app) when the screen is first shown: the
    # rules of the later screens stay out of the parse before the first frame.
    CSS_PATH = str(themes.SCREENS_STYLESHEET)
    TITLE_TEXT = ""
    INTRO = ""

    def compose(self) -> ComposeResult:
        yield Header(icon="≡")
        with Horizontal(id="title-bar"):
            yield Static(self.title_text(), id="screen-title")
        if self.INTRO:
            yield Static(self.INTRO, id="intro", markup=False)
        yield from self.compose_body()
        yield Static("", id="problem", markup=False)
        yield Footer()

    def title_text(self) -> str:
        return self.TITLE_TEXT

    def compose_body(self) -> ComposeResult:
        yield from ()

    def show_problem(self, text: str | None, severity: str = "error") -> None:
        panel = self.query_one("#problem", Static)
        panel.update(text or "")
        panel.set_class(bool(text), "-shown")
        panel.set_class(severity == "warning", "-warning")
        panel.set_class(severity == "info", "-info")

    def offer_own_id(self, text: str, profile: Any, then: Callable[[], None], no: str = "Not now",
                     on_no: Callable[[], None] | None = None) -> None:
        """A copied profile file: offer it its own id (as --new-id does), then go on with `then`."""
        from tui.messages import error_text
        from tui.screens.dialogs import Confirm

        def answered(own: bool | None) -> None:
            if not own:
                if on_no is not None:
                    on_no()
                return
            try:
                new = self.app.backend.new_id(profile)
            except Exception as exc:  # noqa: BLE001 - e.g. the file cannot be written
                self.show_problem(f"✗ {error_text(exc)[0]}")
                return
            self.show_problem(f"This profile now has its own id {new}: it owns nothing yet.", severity="info")
            then()
        self.app.push_screen(Confirm(f"{text}\n\nGive this profile its own id now (as --new-id does)?",
                                     yes="Give it its own id", no=no), answered)


class ServiceScreen(BaseScreen):
    """A screen shown once a service exists: home, back and tear-down work the same on each."""

    profile: Any

    def action_teardown(self) -> None:
        self.app.go("teardown", self.profile)

    def action_home(self) -> None:
        self.app.home()

    def action_back(self) -> None:
        self.app.pop_screen()


class WizardScreen(BaseScreen):
    """A step of the wizard: Back and Next (buttons and keys), its place in the sequence."""

    wizard_key = ""
    BINDINGS = [
        Binding("ctrl+n", "next", "Next", priority=True),
        Binding("escape", "back", "Back"),
    ]
    NEXT_LABEL = "Next"

    def title_text(self) -> str:
        return self.app.step_label(self.wizard_key)

    @property
    def draft(self) -> Any:
        return self.app.draft

    def compose(self) -> ComposeResult:
        yield from super().compose()

    def compose_nav(self) -> ComposeResult:
        with Horizontal(id="nav"):
            yield Button("← Back", id="back", compact=True)
            yield Static("", id="nav-hint")
            yield Button(f"{self.NEXT_LABEL} →", id="next", variant="primary", compact=True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "next":
            event.stop()
            self.action_next()
        elif event.button.id == "back":
            event.stop()
            self.action_back()

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_next(self) -> None:
        self.app.next_after(self.wizard_key)
