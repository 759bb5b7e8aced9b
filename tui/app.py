"""The Textual wizard: start, sign in, subscription and region, configuration, review, run, finish.

Import-light on purpose: this module loads Textual and the theme data only. Screens (through the
route table, tui.routes), the engine and (for the azure target) the Azure SDKs (through the
backend, tui.backend) are imported when first needed, in workers where they are slow, so the
first screen shows quickly.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

import themes
from tui import routes
from tui.backend import Backend

BENCH_ENV = "AMLBATCH_TUI_BENCH_EXIT"  # benchmark only: exit once the first screen is shown


class Clock:
    """Time as the app reads it; tests swap in a fixed one so snapshots stay identical."""

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> float:
        return time.time()


@dataclass
class Draft:
    """The profile being made or edited, shared by every wizard screen.

    `profile` holds valid values only; `raw` keeps exactly what was typed in each field (valid
    or not) so Back and Next never lose an edit.
    """

    profile: Any = None  # engine.profile.Profile
    resumed: bool = False
    raw: dict[str, str] = field(default_factory=dict)
    credential: Any = None  # azure sign-in, kept for the listing screens
    offline: bool = False  # azure without signing in: subscription typed, lists skipped
    cache: dict[str, Any] = field(default_factory=dict)  # subscriptions, regions, vm sizes

    @property
    def name(self) -> str:
        return self.profile.name if self.profile is not None else ""

    @property
    def target(self) -> str:
        return self.profile.target if self.profile is not None else "local"


class AmlBatchApp(App[int]):
    """amlbatch: stand up an Azure ML batch scoring service and run scoring jobs."""

    TITLE = "amlbatch"
    SUB_TITLE = "Azure ML batch scoring"
    CSS_PATH = str(themes.STYLESHEET)
    BINDINGS = [
        Binding("f1", "help", "Help", priority=True),
        Binding("question_mark", "help", "Help", show=False),
        Binding("ctrl+t", "change_theme", "Theme", show=False),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(self, profile: str | None = None, sets: Iterable[str] = (), *,
                 backend: Backend | None = None, clock: Clock | None = None,
                 remember_theme: bool = True, theme: str | None = None,
                 start_dir: Path | None = None) -> None:
        super().__init__()
        self.backend = backend or Backend()
        self.start_profile = profile
        self.sets = list(sets)
        self.clock = clock or Clock()
        self.remember_theme = remember_theme
        self.start_dir = start_dir or Path.cwd()
        self.draft = Draft()
        for spec in themes.textual_themes():
            self.register_theme(spec)
        chosen = theme or (themes.load_choice() if remember_theme else themes.DEFAULT)
        self.theme = chosen if chosen in self.available_themes else themes.DEFAULT
        self._bench_file = os.environ.get(BENCH_ENV, "")

    # -------------------------------------------------------------------- set-up and themes

    def get_theme_variable_defaults(self) -> dict[str, str]:
        # So the stylesheet also works under Textual's built-in themes.
        return {"outcome-created": "ansi_green", "outcome-updated": "ansi_yellow",
                "outcome-deleted": "ansi_magenta", "outcome-muted": "ansi_bright_black",
                **super().get_theme_variable_defaults()}

    def on_mount(self) -> None:
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        # after Textual's start-up batch (Ready): the start screen is composed, styled and drawn
        # on its own then, which brings its first frame ~15 ms sooner (bench_tui)
        self.call_later(self._show_start)

    def _show_start(self) -> None:
        self.go("start")
        if self.start_profile:
            self.open_profile(self.start_profile, self.sets)

    def on_ready(self) -> None:
        # Textual's Ready (the first layout is done): the benchmark's exit waits for the next refresh
        if self._bench_file:
            self.call_after_refresh(self._bench_exit)

    def _bench_exit(self) -> None:
        Path(self._bench_file).write_text(f"{time.time():.6f}\n")
        self.exit(0)

    def _theme_changed(self, theme: Any) -> None:
        if not self.remember_theme:
            return
        try:
            themes.save_choice(theme.name)
        except OSError as exc:
            self.notify(f"Could not remember the theme: {exc}", severity="warning")

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Dark theme", "amlbatch's dark theme",
                            lambda: setattr(self, "theme", themes.DARK))
        yield SystemCommand("Light theme", "amlbatch's light theme",
                            lambda: setattr(self, "theme", themes.LIGHT))
        yield SystemCommand("Help", "Keys and how the wizard works", self.action_help)

    def action_help(self) -> None:
        if not isinstance(self.screen, routes.screen_class("help")):
            self.go("help", self.screen)

    # -------------------------------------------------------------------- navigation

    def wizard_keys(self) -> list[str]:
        keys = [] if self.draft.resumed else ["basics"]
        if self.draft.target == "azure" and not self.draft.resumed:
            keys += ["signin"] if self.draft.offline else ["signin", "subscription", "region"]
        return keys + ["workspace", "compute", "storage", "scorer", "schedule", "review"]

    def step_label(self, key: str) -> str:
        keys = self.wizard_keys()
        title = routes.STEP_TITLES.get(key, key)
        if key not in keys:
            return title
        if self.draft.resumed:  # editing a saved profile: its screens are not a sequence to count
            return f"{title} · profile {self.draft.name}"
        if key == "basics":  # the target chosen here decides how many steps follow
            return f"{title} · step 1"
        return f"{title} · step {keys.index(key) + 1} of {len(keys)}"

    def go(self, route: str, *args: Any, replace: bool = False, **kwargs: Any) -> None:
        """Show the screen of `route` (see tui.routes), built with `args` and `kwargs`.

        A wizard step that is open already is gone back to (the screens above it close), so Back
        and Next never pile screens up; any other screen opens on top, or instead of the current
        one with `replace`."""
        if route in routes.STEP_TITLES:
            stack = self.screen_stack
            for index in range(len(stack) - 1, -1, -1):
                if getattr(stack[index], "wizard_key", None) == route:
                    for _ in range(len(stack) - 1 - index):
                        self.pop_screen()
                    return
        screen = routes.make(route, *args, **kwargs)
        if replace:
            self.switch_screen(screen)
        else:
            self.push_screen(screen)

    def next_after(self, key: str) -> None:
        keys = self.wizard_keys()
        self.go(keys[keys.index(key) + 1] if key in keys else "review")

    def home(self) -> None:
        """Back to the start screen (refreshed)."""
        while len(self.screen_stack) > 2:
            self.pop_screen()
        self.sub_title = self.SUB_TITLE  # no profile is open on the start screen
        start = self.screen_stack[-1]
        if hasattr(start, "reload"):
            start.reload()

    def new_draft(self, name: str, target: str) -> None:
        from engine.profile import Profile, profile_path

        profile = Profile(name=name, path=profile_path(name), target=target)
        if target == "azure":
            profile.account.auth = "device_code"
        self.draft = Draft(profile=profile)
        self.sub_title = f"new profile {name}"

    def use_profile(self, profile: Any) -> None:
        self.draft = Draft(profile=profile, resumed=True)
        self.sub_title = f"profile {profile.name}"

    def open_profile(self, name: str, sets: Iterable[str] = ()) -> None:
        """Load a saved profile (making the demo if asked for and missing) and show its review."""
        self.run_worker(lambda: self._load(name, list(sets)), thread=True, exclusive=True,
                        group="load", exit_on_error=False, name="load-profile")

    def _load(self, name: str, sets: list[str]) -> None:
        from tui.messages import error_text

        try:
            loaded = self.backend.open_profile(name, sets)
        except Exception as exc:  # noqa: BLE001 - shown to the user, never a traceback
            text, _ = error_text(exc)
            self.call_from_thread(self.notify, text, title="Cannot open the profile",
                                  severity="error", timeout=10)
            return
        self.call_from_thread(self._opened, loaded)

    def _opened(self, loaded: Any) -> None:
        self.home()
        self.use_profile(loaded)
        self.go("review")


def run_app(profile: str | None = None, sets: Iterable[str] = ()) -> int:
    """Entry point used by `amlbatch` (tui.cli) when no headless action is given."""
    app = AmlBatchApp(profile=profile, sets=sets)
    result = app.run()
    return int(result or app.return_code or 0)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(run_app())
